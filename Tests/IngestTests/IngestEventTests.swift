import API
import Foundation
import Ingest
import PushCore
import PushdConfig
import Storage
import Testing

/// The event format (README, Broker ingest): hostile events are Tencent errors naming the field.
@Suite("broker event format")
struct IngestEventTests {
    static let source = IngestSource(kind: .nats, name: "im", url: "nats://127.0.0.1:4222", stream: "S", deadLetter: "dead")

    static func decode(_ text: String, source: IngestSource = source) throws(TencentError) -> IngestEvent {
        try IngestEvent.decode(Array(text.utf8), source: source, position: "S/42")
    }

    @Test("a push job is the job pushd enqueue takes; a command's key is its IdempotencyKey, else its source and stream position")
    func kinds() throws {
        let job = #"{"SdkAppID":1400000000,"To_Account":"bob","IdempotencyKey":"m1","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}"#
        guard case .job(let new) = try Self.decode(job) else { Issue.record("not a job"); return }
        #expect(new.idempotencyKey == "m1" && new.userID == "bob" && new.sdkAppID == 1_400_000_000)
        let command = try Self.decode(#"{"Command":"openim/sendmsg","SdkAppID":1400000000,"Body":{"To_Account":"bob"}}"#)
        guard case .command(let app, let name, let body, let key) = command else { Issue.record("not a command"); return }
        #expect(app == 1_400_000_000 && name == "openim/sendmsg" && key == "im:S/42")
        #expect((try JSONSerialization.jsonObject(with: body) as? [String: String]) == ["To_Account": "bob"])
        let keyed = try Self.decode(#"{"Command":"openim/sendmsg","SdkAppid":1400000000,"Body":{},"IdempotencyKey":"evt-9"}"#)
        #expect(keyed == .command(sdkAppID: 1_400_000_000, name: "openim/sendmsg", body: Data("{}".utf8), key: "evt-9"))
        // A job without a key gets pushd enqueue's, derived from its content: the same on a redelivery.
        let unkeyed = #"{"SdkAppID":1,"To_Account":"bob","MsgBody":[]}"#
        #expect(try Self.decode(unkeyed) == Self.decode(unkeyed))
        // A source of one app: events may leave SdkAppID out, and may not name another.
        var single = Self.source
        single.sdkAppID = 7
        #expect(try Self.decode(#"{"Command":"openim/sendmsg","Body":{}}"#, source: single).sdkAppID == 7)
        #expect(throws: TencentError.self) { try Self.decode(#"{"Command":"openim/sendmsg","SdkAppID":8,"Body":{}}"#, source: single) }
    }

    @Test("hostile events are refused with the field named, never trapped", arguments: [
        ("", "JSON object"), ("[]", "JSON object"), ("null", "JSON object"), ("\"x\"", "JSON object"), ("{", "JSON object"),
        (#"{"Command":7,"SdkAppID":1,"Body":{}}"#, "Command"), (#"{"Command":"sendmsg","SdkAppID":1,"Body":{}}"#, "Command"),
        (#"{"Command":"a/b/c","SdkAppID":1,"Body":{}}"#, "Command"),
        (#"{"Command":"openim/sendmsg","Body":{}}"#, "SdkAppID"), (#"{"Command":"openim/sendmsg","SdkAppID":-1,"Body":{}}"#, "SdkAppID"),
        (#"{"Command":"openim/sendmsg","SdkAppID":1.5,"Body":{}}"#, "SdkAppID"),
        (#"{"Command":"openim/sendmsg","SdkAppID":1e300,"Body":{}}"#, "SdkAppID"),
        (#"{"Command":"openim/sendmsg","SdkAppID":"1","Body":{}}"#, "SdkAppID"), (#"{"Command":"openim/sendmsg","SdkAppID":true,"Body":{}}"#, "SdkAppID"),
        (#"{"Command":"openim/sendmsg","SdkAppID":1}"#, "Body"), (#"{"Command":"openim/sendmsg","SdkAppID":1,"Body":[]}"#, "Body"),
        (#"{"Command":"openim/sendmsg","SdkAppID":1,"Body":{},"IdempotencyKey":""}"#, "IdempotencyKey"),
        (#"{"Command":"openim/sendmsg","SdkAppID":1,"Body":{},"IdempotencyKey":"\#(String(repeating: "k", count: 129))"}"#, "IdempotencyKey"),
        (#"{"To_Account":"bob","MsgBody":[]}"#, "SdkAppID"),
    ])
    func hostile(event: String, field: String) {
        do {
            let decoded = try Self.decode(event)
            Issue.record("accepted: \(decoded)")
        } catch {
            #expect(error.message.contains(field), "\(error.message)")
            #expect(error.code != 0)
        }
    }

    @Test("a command a broker may carry changes state or sends; queries and campaigns are the REST API's alone")
    func eventCommands() {
        #expect(RestAPI.eventCommands.contains("openim/sendmsg"))
        #expect(RestAPI.eventCommands.contains("profile/portrait_set"))
        #expect(!RestAPI.eventCommands.contains("pushd/get_devices"))
        #expect(!RestAPI.eventCommands.contains("timpush/push"))
        #expect(!RestAPI.eventCommands.contains("all_member_push/im_push"))
    }
}

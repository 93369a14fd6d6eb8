import Foundation
import PushCore
import PushJob
import Testing

@testable import Dispatcher

@Suite("Job specs shared by the recipients of one message")
struct PushJobSpecCacheTests {
    static let tail = #""SdkAppID":1400000000,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi all"}}],"SenderNick":"Ops"}"#

    /// What the cache must agree with: a full decode.
    static func fields(_ spec: PushJobSpec) -> [String?] {
        [spec.toAccount, spec.idempotencyKey, spec.silent, spec.senderNick, "\(spec.sdkAppID)", "\(spec.msgBody)"]
    }

    /// The text of a spec's single text element.
    static func text(_ spec: PushJobSpec) -> String? {
        guard case .text(let element) = spec.msgBody.elements.first else { return nil }
        return element.text
    }

    @Test("Campaign and REST job shapes decode as a full decode does, whatever is cached already")
    func agreesWithFullDecode() throws {
        let payloads = [
            #"{"To_Account":"alice","# + Self.tail,
            #"{"To_Account":"bob","# + Self.tail,
            #"{"To_Account":"carol","IdempotencyKey":"m1:carol","# + Self.tail,
            #"{"To_Account":"dave","IdempotencyKey":"m1:dave","Silent":"AcceptNotNotify","# + Self.tail,
            #"{"To_Account":"erin","IdempotencyKey":"m1:erin","# + Self.tail,
            // The same leading names but Silent in the tail: it must come from the tail.
            #"{"To_Account":"frank","# + Self.tail.replacingOccurrences(of: #""SenderNick""#, with: #""Silent":"DoNotDisturb","SenderNick""#),
            #"{"To_Account":"grace","# + Self.tail.replacingOccurrences(of: #""SenderNick""#, with: #""Silent":"DoNotDisturb","SenderNick""#),
            // An escaped name is not split: decoded in full.
            #"{"To_Account":"h\"x","# + Self.tail,
            // Another order of members.
            #"{"SdkAppID":1400000000,"To_Account":"ivan","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi all"}}]}"#,
        ].map { Data($0.utf8) }
        // Written from the payloads above: recipient, idempotency key, Silent, SenderNick.
        let written: [[String?]] = [
            ["alice", nil, nil, "Ops"], ["bob", nil, nil, "Ops"], ["carol", "m1:carol", nil, "Ops"],
            ["dave", "m1:dave", "AcceptNotNotify", "Ops"], ["erin", "m1:erin", nil, "Ops"], ["frank", nil, "DoNotDisturb", "Ops"],
            ["grace", nil, "DoNotDisturb", "Ops"], ["h\"x", nil, nil, "Ops"], ["ivan", nil, nil, nil],
        ]
        #expect(written.count == payloads.count)
        let cache = PushJobSpecCache()
        for round in 0..<2 {
            for (payload, literal) in zip(payloads, written) {
                let full = try PushJobSpec.decode(payload), cached = try cache.decode(payload)
                let context = "round \(round): \(String(decoding: payload, as: UTF8.self))"
                #expect(Array(Self.fields(cached).prefix(4)) == literal, "\(context)")
                #expect(cached.sdkAppID == 1_400_000_000 && Self.text(cached) == "hi all", "\(context)")
                #expect(Self.fields(cached) == Self.fields(full), "\(context)")
            }
        }
    }

    @Test("Recipients of one message share one entry; a bad job is still refused")
    func sharesAndRefuses() throws {
        let a = PushJobSpecCache.split(Data((#"{"To_Account":"alice","# + Self.tail).utf8))
        let b = PushJobSpecCache.split(Data((#"{"To_Account":"bob","# + Self.tail).utf8))
        #expect(a != nil && a?.key == b?.key)
        #expect(a?.values[0] == "alice" && b?.values[0] == "bob")
        #expect(PushJobSpecCache.split(Data(#"{"SdkAppID":1}"#.utf8)) == nil)
        let cache = PushJobSpecCache()
        #expect(throws: TencentError.self) { try cache.decode(Data(#"{"To_Account":"x","SdkAppID":0,"MsgBody":[]}"#.utf8)) }
        #expect(throws: TencentError.self) { try cache.decode(Data(#"{"To_Account":"x","#.utf8)) }
        // An empty To_Account is refused even when its message is cached already.
        _ = try cache.decode(Data((#"{"To_Account":"alice","# + Self.tail).utf8))
        #expect(throws: TencentError.self) { try cache.decode(Data((#"{"To_Account":"","# + Self.tail).utf8)) }
    }
}

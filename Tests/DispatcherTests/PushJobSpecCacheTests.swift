import Foundation
import PushCore
import PushJob
import Testing

@testable import Dispatcher

@Suite("Jobs decoded once per message")
struct PushJobSpecCacheTests {
    static let message = #"{"SdkAppID":1400000000,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi all"}}],"SenderNick":"Ops"}"#

    @Test("A stored job decodes as a full decode does, the first time and from the cache; jobs queued with spliced recipients too")
    func agreesWithFullDecode() throws {
        let payloads = [
            Self.message,
            Self.message.replacingOccurrences(of: #""SenderNick""#, with: #""Silent":"DoNotDisturb","SenderNick""#),
            // Jobs queued before the job was encoded once carried the recipient and key in front.
            #"{"To_Account":"carol","IdempotencyKey":"m1:carol","# + Self.message.dropFirst(),
        ].map { Data($0.utf8) }
        let written: [(to: String, silent: String?)] = [("", nil), ("", "DoNotDisturb"), ("carol", nil)]
        let cache = PushJobSpecCache()
        for round in 0..<2 {
            for (payload, literal) in zip(payloads, written) {
                let full = try PushJobSpec.decode(payload), cached = try cache.decode(payload)
                #expect(cached == full, "round \(round)")
                #expect(cached.toAccount == literal.to && cached.silent == literal.silent && cached.senderNick == "Ops")
                guard case .text(let text) = cached.msgBody.elements.first else { Issue.record("no text element"); continue }
                #expect(text.text == "hi all" && cached.sdkAppID == 1_400_000_000)
            }
        }
    }

    @Test("A bad job is refused every time, cached or not")
    func refuses() throws {
        let cache = PushJobSpecCache(limit: 2)
        for _ in 0..<2 {
            #expect(throws: TencentError.self) { try cache.decode(Data(#"{"SdkAppID":0,"MsgBody":[]}"#.utf8)) }
            #expect(throws: TencentError.self) { try cache.decode(Data(#"{"SdkAppID":1,"#.utf8)) }
        }
        // Past its limit the cache starts over and still answers.
        for n in 0..<5 {
            #expect(try cache.decode(Data(Self.message.replacingOccurrences(of: "Ops", with: "Ops\(n)").utf8)).senderNick == "Ops\(n)")
        }
    }
}

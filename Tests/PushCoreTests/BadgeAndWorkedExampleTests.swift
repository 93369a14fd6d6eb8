import Foundation
import PushCore
import Testing

@Suite("Badge (section 5) and the worked example (section 7)")
struct BadgeAndWorkedExampleTests {
    static let text = #"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#

    static func input(_ json: String) throws -> RenderInput {
        try JSONDecoder().decode(RenderInput.self, from: Data(json.utf8))
    }

    @Test("5.2: a counted message raises the badge base by one")
    func countedMessage() throws {
        let input = try Self.input(#"{"MsgBody":\#(Self.text),"Context":{"Badge":4}}"#)
        #expect(input.badge == 5)
    }

    @Test("5.2/5.3: BadgeMode 1 carries the current badge unchanged")
    func badgeModeOne() throws {
        let input = try Self.input(#"{"MsgBody":\#(Self.text),"OfflinePushInfo":{"ApnsInfo":{"BadgeMode":1}},"Context":{"Badge":4}}"#)
        #expect(input.badge == 4)
    }

    @Test("5.2: NoUnread messages are not counted")
    func noUnread() throws {
        let input = try Self.input(#"{"MsgBody":\#(Self.text),"SendMsgControl":["NoUnread"],"Context":{"Badge":4}}"#)
        #expect(input.badge == 4)
    }

    @Test("5.2: online-only messages and Discard members are not counted")
    func notCounted() throws {
        let body = try Fixtures.body(Self.text)
        #expect(!Badge.counts(PushMessage(body: body, lifetime: 0)))
        #expect(!Badge.counts(PushMessage(body: body, onlineOnly: true)))
        #expect(!Badge.counts(PushMessage(body: body), discardedByMember: true))
        #expect(Badge.counts(PushMessage(body: body)))
    }

    /// 5.3: the badge is the reported base plus the counted messages since (a retry carries the same
    /// value: tested through the dispatcher in `DispatcherTests.retryKeepsIdAndBadge`). A negative
    /// base (a client bug) counts as 0; the sum saturates at Tencent's 32-bit count.
    @Test("5.3: the badge is the reported base plus the messages counted since, never below the count, never past 2^31-1")
    func absoluteBadge() throws {
        #expect(Badge.value(base: 4, countedSinceReport: 3) == 7)
        #expect(Badge.value(base: -2, countedSinceReport: 1) == 1, "a negative base counts as 0")
        #expect(Badge.value(base: Int.max, countedSinceReport: 1) == 2_147_483_647)
        var target = Fixtures.target
        target.badge = Badge.value(base: 4, countedSinceReport: 1)
        #expect(try Fixtures.json(Fixtures.render(PushContent(body: "x"), .apns, target: target))["aps", "badge"] as? Int == 5)
    }

    /// push-rules.md section 7, verbatim inputs from seed 002.
    @Test("7: the worked example renders the seed's APNs payload")
    func workedExample() throws {
        let input = try Self.input(
            """
            {"MsgBody":[
               {"MsgType":"TIMCustomElem","MsgContent":{"Data":"other information","Desc":"hello","Ext":"www.qq.com","Sound":"dingdong.aiff"}},
               {"MsgType":"TIMTextElem","MsgContent":{"Text":"world"}}],
             "Context":{"ConversationType":"C2C","SenderNick":"Nickname","Vendor":"apns","Badge":4}}
            """
        )
        guard case .push(let content) = Fixtures.composer.compose(input.message, in: input.conversation, locale: .zh) else {
            Issue.record("no push")
            return
        }
        let target = PushTarget(token: "aa", badge: input.badge, pushID: "p", nowMillis: 0)
        let request = try Fixtures.render(content, .apns, target: target)
        let got = try Fixtures.json(request)
        let expected = try Fixtures.object(
            #"{"aps": {"alert": "Nickname:helloworld", "badge": 5, "sound": "dingdong.aiff"}, "ext": "www.qq.com"}"#
        )
        #expect(NSDictionary(dictionary: got).isEqual(to: expected))
        #expect(String(decoding: request.body.bytes, as: UTF8.self)
            == #"{"aps":{"alert":"Nickname:helloworld","badge":5,"sound":"dingdong.aiff"},"ext":"www.qq.com"}"#)
    }
}

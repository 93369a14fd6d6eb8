import Foundation
import PushCore
import Testing

/// push-rules.md sections 1 (message-level), 2 and 3, one test per rule with the seed examples.
@Suite("Push text rules")
struct PushTextRulesTests {
    static func message(_ json: String, info: String? = nil, lifetime: Int? = nil, onlineOnly: Bool = false) throws -> PushMessage {
        PushMessage(body: try Fixtures.body(json), offlinePushInfo: try info.map(Fixtures.info), lifetime: lifetime, onlineOnly: onlineOnly)
    }

    // MARK: Section 2: element text

    @Test(
        "2: each element type contributes its locale's placeholder",
        arguments: [
            (#"{"MsgType":"TIMTextElem","MsgContent":{"Text":"你好"}}"#, "你好", "你好"),
            (#"{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"x","Latitude":1,"Longitude":2}}"#, "[位置]", "[Location]"),
            (#"{"MsgType":"TIMFaceElem","MsgContent":{"Index":1,"Data":"x"}}"#, "[表情]", "[Face]"),
            (#"{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"desc"}}"#, "desc", "desc"),
            (#"{"MsgType":"TIMImageElem","MsgContent":{"UUID":"u","ImageFormat":1}}"#, "[图片]", "[Image]"),
            (#"{"MsgType":"TIMSoundElem","MsgContent":{"Url":"u","Second":1}}"#, "[语音]", "[Voice]"),
            (#"{"MsgType":"TIMFileElem","MsgContent":{"FileName":"a.pdf"}}"#, "[文件]", "[File]"),
            (#"{"MsgType":"TIMVideoFileElem","MsgContent":{"VideoUrl":"u"}}"#, "[视频]", "[Video]"),
            (#"{"MsgType":"TIMRelayElem","MsgContent":{"Title":"t"}}"#, "[聊天记录]", "[Chat History]"),
        ]
    )
    func elementText(element: String, zh: String, en: String) throws {
        let message = try Self.message("[\(element)]")
        #expect(try Fixtures.text(message, locale: .zh) == zh)
        #expect(try Fixtures.text(message, locale: .en) == en)
    }

    // MARK: Section 3: push text

    @Test("3.1: element texts stack in order with no separator (hello + world = helloworld)")
    func stacking() throws {
        let message = try Self.message(
            #"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello"}},{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"world"}},{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}}]"#
        )
        #expect(try Fixtures.text(message) == "helloworld[表情]")
    }

    @Test("3.2: a non-empty OfflinePushInfo.Desc replaces the stacked text; an empty one does not")
    func descOverride() throws {
        let body = #"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello"}},{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"world"}}]"#
        #expect(try Fixtures.text(Self.message(body, info: #"{"Desc":"You have a new message"}"#)) == "You have a new message")
        #expect(try Fixtures.text(Self.message(body, info: #"{"Desc":""}"#)) == "helloworld")
    }

    @Test("3.2: OfflinePushInfo.Desc gives a custom-only message its text")
    func descOverrideOnCustomOnly() throws {
        let message = try Self.message(#"[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"x"}}]"#, info: #"{"Desc":"New order"}"#)
        #expect(try Fixtures.text(message) == "New order")
    }

    @Test("3.3: C2C with nickname is Nick:text, without is text")
    func c2cPrefix() throws {
        let message = try Self.message(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#)
        #expect(try Fixtures.text(message, .c2c(senderNick: "Nickname")) == "Nickname:hi")
        #expect(try Fixtures.text(message, .c2c(senderNick: nil)) == "hi")
        #expect(try Fixtures.text(message, .c2c(senderNick: "")) == "hi")
    }

    @Test("3.3: group with nickname is Nick(GroupName):text, without is (GroupName):text")
    func groupPrefix() throws {
        let message = try Self.message(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#)
        #expect(try Fixtures.text(message, .group(id: "@TGS#1", name: "Team", senderNick: "Alice")) == "Alice(Team):hi")
        #expect(try Fixtures.text(message, .group(id: "@TGS#1", name: "Team", senderNick: nil)) == "(Team):hi")
    }

    @Test("3.3: a group with no name uses its GroupId")
    func groupWithoutName() throws {
        let message = try Self.message(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#)
        #expect(try Fixtures.text(message, .group(id: "@TGS#1", name: nil, senderNick: "Alice")) == "Alice(@TGS#1):hi")
        #expect(try Fixtures.text(message, .group(id: "@TGS#1", name: "", senderNick: nil)) == "(@TGS#1):hi")
    }

    @Test("3.3: the prefix applies to an OfflinePushInfo.Desc override too")
    func prefixOnOverride() throws {
        let message = try Self.message(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#, info: #"{"Desc":"override"}"#)
        #expect(try Fixtures.text(message, .c2c(senderNick: "Nickname")) == "Nickname:override")
    }

    @Test("3.3: the nickname is taken verbatim, even with mustache-like or HTML characters")
    func nickIsNotInterpreted() throws {
        let message = try Self.message(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"<b>&</b>"}}]"#)
        #expect(try Fixtures.text(message, .c2c(senderNick: "{{nick}} & <x>")) == "{{nick}} & <x>:<b>&</b>")
    }

    @Test("3.4: OfflinePushInfo.Title is the title; ApnsInfo.Title overrides it for APNs only")
    func titles() throws {
        let body = #"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#
        let plain = try Fixtures.content(Self.message(body, info: #"{"Title":"Alice"}"#))
        #expect(plain.title == "Alice" && plain.apnsTitle == "Alice")
        let both = try Fixtures.content(Self.message(body, info: #"{"Title":"Alice","ApnsInfo":{"Title":"Alice (iOS)"}}"#))
        #expect(both.title == "Alice" && both.apnsTitle == "Alice (iOS)")
    }

    // MARK: Section 1.2: no push

    @Test("1.2: PushFlag 1 means no push")
    func pushFlagOff() throws {
        let message = try Self.message(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#, info: #"{"PushFlag":1}"#)
        #expect(Fixtures.composer.compose(message, in: .c2c(senderNick: nil), locale: .zh) == .skip(.pushDisabled))
    }

    @Test("1.2: online-only messages (MsgLifeTime 0, OnlineOnlyFlag 1) get no push")
    func onlineOnly() throws {
        let body = #"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#
        #expect(Fixtures.composer.compose(try Self.message(body, lifetime: 0), in: .c2c(senderNick: nil), locale: .zh) == .skip(.onlineOnly))
        #expect(
            Fixtures.composer.compose(try Self.message(body, onlineOnly: true), in: .group(id: "g", name: nil, senderNick: nil), locale: .zh)
                == .skip(.onlineOnly)
        )
    }

    @Test("1.2: a TIMCustomElem with no Desc and no OfflinePushInfo.Desc gets no push")
    func noText() throws {
        let message = try Self.message(#"[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"x","Ext":"y"}}]"#, info: #"{"Title":"T"}"#)
        #expect(Fixtures.composer.compose(message, in: .c2c(senderNick: "Nick"), locale: .zh) == .skip(.noText))
    }

    // MARK: Section 4: overrides

    @Test("4: without OfflinePushInfo, sound and ext come from TIMCustomElem")
    func soundAndExtFromCustom() throws {
        let content = try Fixtures.content(
            Self.message(#"[{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"d","Ext":"custom-ext","Sound":"c.aiff"}}]"#)
        )
        #expect(content.apnsSound == "c.aiff" && content.androidSound == "c.aiff" && content.ext == "custom-ext")
    }

    @Test("4: with OfflinePushInfo, TIMCustomElem's Sound and Ext are ignored but its Desc still counts")
    func soundAndExtFromOfflinePushInfo() throws {
        let body = #"[{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"d","Ext":"custom-ext","Sound":"c.aiff"}}]"#
        let content = try Fixtures.content(
            Self.message(body, info: #"{"Ext":"opi-ext","ApnsInfo":{"Sound":"a.aiff"},"AndroidInfo":{"Sound":"android_sound"}}"#)
        )
        #expect(content.body == "d")
        #expect(content.apnsSound == "a.aiff" && content.androidSound == "android_sound" && content.ext == "opi-ext")
        let bare = try Fixtures.content(Self.message(body, info: #"{"Title":"T"}"#))
        #expect(bare.apnsSound == nil && bare.androidSound == nil && bare.ext == nil)
    }

    @Test("4: TIMCustomElem.Data never reaches any vendor")
    func dataNeverSent() throws {
        let content = try Fixtures.content(
            Self.message(#"[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"SECRET-DATA-42","Desc":"d","Ext":"e"}}]"#)
        )
        for vendor in Vendor.allCases {
            let request = try Fixtures.render(content, vendor)
            #expect(!String(decoding: request.body.bytes, as: UTF8.self).contains("SECRET-DATA-42"), "\(vendor)")
            #expect(request.headers.allSatisfy { !$0.value.contains("SECRET-DATA-42") }, "\(vendor)")
        }
    }
}

import Foundation
import PushCore
import Testing

/// Each vendor's field mapping (vendor-protocols.md) and the overrides of push-rules.md section 4.
@Suite("Vendor rendering")
struct VendorRenderingTests {
    static let plain = PushContent(body: "Alice:hi", lifetime: 3600)

    static func content(_ info: String, body: String = "Alice:hi") throws -> PushContent {
        let message = PushMessage(
            body: try Fixtures.body(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#),
            offlinePushInfo: try Fixtures.info(info), lifetime: 3600
        )
        return try Fixtures.content(message, .c2c(senderNick: "Alice"))
    }

    // MARK: APNs

    @Test("APNs: path, headers and expiration from the message lifetime")
    func apnsRequest() throws {
        let request = try Fixtures.render(Self.plain, .apns)
        #expect(request.method == "POST")
        #expect(request.path == "/3/device/" + Fixtures.target.token)
        #expect(request.header("apns-push-type") == "alert")
        #expect(request.header("apns-topic") == "com.example.im")
        #expect(request.header("apns-priority") == "10")
        #expect(request.header("apns-expiration") == String(1_763_600_000 + 3600))
        #expect(request.header("apns-id") == Fixtures.target.pushID)
        #expect(request.header("apns-collapse-id") == nil)
        let json = try Fixtures.json(request)
        #expect(json["aps", "alert"] as? String == "Alice:hi")
        #expect(json["aps", "badge"] as? Int == 3)
    }

    /// The retry half (the same id on every attempt) is tested through the dispatcher
    /// (`DispatcherTests.retryKeepsIdAndBadge`); here only that the header is the push id given.
    @Test("APNs: the apns-id header is the push id of the target")
    func apnsStableID() throws {
        var target = Fixtures.target
        target.pushID = "0a0b0c0d-0000-4000-8000-000000000001"
        #expect(try Fixtures.render(Self.plain, .apns, target: target).header("apns-id") == "0a0b0c0d-0000-4000-8000-000000000001")
    }

    @Test("APNs: collapse id is sent, and refused over 64 bytes")
    func apnsCollapseID() throws {
        var target = Fixtures.target
        target.collapseID = "chat-alice"
        #expect(try Fixtures.render(Self.plain, .apns, target: target).header("apns-collapse-id") == "chat-alice")
        target.collapseID = String(repeating: "c", count: 65)
        #expect(throws: RenderError.invalidField(vendor: .apns, field: "apns-collapse-id", reason: "is longer than 64 bytes")) {
            try Fixtures.render(Self.plain, .apns, target: target)
        }
    }

    @Test("4: ApnsInfo maps to aps keys: title, subtitle, mutable-content, interruption-level, content-available, image")
    func apnsInfoMapping() throws {
        let content = try Self.content(
            #"{"Title":"T","Ext":"{\"k\":1}","ApnsInfo":{"Title":"AT","SubTitle":"Sub","MutableContent":1,"Image":"https://img","InterruptionLevel":"time-sensitive","ContentAvailable":1}}"#
        )
        let json = try Fixtures.json(Fixtures.render(content, .apns))
        #expect(json["aps", "alert", "title"] as? String == "AT")
        #expect(json["aps", "alert", "subtitle"] as? String == "Sub")
        #expect(json["aps", "alert", "body"] as? String == "Alice:hi")
        #expect(json["aps", "mutable-content"] as? Int == 1)
        #expect(json["aps", "content-available"] as? Int == 1)
        #expect(json["aps", "interruption-level"] as? String == "time-sensitive")
        #expect(json["ext"] as? String == #"{"k":1}"#)
        #expect(json["image"] as? String == "https://img")
    }

    @Test("APNs: an unknown interruption level is not sent")
    func apnsBadInterruptionLevel() throws {
        let json = try Fixtures.json(Fixtures.render(Self.content(#"{"ApnsInfo":{"InterruptionLevel":"loud"}}"#), .apns))
        #expect(json["aps", "interruption-level"] == nil)
    }

    // MARK: FCM

    @Test("FCM: v1 message with notification, data.ext, android priority, ttl and channel")
    func fcmRequest() throws {
        let content = try Self.content(#"{"Title":"T","Ext":"e","AndroidInfo":{"Sound":"ring","GoogleImage":"https://g"}}"#)
        let request = try Fixtures.render(content, .fcm)
        #expect(request.path == "/v1/projects/example-project/messages:send")
        let json = try Fixtures.json(request)
        #expect(json["message", "token"] as? String == Fixtures.target.token)
        #expect(json["message", "notification", "title"] as? String == "T")
        #expect(json["message", "notification", "body"] as? String == "Alice:hi")
        #expect(json["message", "notification", "image"] as? String == "https://g")
        #expect(json["message", "data", "ext"] as? String == "e")
        #expect(json["message", "android", "priority"] as? String == "high")
        #expect(json["message", "android", "ttl"] as? String == "3600s")
        #expect(json["message", "android", "notification", "channel_id"] as? String == "fcm_default")
        #expect(json["message", "android", "notification", "sound"] as? String == "ring")
    }

    // MARK: Android channel overrides (section 4)

    @Test("4: channel IDs from AndroidInfo replace the configured defaults when non-empty")
    func channelOverrides() throws {
        let content = try Self.content(
            #"{"AndroidInfo":{"HuaWeiChannelID":"hw_msg","XiaoMiChannelID":"mi_msg","OPPOChannelID":"oppo_msg","GoogleChannelID":"fcm_msg"}}"#
        )
        #expect(try Fixtures.json(Fixtures.render(content, .fcm))["message", "android", "notification", "channel_id"] as? String == "fcm_msg")
        #expect(try Fixtures.json(Fixtures.render(content, .huawei))["message", "android", "notification", "channel_id"] as? String == "hw_msg")
        #expect(try Fixtures.form(Fixtures.render(content, .xiaomi))["extra.channel_id"] == "mi_msg")
        let oppo = try Fixtures.object(try #require(try Fixtures.form(Fixtures.render(content, .oppo))["message"]))
        #expect(oppo["notification", "channel_id"] as? String == "oppo_msg")
    }

    @Test("4: empty channel IDs leave the configured defaults")
    func channelDefaults() throws {
        let content = try Self.content(#"{"AndroidInfo":{"HuaWeiChannelID":"","XiaoMiChannelID":"","OPPOChannelID":"","GoogleChannelID":""}}"#)
        #expect(try Fixtures.json(Fixtures.render(content, .fcm))["message", "android", "notification", "channel_id"] as? String == "fcm_default")
        #expect(try Fixtures.json(Fixtures.render(content, .huawei))["message", "android", "notification", "channel_id"] as? String == "hw_default")
        #expect(try Fixtures.form(Fixtures.render(content, .xiaomi))["extra.channel_id"] == "mi_default")
        let oppo = try Fixtures.object(try #require(try Fixtures.form(Fixtures.render(content, .oppo))["message"]))
        #expect(oppo["notification", "channel_id"] as? String == "oppo_default")
    }

    // MARK: Huawei / Honor

    @Test("Huawei: data is a JSON string, category and importance default, big text style, badge")
    func huaweiRequest() throws {
        let content = try Self.content(#"{"Title":"T","Ext":"{\"entity\":1}","AndroidInfo":{"PushStyle":1,"HuaWeiImage":"https://h"}}"#)
        let request = try Fixtures.render(content, .huawei)
        #expect(request.path == "/v1/10086/messages:send")
        let json = try Fixtures.json(request)
        let data = try #require(json["message", "data"] as? String)
        #expect(try Fixtures.object(data)["ext"] as? String == #"{"entity":1}"#)
        #expect(json["message", "token"] as? [String] == [Fixtures.target.token])
        #expect(json["message", "android", "category"] as? String == "IM")
        #expect(json["message", "android", "ttl"] as? String == "3600s")
        let notification = try #require(json["message", "android", "notification"] as? [String: Any])
        #expect(notification["importance"] as? String == "NORMAL")
        #expect(notification["title"] as? String == "T")
        #expect(notification["style"] as? Int == 1 && notification["big_body"] as? String == "Alice:hi")
        #expect(notification["image"] as? String == "https://h")
        #expect(notification["badge", "set_num"] as? Int == 3)
        #expect(notification["badge", "class"] as? String == "com.example.im.Main")
        #expect(notification["click_action", "type"] as? Int == 3)
    }

    /// Issue 25: a withdrawn message's delivered Huawei push stayed on the device. Huawei revokes
    /// by token and the `notifyId` the push carried (Push Kit, "Message Revocation": `POST
    /// /v1/[clientId]/messages:revoke`, header `push-type: 0`, body `{"notifyId", "token": [...]}`).
    @Test("Huawei: a push carries the notify_id of its job's key; the revoke names that id and the token; other vendors have no revoke")
    func huaweiRevoke() throws {
        var target = Fixtures.target
        target.revocationKey = "key-1:bob"
        let sent = try Fixtures.json(Fixtures.render(try Self.content("{}"), .huawei, target: target))
        let notifyID = try #require(sent["message", "android", "notification", "notify_id"] as? Int)
        #expect((0...2_147_483_647).contains(notifyID))
        #expect(try Fixtures.json(Fixtures.render(try Self.content("{}"), .huawei))["message", "android", "notification", "notify_id"] == nil)
        let renderer = PushRenderer(app: Fixtures.allVendorsApp)
        let revoke = try #require(try renderer.revoke("key-1:bob", vendor: .huawei, tokens: ["t1", "t2"]))
        #expect(revoke.path == "/v1/10086/messages:revoke")
        #expect(revoke.headers.contains(.init("push-type", "0")))
        let body = try Fixtures.json(revoke)
        #expect(body["notifyId"] as? Int == notifyID && body["token"] as? [String] == ["t1", "t2"])
        let other = try #require(try renderer.revoke("key-2:bob", vendor: .huawei, tokens: ["t1"]))
        #expect(try Fixtures.json(other)["notifyId"] as? Int != notifyID, "another push's id")
        for vendor in Vendor.allCases where vendor != .huawei {
            #expect(try renderer.revoke("key-1:bob", vendor: vendor, tokens: ["t1"]) == nil, "\(vendor)")
        }
    }

    @Test("4: HuaWeiImportance and HuaWeiCategory override")
    func huaweiOverrides() throws {
        let content = try Self.content(#"{"Ext":"a b","AndroidInfo":{"HuaWeiImportance":"LOW","HuaWeiCategory":"WORK"}}"#)
        let json = try Fixtures.json(Fixtures.render(content, .huawei))
        #expect(json["message", "android", "category"] as? String == "WORK")
        #expect(json["message", "android", "notification", "importance"] as? String == "LOW")
    }

    /// Issue 25: `ExtAsHuaweiIntentParam: 1` built `#Intent;…;end` naming no component, action or
    /// scheme, which opens nothing. Huawei's and Honor's type 1 click needs an intent or an action.
    @Test("4: ExtAsHuaweiIntentParam puts Ext in the intent of the app's in-app page; without one the notification opens the app")
    func inAppPage() throws {
        let asIntent = try Self.content(#"{"Ext":"a b","AndroidInfo":{"ExtAsHuaweiIntentParam":1}}"#)
        let asAction = try Self.content(#"{"Ext":"a b"}"#)
        struct Click: Equatable {
            var type: Int?
            var intent: String?
            var action: String?
        }
        func click(_ content: PushContent, _ vendor: Vendor, page: InAppPage) throws -> Click {
            var app = Fixtures.allVendorsApp
            app.huawei?.page = page
            app.honor?.page = page
            let json = try Fixtures.json(Fixtures.render(content, vendor, app: app))
            let click =
                vendor == .huawei
                ? json["message", "android", "notification", "click_action"] as? [String: Any]
                : json["android", "notification", "clickAction"] as? [String: Any]
            return Click(type: click?["type"] as? Int, intent: click?["intent"] as? String, action: click?["action"] as? String)
        }
        let intent = "intent://com.example.im/chat?#Intent;scheme=pushd;launchFlags=0x4000000;end"
        let both = InAppPage(intent: intent, action: "com.example.im.OPEN_CHAT")
        for vendor in [Vendor.huawei, .honor] {
            #expect(try click(asIntent, vendor, page: .init()) == Click(type: 3), "\(vendor): no page, opens the app")
            #expect(
                try click(asIntent, vendor, page: both)
                    == Click(type: 1, intent: "intent://com.example.im/chat?#Intent;scheme=pushd;launchFlags=0x4000000;S.ext=a%20b;end")
            )
            #expect(
                try click(asIntent, vendor, page: .init(action: "com.example.im.OPEN_CHAT"))
                    == Click(type: 1, intent: "intent:#Intent;action=com.example.im.OPEN_CHAT;launchFlags=0x4000000;S.ext=a%20b;end")
            )
            #expect(
                try click(asAction, vendor, page: both) == Click(type: 1, action: "com.example.im.OPEN_CHAT"),
                "\(vendor): ExtAsHuaweiIntentParam 0, Ext as the action's (in data)"
            )
        }
        #expect(InAppPage.isIntentURI(intent) && !InAppPage.isIntentURI("#Intent;launchFlags=0x4000000;S.ext=e;end") && !InAppPage.isIntentURI("pushd://chat"))
        #expect(InAppPage.isActionName("com.example.im.OPEN_CHAT") && !InAppPage.isActionName("a;b") && !InAppPage.isActionName(""))
    }

    @Test("5.5: Huawei's set_num and Honor's setNum carry 0 to 99; a larger unread count is sent as 99")
    func huaweiHonorBadgeCap() throws {
        let content = try Self.content(#"{"Title":"T"}"#)
        for (badge, sent) in [(0, 0), (98, 98), (99, 99), (100, 99), (12_345, 99), (Int(Int32.max), 99)] {
            var target = Fixtures.target
            target.badge = badge
            let huawei = try Fixtures.json(Fixtures.render(content, .huawei, target: target))
            #expect(huawei["message", "android", "notification", "badge", "set_num"] as? Int == sent, "Huawei, unread \(badge)")
            let honor = try Fixtures.json(Fixtures.render(content, .honor, target: target))
            #expect(honor["android", "notification", "badge", "setNum"] as? Int == sent, "Honor, unread \(badge)")
            // APNs documents no such cap: the absolute count goes as it is.
            let apns = try Fixtures.json(Fixtures.render(content, .apns, target: target))
            #expect(apns["aps", "badge"] as? Int == badge, "APNs, unread \(badge)")
        }
    }

    @Test("4: APNs plays the system sound unless push.no_sound; Huawei and Xiaomi take the resource name without its extension")
    func soundDefaults() throws {
        // Tencent's default is the system sound; push.no_sound means no sound key at all.
        for (info, sound) in [(#"{"Title":"T"}"#, "default"), (#"{"ApnsInfo":{"Sound":""}}"#, "default"), (#"{"ApnsInfo":{"Sound":"ding.caf"}}"#, "ding.caf")] {
            let aps = try Fixtures.json(Fixtures.render(Self.content(info), .apns))["aps"] as? [String: Any]
            #expect(aps?["sound"] as? String == sound, "\(info)")
        }
        let silent = try Fixtures.json(Fixtures.render(Self.content(#"{"ApnsInfo":{"Sound":"push.no_sound"}}"#), .apns))["aps"] as? [String: Any]
        #expect(silent != nil && silent?["sound"] == nil, "push.no_sound: no sound key")
        // Tencent's own sample names the file: android.mp3 is the raw resource android.
        let android = try Self.content(#"{"AndroidInfo":{"Sound":"android.mp3"}}"#)
        let huawei = try Fixtures.json(Fixtures.render(android, .huawei))
        #expect(huawei["message", "android", "notification", "sound"] as? String == "/raw/android")
        #expect(try Fixtures.form(Fixtures.render(android, .xiaomi))["extra.sound_uri"] == "android.resource://com.example.im/raw/android")
        let dotted = try Fixtures.json(Fixtures.render(try Self.content(#"{"AndroidInfo":{"Sound":"new.msg.ogg"}}"#), .huawei))
        #expect(dotted["message", "android", "notification", "sound"] as? String == "/raw/new.msg")
        let none = try Fixtures.json(Fixtures.render(try Self.content(#"{"AndroidInfo":{"Sound":"push.no_sound"}}"#), .huawei))
        #expect(none["message", "android", "notification", "default_sound"] as? Bool == true)
    }

    @Test("Huawei: the sound is a raw resource path")
    func huaweiSound() throws {
        let json = try Fixtures.json(Fixtures.render(Self.content(#"{"AndroidInfo":{"Sound":"ding"}}"#), .huawei))
        #expect(json["message", "android", "notification", "sound"] as? String == "/raw/ding")
        #expect(json["message", "android", "notification", "default_sound"] as? Bool == false)
    }

    @Test("Honor: camelCase fields, importance default NORMAL and override, timestamp header in ms")
    func honorRequest() throws {
        let request = try Fixtures.render(try Self.content(#"{"Ext":"e","AndroidInfo":{"HonorImage":"https://o"}}"#), .honor)
        #expect(request.path == "/api/v1/3003/sendMessage")
        #expect(request.header("timestamp") == "1763600000000")
        let json = try Fixtures.json(request)
        #expect(json["android", "notification", "importance"] as? String == "NORMAL")
        #expect(json["android", "notification", "clickAction", "type"] as? Int == 3)
        #expect(json["android", "notification", "image"] as? String == "https://o")
        #expect(json["android", "notification", "badge", "setNum"] as? Int == 3)
        #expect(json["android", "notification", "title"] as? String == "Example IM")
        #expect(try Fixtures.object(try #require(json["data"] as? String))["ext"] as? String == "e")
        let low = try Fixtures.json(Fixtures.render(try Self.content(#"{"AndroidInfo":{"HonorImportance":"LOW"}}"#), .honor))
        #expect(low["android", "notification", "importance"] as? String == "LOW")
    }

    // MARK: Xiaomi / OPPO / vivo / Meizu

    @Test("Xiaomi: form fields, ttl in ms, extra.channel_id, sound uri")
    func xiaomiRequest() throws {
        let request = try Fixtures.render(try Self.content(#"{"Title":"T","Ext":"e","AndroidInfo":{"Sound":"ding"}}"#), .xiaomi)
        #expect(request.path == "/v3/message/regid")
        let form = try Fixtures.form(request)
        #expect(form["registration_id"] == Fixtures.target.token)
        #expect(form["restricted_package_name"] == "com.example.im")
        #expect(form["title"] == "T" && form["description"] == "Alice:hi" && form["payload"] == "e")
        #expect(form["pass_through"] == "0" && form["time_to_live"] == "3600000")
        #expect(form["extra.channel_id"] == "mi_default")
        #expect(form["extra.sound_uri"] == "android.resource://com.example.im/raw/ding")
        #expect(String(decoding: request.body.bytes, as: UTF8.self).contains("description=Alice%3Ahi"))
    }

    @Test("OPPO: message JSON with channel_id, category and notify_level, category override")
    func oppoRequest() throws {
        let request = try Fixtures.render(try Self.content(#"{"Ext":"e","AndroidInfo":{"OPPOCategory":"MARKETING"}}"#), .oppo)
        #expect(request.path == "/server/v1/message/notification/unicast")
        let message = try Fixtures.object(try #require(try Fixtures.form(request)["message"]))
        #expect(message["target_type"] as? Int == 2)
        #expect(message["target_value"] as? String == Fixtures.target.token)
        #expect(message["notification", "category"] as? String == "MARKETING")
        #expect(message["notification", "notify_level"] as? Int == 2)
        #expect(message["notification", "title"] as? String == "Example IM")
        #expect(message["notification", "off_line_ttl"] as? Int == 3600)
        let parameters = try #require(message["notification", "action_parameters"] as? String)
        #expect(try Fixtures.object(parameters)["ext"] as? String == "e")
    }

    /// Issue 25: `OPPOPrivateMsgTemplateId` was parsed and never sent. OPPO's private-message
    /// (通讯与服务) template takes `private_msg_template_id` and string maps of title and content parameters.
    @Test("OPPO: OPPOPrivateMsgTemplateId goes out as the private-message template, filled with the title and text")
    func oppoPrivateTemplate() throws {
        let templated = try Fixtures.render(try Self.content(#"{"Title":"Alice","AndroidInfo":{"OPPOPrivateMsgTemplateId":"tpl_1"}}"#), .oppo)
        let message = try Fixtures.object(try #require(try Fixtures.form(templated)["message"]))
        #expect(message["notification", "private_msg_template_id"] as? String == "tpl_1")
        #expect(message["notification", "private_title_parameters"] as? [String: String] == ["title": "Alice"])
        #expect(message["notification", "private_content_parameters"] as? [String: String] == ["content": "Alice:hi"])
        let plain = try Fixtures.object(try #require(try Fixtures.form(Fixtures.render(Self.plain, .oppo))["message"]))
        #expect(plain["notification", "private_msg_template_id"] == nil && plain["notification", "private_title_parameters"] == nil)
    }

    @Test("4: vivo classification defaults to 1 and follows VIVOClassification; VIVOCategory overrides")
    func vivoRequest() throws {
        let request = try Fixtures.render(Self.plain, .vivo)
        #expect(request.path == "/message/send")
        let json = try Fixtures.json(request)
        #expect(json["classification"] as? Int == 1 && json["category"] as? String == "IM")
        #expect(json["regId"] as? String == Fixtures.target.token && json["requestId"] as? String == Fixtures.target.pushID)
        #expect(json["timeToLive"] as? Int == 3600 && json["title"] as? String == "Example IM")
        let marketing = try Fixtures.json(
            Fixtures.render(try Self.content(#"{"AndroidInfo":{"VIVOClassification":"0","VIVOCategory":"MARKETING"}}"#), .vivo)
        )
        #expect(marketing["classification"] as? Int == 0 && marketing["category"] as? String == "MARKETING")
    }

    @Test("Meizu: form with appId, pushIds and messageJson; noticeMsgType follows MeiZuNoticeMsgType")
    func meizuRequest() throws {
        let request = try Fixtures.render(try Self.content(#"{"Ext":"e","AndroidInfo":{"MeiZuNoticeMsgType":0}}"#), .meizu)
        #expect(request.path == "/garcia/api/server/push/varnished/pushByPushId")
        let form = try Fixtures.form(request)
        #expect(form["appId"] == "2002" && form["pushIds"] == Fixtures.target.token)
        let message = try Fixtures.object(try #require(form["messageJson"]))
        #expect(message["noticeBarInfo", "noticeMsgType"] as? Int == 0)
        #expect(message["noticeBarInfo", "content"] as? String == "Alice:hi")
        #expect(message["clickTypeInfo", "parameters", "ext"] as? String == "e")
        #expect(message["pushTimeInfo", "validTime"] as? Int == 1)
    }

    @Test("3.4: Android vendors that need a title get the app's default title; a message title wins")
    func defaultTitle() throws {
        let titled = try Self.content(#"{"Title":"Alice"}"#)
        #expect(try Fixtures.form(Fixtures.render(Self.plain, .xiaomi))["title"] == "Example IM")
        #expect(try Fixtures.form(Fixtures.render(titled, .xiaomi))["title"] == "Alice")
        #expect(try Fixtures.json(Fixtures.render(Self.plain, .huawei))["message", "android", "notification", "title"] as? String == "Example IM")
        #expect(try Fixtures.json(Fixtures.render(Self.plain, .fcm))["message", "notification", "title"] == nil)
    }

    /// The title each vendor's request carries, wherever that vendor puts it.
    static func title(_ request: VendorRequest) throws -> String? {
        switch request.vendor {
        case .apns: return try Fixtures.json(request)["aps", "alert", "title"] as? String
        case .fcm: return try Fixtures.json(request)["message", "notification", "title"] as? String
        case .huawei: return try Fixtures.json(request)["message", "android", "notification", "title"] as? String
        case .honor: return try Fixtures.json(request)["android", "notification", "title"] as? String
        case .vivo: return try Fixtures.json(request)["title"] as? String
        case .xiaomi: return try Fixtures.form(request)["title"]
        case .oppo: return try Fixtures.object(try #require(try Fixtures.form(request)["message"]))["notification", "title"] as? String
        case .meizu: return try Fixtures.object(try #require(try Fixtures.form(request)["messageJson"]))["noticeBarInfo", "title"] as? String
        }
    }

    /// Issue 25: the 002 sample has no `Title` and the shipped config had `default_title: ""`, so
    /// Huawei and Honor went without a title and the other four sent `title=""`: all six refuse that.
    @Test("3.4: with no title given, the six vendors that refuse an empty title get default_title, else app_name; never an empty one")
    func neverAnEmptyTitle() throws {
        let worked = PushMessage(
            body: try Fixtures.body(
                #"[{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"hello","Ext":"www.qq.com"}},{"MsgType":"TIMTextElem","MsgContent":{"Text":"world"}}]"#
            ),
            lifetime: 3600
        )
        let untitled = try Fixtures.content(worked, .c2c(senderNick: "Nickname"))
        let emptyTitle = try Self.content(#"{"Title":""}"#)
        var named = Fixtures.allVendorsApp
        named.defaultTitle = ""
        named.appName = "Acme Chat"
        var nameless = named
        nameless.appName = ""
        for vendor in Vendor.allCases {
            let expected: String? = vendor.requiresTitle ? "Example IM" : nil
            #expect(try Self.title(Fixtures.render(untitled, vendor)) == expected, "\(vendor) with default_title")
            #expect(try Self.title(Fixtures.render(emptyTitle, vendor)) == expected, "\(vendor), Title \"\"")
            #expect(try Self.title(Fixtures.render(untitled, vendor, app: named)) == (vendor.requiresTitle ? "Acme Chat" : nil), "\(vendor)")
            if vendor.requiresTitle {
                #expect(throws: RenderError.invalidField(vendor: vendor, field: "title", reason: "is empty: the message gives none and the app has no app_name")) {
                    try Fixtures.render(untitled, vendor, app: nameless)
                }
            } else {
                #expect(try Self.title(Fixtures.render(untitled, vendor, app: nameless)) == nil)
            }
            let titled = try Self.content(#"{"Title":"Alice"}"#)
            #expect(try Self.title(Fixtures.render(titled, vendor, app: nameless)) == "Alice", "\(vendor): the message's title wins")
        }
    }

    /// Issue 25: MiPush without `notify_id` keeps one notification per app.
    @Test("Xiaomi notify_id: per conversation by default (C2C sender or group), per push with notify_id: message")
    func xiaomiNotifyID() throws {
        func id(_ conversation: Conversation, pushID: String = "p1", mode: AppPushSettings.Xiaomi.NotifyID = .conversation) throws -> String? {
            var app = Fixtures.allVendorsApp
            app.xiaomi?.notifyID = mode
            let message = PushMessage(body: try Fixtures.body(#"[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]"#))
            let target = PushTarget(token: "mi-1", pushID: pushID, nowMillis: 0)
            return try Fixtures.form(Fixtures.render(try Fixtures.content(message, conversation), .xiaomi, app: app, target: target))["notify_id"]
        }
        let alice = try id(.c2c(senderNick: "Alice", sender: "alice"))
        #expect(try id(.c2c(senderNick: nil, sender: "alice"), pushID: "p2") == alice, "same conversation, another push")
        #expect(try id(.c2c(senderNick: "Alice", sender: "carol")) != alice)
        let group = try id(.group(id: "@TGS#1", name: "G", senderNick: "Alice"))
        #expect(try id(.group(id: "@TGS#1", name: "G", senderNick: "Bob"), pushID: "p9") == group)
        #expect(group != alice && group != nil)
        // The same in every process and build (Swift's Hasher is seeded per run): computed independently.
        #expect(alice == "1321588995", "FNV-1a 32 of c2c:alice, low 31 bits")
        #expect(try id(.c2c(senderNick: nil, sender: "alice"), mode: .message) != alice)
        #expect(try id(.c2c(senderNick: nil, sender: "alice"), pushID: "p2", mode: .message) != id(.c2c(senderNick: nil, sender: "alice"), mode: .message))
        #expect(try id(.c2c(senderNick: nil), pushID: "p3") != id(.c2c(senderNick: nil), pushID: "p4"), "no known sender: one notification per push")
    }

    @Test("A vendor the app does not configure is a permanent failure")
    func unconfiguredVendor() {
        #expect(throws: RenderError.vendorNotConfigured(.meizu)) {
            try Fixtures.render(Self.plain, .meizu, app: AppPushSettings(apns: .init(bundleID: "x")))
        }
    }
}

import ArgumentParser
import Foundation
import PushCore
import PushdConfig

/// `pushd-bench render`: push text composition and vendor payload rendering on one core, against a
/// straightforward reference (Foundation `JSONEncoder` over Codable structs of the same payload).
struct RenderBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render", abstract: "Renders per second on one core, pushd against a JSONEncoder reference."
    )

    @Option(name: .short, help: "Renders per measured round.") var n = 1_000_000
    @Option(help: "Rounds per figure; the best is kept.") var rounds = 3
    @Option(help: "Template folder.") var templates = "Templates"
    @Option(help: "Run only the rows whose name starts with this (apns, huawei, compose).") var only: String?
    @Flag(help: "Skip the reference run (for counting allocations under valgrind).") var noReference = false

    func run() throws {
        #if DEBUG
        print("warning: debug build; run `swift run -c release pushd-bench render` for real figures")
        #endif
        let composer = PushComposer(templates: try TemplateLoader.load(defaultFolder: templates))
        let mix = RenderMix.messages
        let contents = try mix.map { message -> PushContent in
            guard case .push(let content) = composer.compose(message.message, in: message.conversation, locale: .zh) else {
                throw ValidationError("a bench message has no push text")
            }
            return content
        }
        let apns = APNsRenderer(settings: .init(bundleID: "com.example.im"))
        let huawei = HuaweiRenderer(
            settings: .init(appID: "10000000", defaultChannelID: "im_chat", defaultCategory: "IM"), defaultTitle: "Example IM"
        )
        let targets = (0..<1024).map { i in
            PushTarget(
                token: String(repeating: String(format: "%02x", i % 256), count: 32), badge: i % 7,
                pushID: UUID().uuidString.lowercased(), nowMillis: 1_763_600_000_000
            )
        }
        let reference = ReferenceRenderer(bundleID: "com.example.im", huaweiAppID: "10000000", channel: "im_chat", category: "IM", defaultTitle: "Example IM")

        func size(_ request: VendorRequest) -> Int {
            if case .json(let bytes) = request.body { return bytes.count &+ request.headers.count }
            return 0
        }
        let rows: [(String, (Int) -> Int, (Int) -> Int)] = [
            (
                "APNs payload + headers",
                { i in (try? apns.render(contents[i % 5], to: targets[i & 1023])).map(size) ?? 0 },
                { i in reference.apns(contents[i % 5], targets[i & 1023]) }
            ),
            (
                "Huawei message",
                { i in (try? huawei.render(contents[i % 5], to: targets[i & 1023])).map(size) ?? 0 },
                { i in reference.huawei(contents[i % 5], targets[i & 1023]) }
            ),
            (
                "compose + APNs (per message)",
                { i in
                    let m = mix[i % 5]
                    guard case .push(let c) = composer.compose(m.message, in: m.conversation, locale: .zh) else { return 0 }
                    return (try? apns.render(c, to: targets[i & 1023])).map(size) ?? 0
                },
                { i in
                    let m = mix[i % 5]
                    guard case .push(let c) = composer.compose(m.message, in: m.conversation, locale: .zh) else { return 0 }
                    return reference.apns(c, targets[i & 1023])
                }
            ),
        ]
        var table = BenchTable(header: ["render (1 core)", "pushd", "reference (JSONEncoder)", "ratio"])
        var checksum = 0
        for (name, fast, slow) in rows {
            if let only, !name.lowercased().hasPrefix(only.lowercased()) { continue }
            let ours = measureRate(iterations: n, rounds: rounds, fast)
            let theirs = noReference ? (rate: Double.nan, checksum: 0) : measureRate(iterations: max(n / 5, 1), rounds: rounds, slow)
            checksum &+= ours.checksum &+ theirs.checksum
            table.add([name, formatRate(ours.rate), formatRate(theirs.rate), String(format: "%.1fx", ours.rate / theirs.rate)])
        }
        print("Message mix: text, text+custom, group with nickname, location, image; zh; \(n) renders per round, best of \(rounds).")
        print(table.render())
        print("(checksum \(checksum))")
    }
}

/// The realistic message mix of the benchmark.
enum RenderMix {
    struct Message {
        var message: PushMessage
        var conversation: Conversation
    }

    static let messages: [Message] = {
        func body(_ elements: [MsgElement]) -> MsgBody { (try? MsgBody(elements)) ?? MsgBody.empty }
        var apnsInfo = ApnsInfo()
        apnsInfo.badgeMode = 0
        apnsInfo.sound = "msg.caf"
        return [
            Message(
                message: PushMessage(body: body([.text(.init(text: "今晚一起吃饭吗？七点在老地方见"))])),
                conversation: .c2c(senderNick: "小王")
            ),
            Message(
                message: PushMessage(
                    body: body([
                        .custom(.init(data: "other information", desc: "hello", ext: #"{"entity":{"chatType":1,"sender":"alice"}}"#, sound: "dingdong.aiff")),
                        .text(.init(text: "world")),
                    ])
                ),
                conversation: .c2c(senderNick: "Nickname")
            ),
            Message(
                message: PushMessage(body: body([.text(.init(text: "大家下午三点在 5 楼会议室开周会，记得带电脑 \"Q4 plan\""))])),
                conversation: .group(id: "@TGS#2C5SZEAEF", name: "产品组", senderNick: "Alice")
            ),
            Message(
                message: PushMessage(
                    body: body([.location(.init(desc: "深圳市南山区", latitude: 22.54, longitude: 113.93))]),
                    offlinePushInfo: OfflinePushInfo(title: "Alice", apnsInfo: apnsInfo)
                ),
                conversation: .c2c(senderNick: "Alice")
            ),
            Message(
                message: PushMessage(
                    body: body([.image(.init(uuid: "img-1", imageFormat: 1))]),
                    offlinePushInfo: OfflinePushInfo(ext: #"{"entity":{"groupId":"@TGS#2C5SZEAEF"}}"#)
                ),
                conversation: .group(id: "@TGS#2C5SZEAEF", name: "", senderNick: nil)
            ),
        ]
    }()
}

/// The straightforward way: Codable structs of the same payload through `JSONEncoder`.
struct ReferenceRenderer {
    var bundleID: String
    var huaweiAppID: String
    var channel: String
    var category: String
    var defaultTitle: String
    let encoder = JSONEncoder()

    struct APNsPayload: Encodable {
        struct Alert: Encodable {
            var title: String?
            var subtitle: String?
            var body: String
        }
        enum AlertValue: Encodable {
            case text(String)
            case dictionary(Alert)
            func encode(to encoder: any Encoder) throws {
                switch self {
                case .text(let s): try s.encode(to: encoder)
                case .dictionary(let a): try a.encode(to: encoder)
                }
            }
        }
        struct APS: Encodable {
            var alert: AlertValue
            var badge: Int?
            var sound: String?
            var mutableContent: Int?
            enum CodingKeys: String, CodingKey { case alert, badge, sound, mutableContent = "mutable-content" }
        }
        var aps: APS
        var ext: String?
        var image: String?
    }

    func apns(_ c: PushContent, _ t: PushTarget) -> Int {
        let alert: APNsPayload.AlertValue =
            c.apnsTitle == nil ? .text(c.body) : .dictionary(.init(title: c.apnsTitle, subtitle: c.apns.subTitle, body: c.body))
        let payload = APNsPayload(
            aps: .init(alert: alert, badge: t.badge, sound: PushSound.apns(c.apnsSound), mutableContent: c.apns.mutableContent == 1 ? 1 : nil),
            ext: c.ext, image: c.apns.image
        )
        guard let body = try? encoder.encode(payload), body.count <= 4096 else { return 0 }
        let headers = [
            ("apns-push-type", "alert"), ("apns-topic", bundleID), ("apns-priority", "10"),
            ("apns-expiration", String(t.nowMillis / 1000 + Int64(c.lifetime))), ("apns-id", t.pushID),
        ]
        let path = "/3/device/" + t.token
        return body.count &+ headers.count &+ path.utf8.count
    }

    struct HuaweiBody: Encodable {
        struct Message: Encodable {
            var data: String?
            var android: Android
            var token: [String]
        }
        struct Android: Encodable {
            var category: String
            var ttl: String
            var notification: Notification
        }
        struct Notification: Encodable {
            var title: String
            var body: String
            var channel_id: String
            var importance: String
            var default_sound: Bool
            var click_action: ClickAction
        }
        struct ClickAction: Encodable { var type: Int }
        var validate_only: Bool
        var message: Message
    }

    struct Ext: Encodable { var ext: String }

    func huawei(_ c: PushContent, _ t: PushTarget) -> Int {
        let data = c.ext.flatMap { try? encoder.encode(Ext(ext: $0)) }.map { String(decoding: $0, as: UTF8.self) }
        let body = HuaweiBody(
            validate_only: false,
            message: .init(
                data: data,
                android: .init(
                    category: category, ttl: "\(c.lifetime)s",
                    notification: .init(
                        title: c.title ?? defaultTitle, body: c.body, channel_id: channel, importance: "NORMAL",
                        default_sound: PushSound.androidResource(c.androidSound) == nil, click_action: .init(type: 3)
                    )
                ),
                token: [t.token]
            )
        )
        guard let bytes = try? encoder.encode(body), bytes.count <= 4096 else { return 0 }
        return bytes.count &+ ("/v1/" + huaweiAppID + "/messages:send").utf8.count
    }
}

import Foundation
import PushCore
import PushdConfig

/// Shared test fixtures: the shipped templates, a composer, decoding helpers.
enum Fixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let templates: PushTextTemplates = {
        do {
            return try TemplateLoader.load(defaultFolder: repoRoot + "/Templates")
        } catch {
            fatalError("shipped templates do not load: \(error)")
        }
    }()

    static let composer = PushComposer(templates: templates)

    /// Decodes `MsgBody` as a field of a request, as the API does, so error paths start at `MsgBody`.
    static func body(_ json: String) throws -> MsgBody {
        try JSONDecoder().decode(Request.self, from: Data(#"{"MsgBody":\#(json)}"#.utf8)).body
    }

    private struct Request: Decodable {
        var body: MsgBody
        enum CodingKeys: String, CodingKey { case body = "MsgBody" }
    }

    static func info(_ json: String) throws -> OfflinePushInfo {
        try JSONDecoder().decode(OfflinePushInfo.self, from: Data(json.utf8))
    }

    /// Composes or fails the test with the skip reason.
    static func content(
        _ message: PushMessage, _ conversation: Conversation = .c2c(senderNick: nil), locale: PushLocale = .zh
    ) throws -> PushContent {
        switch composer.compose(message, in: conversation, locale: locale) {
        case .push(let content): return content
        case .skip(let reason): throw Unexpected(description: "skipped: \(reason)")
        }
    }

    static func text(_ message: PushMessage, _ conversation: Conversation = .c2c(senderNick: nil), locale: PushLocale = .zh) throws -> String {
        try content(message, conversation, locale: locale).body
    }

    static let allVendorsApp = AppPushSettings(
        defaultTitle: "Example IM",
        apns: .init(bundleID: "com.example.im"),
        fcm: .init(projectID: "example-project", defaultChannelID: "fcm_default"),
        huawei: .init(appID: "10086", defaultChannelID: "hw_default", defaultCategory: "IM", badgeClass: "com.example.im.Main"),
        xiaomi: .init(packageName: "com.example.im", defaultChannelID: "mi_default"),
        oppo: .init(defaultChannelID: "oppo_default", defaultCategory: "IM"),
        vivo: .init(appID: "1001", defaultCategory: "IM"),
        meizu: .init(appID: "2002"),
        honor: .init(appID: "3003", badgeClass: "com.example.im.Main")
    )

    static let target = PushTarget(
        token: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", badge: 3,
        pushID: "6f1a3c2e-8d4b-4f5a-9c7e-1b2d3e4f5a6b", nowMillis: 1_763_600_000_000
    )

    static func render(_ content: PushContent, _ vendor: Vendor, app: AppPushSettings = allVendorsApp, target: PushTarget = target) throws -> VendorRequest {
        try PushRenderer(app: app).render(content, vendor: vendor, to: target)
    }

    /// A JSON body as a dictionary.
    static func json(_ request: VendorRequest) throws -> [String: Any] {
        guard case .json(let bytes) = request.body else { throw Unexpected(description: "not a JSON body") }
        return try object(bytes)
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw Unexpected(description: "not a JSON object")
        }
        return object
    }

    static func object(_ text: String) throws -> [String: Any] { try object(Array(text.utf8)) }

    /// Form fields by name.
    static func form(_ request: VendorRequest) throws -> [String: String] {
        guard case .form(let fields) = request.body else { throw Unexpected(description: "not a form body") }
        return Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    struct Unexpected: Error, CustomStringConvertible { var description: String }
}

extension Dictionary where Key == String, Value == Any {
    /// Nested lookup: `dict["a", "b"]`.
    subscript(path: String...) -> Any? {
        var current: Any? = self
        for key in path { current = (current as? [String: Any])?[key] }
        return current
    }
}

/// Renders a Honor Push request: `POST /api/v1/<appId>/sendMessage` (camelCase fields, `timestamp` header).
public struct HonorRenderer: Sendable, SizedPayloadRenderer {
    /// Honor publishes no payload limit; Huawei's 4096 bytes (tokens excluded) is assumed.
    public static let payloadLimit = 4096
    static let vendor = Vendor.honor

    public let settings: AppPushSettings.Honor
    public let defaultTitle: String

    public init(settings: AppPushSettings.Honor, defaultTitle: String) {
        self.settings = settings
        self.defaultTitle = defaultTitle
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        VendorRequest(
            vendor: .honor, path: "/api/v1/\(settings.appID)/sendMessage",
            headers: [.init("content-type", "application/json; charset=UTF-8"), .init("timestamp", String(target.nowMillis))],
            body: .json(try PayloadFitting.fit(self, content, target))
        )
    }

    func payload(_ content: PushContent, body: String, target: PushTarget) -> (bytes: [UInt8], counted: Int) {
        let android = content.android
        let title = content.title ?? defaultTitle
        var json = JSONWriter(capacity: 320 + 2 * body.utf8.count)
        json.beginObject()
        if let ext = content.ext.nonEmpty { json.field("data", PayloadFitting.extObject(ext)) }
        json.key("android")
        json.beginObject()
        json.field("ttl", JSONWriter.decimal(content.lifetime) + "s")
        json.key("notification")
        json.beginObject()
        json.field("title", title)
        json.field("body", body)
        json.key("clickAction")
        json.click(settings.page.click(ext: content.ext.nonEmpty, extAsIntentParameter: android.extAsHuaweiIntentParam == 1))
        json.field("importance", android.honorImportance.nonEmpty ?? "NORMAL")
        json.field("image", ifPresent: android.honorImage)
        if android.pushStyle == 1 {
            json.field("style", 1)
            json.field("bigTitle", title)
            json.field("bigBody", body)
        }
        if let badge = target.badge, !settings.badgeClass.isEmpty {
            json.key("badge")
            json.beginObject()
            json.field("setNum", Badge.huaweiHonorCount(badge))
            json.field("badgeClass", settings.badgeClass)
            json.endObject()
        }
        json.endObject()
        json.endObject()
        json.field("token", tokenList: target.tokens)
        json.endObject()
        // The limit excludes the tokens themselves.
        let counted = json.count - target.tokens.reduce(0) { $0 + $1.utf8.count }
        return (json.finish(), counted)
    }
}

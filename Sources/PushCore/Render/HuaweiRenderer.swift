/// Renders a Huawei Push Kit v1 request: `POST /v1/<appId>/messages:send`.
public struct HuaweiRenderer: Sendable, SizedPayloadRenderer {
    /// Huawei's message limit, tokens excluded.
    public static let payloadLimit = 4096
    static let vendor = Vendor.huawei

    public let settings: AppPushSettings.Huawei
    /// Title when the message has none (Huawei notifications need one).
    public let defaultTitle: String

    public init(settings: AppPushSettings.Huawei, defaultTitle: String) {
        self.settings = settings
        self.defaultTitle = defaultTitle
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        VendorRequest(
            vendor: .huawei, path: "/v1/\(settings.appID)/messages:send",
            headers: [.init("content-type", "application/json;charset=utf-8")],
            body: .json(try PayloadFitting.fit(self, content, target))
        )
    }

    /// Huawei's revoke (`POST /v1/<appId>/messages:revoke`, `push-type: 0` for a notification):
    /// removes the notification a push carrying the same `notify_id` left on these devices, if the
    /// user has not tapped it yet.
    public func revoke(_ revocationKey: String, tokens: [String]) -> VendorRequest {
        var json = JSONWriter(capacity: 64 + tokens.reduce(0) { $0 + $1.utf8.count + 3 })
        json.beginObject()
        json.field("notifyId", NotifyID.of(revocationKey))
        json.field("token", tokenList: tokens)
        json.endObject()
        return VendorRequest(
            vendor: .huawei, path: "/v1/\(settings.appID)/messages:revoke",
            headers: [.init("content-type", "application/json;charset=utf-8"), .init("push-type", "0")], body: .json(json.finish())
        )
    }

    func payload(_ content: PushContent, body: String, target: PushTarget) -> (bytes: [UInt8], counted: Int) {
        let android = content.android
        let title = content.title ?? defaultTitle
        var json = JSONWriter(capacity: 384 + 2 * body.utf8.count)
        json.beginObject()
        json.field("validate_only", false)
        json.key("message")
        json.beginObject()
        if let ext = content.ext.nonEmpty { json.field("data", PayloadFitting.extObject(ext)) }
        json.key("android")
        json.beginObject()
        json.field("category", ifPresent: android.huaWeiCategory.nonEmpty ?? settings.defaultCategory)
        json.field("ttl", JSONWriter.decimal(content.lifetime) + "s")
        json.key("notification")
        json.beginObject()
        json.field("title", title)
        json.field("body", body)
        json.field("channel_id", ifPresent: android.huaWeiChannelID.nonEmpty ?? settings.defaultChannelID)
        json.field("importance", android.huaWeiImportance.nonEmpty ?? "NORMAL")
        if let key = target.revocationKey { json.field("notify_id", NotifyID.of(key)) }
        if let sound = PushSound.androidResource(content.androidSound) {
            json.field("sound", "/raw/" + sound)
            json.field("default_sound", false)
        } else {
            json.field("default_sound", true)
        }
        json.field("image", ifPresent: android.huaWeiImage)
        if android.pushStyle == 1 {
            json.field("style", 1)
            json.field("big_title", title)
            json.field("big_body", body)
        }
        json.key("click_action")
        json.click(settings.page.click(ext: content.ext.nonEmpty, extAsIntentParameter: android.extAsHuaweiIntentParam == 1))
        if let badge = target.badge, !settings.badgeClass.isEmpty {
            json.key("badge")
            json.beginObject()
            json.field("set_num", Badge.huaweiHonorCount(badge))
            json.field("class", settings.badgeClass)
            json.endObject()
        }
        json.endObject()
        json.endObject()
        json.field("token", tokenList: target.tokens)
        json.endObject()
        json.endObject()
        // The limit excludes the tokens themselves.
        let counted = json.count - target.tokens.reduce(0) { $0 + $1.utf8.count }
        return (json.finish(), counted)
    }
}

/// Renders a Meizu Push request: `POST /garcia/api/server/push/varnished/pushByPushId`, form fields
/// (the gateway adds `sign`).
public struct MeizuRenderer: Sendable {
    public static let titleLimit = 32
    public static let contentLimit = 100
    /// `validTime` is 1 to 72 hours.
    public static let validHours = 1...72

    public let settings: AppPushSettings.Meizu
    public let defaultTitle: String

    public init(settings: AppPushSettings.Meizu, defaultTitle: String) {
        self.settings = settings
        self.defaultTitle = defaultTitle
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        var json = JSONWriter(capacity: 320)
        json.beginObject()
        json.key("noticeBarInfo")
        json.beginObject()
        // Chat pushes are private messages (1) unless the message says otherwise.
        json.field("noticeMsgType", content.android.meiZuNoticeMsgType ?? 1)
        json.field("noticeBarType", 0)
        json.field("title", Truncation.limit(content.title ?? defaultTitle, to: Self.titleLimit))
        json.field("content", Truncation.limit(content.body, to: Self.contentLimit))
        json.endObject()
        json.key("clickTypeInfo")
        json.beginObject()
        json.field("clickType", 0)
        if let ext = content.ext.nonEmpty {
            json.key("parameters")
            json.beginObject()
            json.field("ext", ext)
            json.endObject()
        }
        json.endObject()
        json.key("pushTimeInfo")
        json.beginObject()
        json.field("offLine", 1)
        let hours = (content.lifetime + 3599) / 3600
        json.field("validTime", min(max(hours, Self.validHours.lowerBound), Self.validHours.upperBound))
        json.endObject()
        json.endObject()
        return VendorRequest(
            vendor: .meizu, path: "/garcia/api/server/push/varnished/pushByPushId",
            headers: [.init("content-type", "application/x-www-form-urlencoded;charset=UTF-8")],
            body: .form([
                .init("appId", settings.appID), .init("pushIds", target.tokens.joined(separator: ",")),
                .init("messageJson", json.finishString()),
            ])
        )
    }
}

/// Renders a vivo Push request: `POST /message/send`, JSON (the gateway adds the `authToken` header).
public struct VivoRenderer: Sendable {
    /// vivo's units (`Truncation.Measure.wideAsTwo`): 20 Chinese characters of title, 50 of content.
    public static let titleLimit = 40
    public static let contentLimit = 100
    /// `timeToLive` must lie between 60 seconds and 1 day.
    public static let ttlRange = 60...86_400

    public let settings: AppPushSettings.Vivo
    public let defaultTitle: String

    public init(settings: AppPushSettings.Vivo, defaultTitle: String) {
        self.settings = settings
        self.defaultTitle = defaultTitle
    }

    /// Path of the list-push payload (the first of vivo's two list-push steps).
    public static let listPayloadPath = "/message/saveListPayload"

    /// One device: `/message/send`. Several (2 to 1000): the payload for `/message/saveListPayload`;
    /// the client then sends the tokens to `/message/pushToList` with the returned `taskId`.
    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        let android = content.android
        let list = target.tokens.count > 1
        var json = JSONWriter(capacity: 384)
        json.beginObject()
        json.field("appId", ifPresent: settings.appID)
        if !list { json.field("regId", target.token) }
        json.field("notifyType", 4)
        json.field("title", Truncation.limit(content.title ?? defaultTitle, to: Self.titleLimit, measuredIn: .wideAsTwo))
        json.field("content", Truncation.limit(content.body, to: Self.contentLimit, measuredIn: .wideAsTwo))
        json.field("timeToLive", min(max(content.lifetime, Self.ttlRange.lowerBound), Self.ttlRange.upperBound))
        json.field("skipType", 1)
        json.field("classification", android.vivoClassification?.value ?? 1)
        json.field("category", ifPresent: android.vivoCategory.nonEmpty ?? settings.defaultCategory)
        json.field("requestId", target.pushID)
        if let ext = content.ext.nonEmpty {
            json.key("clientCustomMap")
            json.beginObject()
            json.field("ext", ext)
            json.endObject()
        }
        json.endObject()
        return VendorRequest(
            vendor: .vivo, path: list ? Self.listPayloadPath : "/message/send", headers: [.init("content-type", "application/json")],
            body: .json(json.finish())
        )
    }
}

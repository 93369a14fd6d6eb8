/// Renders an FCM HTTP v1 request: `POST /v1/projects/<project>/messages:send`.
public struct FCMRenderer: Sendable {
    /// FCM's limit on the bytes of `notification` + `data`.
    public static let payloadLimit = 4096

    public let settings: AppPushSettings.FCM

    public init(settings: AppPushSettings.FCM) {
        self.settings = settings
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        let channel = content.android.googleChannelID.nonEmpty ?? settings.defaultChannelID
        let body = try PayloadFitting.fit(content.body, vendor: .fcm, limit: Self.payloadLimit) { text in
            var json = JSONWriter(capacity: 256 + text.utf8.count)
            json.beginObject()
            json.key("message")
            json.beginObject()
            json.field("token", target.token)
            let countedStart = json.bytes.count
            json.key("notification")
            json.beginObject()
            json.field("title", ifPresent: content.title)
            json.field("body", text)
            json.field("image", ifPresent: content.android.googleImage)
            json.endObject()
            if let ext = content.ext.nonEmpty {
                json.key("data")
                json.beginObject()
                json.field("ext", ext)
                json.endObject()
            }
            let counted = json.bytes.count - countedStart
            json.key("android")
            json.beginObject()
            json.field("priority", "high")
            json.field("ttl", "\(content.lifetime)s")
            json.key("notification")
            json.beginObject()
            json.field("channel_id", ifPresent: channel)
            json.field("sound", ifPresent: content.androidSound)
            json.endObject()
            json.endObject()
            json.endObject()
            json.endObject()
            return (json.bytes, counted)
        }
        return VendorRequest(
            vendor: .fcm, path: "/v1/projects/\(settings.projectID)/messages:send",
            headers: [.init("content-type", "application/json")], body: .json(body)
        )
    }
}

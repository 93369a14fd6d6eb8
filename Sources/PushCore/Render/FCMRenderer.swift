/// Renders an FCM HTTP v1 request: `POST /v1/projects/<project>/messages:send`.
public struct FCMRenderer: Sendable, SizedPayloadRenderer {
    /// FCM's limit on the bytes of `notification` + `data`.
    public static let payloadLimit = 4096
    static let vendor = Vendor.fcm

    public let settings: AppPushSettings.FCM

    public init(settings: AppPushSettings.FCM) {
        self.settings = settings
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        VendorRequest(
            vendor: .fcm, path: "/v1/projects/\(settings.projectID)/messages:send",
            headers: [.init("content-type", "application/json")], body: .json(try PayloadFitting.fit(self, content, target))
        )
    }

    func payload(_ content: PushContent, body: String, target: PushTarget) -> (bytes: [UInt8], counted: Int) {
        var json = JSONWriter(capacity: 256 + body.utf8.count)
        json.beginObject()
        json.key("message")
        json.beginObject()
        json.field("token", target.token)
        let countedStart = json.count
        json.key("notification")
        json.beginObject()
        json.field("title", ifPresent: content.title)
        json.field("body", body)
        json.field("image", ifPresent: content.android.googleImage)
        json.endObject()
        if let ext = content.ext.nonEmpty {
            json.key("data")
            json.beginObject()
            json.field("ext", ext)
            json.endObject()
        }
        let counted = json.count - countedStart
        json.key("android")
        json.beginObject()
        json.field("priority", "high")
        json.field("ttl", JSONWriter.decimal(content.lifetime) + "s")
        json.key("notification")
        json.beginObject()
        json.field("channel_id", ifPresent: content.android.googleChannelID.nonEmpty ?? settings.defaultChannelID)
        json.field("sound", ifPresent: content.androidSound)
        json.endObject()
        json.endObject()
        json.endObject()
        json.endObject()
        return (json.finish(), counted)
    }
}

/// Renders an APNs request: `POST /3/device/<token>` with `apns-*` headers and the `aps` payload.
public struct APNsRenderer: Sendable, SizedPayloadRenderer {
    static let vendor = Vendor.apns
    /// Apple's payload limit for alert pushes.
    public static let payloadLimit = 4096
    static let interruptionLevels: Set<String> = ["active", "critical", "passive", "time-sensitive"]

    public let settings: AppPushSettings.APNs

    public init(settings: AppPushSettings.APNs) {
        self.settings = settings
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        var headers: [VendorRequest.Header] = [
            .init("apns-push-type", "alert"),
            .init("apns-topic", settings.bundleID),
            .init("apns-priority", "10"),
            .init("apns-expiration", JSONWriter.decimal(Int(target.nowMillis / 1000) + content.lifetime)),
            .init("apns-id", target.pushID),
        ]
        if let collapseID = target.collapseID, !collapseID.isEmpty {
            guard collapseID.utf8.count <= 64 else {
                throw .invalidField(vendor: .apns, field: "apns-collapse-id", reason: "is longer than 64 bytes")
            }
            headers.append(.init("apns-collapse-id", collapseID))
        }
        let payload = try PayloadFitting.fit(self, content, target)
        return VendorRequest(vendor: .apns, path: "/3/device/" + target.token, headers: headers, body: .json(payload))
    }

    func payload(_ content: PushContent, body: String, target: PushTarget) -> (bytes: [UInt8], counted: Int) {
        let bytes = Self.payload(content, body: body, badge: target.badge)
        return (bytes, bytes.count)
    }

    static func payload(_ content: PushContent, body: String, badge: Int?) -> [UInt8] {
        var json = JSONWriter(capacity: 128 + body.utf8.count + (content.ext?.utf8.count ?? 0))
        json.beginObject()
        json.key("aps")
        json.beginObject()
        let subtitle = content.apns.subTitle.nonEmpty
        if content.apnsTitle != nil || subtitle != nil {
            json.key("alert")
            json.beginObject()
            json.field("title", ifPresent: content.apnsTitle)
            json.field("subtitle", ifPresent: subtitle)
            json.field("body", body)
            json.endObject()
        } else {
            json.field("alert", body)
        }
        if let badge { json.field("badge", badge) }
        json.field("sound", ifPresent: PushSound.apns(content.apnsSound))
        if content.apns.mutableContent == 1 { json.field("mutable-content", 1) }
        if content.apns.contentAvailable == 1 { json.field("content-available", 1) }
        if let level = content.apns.interruptionLevel, interruptionLevels.contains(level) {
            json.field("interruption-level", level)
        }
        json.endObject()
        json.field("ext", ifPresent: content.ext)
        json.field("image", ifPresent: content.apns.image)
        json.endObject()
        return json.finish()
    }
}

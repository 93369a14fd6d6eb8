/// Renders a Xiaomi MiPush request: `POST /v3/message/regid`, form fields.
public struct XiaomiRenderer: Sendable {
    /// `title` must be shorter than 50 characters, `description` shorter than 128.
    public static let titleLimit = 49
    public static let descriptionLimit = 127
    /// `payload` must be under 4 KB.
    public static let payloadLimit = 4095

    public let settings: AppPushSettings.Xiaomi
    public let defaultTitle: String

    public init(settings: AppPushSettings.Xiaomi, defaultTitle: String) {
        self.settings = settings
        self.defaultTitle = defaultTitle
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        var fields: [VendorRequest.FormField] = [
            .init("registration_id", target.tokens.joined(separator: ",")),
            .init("restricted_package_name", settings.packageName),
            .init("pass_through", "0"),
            .init("notify_type", "-1"),
            .init("title", Truncation.limit(content.title ?? defaultTitle, to: Self.titleLimit)),
            .init("description", Truncation.limit(content.body, to: Self.descriptionLimit)),
        ]
        if let ext = content.ext.nonEmpty {
            guard ext.utf8.count <= Self.payloadLimit else {
                throw .payloadTooLarge(vendor: .xiaomi, limit: Self.payloadLimit, size: ext.utf8.count)
            }
            fields.append(.init("payload", ext))
        }
        fields.append(.init("notify_id", String(NotifyID.of(settings.notifyID == .conversation ? content.thread ?? target.pushID : target.pushID))))
        fields.append(.init("time_to_live", String(content.lifetime * 1000)))
        if let channel = content.android.xiaoMiChannelID.nonEmpty ?? settings.defaultChannelID.nonEmpty {
            fields.append(.init("extra.channel_id", channel))
        }
        fields.append(.init("extra.notify_effect", "1"))
        if let sound = PushSound.androidResource(content.androidSound) {
            fields.append(.init("extra.sound_uri", "android.resource://\(settings.packageName)/raw/\(sound)"))
        }
        return VendorRequest(
            vendor: .xiaomi, path: "/v3/message/regid",
            headers: [.init("content-type", "application/x-www-form-urlencoded;charset=UTF-8")], body: .form(fields)
        )
    }
}

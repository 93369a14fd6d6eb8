/// Renders an OPPO Push request: `POST /server/v1/message/notification/unicast`, a `message` form
/// field holding JSON (the gateway adds `auth_token`).
public struct OPPORenderer: Sendable {
    public static let titleLimit = 50
    /// 200 characters for a standard notification, 128 for long text (`PushStyle` 1).
    public static let contentLimit = 200
    public static let longContentLimit = 128
    /// `action_parameters` is at most 4000 characters.
    public static let actionParametersLimit = 4000
    /// `off_line_ttl` is at most 10 days.
    public static let maxOfflineTTL = 864_000

    public let settings: AppPushSettings.OPPO
    public let defaultTitle: String

    public init(settings: AppPushSettings.OPPO, defaultTitle: String) {
        self.settings = settings
        self.defaultTitle = defaultTitle
    }

    public func render(_ content: PushContent, to target: PushTarget) throws(RenderError) -> VendorRequest {
        let longText = content.android.pushStyle == 1
        let parameters = content.ext.nonEmpty.map(PayloadFitting.extObject)
        if let parameters, parameters.utf16.count > Self.actionParametersLimit {
            throw .payloadTooLarge(vendor: .oppo, limit: Self.actionParametersLimit, size: parameters.utf16.count)
        }
        let category = content.android.oppoCategory.nonEmpty ?? settings.defaultCategory.nonEmpty
        var json = JSONWriter(capacity: 384)
        json.beginObject()
        json.field("target_type", 2)
        json.field("target_value", target.token)
        json.key("notification")
        json.beginObject()
        let title = Truncation.limit(content.title ?? defaultTitle, to: Self.titleLimit)
        let text = Truncation.limit(content.body, to: longText ? Self.longContentLimit : Self.contentLimit)
        json.field("title", title)
        json.field("content", text)
        if let template = content.android.oppoPrivateMsgTemplateId.nonEmpty {
            // A private-message (通讯与服务) template: OPPO shows the template filled with these
            // parameters, so its title and content templates use ${title} and ${content}.
            json.field("private_msg_template_id", template)
            json.key("private_title_parameters")
            json.beginObject()
            json.field("title", title)
            json.endObject()
            json.key("private_content_parameters")
            json.beginObject()
            json.field("content", text)
            json.endObject()
        }
        json.field("style", longText ? 2 : 1)
        json.field("click_action_type", 0)
        json.field("action_parameters", ifPresent: parameters)
        json.field("channel_id", ifPresent: content.android.oppoChannelID.nonEmpty ?? settings.defaultChannelID)
        if let category {
            json.field("category", category)
            json.field("notify_level", 2)
        }
        json.field("off_line", true)
        json.field("off_line_ttl", min(content.lifetime, Self.maxOfflineTTL))
        json.endObject()
        json.endObject()
        return VendorRequest(
            vendor: .oppo, path: "/server/v1/message/notification/unicast",
            headers: [.init("content-type", "application/x-www-form-urlencoded;charset=UTF-8")],
            body: .form([.init("message", json.finishString())])
        )
    }
}

/// Renders pushes for one app to whichever vendor a device uses.
public struct PushRenderer: Sendable {
    public let app: AppPushSettings
    let apns: APNsRenderer?
    let fcm: FCMRenderer?
    let huawei: HuaweiRenderer?
    let xiaomi: XiaomiRenderer?
    let oppo: OPPORenderer?
    let vivo: VivoRenderer?
    let meizu: MeizuRenderer?
    let honor: HonorRenderer?
    /// The app has a title for messages without one (`default_title` or `app_name`).
    let hasFallbackTitle: Bool

    public init(app: AppPushSettings) {
        self.app = app
        let title = app.fallbackTitle
        hasFallbackTitle = !title.isEmpty
        apns = app.apns.map { APNsRenderer(settings: $0) }
        fcm = app.fcm.map { FCMRenderer(settings: $0) }
        huawei = app.huawei.map { HuaweiRenderer(settings: $0, defaultTitle: title) }
        xiaomi = app.xiaomi.map { XiaomiRenderer(settings: $0, defaultTitle: title) }
        oppo = app.oppo.map { OPPORenderer(settings: $0, defaultTitle: title) }
        vivo = app.vivo.map { VivoRenderer(settings: $0, defaultTitle: title) }
        meizu = app.meizu.map { MeizuRenderer(settings: $0, defaultTitle: title) }
        honor = app.honor.map { HonorRenderer(settings: $0, defaultTitle: title) }
    }

    /// How many tokens one request of a vendor may carry.
    public static func maxTokens(_ vendor: Vendor) -> Int {
        switch vendor {
        case .huawei, .honor, .xiaomi, .vivo: 1000
        case .meizu: 100
        case .apns, .fcm, .oppo: 1
        }
    }

    /// Whether `vendor`'s request carries `PushTarget.badge`: APNs always, Huawei and Honor when a
    /// badge class is configured. Devices with different badges then need different requests.
    public func sendsBadge(_ vendor: Vendor) -> Bool {
        switch vendor {
        case .apns: true
        case .huawei: app.huawei.map { !$0.badgeClass.isEmpty } ?? false
        case .honor: app.honor.map { !$0.badgeClass.isEmpty } ?? false
        case .fcm, .xiaomi, .oppo, .vivo, .meizu: false
        }
    }

    /// The request for the devices of `target` on `vendor`, or why there is none.
    public func render(_ content: PushContent, vendor: Vendor, to target: PushTarget) throws(RenderError) -> VendorRequest {
        guard !target.tokens.isEmpty, target.tokens.count <= Self.maxTokens(vendor) else {
            throw .invalidField(
                vendor: vendor, field: "tokens", reason: "holds \(target.tokens.count); 1 to \(Self.maxTokens(vendor)) per request"
            )
        }
        // push-rules.md 3.4: these vendors refuse an empty title. Their renderers fall back to the
        // app's title; when there is none either, no request is made.
        if vendor.requiresTitle, content.title.nonEmpty == nil, !hasFallbackTitle {
            guard app.configures(vendor) else { throw .vendorNotConfigured(vendor) }
            throw .invalidField(vendor: vendor, field: "title", reason: "is empty: the message gives none and the app has no app_name")
        }
        return switch vendor {
        case .apns: try require(apns, vendor).render(content, to: target)
        case .fcm: try require(fcm, vendor).render(content, to: target)
        case .huawei: try require(huawei, vendor).render(content, to: target)
        case .xiaomi: try require(xiaomi, vendor).render(content, to: target)
        case .oppo: try require(oppo, vendor).render(content, to: target)
        case .vivo: try require(vivo, vendor).render(content, to: target)
        case .meizu: try require(meizu, vendor).render(content, to: target)
        case .honor: try require(honor, vendor).render(content, to: target)
        }
    }

    /// The request that removes a push already shown on `tokens` (push-rules: a withdrawn
    /// message), or nil where the vendor has no revoke API pushd speaks: only Huawei documents one
    /// by token and notification id; APNs gets nothing new.
    public func revoke(_ revocationKey: String, vendor: Vendor, tokens: [String]) throws(RenderError) -> VendorRequest? {
        guard vendor == .huawei else { return nil }
        return try require(huawei, vendor).revoke(revocationKey, tokens: tokens)
    }

    private func require<R>(_ renderer: R?, _ vendor: Vendor) throws(RenderError) -> R {
        guard let renderer else { throw .vendorNotConfigured(vendor) }
        return renderer
    }
}

import PushCore
import PushdConfig
import Storage

/// An app's running configuration for the console, with every secret masked: a field is shown as
/// it is only when it is known to be public (endpoints, ids, channels, file paths); every other
/// field, and any field added later, shows only whether it is set. URLs lose their passwords.
struct ConfigView {
    let config: PushdConfig
    let app: PushdConfig.App

    /// Vendor fields shown in clear.
    static let publicFields: Set<String> = [
        "endpoint", "sandbox_endpoint", "token_endpoint", "team_id", "key_id", "bundle_id", "private_key_file", "service_account_file",
        "project_id", "default_channel_id", "default_category", "badge_class", "intent", "action", "package_name", "notify_id", "app_id",
        "client_id", "rate_limit", "burst",
    ]
    /// Fields that are URLs: shown without their password.
    static let urlFields: Set<String> = ["proxy"]

    static func masked(_ value: String) -> String { value.isEmpty ? "(not set)" : "•••••• (set)" }

    static func field(_ name: String, _ value: String) -> String {
        if publicFields.contains(name) { return value.isEmpty ? "(not set)" : value }
        if urlFields.contains(name) { return value.isEmpty ? "(not set)" : PostgresStore.redacted(value) }
        return masked(value)
    }

    var settings: [[String: String]] {
        var rows: [(String, String)] = [
            ("SDKAppID", String(app.sdkAppID)), ("Admin identifier", app.admin), ("secret_key", Self.masked(app.secretKey)),
            ("Default locale", app.defaultLocale.description), ("App name", app.appName.isEmpty ? "(not set)" : app.appName),
            ("Default title", app.defaultTitle.isEmpty ? "(not set)" : app.defaultTitle),
            ("Templates", app.templates.isEmpty ? "the defaults (\(config.templates))" : app.templates),
            ("Campaigns a day", String(app.campaignDailyQuota)), ("Campaign interval", "\(app.campaignIntervalMillis) ms"),
            ("Callback URL", app.callback.url.isEmpty ? "(not set)" : PostgresStore.redacted(app.callback.url)),
            ("Callback key", Self.masked(app.callback.key)),
            ("Storage", config.storage.backend == "postgres" ? "postgres \(PostgresStore.redacted(config.storage.url))" : "sqlite \(config.storage.path)"),
            ("Outbound proxy", config.proxy.isEmpty ? "(none)" : PostgresStore.redacted(config.proxy)),
        ]
        for source in config.ingest where source.sdkAppID == nil || source.sdkAppID == app.sdkAppID {
            rows.append(("Ingest \(source.name)", "\(source.kind.rawValue) \(source.safeURL)"))
        }
        return rows.map { ["name": $0.0, "value": $0.1] }
    }

    /// Each configured vendor: its effective channel and category (after the environment), then
    /// every field in the schema's order.
    var vendors: [[String: Any]] {
        Vendor.allCases.compactMap { vendor -> [String: Any]? in
            guard let fields = app.vendors[vendor] else { return nil }
            let rows = VendorSchema.fields(vendor).map { ["name": $0.name, "value": Self.field($0.name, fields[$0.name])] }
            let channel = fields["default_channel_id"], category = fields["default_category"]
            return [
                "vendor": vendor.rawValue, "fields": rows, "channel": channel.isEmpty ? "(none: the vendor's default)" : channel,
                "category": category.isEmpty ? "(none)" : category,
            ]
        }
    }
}

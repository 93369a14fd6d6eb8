import Crypto
import Foundation
import PushCore

/// Checks a loaded config against the machine: credentials present, key files readable and well
/// formed, templates compiling, storage usable. One problem per line, in file order.
public struct ConfigValidator: Sendable {
    public init() {}

    public func validate(_ config: PushdConfig) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        func fail(_ location: String, _ message: String) { problems.append(.init(.error, location, message)) }

        if HostPort(config.listen) == nil {
            fail("listen", "\"\(config.listen)\" is not HOST:PORT")
        }
        switch config.storage.backend {
        case "sqlite":
            if config.storage.path.isEmpty { fail("storage.path", "is empty; the sqlite backend needs a file path") }
        case "postgres":
            if config.storage.url.isEmpty {
                fail("storage.url", "is empty; the postgres backend needs a URL (or PUSHD_STORAGE_URL)")
            }
        default:
            fail("storage.backend", "\"\(config.storage.backend)\" is not sqlite or postgres")
        }
        if !config.proxy.isEmpty, ProxyAddress(config.proxy) == nil {
            fail("proxy", Self.proxyShape)
        }
        if config.tracing.isEnabled, !HTTPEndpoint.isValid(config.tracing.endpoint) {
            fail("tracing.endpoint", "is not an http:// or https:// URL with a host")
        }
        var names: Set<String> = []
        for source in config.ingest {
            // By name: a list entry the loader refused does not shift the others' positions.
            let path = "ingest[\(source.name)]"
            if !names.insert(source.name).inserted { fail(path + ".name", "\(source.name) names two brokers") }
            if !source.hasValidURL {
                let shape = source.kind == .nats ? "nats://[user:pass@]host:port" : "redis://[:pass@]host:port[/db]"
                fail(path + ".url", "is not a \(source.kind.rawValue) URL (\(shape); or set \(source.urlVariable))")
            }
            // Names go into broker commands and subjects: printable, no spaces, not empty.
            let fields = [("stream", source.stream), ("dead_letter", source.deadLetter), ("consumer", source.consumer)]
                + (source.subject.isEmpty ? [] : [("subject", source.subject)]) + (source.consumerName.isEmpty ? [] : [("consumer_name", source.consumerName)])
            for (field, value) in fields where !IngestSource.isName(value) {
                fail(path + "." + field, value.isEmpty ? "is required" : "must be 1 to 255 printable ASCII characters without spaces")
            }
            if let app = source.sdkAppID, !config.apps.contains(where: { $0.sdkAppID == app }) {
                fail(path + ".sdkappid", "\(app) is not a configured app")
            }
        }
        if !config.tls.caFile.isEmpty, !FileManager.default.isReadableFile(atPath: config.tls.caFile) {
            fail("tls.ca_file", "cannot read \(config.tls.caFile)")
        }
        do {
            _ = try TemplateLoader.load(defaultFolder: config.templates)
        } catch {
            fail("templates", error.description)
        }
        if config.apps.isEmpty {
            problems.append(.init(.warning, "apps", "no app is configured; every request will be refused"))
        }
        var seen: Set<UInt64> = []
        for (index, app) in config.apps.enumerated() {
            let path = "apps[\(index)]"
            if !seen.insert(app.sdkAppID).inserted { fail(path + ".sdkappid", "\(app.sdkAppID) is configured twice") }
            if app.secretKey.isEmpty {
                fail(path + ".secret_key", "missing (set it in the file or PUSHD_\(app.sdkAppID)_SECRET_KEY)")
            }
            if app.admin.isEmpty { fail(path + ".admin", "is empty") }
            do {
                let templates = try TemplateLoader.load(defaultFolder: config.templates, appFolder: app.templates, defaultLocale: app.defaultLocale)
                // Locales whose folder lacks templates: they are taken from a shorter tag or the default.
                for (locale, names) in templates.borrowed.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    let lacking = names.map(\.rawValue).joined(separator: ", ")
                    problems.append(.init(.warning, path + ".templates", "locale \(locale) has no \(lacking); it uses \(templates.parent(of: locale))'s"))
                }
            } catch {
                fail(path + ".templates", error.description)
            }
            for vendor in Vendor.allCases {
                guard let settings = app.vendors[vendor] else { continue }
                problems += validate(settings, app: app, path: "\(path).vendors.\(vendor.rawValue)")
            }
            if app.callback.isEnabled {
                // The URL is not repeated: its query may carry a token of the IM server.
                if !HTTPEndpoint.isValid(app.callback.url) {
                    fail(path + ".callback.url", "is not an http:// or https:// URL with a host")
                }
                if app.callback.key.isEmpty {
                    fail(path + ".callback.key", "missing; events are signed with it (set it in the file or PUSHD_\(app.sdkAppID)_CALLBACK_KEY)")
                }
            }
            let needTitle = Vendor.allCases.filter { $0.requiresTitle && app.vendors[$0] != nil }
            if app.appName.isEmpty, !needTitle.isEmpty {
                let names = needTitle.map(\.rawValue).joined(separator: ", ")
                fail(path + ".app_name", "missing; \(names) refuse a push without a title, and it is the title of last resort")
            }
        }
        return problems
    }

    /// What a proxy must look like; its text is not repeated (it may carry a password).
    static let proxyShape = "is not an HTTP proxy URL: http://[user:password@]host[:port]"

    private func validate(_ settings: VendorConfig, app: PushdConfig.App, path: String) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let vendor = settings.vendor
        for field in VendorSchema.fields(vendor) {
            let value = settings[field.name]
            let location = "\(path).\(field.name)"
            let variable = "PUSHD_\(app.sdkAppID)_\(vendor.rawValue.uppercased())_\(field.name.uppercased())"
            if field.required, value.isEmpty {
                problems.append(.init(.error, location, "missing credential for configured vendor \(vendor.rawValue) (or \(variable))"))
                continue
            }
            if ["rate_limit", "burst"].contains(field.name), !value.isEmpty, (Int(value) ?? -1) < 0 {
                problems.append(.init(.error, location, "\"\(value)\" is not a number of pushes per second"))
            }
            if field.name == "proxy", !value.isEmpty, ProxyAddress(value) == nil {
                problems.append(.init(.error, location, Self.proxyShape))
            }
            if field.name == "intent", !value.isEmpty, !InAppPage.isIntentURI(value) {
                problems.append(.init(.error, location, "\"\(value)\" is not an intent URI (…#Intent;…;end)"))
            }
            if field.name == "action", !value.isEmpty, !InAppPage.isActionName(value) {
                problems.append(.init(.error, location, "\"\(value)\" is not an action name (letters, digits, _ and .)"))
            }
            if field.name == "notify_id", !value.isEmpty, AppPushSettings.Xiaomi.NotifyID(rawValue: value) == nil {
                problems.append(.init(.error, location, "\"\(value)\" is not conversation or message"))
            }
            if field.name.hasSuffix("endpoint"), !value.isEmpty, !(value.hasPrefix("https://") || value.hasPrefix("http://")) {
                problems.append(.init(.error, location, "\"\(value)\" is not an http(s) URL"))
            }
            guard field.isFile, !value.isEmpty else { continue }
            guard let data = FileManager.default.contents(atPath: value) else {
                problems.append(.init(.error, location, "cannot read key file \(value)"))
                continue
            }
            switch vendor {
            case .apns where (try? P256.Signing.PrivateKey(pemRepresentation: String(decoding: data, as: UTF8.self))) == nil:
                problems.append(.init(.error, location, "\(value) is not a .p8 key (PKCS#8 PEM, P-256)"))
            case .fcm:
                do {
                    _ = try ServiceAccount.load(path: value)
                } catch {
                    problems.append(.init(.error, location, error.description))
                }
            default: break
            }
        }
        problems += defaultsWarnings(settings, path: path)
        return problems
    }

    /// Defaults a real gateway needs to show a push as a chat message: Xiaomi's and OPPO's channel
    /// (required from Android 8 and 9), Huawei's category (without one, pushes count as marketing,
    /// with a small daily quota), and the in-app page `ExtAsHuaweiIntentParam` needs on Huawei and Honor.
    private func defaultsWarnings(_ settings: VendorConfig, path: String) -> [ConfigProblem] {
        let vendor = settings.vendor
        if vendor == .xiaomi || vendor == .oppo, settings["default_channel_id"].isEmpty {
            let android = vendor == .xiaomi ? "8" : "9"
            return [
                .init(
                    .warning, path + ".default_channel_id",
                    "is empty; from Android \(android) \(vendor.rawValue) needs a channel ID for pushes without AndroidInfo's"
                )
            ]
        }
        var warnings: [ConfigProblem] = []
        if vendor == .huawei, settings["default_category"].isEmpty {
            warnings.append(.init(.warning, path + ".default_category", "is empty; Huawei then counts pushes as marketing, with a small daily quota"))
        }
        if vendor == .huawei || vendor == .honor, settings["intent"].isEmpty, settings["action"].isEmpty {
            warnings.append(
                .init(
                    .warning, path + ".intent",
                    "no in-app page (intent or action): pushes with ExtAsHuaweiIntentParam open the app, Ext only in data"
                )
            )
        }
        return warnings
    }
}

/// `HOST:PORT`, with IPv6 hosts in brackets.
public struct HostPort: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty else {
            return nil
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        self.port = port
    }
}

extension PushdConfig.App {
    /// What rendering needs from this app. The FCM project comes from `project_id` or else from the
    /// service-account file.
    public func pushSettings() -> AppPushSettings {
        var app = AppPushSettings(appName: appName, defaultTitle: defaultTitle)
        for config in vendors.values {
            switch config.settings {
            case .apns(let v): app.apns = .init(bundleID: v.bundleID)
            case .fcm(let v):
                let project = v.projectID.isEmpty ? ((try? ServiceAccount.load(path: v.serviceAccountFile))?.projectID ?? "") : v.projectID
                app.fcm = .init(projectID: project, defaultChannelID: v.defaultChannelID)
            case .huawei(let v):
                app.huawei = .init(
                    appID: v.appID, defaultChannelID: v.defaultChannelID, defaultCategory: v.defaultCategory, badgeClass: v.badgeClass, page: v.page
                )
            case .xiaomi(let v): app.xiaomi = .init(packageName: v.packageName, defaultChannelID: v.defaultChannelID, notifyID: v.notifyID)
            case .oppo(let v): app.oppo = .init(defaultChannelID: v.defaultChannelID, defaultCategory: v.defaultCategory)
            case .vivo(let v): app.vivo = .init(appID: v.appID, defaultCategory: v.defaultCategory)
            case .meizu(let v): app.meizu = .init(appID: v.appID)
            case .honor(let v): app.honor = .init(appID: v.appID, badgeClass: v.badgeClass, page: v.page)
            }
        }
        return app
    }
}

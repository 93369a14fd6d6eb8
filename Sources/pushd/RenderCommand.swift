import ArgumentParser
import Console
import Foundation
import PushCore
import PushdConfig

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the vendor request(s) a message would produce, without sending.",
        discussion: "Reads the message JSON on stdin: a sendmsg body plus a \"Context\" object (see README)."
    )

    @Option(help: "The config file.") var config = "Config/pushd.yaml"
    @Option(help: "apns, fcm, huawei, xiaomi, oppo, vivo, meizu, honor, or all. Defaults to Context.Vendor.")
    var vendor: String?
    @Option(help: "zh or en. Defaults to Context.Locale, then the app's default locale.") var locale: PushLocale?

    func run() throws {
        let loaded = try loadConfig()
        let input: RenderInput
        do {
            input = try JSONDecoder().decode(RenderInput.self, from: FileHandle.standardInput.readDataToEndOfFile())
        } catch {
            let failure = (error as? TencentError) ?? (error as? DecodingError).map(TencentError.init(decoding:))
                ?? TencentError(code: TencentError.jsonParseCode, message: "body is not valid JSON")
            FileHandle.standardError.write(Data("error \(failure.code): \(failure.message)\n".utf8))
            throw ExitCode(1)
        }
        let app = input.context.sdkAppID.flatMap { loaded.app($0) } ?? loaded.apps.first
        let templates = try TemplateLoader.load(
            defaultFolder: loaded.templates, appFolder: app?.templates ?? "", defaultLocale: app?.defaultLocale ?? .zh
        )
        let vendors = try selectedVendors(input)
        var settings = app?.pushSettings() ?? AppPushSettings()
        for vendor in vendors where !settings.configures(vendor) {
            settings = settings.withPreview(vendor)
            note("\(vendor.rawValue) is not configured for this app; showing example identifiers")
        }

        if settings.fallbackTitle.isEmpty, vendors.contains(where: \.requiresTitle) {
            settings.appName = "Example IM"
            note("the app has no app_name; showing \"\(settings.appName)\" as the title of last resort")
        }

        let locale = self.locale ?? input.context.locale ?? app?.defaultLocale ?? .zh
        let decision = PushComposer(templates: templates).compose(input.message, in: input.conversation, locale: locale)
        guard case .push(let content) = decision else {
            if case .skip(let reason) = decision { try printJSON(["skipped": reason.rawValue]) }
            return
        }
        let renderer = PushRenderer(app: settings)
        let nowMillis = input.context.nowMillis ?? Int64(Date().timeIntervalSince1970 * 1000)
        let pushID = input.context.pushID ?? UUID().uuidString.lowercased()
        var output: [[String: Any]] = []
        for vendor in vendors {
            let target = PushTarget(
                token: input.context.token ?? "DEVICE_TOKEN", badge: input.badge, pushID: pushID, nowMillis: nowMillis
            )
            do {
                output.append(RequestPreview.json(try renderer.render(content, vendor: vendor, to: target)))
            } catch {
                output.append(["vendor": vendor.rawValue, "failure": error.reason, "detail": error.description])
            }
        }
        try printJSON(output)
    }

    private func loadConfig() throws -> PushdConfig {
        guard FileManager.default.fileExists(atPath: config) else {
            note("\(config) not found; using defaults")
            return PushdConfig()
        }
        let loaded = try ConfigLoader().load(path: config)
        for problem in loaded.problems { note("\(config): \(problem)") }
        return loaded.config
    }

    private func selectedVendors(_ input: RenderInput) throws -> [Vendor] {
        switch vendor {
        case "all": return Vendor.allCases
        case .some(let name):
            guard let vendor = Vendor(rawValue: name) else {
                throw ValidationError("unknown vendor \"\(name)\"; expected one of \(Vendor.allCases.map(\.rawValue)) or all")
            }
            return [vendor]
        case .none:
            guard let vendor = input.context.vendor else {
                throw ValidationError("give --vendor or Context.Vendor")
            }
            return [vendor]
        }
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }

    private func printJSON(_ value: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}

extension PushLocale: ExpressibleByArgument {}

extension AppPushSettings {
    /// Example identifiers for a vendor the app does not configure, so a preview still renders.
    func withPreview(_ vendor: Vendor) -> AppPushSettings {
        var app = self
        switch vendor {
        case .apns: app.apns = .init(bundleID: "com.example.im")
        case .fcm: app.fcm = .init(projectID: "example-project")
        case .huawei: app.huawei = .init(appID: "10000000")
        case .xiaomi: app.xiaomi = .init(packageName: "com.example.im")
        case .oppo: app.oppo = .init()
        case .vivo: app.vivo = .init(appID: "10000")
        case .meizu: app.meizu = .init(appID: "100000")
        case .honor: app.honor = .init(appID: "10000000")
        }
        return app
    }
}

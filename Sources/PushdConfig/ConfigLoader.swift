import Foundation
import PushCore
import Yams

/// A parsed config file and what is wrong with it.
public struct LoadedConfig: Sendable {
    public var config: PushdConfig
    public var problems: [ConfigProblem]
    /// `PUSHD_*` variables of the environment that set nothing (a typo, an app the file does not
    /// have, a field the vendor does not take): `config check` names them.
    public var unusedEnvironment: [String] = []
}

/// A config file that cannot be read or is not YAML at all.
public struct ConfigLoadError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Reads the YAML config, reports unknown keys and wrong types, applies environment overrides.
///
/// Environment variables win over the file: `PUSHD_STORAGE_URL`, `PUSHD_PROXY`, `PUSHD_<SDKAPPID>_SECRET_KEY`,
/// `PUSHD_<SDKAPPID>_CALLBACK_URL`, `PUSHD_<SDKAPPID>_CALLBACK_KEY`, and
/// `PUSHD_<SDKAPPID>_<VENDOR>_<FIELD>` for any field of a vendor the file configures, e.g.
/// `PUSHD_1400000000_HUAWEI_CLIENT_SECRET`.
public struct ConfigLoader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Loads a file.
    public func load(path: String) throws(ConfigLoadError) -> LoadedConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigLoadError(description: "\(path): cannot read the config file")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path, folder: (path as NSString).deletingLastPathComponent)
    }

    /// Parses YAML text (JSON is valid YAML). Relative paths in the text (storage path, templates,
    /// CA and key files) resolve against `folder`, the file's folder; the environment's are kept
    /// as given (they resolve against the working directory).
    public func parse(_ yaml: String, source: String = "config", folder: String? = nil) throws(ConfigLoadError) -> LoadedConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigLoadError(description: "\(source): not valid YAML: \(error)")
        }
        var walker = Walker()
        var config = PushdConfig()
        if let root { walker.readRoot(root, into: &config) }
        if let folder { config.resolvePaths(against: folder) }
        let unused = applyEnvironment(to: &config)
        return LoadedConfig(config: config, problems: walker.problems, unusedEnvironment: unused)
    }

    /// Variables read outside the config file: not "unused".
    static let processVariables: Set<String> = [
        "PUSHD_LOG_LEVEL", "PUSHD_TEST_POSTGRES_URL", PushdConfig.Console.passwordVariable, PushdConfig.Console.sessionKeyVariable,
    ]

    /// Applies the environment; returns the `PUSHD_*` variables that set nothing. A vendor the
    /// file does not list is configured from the environment alone when any of its variables is set.
    func applyEnvironment(to config: inout PushdConfig) -> [String] {
        // An empty variable is unset: it does not blank a value of the file.
        let environment = self.environment.filter { !$0.value.isEmpty }
        var used = Self.processVariables
        if let url = environment["PUSHD_STORAGE_URL"] {
            config.storage.url = url
            config.storage.backend = "postgres"
            used.insert("PUSHD_STORAGE_URL")
        }
        if let proxy = environment["PUSHD_PROXY"] {
            config.proxy = proxy
            used.insert("PUSHD_PROXY")
        }
        for index in config.ingest.indices {
            let name = config.ingest[index].urlVariable
            if let url = environment[name] {
                config.ingest[index].url = url
                used.insert(name)
            }
        }
        for index in config.apps.indices {
            let prefix = "PUSHD_\(config.apps[index].sdkAppID)_"
            if let key = environment[prefix + "SECRET_KEY"] {
                config.apps[index].secretKey = key
                used.insert(prefix + "SECRET_KEY")
            }
            if let url = environment[prefix + "CALLBACK_URL"] {
                config.apps[index].callback.url = url
                used.insert(prefix + "CALLBACK_URL")
            }
            if let key = environment[prefix + "CALLBACK_KEY"] {
                config.apps[index].callback.key = key
                used.insert(prefix + "CALLBACK_KEY")
            }
            for vendor in Vendor.allCases {
                let schema = VendorSchema.fields(vendor)
                let set = schema.compactMap { field -> (String, String, String)? in
                    let name = prefix + vendor.rawValue.uppercased() + "_" + field.name.uppercased()
                    return environment[name].map { (name, field.name, $0) }
                }
                guard !set.isEmpty || config.apps[index].vendors[vendor] != nil else { continue }
                var settings = config.apps[index].vendors[vendor] ?? Self.defaults(vendor)
                for (name, field, value) in set {
                    settings.fields[field] = value
                    used.insert(name)
                }
                config.apps[index].vendors[vendor] = settings
            }
        }
        return environment.keys.filter { $0.hasPrefix("PUSHD_") && !used.contains($0) }.sorted()
    }

    /// A vendor's settings before the file or the environment set any field.
    static func defaults(_ vendor: Vendor) -> VendorConfig {
        var settings = VendorConfig(vendor: vendor)
        for field in VendorSchema.fields(vendor) where !field.defaultValue.isEmpty { settings.fields[field.name] = field.defaultValue }
        return settings
    }
}

/// Walks the YAML tree, filling the config and collecting problems.
private struct Walker {
    var problems: [ConfigProblem] = []

    struct Entry {
        var key: String
        var keyNode: Node
        var value: Node
        var path: String
    }

    mutating func readRoot(_ node: Node, into config: inout PushdConfig) {
        for entry in entries(node, path: "") {
            switch entry.key {
            case "listen": string(entry).map { config.listen = $0 }
            case "templates": string(entry).map { config.templates = $0 }
            case "proxy": string(entry).map { config.proxy = $0 }
            case "storage":
                for e in entries(entry.value, path: entry.path) {
                    switch e.key {
                    case "backend": string(e).map { config.storage.backend = $0 }
                    case "path": string(e).map { config.storage.path = $0 }
                    case "url": string(e).map { config.storage.url = $0 }
                    default: unknown(e)
                    }
                }
            case "tls":
                for e in entries(entry.value, path: entry.path) {
                    if e.key == "ca_file" { string(e).map { config.tls.caFile = $0 } } else { unknown(e) }
                }
            case "log":
                for e in entries(entry.value, path: entry.path) {
                    switch e.key {
                    case "format":
                        guard let text = string(e) else { break }
                        if let format = PushdConfig.Log.Format(rawValue: text) {
                            config.log.format = format
                        } else {
                            report(.error, e.path, e.value, "must be text or json, got \"\(text)\"")
                        }
                    case "level":
                        guard let text = string(e) else { break }
                        if PushdConfig.Log.levels.contains(text) {
                            config.log.level = text
                        } else {
                            report(.error, e.path, e.value, "must be one of \(PushdConfig.Log.levels.joined(separator: ", ")), got \"\(text)\"")
                        }
                    default: unknown(e)
                    }
                }
            case "tracing": readTracing(entry, into: &config.tracing)
            case "console":
                for e in entries(entry.value, path: entry.path) {
                    switch e.key {
                    case "enabled":
                        guard let text = string(e) else { break }
                        switch text {
                        case "true": config.console.enabled = true
                        case "false": config.console.enabled = false
                        default: report(.error, e.path, e.value, "must be true or false, got \"\(text)\"")
                        }
                    case "session_minutes":
                        guard let text = string(e) else { break }
                        if let value = Int(text), PushdConfig.Console.sessionMinutesRange.contains(value) {
                            config.console.sessionMinutes = value
                        } else {
                            let range = PushdConfig.Console.sessionMinutesRange
                            report(.error, e.path, e.value, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
                        }
                    default: unknown(e)
                    }
                }
            case "ingest":
                guard let sequence = entry.value.sequence else {
                    report(.error, entry.path, entry.value, "must be a list of brokers")
                    continue
                }
                for (i, item) in sequence.enumerated() {
                    if let source = readIngest(item, path: "ingest[\(i)]", index: i) { config.ingest.append(source) }
                }
            case "dispatcher": readDispatcher(entry, into: &config.dispatcher)
            case "limits":
                readIntegers(entry, into: &config.limits, [
                    ("idle_timeout_seconds", \.idleTimeoutSeconds, 1...3_600), ("max_connections", \.maxConnections, 1...1_000_000),
                    ("max_pending_writes", \.maxPendingWrites, 1...1_000_000), ("max_devices_per_user", \.maxDevicesPerUser, 1...1_000),
                ])
            case "apps":
                guard let sequence = entry.value.sequence else {
                    report(.error, entry.path, entry.value, "must be a list of apps")
                    continue
                }
                for (i, item) in sequence.enumerated() {
                    if let app = readApp(item, path: "apps[\(i)]") { config.apps.append(app) }
                }
            default: unknown(entry)
            }
        }
    }

    mutating func readDispatcher(_ entry: Entry, into d: inout PushdConfig.Dispatcher) {
        // Each field has the range it can mean: a value past it would overflow a millisecond sum
        // or exhaust the machine.
        let fields: [(String, WritableKeyPath<PushdConfig.Dispatcher, Int>, ClosedRange<Int>)] = [
            ("workers", \.workers, 1...1024), ("chat_workers", \.chatWorkers, 1...256), ("batch_size", \.batchSize, 1...10_000),
            ("lease_seconds", \.leaseSeconds, 1...86_400), ("max_attempts", \.maxAttempts, 1...1_000),
            ("backoff_base_ms", \.backoffBaseMillis, 1...3_600_000), ("backoff_max_seconds", \.backoffMaxSeconds, 1...604_800),
            ("alarm_pause_seconds", \.alarmPauseSeconds, 1...86_400), ("max_vendor_pause_seconds", \.maxVendorPauseSeconds, 1...86_400),
            ("shutdown_grace_seconds", \.shutdownGraceSeconds, 1...3_600), ("retention_hours", \.retentionHours, 1...8_760),
            ("dead_letter_retention_hours", \.deadLetterRetentionHours, 1...87_600),
            ("connections", \.connections, 1...64), ("max_in_flight", \.maxInFlight, 1...100_000),
            ("campaign_page", \.campaignPage, 1...10_000), ("campaign_backlog", \.campaignBacklog, 1...10_000_000),
            ("campaign_in_flight", \.campaignInFlight, 1...100_000),
        ]
        readIntegers(entry, into: &d, fields)
    }

    /// Integer fields of one section, each within its range.
    mutating func readIntegers<T>(_ entry: Entry, into d: inout T, _ fields: [(String, WritableKeyPath<T, Int>, ClosedRange<Int>)]) {
        for e in entries(entry.value, path: entry.path) {
            guard let field = fields.first(where: { $0.0 == e.key }) else {
                unknown(e)
                continue
            }
            guard let text = string(e) else { continue }
            if let value = Int(text), field.2.contains(value) {
                d[keyPath: field.1] = value
            } else {
                report(.error, e.path, e.value, "must be an integer from \(field.2.lowerBound) to \(field.2.upperBound)")
            }
        }
    }

    mutating func readApp(_ node: Node, path: String) -> PushdConfig.App? {
        guard let sdkAppIDNode = node.mapping?["sdkappid"] else {
            report(.error, path, node, "sdkappid is required")
            return nil
        }
        // Stores keep it as a signed 64-bit integer.
        guard let text = sdkAppIDNode.scalar?.string, let id = UInt64(text), id > 0, id <= UInt64(Int64.max) else {
            report(.error, path + ".sdkappid", sdkAppIDNode, "must be an integer from 1 to \(Int64.max)")
            return nil
        }
        var app = PushdConfig.App(sdkAppID: id)
        for entry in entries(node, path: path) {
            switch entry.key {
            case "sdkappid": break
            case "secret_key": string(entry).map { app.secretKey = $0 }
            case "admin": string(entry).map { app.admin = $0 }
            case "default_title": string(entry).map { app.defaultTitle = $0 }
            case "app_name": string(entry).map { app.appName = $0 }
            case "templates": string(entry).map { app.templates = $0 }
            case "campaign_daily_quota", "campaign_interval_ms":
                guard let text = string(entry) else { break }
                if let value = Int(text), value >= 0 {
                    if entry.key == "campaign_daily_quota" { app.campaignDailyQuota = value } else { app.campaignIntervalMillis = value }
                } else {
                    report(.error, entry.path, entry.value, "must be a non-negative integer")
                }
            case "default_locale":
                guard let text = string(entry) else { break }
                if let locale = PushLocale(rawValue: text) {
                    app.defaultLocale = locale
                } else {
                    report(.error, entry.path, entry.value, "bad locale \"\(text)\" (expected a language tag such as zh, en, ja, zh-Hant)")
                }
            case "callback": readCallback(entry, into: &app.callback)
            case "vendors":
                for e in entries(entry.value, path: entry.path) {
                    if let vendor = Vendor(rawValue: e.key) {
                        app.vendors[vendor] = readVendor(vendor, e)
                    } else {
                        unknown(e, hint: "vendors are " + Vendor.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                }
            default: unknown(entry)
            }
        }
        return app
    }

    mutating func readIngest(_ node: Node, path: String, index: Int) -> IngestSource? {
        let kinds = IngestSource.Kind.allCases.map(\.rawValue).joined(separator: ", ")
        guard let kindNode = node.mapping?["kind"], let kind = kindNode.scalar.flatMap({ IngestSource.Kind(rawValue: $0.string) }) else {
            report(.error, path + ".kind", node.mapping?["kind"] ?? node, "is required: one of \(kinds)")
            return nil
        }
        var source = IngestSource(kind: kind, name: "\(kind.rawValue)\(index)", url: "", stream: "", deadLetter: "")
        let integers: [(String, WritableKeyPath<IngestSource, Int>, ClosedRange<Int>)] = [
            ("batch", \.batch, 1...10_000), ("max_queue_depth", \.maxQueueDepth, 1...100_000_000),
            ("ack_wait_seconds", \.ackWaitSeconds, 1...86_400), ("claim_idle_seconds", \.claimIdleSeconds, 1...86_400),
        ]
        for e in entries(node, path: path) {
            if let field = integers.first(where: { $0.0 == e.key }) {
                guard let text = string(e) else { continue }
                if let value = Int(text), field.2.contains(value) {
                    source[keyPath: field.1] = value
                } else {
                    report(.error, e.path, e.value, "must be an integer from \(field.2.lowerBound) to \(field.2.upperBound)")
                }
                continue
            }
            switch e.key {
            case "kind": break
            case "name": string(e).map { source.name = $0 }
            case "url": string(e).map { source.url = $0 }
            case "stream": string(e).map { source.stream = $0 }
            case "subject": string(e).map { source.subject = $0 }
            case "consumer": string(e).map { source.consumer = $0 }
            case "consumer_name": string(e).map { source.consumerName = $0 }
            case "dead_letter": string(e).map { source.deadLetter = $0 }
            case "sdkappid":
                guard let text = string(e) else { break }
                if let id = UInt64(text), id > 0, id <= UInt64(Int64.max) {
                    source.sdkAppID = id
                } else {
                    report(.error, e.path, e.value, "must be an integer from 1 to \(Int64.max)")
                }
            default: unknown(e)
            }
        }
        return source
    }

    mutating func readTracing(_ entry: Entry, into tracing: inout PushdConfig.Tracing) {
        for e in entries(entry.value, path: entry.path) {
            guard let text = string(e) else { continue }
            switch e.key {
            case "endpoint": tracing.endpoint = text
            case "service_name": tracing.serviceName = text
            case "protocol":
                if PushdConfig.Tracing.protocols.contains(text) {
                    tracing.protocol = text
                } else {
                    report(.error, e.path, e.value, "must be one of \(PushdConfig.Tracing.protocols.joined(separator: ", ")), got \"\(text)\"")
                }
            case "sample_ratio":
                if let ratio = Double(text), ratio.isFinite, (0...1).contains(ratio) {
                    tracing.sampleRatio = ratio
                } else {
                    report(.error, e.path, e.value, "must be a number from 0 to 1")
                }
            default: unknown(e)
            }
        }
    }

    mutating func readCallback(_ entry: Entry, into callback: inout CallbackSettings) {
        for e in entries(entry.value, path: entry.path) {
            switch e.key {
            case "url": string(e).map { callback.url = $0 }
            case "key": string(e).map { callback.key = $0 }
            case "timeout_seconds", "retention_hours":
                guard let text = string(e) else { break }
                let range = e.key == "timeout_seconds" ? 1...300 : 1...8_760
                guard let value = Int(text), range.contains(value) else {
                    report(.error, e.path, e.value, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
                    break
                }
                if e.key == "timeout_seconds" { callback.timeoutSeconds = value } else { callback.retentionHours = value }
            case "events":
                guard let items = e.value.sequence else {
                    report(.error, e.path, e.value, "must be a list of events")
                    break
                }
                var events: Set<CallbackEventKind> = []
                for item in items {
                    let name = item.scalar?.string ?? ""
                    guard let kind = CallbackEventKind(rawValue: name) else {
                        let known = CallbackEventKind.allCases.map(\.rawValue).joined(separator: ", ")
                        report(.error, e.path, item, "unknown event \"\(name)\" (events are \(known))")
                        continue
                    }
                    events.insert(kind)
                }
                callback.events = events
            default: unknown(e)
            }
        }
    }

    mutating func readVendor(_ vendor: Vendor, _ entry: Entry) -> VendorConfig {
        let schema = VendorSchema.fields(vendor)
        var settings = ConfigLoader.defaults(vendor)
        if entry.value.null != nil { return settings }
        for e in entries(entry.value, path: entry.path) {
            guard schema.contains(where: { $0.name == e.key }) else {
                unknown(e)
                continue
            }
            if let text = string(e), !text.isEmpty { settings.fields[e.key] = text }
        }
        return settings
    }

    /// The keys of a mapping with their values; anything else is reported.
    mutating func entries(_ node: Node, path: String) -> [Entry] {
        if node.null != nil { return [] }
        guard let mapping = node.mapping else {
            report(.error, path, node, "must be a mapping")
            return []
        }
        return mapping.map { keyNode, value in
            let key = keyNode.scalar?.string ?? "?"
            return Entry(key: key, keyNode: keyNode, value: value, path: path.isEmpty ? key : "\(path).\(key)")
        }
    }

    mutating func unknown(_ entry: Entry, hint: String? = nil) {
        report(.unknownKey, entry.path, entry.keyNode, "unknown key \"\(entry.key)\"" + (hint.map { " (\($0))" } ?? ""))
    }

    mutating func string(_ entry: Entry) -> String? {
        if entry.value.null != nil { return "" }
        guard let scalar = entry.value.scalar else {
            report(.error, entry.path, entry.value, "must be a single value")
            return nil
        }
        return scalar.string
    }

    mutating func report(_ kind: ConfigProblem.Kind, _ path: String, _ node: Node, _ message: String) {
        let line = node.mark.map { "line \($0.line): " } ?? ""
        problems.append(ConfigProblem(kind, line + path, message))
    }
}

import Foundation
import PushCore

/// The configuration file (`Config/pushd.yaml`), after environment overrides.
public struct PushdConfig: Sendable, Equatable {
    public var listen: String = "127.0.0.1:8080"
    public var storage = Storage()
    public var tls = TLS()
    /// Outbound HTTP `CONNECT` proxy for every vendor connection (`http://[user:pass@]host:port`);
    /// a vendor's own `proxy` wins. Empty: direct.
    public var proxy: String = ""
    public var log = Log()
    public var tracing = Tracing()
    public var console = Console()
    /// Folder of the default push text templates (`<locale>/<name>.mustache`).
    public var templates: String = "Templates"
    public var apps: [App] = []
    /// Brokers whose offline-message events pushd consumes (restart-only).
    public var ingest: [IngestSource] = []
    public var dispatcher = Dispatcher()
    public var limits = Limits()

    public init() {}

    /// What one client or one user may take of a shared service (`limits:` in the file).
    public struct Limits: Sendable, Equatable {
        /// An HTTP connection with no request in flight is closed after this long.
        public var idleTimeoutSeconds: Int = 60
        /// Open HTTP connections the listener accepts at once; more wait in the kernel's backlog.
        public var maxConnections: Int = 4096
        /// Sends waiting for the store; past it a send is answered 90994 (busy, retry).
        public var maxPendingWrites: Int = 10_000
        /// Devices one user may have registered; registering one more drops the one registered longest ago.
        public var maxDevicesPerUser: Int = 20

        public init() {}
    }

    /// How the daemon works its queue (`dispatcher:` in the file).
    public struct Dispatcher: Sendable, Equatable {
        /// Concurrent claim loops.
        public var workers: Int = 8
        /// Further claim loops that take chat jobs only: during a campaign, one is always free to
        /// claim a chat push ahead of the campaign's claims.
        public var chatWorkers: Int = 1
        /// Jobs one worker claims at a time; its devices are sent concurrently.
        public var batchSize: Int = 64
        /// A claimed job comes back to the queue when its worker has not finished it in this time.
        public var leaseSeconds: Int = 60
        /// Delivery rounds before a retryable failure becomes a dead letter.
        public var maxAttempts: Int = 8
        /// First retry delay; doubled per attempt, with full jitter, up to `backoffMaxSeconds`.
        public var backoffBaseMillis: Int = 1000
        public var backoffMaxSeconds: Int = 3600
        /// A vendor with bad credentials is paused this long for the app.
        public var alarmPauseSeconds: Int = 60
        /// The longest a vendor's `Retry-After` may pause it for an app: one answer can never park
        /// a vendor for days.
        public var maxVendorPauseSeconds: Int = 3600
        /// Dead letters are purged this long after they died.
        public var deadLetterRetentionHours: Int = 168
        /// SIGTERM: in-flight sends get this long, then their jobs are handed back.
        public var shutdownGraceSeconds: Int = 10
        /// Finished jobs (their idempotency keys) and push records are kept this long.
        public var retentionHours: Int = 24
        /// HTTP/2 connections and concurrent streams per vendor and app.
        public var connections: Int = 2
        public var maxInFlight: Int = 200
        /// Users a campaign walker selects per step (one transaction enqueues their pushes).
        public var campaignPage: Int = 50
        /// Unfinished pushes a campaign may have queued before its walker waits: the pace of a
        /// campaign is the pace its pushes are delivered, and chat pushes never queue behind it.
        public var campaignBacklog: Int = 4000
        /// Campaign pushes at the vendors at once, across workers (at most four times as many
        /// campaign jobs are claimed): a chat push queues at a vendor behind no more than this many,
        /// and the rest of the workers stay free for chat.
        public var campaignInFlight: Int = 96

        public init() {}
    }

    public struct Storage: Sendable, Equatable {
        /// `sqlite` (embedded default) or `postgres`.
        public var backend: String = "sqlite"
        public var path: String = "data/pushd.sqlite"
        public var url: String = ""
    }

    public struct TLS: Sendable, Equatable {
        /// Extra PEM CA bundle trusted for vendor endpoints.
        public var caFile: String = ""
    }

    /// `console:`: the operator web console at `/console` on the API listener.
    public struct Console: Sendable, Equatable {
        /// Off unless set: the console serves nothing and `/console` is 404.
        public var enabled = false
        /// A sign-in lasts this long.
        public var sessionMinutes = 480
        public static let sessionMinutesRange = 5...10_080
        /// The console password (every app); unset or empty turns password sign-in off.
        public static let passwordVariable = "PUSHD_CONSOLE_PASSWORD"
        /// The key sessions are signed with; unset: a random key, so sessions end with the process.
        public static let sessionKeyVariable = "PUSHD_CONSOLE_SESSION_KEY"

        public init(enabled: Bool = false, sessionMinutes: Int = 480) {
            self.enabled = enabled
            self.sessionMinutes = sessionMinutes
        }
    }

    /// `log:`: how `serve` writes its log lines on standard error.
    public struct Log: Sendable, Equatable {
        public enum Format: String, Sendable, Equatable {
            /// swift-log's text lines.
            case text
            /// One JSON object a line: timestamp, level, label, message and the metadata.
            case json
        }

        public var format: Format = .text
        /// swift-log's levels, `trace` to `critical`; `PUSHD_LOG_LEVEL` overrides it.
        public var level: String = "info"

        public init(format: Format = .text, level: String = "info") {
            self.format = format
            self.level = level
        }

        /// The levels `level` takes, quietest last.
        public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    }

    /// `tracing:`: a push's path (REST command, queue, vendor request) as one trace, exported over
    /// OTLP/HTTP. Off, and free, while `endpoint` is empty.
    public struct Tracing: Sendable, Equatable {
        /// The OTLP/HTTP collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
        public var endpoint: String = ""
        /// `http/protobuf` or `http/json`.
        public var `protocol`: String = "http/protobuf"
        /// The share of traces kept, 0 to 1 (a trace the caller's `traceparent` samples is kept).
        public var sampleRatio: Double = 1
        /// `service.name` of the spans.
        public var serviceName: String = "pushd"

        public init() {}

        public var isEnabled: Bool { !endpoint.isEmpty }

        public static let protocols = ["http/protobuf", "http/json"]
    }

    /// One IM app (`sdkappid`) and its vendors.
    public struct App: Sendable, Equatable {
        public var sdkAppID: UInt64
        public var secretKey: String = ""
        public var admin: String = "administrator"
        public var defaultLocale: PushLocale = .zh
        /// The app's display name: the title of last resort for vendors that require one.
        public var appName: String = ""
        /// The title for vendors that require one when a message gives none.
        public var defaultTitle: String = ""
        /// The app's own template folder; templates it lacks come from the default folder.
        public var templates: String = ""
        public var vendors: [Vendor: VendorConfig] = [:]
        /// Campaigns (`im_push`, `timpush/push`) allowed in any 24 hours, and the least time between two.
        public var campaignDailyQuota: Int = 100
        public var campaignIntervalMillis: Int = 1000
        /// Events to the app's IM server; off while its URL is empty.
        public var callback = CallbackSettings()

        public init(sdkAppID: UInt64) {
            self.sdkAppID = sdkAppID
        }
    }

    /// The app with that SDKAppID.
    public func app(_ sdkAppID: UInt64) -> App? {
        apps.first { $0.sdkAppID == sdkAppID }
    }

    /// Makes every relative path of the config (storage path, templates, CA file, apps' template
    /// folders and vendors' key files) relative to `folder` instead of the working directory.
    mutating func resolvePaths(against folder: String) {
        func resolve(_ path: inout String) {
            guard !path.isEmpty, !path.hasPrefix("/"), !folder.isEmpty else { return }
            path = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: folder, isDirectory: true)).standardizedFileURL.path
        }
        resolve(&templates)
        resolve(&storage.path)
        resolve(&tls.caFile)
        for a in apps.indices {
            resolve(&apps[a].templates)
            for (vendor, settings) in apps[a].vendors {
                var resolved = settings
                for field in VendorSchema.fields(vendor) where field.isFile {
                    guard var value = resolved.fields[field.name] else { continue }
                    resolve(&value)
                    resolved.fields[field.name] = value
                }
                apps[a].vendors[vendor] = resolved
            }
        }
    }
}

/// The settings of one vendor for one app, as `snake_case` field → value.
public struct VendorConfig: Sendable, Equatable {
    public var vendor: Vendor
    public var fields: [String: String]

    public init(vendor: Vendor, fields: [String: String] = [:]) {
        self.vendor = vendor
        self.fields = fields
    }

    /// The value of a field, empty when unset.
    public subscript(_ field: String) -> String {
        fields[field] ?? ""
    }
}

/// The fields each vendor accepts, which are required, and which name files.
public enum VendorSchema {
    public struct Field: Sendable {
        public var name: String
        public var required: Bool
        public var isFile: Bool
        public var defaultValue: String
    }

    static func field(_ name: String, required: Bool = false, file: Bool = false, default value: String = "") -> Field {
        Field(name: name, required: required, isFile: file, defaultValue: value)
    }

    /// Fields of a vendor, in the order of interface.md, then the fields every vendor has.
    public static func fields(_ vendor: Vendor) -> [Field] {
        vendorFields(vendor) + [
            // Pushes per second to this vendor for this app (token bucket); 0 is unlimited.
            field("rate_limit", default: "0"),
            // Pushes the bucket may send at once after a quiet spell; defaults to one second's worth.
            field("burst"),
            // This vendor's outbound proxy, over the global `proxy`.
            field("proxy"),
        ]
    }

    static func vendorFields(_ vendor: Vendor) -> [Field] {
        switch vendor {
        case .apns:
            [
                field("endpoint", default: "https://api.push.apple.com"),
                field("sandbox_endpoint", default: "https://api.sandbox.push.apple.com"),
                field("team_id", required: true), field("key_id", required: true),
                field("private_key_file", required: true, file: true), field("bundle_id", required: true),
            ]
        case .fcm:
            [
                field("endpoint", default: "https://fcm.googleapis.com"),
                field("service_account_file", required: true, file: true),
                field("project_id"), field("default_channel_id"),
            ]
        case .huawei:
            [
                field("endpoint", default: "https://push-api.cloud.huawei.com"),
                field("token_endpoint", default: "https://oauth-login.cloud.huawei.com/oauth2/v3/token"),
                field("app_id", required: true), field("client_secret", required: true),
                field("default_channel_id"), field("default_category"), field("badge_class"), field("intent"), field("action"),
            ]
        case .xiaomi:
            [
                field("endpoint", default: "https://api.xmpush.xiaomi.com"),
                field("app_secret", required: true), field("package_name", required: true), field("default_channel_id"), field("notify_id"),
            ]
        case .oppo:
            [
                field("endpoint", default: "https://api.push.oppomobile.com"),
                field("app_key", required: true), field("master_secret", required: true),
                field("default_channel_id"), field("default_category"),
            ]
        case .vivo:
            [
                field("endpoint", default: "https://api-push.vivo.com.cn"),
                field("app_id", required: true), field("app_key", required: true), field("app_secret", required: true),
                field("default_category"),
            ]
        case .meizu:
            [
                field("endpoint", default: "https://server-api-push.meizu.com"),
                field("app_id", required: true), field("app_secret", required: true),
            ]
        case .honor:
            [
                field("endpoint", default: "https://push-api.cloud.hihonor.com"),
                field(
                    "token_endpoint",
                    default: "https://iam.developer.hihonor.com/auth/realms/developer/protocol/openid-connect/token"
                ),
                field("app_id", required: true), field("client_id", required: true),
                field("client_secret", required: true), field("badge_class"), field("intent"), field("action"),
            ]
        }
    }
}

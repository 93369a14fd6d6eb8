import PushCore

/// The configuration file (`Config/pushd.yaml`), after environment overrides.
public struct PushdConfig: Sendable, Equatable {
    public var listen: String = "127.0.0.1:8080"
    public var storage = Storage()
    public var tls = TLS()
    /// Folder of the default push text templates (`<locale>/<name>.mustache`).
    public var templates: String = "Templates"
    public var apps: [App] = []

    public init() {}

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

    /// One IM app (`sdkappid`) and its vendors.
    public struct App: Sendable, Equatable {
        public var sdkAppID: UInt64
        public var secretKey: String = ""
        public var admin: String = "administrator"
        public var defaultLocale: PushLocale = .zh
        public var defaultTitle: String = ""
        /// The app's own template folder; templates it lacks come from the default folder.
        public var templates: String = ""
        public var vendors: [Vendor: VendorConfig] = [:]

        public init(sdkAppID: UInt64) {
            self.sdkAppID = sdkAppID
        }
    }

    /// The app with that SDKAppID.
    public func app(_ sdkAppID: UInt64) -> App? {
        apps.first { $0.sdkAppID == sdkAppID }
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

    /// Fields of a vendor, in the order of interface.md.
    public static func fields(_ vendor: Vendor) -> [Field] {
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
                field("default_channel_id"), field("default_category"), field("badge_class"),
            ]
        case .xiaomi:
            [
                field("endpoint", default: "https://api.xmpush.xiaomi.com"),
                field("app_secret", required: true), field("package_name", required: true), field("default_channel_id"),
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
                field("client_secret", required: true), field("badge_class"),
            ]
        }
    }

    /// Android vendors whose notifications need a title.
    public static let requiresTitle: Set<Vendor> = [.huawei, .honor, .xiaomi, .oppo, .vivo, .meizu]
}

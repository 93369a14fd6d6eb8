import PushCore

/// A vendor's settings as typed values, read once from its fields (the file's and the
/// environment's, by the names of `VendorSchema`): the credentials and endpoints a client needs,
/// the channels and categories rendering needs, and the rate limit. The field names live here and
/// in `VendorSchema` only.
public enum VendorSettings: Sendable, Equatable {
    case apns(APNs)
    case fcm(FCM)
    case huawei(Huawei)
    case honor(Honor)
    case xiaomi(Xiaomi)
    case oppo(OPPO)
    case vivo(Vivo)
    case meizu(Meizu)

    public struct APNs: Sendable, Equatable {
        public var endpoint, sandboxEndpoint, teamID, keyID, privateKeyFile, bundleID: String
    }

    public struct FCM: Sendable, Equatable {
        public var endpoint, serviceAccountFile, projectID, defaultChannelID: String
    }

    public struct Huawei: Sendable, Equatable {
        public var endpoint, tokenEndpoint, appID, clientSecret, defaultChannelID, defaultCategory, badgeClass: String
        /// The in-app page notifications open (`intent`, `action`).
        public var page: InAppPage
    }

    public struct Honor: Sendable, Equatable {
        public var endpoint, tokenEndpoint, appID, clientID, clientSecret, badgeClass: String
        /// The in-app page notifications open (`intent`, `action`).
        public var page: InAppPage
    }

    public struct Xiaomi: Sendable, Equatable {
        public var endpoint, appSecret, packageName, defaultChannelID: String
        /// `conversation` (the default) or `message`; `config check` refuses anything else.
        public var notifyID: AppPushSettings.Xiaomi.NotifyID
    }

    public struct OPPO: Sendable, Equatable {
        public var endpoint, appKey, masterSecret, defaultChannelID, defaultCategory: String
    }

    public struct Vivo: Sendable, Equatable {
        public var endpoint, appID, appKey, appSecret, defaultCategory: String
    }

    public struct Meizu: Sendable, Equatable {
        public var endpoint, appID, appSecret: String
    }
}

/// Pushes per second to a vendor for an app (token bucket), and how many may go at once after a
/// quiet spell.
public struct VendorRate: Sendable, Equatable {
    /// 0 is unlimited.
    public var perSecond: Double
    /// Nil: one second's worth.
    public var burst: Double?
}

extension VendorConfig {
    /// The fields as typed settings.
    public var settings: VendorSettings {
        let v = self
        switch vendor {
        case .apns:
            return .apns(
                .init(
                    endpoint: v["endpoint"], sandboxEndpoint: v["sandbox_endpoint"], teamID: v["team_id"], keyID: v["key_id"],
                    privateKeyFile: v["private_key_file"], bundleID: v["bundle_id"]
                )
            )
        case .fcm:
            return .fcm(
                .init(
                    endpoint: v["endpoint"], serviceAccountFile: v["service_account_file"], projectID: v["project_id"],
                    defaultChannelID: v["default_channel_id"]
                )
            )
        case .huawei:
            return .huawei(
                .init(
                    endpoint: v["endpoint"], tokenEndpoint: v["token_endpoint"], appID: v["app_id"], clientSecret: v["client_secret"],
                    defaultChannelID: v["default_channel_id"], defaultCategory: v["default_category"], badgeClass: v["badge_class"],
                    page: .init(intent: v["intent"], action: v["action"])
                )
            )
        case .honor:
            return .honor(
                .init(
                    endpoint: v["endpoint"], tokenEndpoint: v["token_endpoint"], appID: v["app_id"], clientID: v["client_id"],
                    clientSecret: v["client_secret"], badgeClass: v["badge_class"], page: .init(intent: v["intent"], action: v["action"])
                )
            )
        case .xiaomi:
            return .xiaomi(
                .init(
                    endpoint: v["endpoint"], appSecret: v["app_secret"], packageName: v["package_name"], defaultChannelID: v["default_channel_id"],
                    notifyID: .init(rawValue: v["notify_id"]) ?? .conversation
                )
            )
        case .oppo:
            return .oppo(
                .init(
                    endpoint: v["endpoint"], appKey: v["app_key"], masterSecret: v["master_secret"], defaultChannelID: v["default_channel_id"],
                    defaultCategory: v["default_category"]
                )
            )
        case .vivo:
            return .vivo(
                .init(endpoint: v["endpoint"], appID: v["app_id"], appKey: v["app_key"], appSecret: v["app_secret"], defaultCategory: v["default_category"])
            )
        case .meizu:
            return .meizu(.init(endpoint: v["endpoint"], appID: v["app_id"], appSecret: v["app_secret"]))
        }
    }

    /// The rate limit; `config check` refuses values that are not non-negative integers.
    public var rate: VendorRate {
        VendorRate(perSecond: Double(self["rate_limit"]) ?? 0, burst: Double(self["burst"]))
    }
}

/// What rendering needs to know about one app: its default title and, per configured vendor,
/// identifiers and default channels. Credentials stay with the gateway clients.
public struct AppPushSettings: Sendable, Equatable {
    /// The app's display name: the title of last resort for vendors that require one.
    public var appName: String
    /// The title for vendors that require one when the message has none.
    public var defaultTitle: String
    public var apns: APNs?
    public var fcm: FCM?
    public var huawei: Huawei?
    public var xiaomi: Xiaomi?
    public var oppo: OPPO?
    public var vivo: Vivo?
    public var meizu: Meizu?
    public var honor: Honor?

    public init(
        appName: String = "", defaultTitle: String = "", apns: APNs? = nil, fcm: FCM? = nil, huawei: Huawei? = nil,
        xiaomi: Xiaomi? = nil, oppo: OPPO? = nil, vivo: Vivo? = nil, meizu: Meizu? = nil, honor: Honor? = nil
    ) {
        self.appName = appName
        self.defaultTitle = defaultTitle
        self.apns = apns
        self.fcm = fcm
        self.huawei = huawei
        self.xiaomi = xiaomi
        self.oppo = oppo
        self.vivo = vivo
        self.meizu = meizu
        self.honor = honor
    }

    /// The title a vendor that requires one gets when the message has none (push-rules.md 3.4):
    /// `default_title`, else `app_name`.
    public var fallbackTitle: String { defaultTitle.isEmpty ? appName : defaultTitle }

    /// Whether the app has settings for a vendor.
    public func configures(_ vendor: Vendor) -> Bool {
        switch vendor {
        case .apns: apns != nil
        case .fcm: fcm != nil
        case .huawei: huawei != nil
        case .xiaomi: xiaomi != nil
        case .oppo: oppo != nil
        case .vivo: vivo != nil
        case .meizu: meizu != nil
        case .honor: honor != nil
        }
    }

    public struct APNs: Sendable, Equatable {
        /// The app's bundle id, sent as `apns-topic`.
        public var bundleID: String
        public init(bundleID: String) { self.bundleID = bundleID }
    }

    public struct FCM: Sendable, Equatable {
        public var projectID: String
        public var defaultChannelID: String
        public init(projectID: String, defaultChannelID: String = "") {
            self.projectID = projectID
            self.defaultChannelID = defaultChannelID
        }
    }

    public struct Huawei: Sendable, Equatable {
        public var appID: String
        public var defaultChannelID: String
        public var defaultCategory: String
        /// Launcher activity for the badge (`badge.class`); no badge is sent when empty.
        public var badgeClass: String
        public var page: InAppPage
        public init(appID: String, defaultChannelID: String = "", defaultCategory: String = "", badgeClass: String = "", page: InAppPage = .init()) {
            self.appID = appID
            self.defaultChannelID = defaultChannelID
            self.defaultCategory = defaultCategory
            self.badgeClass = badgeClass
            self.page = page
        }
    }

    public struct Xiaomi: Sendable, Equatable {
        public var packageName: String
        public var defaultChannelID: String
        public var notifyID: NotifyID
        public init(packageName: String, defaultChannelID: String = "", notifyID: NotifyID = .conversation) {
            self.packageName = packageName
            self.defaultChannelID = defaultChannelID
            self.notifyID = notifyID
        }

        /// What MiPush's `notify_id` groups. Without one, each push replaces the app's last
        /// notification; with one, pushes of the same id replace each other and others stack.
        public enum NotifyID: String, Sendable, CaseIterable {
            /// A conversation's pushes replace each other; different conversations stack.
            case conversation
            /// Every push is a notification of its own.
            case message
        }
    }

    public struct OPPO: Sendable, Equatable {
        public var defaultChannelID: String
        public var defaultCategory: String
        public init(defaultChannelID: String = "", defaultCategory: String = "") {
            self.defaultChannelID = defaultChannelID
            self.defaultCategory = defaultCategory
        }
    }

    public struct Vivo: Sendable, Equatable {
        public var appID: String
        public var defaultCategory: String
        public init(appID: String, defaultCategory: String = "") {
            self.appID = appID
            self.defaultCategory = defaultCategory
        }
    }

    public struct Meizu: Sendable, Equatable {
        public var appID: String
        public init(appID: String) { self.appID = appID }
    }

    public struct Honor: Sendable, Equatable {
        public var appID: String
        /// Launcher activity for the badge (`badge.badgeClass`); no badge is sent when empty.
        public var badgeClass: String
        public var page: InAppPage
        public init(appID: String, badgeClass: String = "", page: InAppPage = .init()) {
            self.appID = appID
            self.badgeClass = badgeClass
            self.page = page
        }
    }
}

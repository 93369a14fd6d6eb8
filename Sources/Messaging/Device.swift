import PushCore

/// A device's presence, as reported by the client SDK (`pushd/report_state`).
public enum DeviceState: String, Sendable, Codable, CaseIterable {
    /// In the foreground on a live connection: messages arrive there, no push.
    case online = "Online"
    /// In the background or killed, still logged in: the only state that gets pushes.
    case pushOnline = "PushOnline"
    /// Logged out: nothing.
    case offline = "Offline"
}

/// One registered device of one user of one app.
public struct Device: Sendable, Equatable {
    public var sdkAppID: UInt64
    public var userID: String
    public var deviceID: String
    public var vendor: Vendor
    public var token: String
    public var locale: PushLocale?
    /// APNs sandbox endpoint.
    public var sandbox: Bool
    public var state: DeviceState
    /// The badge a push carries: the last reported unread count plus the counted messages since.
    public var badge: Int
    /// When the token was (re-)registered, in milliseconds.
    public var registeredAtMillis: Int64
    /// When the state last changed, in milliseconds.
    public var stateChangedAtMillis: Int64
    /// When a vendor said the token is dead; such a device gets nothing until it re-registers.
    public var invalidatedAtMillis: Int64?

    public init(
        sdkAppID: UInt64, userID: String, deviceID: String, vendor: Vendor, token: String, locale: PushLocale? = nil,
        sandbox: Bool = false, state: DeviceState = .pushOnline, badge: Int = 0, registeredAtMillis: Int64,
        stateChangedAtMillis: Int64? = nil, invalidatedAtMillis: Int64? = nil
    ) {
        self.sdkAppID = sdkAppID
        self.userID = userID
        self.deviceID = deviceID
        self.vendor = vendor
        self.token = token
        self.locale = locale
        self.sandbox = sandbox
        self.state = state
        self.badge = badge
        self.registeredAtMillis = registeredAtMillis
        self.stateChangedAtMillis = stateChangedAtMillis ?? registeredAtMillis
        self.invalidatedAtMillis = invalidatedAtMillis
    }
}

/// Decides which of a user's devices get a push (push-rules.md section 1.1).
public enum PushAudience {
    /// A device left `PushOnline` this long is treated as `Offline`: 7 days.
    public static let pushOnlineLifetimeMillis: Int64 = 7 * 24 * 3600 * 1000

    /// Why a device gets no push.
    public enum Exclusion: String, Sendable {
        case online = "Online"
        case offline = "Offline"
        case stale = "PushOnlineExpired"
        case tokenInvalidated = "TokenInvalidated"
    }

    /// Nil when the device gets the push, else why not.
    public static func exclusion(of device: Device, nowMillis: Int64) -> Exclusion? {
        if device.invalidatedAtMillis != nil { return .tokenInvalidated }
        switch device.state {
        case .online: return .online
        case .offline: return .offline
        case .pushOnline:
            return nowMillis - device.stateChangedAtMillis > pushOnlineLifetimeMillis ? .stale : nil
        }
    }

    /// The devices that get the push.
    public static func recipients(_ devices: [Device], nowMillis: Int64) -> [Device] {
        devices.filter { exclusion(of: $0, nowMillis: nowMillis) == nil }
    }
}

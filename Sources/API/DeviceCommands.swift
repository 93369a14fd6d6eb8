import Foundation
import Messaging
import PushCore
import Queue

/// `pushd/register_device`, `unregister_device`, `report_state`, `get_devices` (interface.md
/// section 3): a user acts on their own devices; the admin names the user.
struct DeviceCommands: Sendable {
    let store: any PushStore
    let clock: any EpochClock

    var commands: [String: RestAPI.Command] {
        [
            "pushd/register_device": .init(adminOnly: false, run: register),
            "pushd/unregister_device": .init(adminOnly: false, run: unregister),
            "pushd/report_state": .init(adminOnly: false, run: reportState),
            "pushd/get_devices": .init(adminOnly: false, run: getDevices),
        ]
    }

    struct Register: Decodable {
        var UserID: String?
        var DeviceId: String
        var Vendor: PushCore.Vendor
        var Token: String
        var Locale: PushLocale?
        var Sandbox: Int?
    }

    /// Registers a device, or replaces its token (clearing an invalidation); a re-registered device
    /// keeps its state and badge, a new one starts `PushOnline`.
    @Sendable func register(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Register.self, body)
        let user = try caller.subject(r.UserID)
        try Self.require(!r.DeviceId.isEmpty && r.DeviceId.utf8.count <= 128, "DeviceId must be 1 to 128 bytes")
        try Self.require(!r.Token.isEmpty && r.Token.utf8.count <= 4096, "Token must be 1 to 4096 bytes")
        if r.Vendor == .apns {
            try Self.require(r.Token.count == 64 && r.Token.allSatisfy(\.isHexDigit), "an APNs Token is 64 hexadecimal digits")
        }
        let app = caller.app.sdkAppID
        let existing = try await store.devices(sdkAppID: app, userIDs: [user]).first { $0.deviceID == r.DeviceId }
        let now = clock.nowMillis()
        try await store.upsertDevice(
            Device(
                sdkAppID: app, userID: user, deviceID: r.DeviceId, vendor: r.Vendor, token: r.Token, locale: r.Locale,
                sandbox: r.Sandbox == 1, state: existing?.state ?? .pushOnline, badge: existing?.badge ?? 0, registeredAtMillis: now,
                stateChangedAtMillis: existing?.stateChangedAtMillis ?? now
            )
        )
        return .ok()
    }

    struct DeviceRef: Decodable {
        var UserID: String?
        var DeviceId: String
    }

    @Sendable func unregister(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(DeviceRef.self, body)
        let user = try caller.subject(r.UserID)
        guard try await store.deleteDevice(sdkAppID: caller.app.sdkAppID, userID: user, deviceID: r.DeviceId) else {
            return .fail(RestCode.notImported, "DeviceId \(r.DeviceId) is not registered for \(user)")
        }
        return .ok()
    }

    struct Report: Decodable {
        var UserID: String?
        var DeviceId: String
        var State: DeviceState
        var Unread: Int?
    }

    @Sendable func reportState(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Report.self, body)
        let user = try caller.subject(r.UserID)
        if let unread = r.Unread { try Self.require(unread >= 0, "Unread must not be negative") }
        guard try await store.setDeviceState(sdkAppID: caller.app.sdkAppID, userID: user, deviceID: r.DeviceId, state: r.State, unread: r.Unread)
        else {
            return .fail(RestCode.notImported, "DeviceId \(r.DeviceId) is not registered for \(user)")
        }
        return .ok()
    }

    struct Query: Decodable {
        var UserID: String?
    }

    @Sendable func getDevices(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Query.self, body)
        let user = try caller.subject(r.UserID)
        let now = clock.nowMillis()
        let devices = try await store.devices(sdkAppID: caller.app.sdkAppID, userIDs: [user]).map { d -> [String: any Sendable] in
            // A PushOnline left for 7 days reads as Offline, as it is treated.
            let state = PushAudience.exclusion(of: d, nowMillis: now) == .stale ? DeviceState.offline : d.state
            var item: [String: any Sendable] = [
                "DeviceId": d.deviceID, "Vendor": d.vendor.rawValue, "Token": d.token, "Locale": d.locale?.rawValue ?? "",
                "State": state.rawValue, "Badge": d.badge, "Sandbox": d.sandbox ? 1 : 0,
            ]
            if let at = d.invalidatedAtMillis { item["InvalidatedAt"] = at }
            return item
        }
        return .ok([("UserID", user), ("Devices", devices)])
    }

    static func require(_ condition: Bool, _ message: String) throws(TencentError) {
        if !condition { throw TencentError(code: RestCode.badJSON, message: message) }
    }
}

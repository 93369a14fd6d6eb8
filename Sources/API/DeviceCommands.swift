import Foundation
import Messaging
import PushCore
import PushdConfig
import Storage

/// `pushd/register_device`, `unregister_device`, `report_state`, `get_devices` (interface.md
/// section 3): a user acts on their own devices; the admin names the user. `im_open_login_svc/kick`
/// logs a user out: their devices go `Offline` and get no push until they report their state again.
struct DeviceCommands: Sendable {
    let store: any DeviceStore & Directory
    let clock: any EpochClock
    /// Devices a user keeps (`limits.max_devices_per_user`): registering one more drops the one
    /// registered longest ago, as a new login on an IM client displaces the oldest.
    var maxPerUser = PushdConfig.Limits().maxDevicesPerUser

    var commands: [String: RestAPI.Command] {
        [
            "pushd/register_device": .init(adminOnly: false, run: register),
            "pushd/unregister_device": .init(adminOnly: false, run: unregister),
            "pushd/report_state": .init(adminOnly: false, run: reportState),
            "pushd/get_devices": .init(adminOnly: false, run: getDevices),
            "openim/query_online_status": .init(adminOnly: true, run: { try await onlineStatus($0, $1, key: "Status") }),
            "openim/querystate": .init(adminOnly: true, run: { try await onlineStatus($0, $1, key: "State") }),
            "im_open_login_svc/kick": .init(adminOnly: true, run: kick),
        ]
    }

    struct Kick: Decodable {
        var UserID: String?
        var Identifier: String?
    }

    /// `{"UserID"}` (or the legacy `{"Identifier"}`): every device of an imported user goes
    /// `Offline`; the badge base is kept.
    @Sendable func kick(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Kick.self, body)
        guard let user = r.UserID ?? r.Identifier, !user.isEmpty else { throw TencentError(code: RestCode.badJSON, message: "UserID is required") }
        let app = caller.app.sdkAppID
        guard try await store.importedAccounts(sdkAppID: app, userIDs: [user]).contains(ExactString(user)) else {
            return .fail(RestCode.notImported, "UserID \(user) is not imported")
        }
        for device in try await store.devices(sdkAppID: app, userIDs: [user]) where device.state != .offline {
            _ = try await store.setDeviceState(sdkAppID: app, userID: user, deviceID: device.deviceID, state: .offline, unread: nil)
        }
        return .ok()
    }

    struct Register: Decodable {
        var UserID: String?
        var DeviceId: String
        var Vendor: PushCore.Vendor
        var Token: String
        var Locale: PushLocale?
        var Sandbox: Int?
    }

    /// Apple's device tokens are hexadecimal bytes whose length Apple says not to assume (32 today):
    /// an even number of ASCII hex digits, 64 to 200 of them.
    static func isAPNsToken(_ token: String) -> Bool {
        let digits = token.utf8
        return (64...200).contains(digits.count) && digits.count.isMultiple(of: 2)
            && digits.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Registers a device, or replaces its token (clearing an invalidation); a re-registered device
    /// keeps its state and badge, a new one starts `PushOnline`.
    @Sendable func register(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Register.self, body)
        let user = try caller.subject(r.UserID)
        try RestAPI.require(!r.DeviceId.isEmpty && r.DeviceId.utf8.count <= 128, "DeviceId must be 1 to 128 bytes")
        try RestAPI.require(!r.Token.isEmpty && r.Token.utf8.count <= 4096, "Token must be 1 to 4096 bytes")
        if r.Vendor == .apns {
            try RestAPI.require(Self.isAPNsToken(r.Token), "an APNs Token is an even number of 64 to 200 hexadecimal digits")
        }
        let app = caller.app.sdkAppID
        let existing = try await store.devices(sdkAppID: app, userIDs: [user]).first { $0.deviceID.sameBytes(as: r.DeviceId) }
        let now = clock.nowMillis()
        try await store.upsertDevice(
            Device(
                sdkAppID: app, userID: user, deviceID: r.DeviceId, vendor: r.Vendor, token: r.Token, locale: r.Locale,
                sandbox: r.Sandbox == 1, state: existing?.state ?? .pushOnline, badge: existing?.badge ?? 0, registeredAtMillis: now,
                stateChangedAtMillis: existing?.stateChangedAtMillis ?? now
            )
        )
        let dropped = existing == nil ? try await store.trimDevices(sdkAppID: app, userID: user, keeping: maxPerUser) : []
        return .ok(dropped.isEmpty ? [] : [("DroppedDevices", dropped)])
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
        try RestAPI.require(r.Unread.map(Int64.init), in: 0...Int64(Badge.maxValue), field: "Unread")
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

    struct StatusQuery: Decodable {
        var To_Account: [String]
        var IsNeedDetail: Int?
    }

    /// A user's state: `Online` when any device is, else `PushOnline` when any device still gets
    /// pushes, else `Offline`; per device in `Detail`. Not imported: `ErrorList` with 70107.
    func onlineStatus(_ caller: RestAPI.Caller, _ body: Data, key: String) async throws -> RestReply {
        let query = try RestAPI.decode(StatusQuery.self, body)
        guard !query.To_Account.isEmpty, query.To_Account.count <= 500 else {
            throw TencentError(code: 90011, message: "To_Account must hold 1 to 500 accounts")
        }
        let app = caller.app.sdkAppID
        let imported = try await store.importedAccounts(sdkAppID: app, userIDs: query.To_Account)
        let devices = Dictionary(grouping: try await store.devices(sdkAppID: app, userIDs: query.To_Account), by: { ExactString($0.userID) })
        let now = clock.nowMillis()
        var results: [[String: any Sendable]] = []
        var errors: [[String: any Sendable]] = []
        for user in query.To_Account {
            guard imported.contains(ExactString(user)) || devices[ExactString(user)] != nil else {
                errors.append(["To_Account": user, "ErrorCode": RestCode.notImported])
                continue
            }
            let states = (devices[ExactString(user)] ?? []).map { d -> (Device, DeviceState) in
                (d, PushAudience.exclusion(of: d, nowMillis: now) == .stale ? .offline : d.state)
            }
            let overall: DeviceState =
                states.contains { $0.1 == .online } ? .online : states.contains { $0.1 == .pushOnline && $0.0.invalidatedAtMillis == nil } ? .pushOnline : .offline
            var item: [String: any Sendable] = ["To_Account": user, key: overall.rawValue]
            if query.IsNeedDetail == 1 {
                item["Detail"] = states.filter { $0.1 != .offline }.map { d, state -> [String: any Sendable] in
                    ["Platform": d.vendor == .apns ? "iPhone" : "Android", "Status": state.rawValue, "DeviceId": d.deviceID]
                }
            }
            results.append(item)
        }
        return .ok([("QueryResult", results), ("ErrorList", errors)])
    }
}

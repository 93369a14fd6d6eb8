import Foundation
import Messaging
import PushCore

/// Values as the tables store them, and back: device lists as JSON arrays, device rows, receive
/// settings and profile rows merged into their values.
extension Schema {
    /// The `devices` column of a job: a JSON array of device ids, or NULL for every device.
    static func encodeDevices(_ ids: [String]?) -> String? {
        ids.map(jsonArray)
    }

    /// A JSON array of strings, as `json_each` and `decodeDevices` read it.
    static func jsonArray(_ strings: [String]) -> String {
        var writer = JSONWriter(capacity: strings.reduce(2) { $0 + $1.utf8.count + 3 })
        writer.beginArray()
        for string in strings { writer.string(string) }
        writer.endArray()
        return String(decoding: writer.finish(), as: UTF8.self)
    }

    static func decodeDevices(_ text: String?) -> [String]? {
        guard let text, let ids = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else { return nil }
        return ids
    }
}

extension Device {
    /// A device read from a row's columns.
    static func fromColumns(
        app: Int64, userID: String, deviceID: String, vendor: String, token: String, locale: String?, sandbox: Int64,
        state: String, badge: Int64, registeredAt: Int64, stateChangedAt: Int64, invalidatedAt: Int64?
    ) -> Device? {
        guard let vendor = Vendor(rawValue: vendor), let state = DeviceState(rawValue: state) else { return nil }
        return Device(
            sdkAppID: UInt64(clamping: app), userID: userID, deviceID: deviceID, vendor: vendor, token: token,
            locale: locale.flatMap(PushLocale.init(rawValue:)), sandbox: sandbox != 0, state: state, badge: Int(badge),
            registeredAtMillis: registeredAt, stateChangedAtMillis: stateChangedAt, invalidatedAtMillis: invalidatedAt
        )
    }
}

extension ReceiveSettings {
    /// Folds one `receive_opts` row into the settings of its user.
    static func merge(into settings: inout [ExactString: ReceiveSettings], user: String, conversation: String, muted: Int64, start: Int64, duration: Int64) {
        let user = ExactString(user)
        var s = settings[user] ?? ReceiveSettings()
        if conversation.isEmpty {
            s.doNotDisturb = duration > 0 ? DoNotDisturb(start: start, duration: duration) : nil
        } else {
            s.muted = muted != 0
        }
        settings[user] = s
    }
}

extension SendFacts {
    /// Folds one row of an accounts-left-join-profile_items query into the profiles: an item, or
    /// (no tag) an imported account without items.
    static func merge(into profiles: inout Profiles, user: String, tag: String?, value: String?) {
        let user = ExactString(user)
        if let tag, let value {
            profiles[user, default: [:]][tag] = value
        } else if profiles[user] == nil {
            profiles[user] = [:]
        }
    }
}

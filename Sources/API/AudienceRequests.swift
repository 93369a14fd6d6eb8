import Foundation
import PushCore
import Storage

/// What an attribute or tag request holds per user (`Attrs`, `Tags`), with the names of the
/// documented list, the SDK list and the value member.
protocol AudienceValue: Decodable {
    static var listName: String { get }
    static var sdkListName: String { get }
    static var valueName: String { get }
}

/// The `(account, value)` pairs of a set/remove request in any of its three shapes: the
/// documented list of `{"To_Account", value}`, an SDK's list of the same, or one flat
/// `{"To_Account": "u", value: …}`; 1 to 100 of them.
struct AudienceEntries<Value: AudienceValue>: Decodable {
    var entries: [(userID: String, value: Value)]

    struct Entry: Decodable {
        var userID: String
        var value: Value

        init(from decoder: any Decoder) throws {
            let m = try RequestMembers(decoder)
            let path = RequestMembers.path(decoder)
            guard m.has(Value.valueName) else {
                throw TencentError(code: RestCode.badJSON, message: "\(path.isEmpty ? "the request" : path) must hold To_Account and \(Value.valueName)")
            }
            let account = try? m.container.decode(String.self, forKey: .init("To_Account"))
            userID = try AudienceCommands.account(account, field: path.isEmpty ? "To_Account" : "\(path).To_Account")
            value = try m.container.decode(Value.self, forKey: .init(Value.valueName))
        }
    }

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        let list = RequestMembers.Key(Value.listName), sdk = RequestMembers.Key(Value.sdkListName)
        if let items = try? m.container.nestedUnkeyedContainer(forKey: list) {
            try Self.checkCount(items.count ?? 0)
            entries = try m.container.decode([Entry].self, forKey: list).map { ($0.userID, $0.value) }
        } else if var items = try? m.container.nestedUnkeyedContainer(forKey: sdk), Self.allObjects(&items) {
            entries = try m.container.decode([Entry].self, forKey: sdk).map { ($0.userID, $0.value) }
        } else if (try? m.container.decode(String.self, forKey: .init("To_Account"))) != nil {
            let entry = try Entry(from: decoder)
            entries = [(entry.userID, entry.value)]
        } else {
            throw TencentError(code: RestCode.badJSON, message: "\(Value.listName) must be an array of {\"To_Account\", \"\(Value.valueName)\"}")
        }
    }

    /// An SDK's list: 1 to 100 objects.
    static func allObjects(_ items: inout UnkeyedDecodingContainer) -> Bool {
        guard let count = items.count, count > 0 else { return false }
        guard (try? checkCount(count)) != nil else { return true }
        while !items.isAtEnd {
            guard (try? items.nestedContainer(keyedBy: RequestMembers.Key.self)) != nil else { return false }
        }
        return true
    }

    static func checkCount(_ count: Int) throws(TencentError) {
        try RestAPI.require(count > 0, "\(Value.listName) must not be empty")
        let max = AudienceCommands.maxUsersPerRequest
        try RestAPI.require(count <= max, "at most \(max) accounts per request", code: RestCode.tooManyAccounts)
    }
}

/// A user's attributes to set: name → value; a value that is not a string is nil (refused by
/// the command, which knows the defined names).
struct AttrValues: AudienceValue {
    static let listName = "UserAttrs", sdkListName = "Attrs", valueName = "Attrs"
    var values: [String: String?]

    init(from decoder: any Decoder) throws {
        guard let object = try? decoder.container(keyedBy: RequestMembers.Key.self) else {
            throw TencentError(code: RestCode.badJSON, message: "\(RequestMembers.path(decoder)) must be an object of name → value")
        }
        values = Dictionary(object.allKeys.map { ($0.stringValue, try? object.decode(String.self, forKey: $0)) }, uniquingKeysWith: { a, _ in a })
    }
}

/// The attribute names to remove: an array of names, or an object whose keys are the names.
struct AttrNames: AudienceValue {
    static let listName = "UserAttrs", sdkListName = "Attrs", valueName = "Attrs"
    var names: [String]

    init(from decoder: any Decoder) throws {
        if let names = try? [String](from: decoder) {
            self.names = names
        } else if let object = try? decoder.container(keyedBy: RequestMembers.Key.self) {
            names = object.allKeys.map(\.stringValue)
        } else {
            throw TencentError(code: RestCode.badJSON, message: "\(RequestMembers.path(decoder)) must be an array of attribute names")
        }
    }
}

/// A user's tags to add or remove: each 1 to 50 bytes (90040 empty, 90020 long).
struct TagValues: AudienceValue {
    static let listName = "UserTags", sdkListName = "Tags", valueName = "Tags"
    var tags: [String]

    init(from decoder: any Decoder) throws {
        guard let list = try? [String](from: decoder) else {
            throw TencentError(code: RestCode.badJSON, message: "\(RequestMembers.path(decoder)) must be an array of strings")
        }
        tags = try list.map { tag throws(TencentError) in try AudienceCommands.tag(tag) }
    }
}

/// `To_Account`: 1 to 100 account ids (90018 beyond), duplicates dropped.
struct AccountList: Decodable {
    var users: [String]

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        guard var list = try? m.container.nestedUnkeyedContainer(forKey: .init("To_Account")), let count = list.count, count > 0 else {
            throw TencentError(code: RestCode.badJSON, message: "To_Account must be a non-empty array of accounts")
        }
        let max = AudienceCommands.maxUsersPerRequest
        try RestAPI.require(count <= max, "at most \(max) accounts per request", code: RestCode.tooManyAccounts)
        var seen = Set<String>()
        users = []
        while !list.isAtEnd {
            let field = "To_Account[\(list.currentIndex)]"
            let user = try AudienceCommands.account(try? list.decode(String.self), field: field)
            if seen.insert(user).inserted { users.append(user) }
        }
    }
}

/// `AttrNames`: slot `"0"` to `"9"` → a name of 1 to 50 bytes, no name twice.
struct AttrNamesRequest: Decodable {
    var names: [String: String]

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        guard let object = try? m.container.nestedContainer(keyedBy: RequestMembers.Key.self, forKey: .init("AttrNames")) else {
            throw TencentError(code: RestCode.badJSON, message: "AttrNames must be an object of \"0\" to \"9\" → name")
        }
        names = [:]
        let maxBytes = AudienceCommands.maxBytes
        for key in object.allKeys {
            let slot = key.stringValue
            try RestAPI.require(AudienceCommands.attrSlots.contains(slot), "AttrNames keys are \"0\" to \"9\", got \"\(slot)\"", code: RestCode.badAttribute)
            guard let name = try? object.decode(String.self, forKey: key), !name.isEmpty, name.utf8.count <= maxBytes else {
                throw TencentError(code: RestCode.badAttribute, message: "AttrNames[\"\(slot)\"] must be a name of 1 to \(maxBytes) bytes")
            }
            names[slot] = name
        }
        try RestAPI.require(Set(names.values).count == names.count, "AttrNames holds the same name twice", code: RestCode.badAttribute)
    }
}

import Foundation
import PushCore
import Storage

/// The attribute and tag commands of `all_member_push/*` (tencent-rest-api.md section 4.5), also
/// under the push plugin's `timpush/*` names. Requests may use the documented `UserAttrs` /
/// `UserTags` list, the `Attrs` / `Tags` list some SDKs send, or one flat user; replies always use
/// the documented names. A refused request writes nothing.
struct AudienceCommands: Sendable {
    let store: any CampaignStore

    /// Tencent's limits.
    static let maxUsersPerRequest = 100
    static let maxTagsPerRequest = 10
    static let maxTagsPerUser = 100
    static let maxBytes = 50
    static let attrSlots = (0...9).map(String.init)

    var commands: [String: RestAPI.Command] {
        let table: [(String, String?, @Sendable (RestAPI.Caller, Data) async throws -> RestReply)] = [
            ("im_set_attr_name", "set_attr_name", setAttrNames), ("im_get_attr_name", "get_attr_name", getAttrNames),
            ("im_set_attr", "set_attr", setAttrs), ("im_get_attr", "get_attr", getAttrs), ("im_remove_attr", "remove_attr", removeAttrs),
            ("im_add_tag", "add_tag", addTags), ("im_get_tag", "get_tag", getTags), ("im_remove_tag", "remove_tag", removeTags),
            ("im_remove_all_tags", "clear_all_tags", removeAllTags),
        ]
        var commands: [String: RestAPI.Command] = [:]
        for (legacy, plugin, run) in table {
            commands["all_member_push/\(legacy)"] = .init(adminOnly: true, run: run)
            if let plugin { commands["timpush/\(plugin)"] = .init(adminOnly: true, run: run) }
        }
        return commands
    }

    // MARK: Attribute names

    @Sendable func setAttrNames(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try Self.object(body)
        guard let names = request["AttrNames"] as? [String: Any] else {
            throw TencentError(code: RestCode.badJSON, message: "AttrNames must be an object of \"0\" to \"9\" → name")
        }
        var parsed: [String: String] = [:]
        for (slot, value) in names {
            try RestAPI.require(Self.attrSlots.contains(slot), "AttrNames keys are \"0\" to \"9\", got \"\(slot)\"", code: RestCode.badAttribute)
            guard let name = value as? String, !name.isEmpty, name.utf8.count <= Self.maxBytes else {
                throw TencentError(code: RestCode.badAttribute, message: "AttrNames[\"\(slot)\"] must be a name of 1 to \(Self.maxBytes) bytes")
            }
            parsed[slot] = name
        }
        try RestAPI.require(Set(parsed.values).count == parsed.count, "AttrNames holds the same name twice", code: RestCode.badAttribute)
        try await store.setAttributeNames(sdkAppID: caller.app.sdkAppID, parsed)
        return .ok()
    }

    @Sendable func getAttrNames(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        .ok([("AttrNames", try await store.attributeNames(sdkAppID: caller.app.sdkAppID))])
    }

    // MARK: Attributes

    @Sendable func setAttrs(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let entries = try Self.entries(try Self.object(body), list: "UserAttrs", sdkList: "Attrs", value: "Attrs")
        let defined = Set(try await store.attributeNames(sdkAppID: caller.app.sdkAppID).values)
        let values = try entries.map { user, value throws(TencentError) -> (userID: String, attrs: [String: String]) in
            guard let attrs = value as? [String: Any] else {
                throw TencentError(code: RestCode.badJSON, message: "Attrs of \(user) must be an object of name → value")
            }
            var parsed: [String: String] = [:]
            for (name, v) in attrs {
                try RestAPI.require(defined.contains(name), "attribute \(name) is not defined (im_set_attr_name)", code: RestCode.badAttribute)
                guard let text = v as? String, text.utf8.count <= Self.maxBytes else {
                    throw TencentError(code: RestCode.badAttribute, message: "attribute \(name) of \(user) must be a string of at most \(Self.maxBytes) bytes")
                }
                parsed[name] = text
            }
            return (user, parsed)
        }
        try await store.setAttributes(sdkAppID: caller.app.sdkAppID, values)
        return .ok()
    }

    @Sendable func getAttrs(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let users = try Self.accounts(try Self.object(body))
        let attrs = try await store.attributes(sdkAppID: caller.app.sdkAppID, userIDs: users)
        return .ok([("UserAttrs", users.map { ["To_Account": $0, "Attrs": attrs[$0] ?? [:]] as [String: any Sendable] })])
    }

    @Sendable func removeAttrs(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let entries = try Self.entries(try Self.object(body), list: "UserAttrs", sdkList: "Attrs", value: "Attrs")
        let names = try entries.map { user, value throws(TencentError) -> (userID: String, names: [String]) in
            // Names only; an object of name → value is accepted for its names.
            let list = (value as? [Any]) ?? (value as? [String: Any]).map { Array($0.keys) }
            guard let names = list?.compactMap({ $0 as? String }), names.count == list?.count else {
                throw TencentError(code: RestCode.badJSON, message: "Attrs of \(user) must be an array of attribute names")
            }
            return (user, names)
        }
        try await store.removeAttributes(sdkAppID: caller.app.sdkAppID, names)
        return .ok()
    }

    // MARK: Tags

    @Sendable func addTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let tags = try Self.tagEntries(try Self.object(body))
        for (user, list) in tags {
            try RestAPI.require(list.count <= Self.maxTagsPerRequest, "at most \(Self.maxTagsPerRequest) tags per user in one request (\(user))", code: RestCode.tooManyTags)
        }
        let over = try await store.addTags(sdkAppID: caller.app.sdkAppID, tags, maxPerUser: Self.maxTagsPerUser)
        guard over.isEmpty else {
            return .fail(RestCode.tooManyTags, "a user holds at most \(Self.maxTagsPerUser) tags; remove some first: \(over.sorted().joined(separator: ", "))")
        }
        return .ok()
    }

    @Sendable func getTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let users = try Self.accounts(try Self.object(body))
        let tags = try await store.tags(sdkAppID: caller.app.sdkAppID, userIDs: users)
        return .ok([("UserTags", users.map { ["To_Account": $0, "Tags": tags[$0] ?? []] as [String: any Sendable] })])
    }

    @Sendable func removeTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        try await store.removeTags(sdkAppID: caller.app.sdkAppID, try Self.tagEntries(try Self.object(body)))
        return .ok()
    }

    @Sendable func removeAllTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        try await store.removeAllTags(sdkAppID: caller.app.sdkAppID, userIDs: try Self.accounts(try Self.object(body)))
        return .ok()
    }

    // MARK: Request shapes

    /// `To_Account`: 1 to 100 account ids (90018 beyond).
    static func accounts(_ request: [String: Any]) throws(TencentError) -> [String] {
        guard let list = request["To_Account"] as? [Any], !list.isEmpty else {
            throw TencentError(code: RestCode.badJSON, message: "To_Account must be a non-empty array of accounts")
        }
        try RestAPI.require(list.count <= maxUsersPerRequest, "at most \(maxUsersPerRequest) accounts per request", code: RestCode.tooManyAccounts)
        var seen = Set<String>()
        var users: [String] = []
        for (index, item) in list.enumerated() {
            let user = try account(item, field: "To_Account[\(index)]")
            if seen.insert(user).inserted { users.append(user) }
        }
        return users
    }

    @discardableResult
    static func account(_ value: Any?, field: String) throws(TencentError) -> String {
        guard let user = value as? String, !user.isEmpty, user.utf8.count <= AccountCommands.maxUserID else {
            throw TencentError(code: RestCode.badJSON, message: "\(field) must be an account of 1 to \(AccountCommands.maxUserID) bytes")
        }
        return user
    }

    /// The `(account, value)` pairs of a set/remove request in any of its three shapes: the
    /// documented `list` of `{"To_Account", value}`, an SDK's `sdkList` of the same, or one flat
    /// `{"To_Account": "u", value: …}`.
    static func entries(_ request: [String: Any], list: String, sdkList: String, value: String) throws(TencentError) -> [(String, Any)] {
        let items: [Any]
        if let documented = request[list] as? [Any] {
            items = documented
        } else if let sdk = request[sdkList] as? [Any], sdk.allSatisfy({ $0 is [String: Any] }), !sdk.isEmpty {
            items = sdk
        } else if request["To_Account"] is String {
            items = [request]
        } else {
            throw TencentError(code: RestCode.badJSON, message: "\(list) must be an array of {\"To_Account\", \"\(value)\"}")
        }
        try RestAPI.require(!items.isEmpty, "\(list) must not be empty")
        try RestAPI.require(items.count <= maxUsersPerRequest, "at most \(maxUsersPerRequest) accounts per request", code: RestCode.tooManyAccounts)
        return try items.enumerated().map { index, item throws(TencentError) -> (String, Any) in
            guard let object = item as? [String: Any], let v = object[value] else {
                throw TencentError(code: RestCode.badJSON, message: "\(list)[\(index)] must hold To_Account and \(value)")
            }
            return (try account(object["To_Account"], field: "\(list)[\(index)].To_Account"), v)
        }
    }

    /// Tag lists of an add/remove request: each tag 1 to 50 bytes (90040 empty, 90020 long).
    static func tagEntries(_ request: [String: Any]) throws(TencentError) -> [(userID: String, tags: [String])] {
        try entries(request, list: "UserTags", sdkList: "Tags", value: "Tags").map { user, value throws(TencentError) in
            guard let list = value as? [Any] else { throw TencentError(code: RestCode.badJSON, message: "Tags of \(user) must be an array of strings") }
            return (user, try list.map { item throws(TencentError) -> String in try tag(item) })
        }
    }

    static func object(_ body: Data) throws(TencentError) -> [String: Any] {
        guard let request = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TencentError(code: RestCode.badJSON, message: "body is not a JSON object")
        }
        return request
    }

    static func tag(_ value: Any) throws(TencentError) -> String {
        guard let tag = value as? String else { throw TencentError(code: RestCode.badJSON, message: "a tag must be a string") }
        try RestAPI.require(!tag.isEmpty, "a tag must not be empty", code: RestCode.emptyTag)
        try RestAPI.require(tag.utf8.count <= maxBytes, "tag \"\(tag.prefix(60))\" is over \(maxBytes) bytes", code: RestCode.tagTooLong)
        return tag
    }
}

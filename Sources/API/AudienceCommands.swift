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
        let parsed = try RestAPI.decode(AttrNamesRequest.self, body).names
        try await store.setAttributeNames(sdkAppID: caller.app.sdkAppID, parsed)
        return .ok()
    }

    @Sendable func getAttrNames(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        .ok([("AttrNames", try await store.attributeNames(sdkAppID: caller.app.sdkAppID))])
    }

    // MARK: Attributes

    @Sendable func setAttrs(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let entries = try RestAPI.decode(AudienceEntries<AttrValues>.self, body).entries
        let defined = Set(try await store.attributeNames(sdkAppID: caller.app.sdkAppID).values)
        let values = try entries.map { user, attrs throws(TencentError) -> (userID: String, attrs: [String: String]) in
            var parsed: [String: String] = [:]
            for (name, text) in attrs.values {
                try RestAPI.require(defined.contains(name), "attribute \(name) is not defined (im_set_attr_name)", code: RestCode.badAttribute)
                guard let text, text.utf8.count <= Self.maxBytes else {
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
        let users = try RestAPI.decode(AccountList.self, body).users
        let attrs = try await store.attributes(sdkAppID: caller.app.sdkAppID, userIDs: users)
        return .ok([("UserAttrs", users.map { ["To_Account": $0, "Attrs": attrs[$0] ?? [:]] as [String: any Sendable] })])
    }

    @Sendable func removeAttrs(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let names = try RestAPI.decode(AudienceEntries<AttrNames>.self, body).entries.map { (userID: $0.userID, names: $0.value.names) }
        try await store.removeAttributes(sdkAppID: caller.app.sdkAppID, names)
        return .ok()
    }

    // MARK: Tags

    @Sendable func addTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let tags = try Self.tagsToAdd(body)
        let over = try await store.addTags(sdkAppID: caller.app.sdkAppID, tags, maxPerUser: Self.maxTagsPerUser)
        guard over.isEmpty else {
            return .fail(RestCode.tooManyTags, "a user holds at most \(Self.maxTagsPerUser) tags; remove some first: \(over.sorted().joined(separator: ", "))")
        }
        return .ok()
    }

    /// The users' tags to add, at most `maxTagsPerRequest` per user. Kept out of `addTags`: Swift
    /// 6.3.1's release build crashed (LLVM coroutine splitting, signal 11) on this loop of
    /// typed-throws checks inside the async function.
    static func tagsToAdd(_ body: Data) throws -> [(userID: String, tags: [String])] {
        let tags = try RestAPI.decode(AudienceEntries<TagValues>.self, body).entries.map { (userID: $0.userID, tags: $0.value.tags) }
        for (user, list) in tags {
            try RestAPI.require(list.count <= maxTagsPerRequest, "at most \(maxTagsPerRequest) tags per user in one request (\(user))", code: RestCode.tooManyTags)
        }
        return tags
    }

    @Sendable func getTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let users = try RestAPI.decode(AccountList.self, body).users
        let tags = try await store.tags(sdkAppID: caller.app.sdkAppID, userIDs: users)
        return .ok([("UserTags", users.map { ["To_Account": $0, "Tags": tags[$0] ?? []] as [String: any Sendable] })])
    }

    @Sendable func removeTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        try await store.removeTags(sdkAppID: caller.app.sdkAppID, try RestAPI.decode(AudienceEntries<TagValues>.self, body).entries.map { (userID: $0.userID, tags: $0.value.tags) })
        return .ok()
    }

    @Sendable func removeAllTags(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        try await store.removeAllTags(sdkAppID: caller.app.sdkAppID, userIDs: try RestAPI.decode(AccountList.self, body).users)
        return .ok()
    }

    // MARK: Request shapes

    @discardableResult
    static func account(_ value: String?, field: String) throws(TencentError) -> String {
        guard let user = value, !user.isEmpty, user.utf8.count <= AccountCommands.maxUserID else {
            throw TencentError(code: RestCode.badJSON, message: "\(field) must be an account of 1 to \(AccountCommands.maxUserID) bytes")
        }
        return user
    }

    static func tag(_ tag: String) throws(TencentError) -> String {
        try RestAPI.require(!tag.isEmpty, "a tag must not be empty", code: RestCode.emptyTag)
        try RestAPI.require(tag.utf8.count <= maxBytes, "tag \"\(tag.prefix(60))\" is over \(maxBytes) bytes", code: RestCode.tagTooLong)
        return tag
    }
}

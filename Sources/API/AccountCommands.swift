import Foundation
import PushCore
import Storage

/// Accounts and profiles (tencent-rest-api.md sections 4.6 and 4.7): `account_import` (`UserID` or
/// the legacy `Identifier`), `multiaccount_import` (`Accounts` or `AccountList`), `account_delete`,
/// `account_check`, `portrait_set`, `portrait_get`. `Tag_Profile_IM_Nick` is the push prefix.
struct AccountCommands: Sendable {
    let store: any Directory

    static let nickTag = "Tag_Profile_IM_Nick"
    static let imageTag = "Tag_Profile_IM_Image"
    /// `UserID` is at most 32 bytes.
    static let maxUserID = 32
    /// A profile value is at most 500 bytes (40601 beyond).
    static let maxValueBytes = 500

    var commands: [String: RestAPI.Command] {
        [
            "im_open_login_svc/account_import": .init(adminOnly: true, run: importOne),
            "im_open_login_svc/multiaccount_import": .init(adminOnly: true, run: importMany),
            "im_open_login_svc/account_delete": .init(adminOnly: true, run: delete),
            "im_open_login_svc/account_check": .init(adminOnly: true, run: check),
            "profile/portrait_set": .init(adminOnly: false, run: portraitSet),
            "profile/portrait_get": .init(adminOnly: false, run: portraitGet),
        ]
    }

    struct Account: Decodable {
        var UserID: String?
        var Identifier: String?
        var Nick: String?
        var FaceUrl: String?

        /// The id, from `UserID` or the legacy `Identifier`.
        func id() throws(TencentError) -> String {
            guard let id = UserID ?? Identifier, !id.isEmpty else { throw TencentError(code: RestCode.badJSON, message: "UserID is required") }
            guard id.utf8.count <= AccountCommands.maxUserID else {
                throw TencentError(code: RestCode.badJSON, message: "UserID must be at most \(AccountCommands.maxUserID) bytes")
            }
            return id
        }

        var profile: [String: String] {
            var items: [String: String] = [:]
            if let Nick { items[AccountCommands.nickTag] = RestReply.fragment(Nick) }
            if let FaceUrl { items[AccountCommands.imageTag] = RestReply.fragment(FaceUrl) }
            return items
        }
    }

    @Sendable func importOne(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let account = try RestAPI.decode(Account.self, body)
        try await store.importAccounts(sdkAppID: caller.app.sdkAppID, [(try account.id(), account.profile)])
        return .ok()
    }

    struct Many: Decodable {
        var Accounts: [String]?
        var AccountList: [Account]?
    }

    @Sendable func importMany(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let many = try RestAPI.decode(Many.self, body)
        let accounts = (many.Accounts ?? []).map { Account(UserID: $0) } + (many.AccountList ?? [])
        guard !accounts.isEmpty else { throw TencentError(code: RestCode.badJSON, message: "Accounts or AccountList is required") }
        guard accounts.count <= 100 else { throw TencentError(code: 90018, message: "at most 100 accounts per call") }
        var valid: [(userID: String, profile: [String: String])] = []
        var failed: [String] = []
        for account in accounts {
            if let id = try? account.id() { valid.append((id, account.profile)) } else { failed.append(account.UserID ?? account.Identifier ?? "") }
        }
        try await store.importAccounts(sdkAppID: caller.app.sdkAppID, valid)
        return .ok([("FailAccounts", failed)])
    }

    struct Items: Decodable {
        struct Item: Decodable { var UserID: String }
        var DeleteItem: [Item]?
        var CheckItem: [Item]?
    }

    @Sendable func delete(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let users = (try RestAPI.decode(Items.self, body).DeleteItem ?? []).map(\.UserID)
        guard !users.isEmpty else { throw TencentError(code: RestCode.badJSON, message: "DeleteItem is required") }
        let deleted = try await store.deleteAccounts(sdkAppID: caller.app.sdkAppID, userIDs: users)
        let results: [[String: any Sendable]] = users.map { user in
            deleted.contains(user)
                ? ["UserID": user, "ResultCode": 0, "ResultInfo": ""]
                : ["UserID": user, "ResultCode": RestCode.notImported, "ResultInfo": "account not imported"]
        }
        return .ok([("ResultItem", results)])
    }

    @Sendable func check(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let users = (try RestAPI.decode(Items.self, body).CheckItem ?? []).map(\.UserID)
        guard !users.isEmpty else { throw TencentError(code: RestCode.badJSON, message: "CheckItem is required") }
        let imported = try await store.importedAccounts(sdkAppID: caller.app.sdkAppID, userIDs: users)
        let results: [[String: any Sendable]] = users.map { user in
            ["UserID": user, "AccountStatus": imported.contains(ExactString(user)) ? "Imported" : "NotImported", "ResultCode": 0, "ResultInfo": ""]
        }
        return .ok([("ResultItem", results)])
    }

    @Sendable func portraitSet(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try RestAPI.decode(PortraitSetRequest.self, body)
        let user = try caller.subject(request.from)
        var items: [String: String] = [:]
        for (index, item) in request.items.enumerated() {
            guard item.fragment.utf8.count <= Self.maxValueBytes else {
                throw TencentError(code: 40601, message: "ProfileItem[\(index)].Value is over \(Self.maxValueBytes) bytes")
            }
            items[item.tag] = item.fragment
        }
        guard try await store.importedAccounts(sdkAppID: caller.app.sdkAppID, userIDs: [user]).contains(ExactString(user)) else {
            return .fail(RestCode.notImported, "\(user) is not imported")
        }
        try await store.importAccounts(sdkAppID: caller.app.sdkAppID, [(user, items)])
        return .ok([("ErrorDisplay", "")])
    }

    /// `portrait_set`: `From_Account` and a non-empty `ProfileItem` list of `Tag_Profile_*` tags
    /// with a string or number `Value` (which one depends on the tag; custom tags are free).
    struct PortraitSetRequest: Decodable {
        var from: String
        /// Each tag with its value as the JSON it is stored as.
        var items: [(tag: String, fragment: String)]

        init(from decoder: any Decoder) throws {
            let m = try RequestMembers(decoder)
            guard let from = try? m.container.decode(String.self, forKey: .init("From_Account")), !from.isEmpty else {
                throw TencentError(code: RestCode.badJSON, message: "From_Account must be a string")
            }
            self.from = from
            guard var list = try? m.container.nestedUnkeyedContainer(forKey: .init("ProfileItem")), list.count ?? 0 > 0 else {
                throw TencentError(code: RestCode.badJSON, message: "ProfileItem must be a non-empty array")
            }
            items = []
            while !list.isAtEnd {
                let index = list.currentIndex
                guard let item = try? list.decode(Item.self), item.tag.hasPrefix("Tag_Profile_") else {
                    throw TencentError(code: RestCode.badJSON, message: "ProfileItem[\(index)] needs a Tag_Profile_* Tag and a string or number Value")
                }
                items.append((item.tag, item.fragment))
            }
        }

        struct Item: Decodable {
            var tag: String
            var fragment: String

            enum CodingKeys: String, CodingKey { case tag = "Tag", value = "Value" }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                tag = try c.decode(String.self, forKey: .tag)
                if let number = try? c.decode(Int64.self, forKey: .value) {
                    fragment = String(number)
                } else if let number = try? c.decode(Double.self, forKey: .value), number.isFinite {
                    fragment = number.description
                } else {
                    fragment = JSONText.quoted(try c.decode(String.self, forKey: .value))
                }
            }
        }
    }

    /// A stored JSON fragment back as a string or a number.
    static func value(_ fragment: String) -> any Sendable {
        switch try? JSONSerialization.jsonObject(with: Data(fragment.utf8), options: .fragmentsAllowed) {
        case let text as String: return text
        case let number as NSNumber:
            return number.doubleValue == number.doubleValue.rounded() && abs(number.doubleValue) < 9e15 ? number.int64Value : number.doubleValue
        default: return fragment
        }
    }

    /// A user's `Tag_Profile_IM_Nick` from `profiles`, the push prefix of their messages.
    static func nick(of user: String, in profiles: Profiles) -> String? {
        profiles[ExactString(user)]?[nickTag].map(value) as? String
    }

    struct Get: Decodable {
        var To_Account: [String]
        var TagList: [String]?
    }

    @Sendable func portraitGet(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let get = try RestAPI.decode(Get.self, body)
        guard !get.To_Account.isEmpty, get.To_Account.count <= 100 else {
            throw TencentError(code: RestCode.badJSON, message: "To_Account must hold 1 to 100 accounts")
        }
        // A user reads their own profile; the admin reads anyone's.
        if !caller.isAdmin, let other = get.To_Account.first(where: { !$0.sameBytes(as: caller.identifier) }) {
            throw TencentError(code: RestCode.adminRequired, message: "\(caller.identifier) may not read the profile of \(other): the App admin is required")
        }
        let profiles = try await store.profiles(sdkAppID: caller.app.sdkAppID, userIDs: get.To_Account)
        let users: [[String: any Sendable]] = get.To_Account.map { user in
            guard let profile = profiles[ExactString(user)] else {
                return ["To_Account": user, "ResultCode": RestCode.notImported, "ResultInfo": "account not imported", "ProfileItem": [[String: any Sendable]]()]
            }
            let tags = get.TagList ?? profile.keys.sorted()
            let items: [[String: any Sendable]] = tags.compactMap { tag in
                profile[tag].map { ["Tag": tag, "Value": Self.value($0)] }
            }
            return ["To_Account": user, "ResultCode": 0, "ResultInfo": "", "ProfileItem": items]
        }
        return .ok([("UserProfileItem", users), ("ErrorDisplay", "")])
    }
}

import Foundation
import Messaging
import PushCore
import Storage

/// The members of a request object by name, each refused with the code its command documents
/// (Tencent gives `MsgRandom` 90005, a group parameter 10004, ...). Members with rules of their
/// own (`MsgBody`, `OfflinePushInfo`) decode as their types, whose errors name the nested field.
struct RequestMembers {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    let container: KeyedDecodingContainer<Key>

    init(_ decoder: any Decoder) throws(TencentError) {
        guard let container = try? decoder.container(keyedBy: Key.self) else {
            throw TencentError(code: RestCode.badJSON, message: "body is not a JSON object")
        }
        self.container = container
    }

    /// Where `decoder` is in the request, as Tencent's docs name fields: `UserTags[0].Tags`.
    static func path(_ decoder: any Decoder) -> String {
        decoder.codingPath.reduce("") { path, key in
            key.intValue.map { path + "[\($0)]" } ?? (path.isEmpty ? key.stringValue : path + "." + key.stringValue)
        }
    }

    /// Present and not null.
    func has(_ name: String) -> Bool {
        container.contains(Key(name)) && (try? container.decodeNil(forKey: Key(name))) == false
    }

    /// The member as `T`: nil when absent or null, `refusal` when of another type.
    func value<T: Decodable>(_ type: T.Type, _ name: String, or refusal: @autoclosure () -> TencentError) throws(TencentError) -> T? {
        guard has(name) else { return nil }
        guard let value = try? container.decode(T.self, forKey: Key(name)) else { throw refusal() }
        return value
    }

    /// The member decoded by its own rules: nil when absent or null.
    func typed<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
        try container.decodeIfPresent(T.self, forKey: Key(name))
    }

    /// Any JSON number that is an integer; nil for anything else (Tencent replaces a bad `MsgSeq`).
    func integer(_ name: String) -> Int64? {
        guard let number = try? container.decode(Double.self, forKey: Key(name)) else { return nil }
        return Int64(exactly: number)
    }

    /// An integer from 0 to 4294967295, nil for anything else.
    func uint32(_ name: String) -> Int64? {
        integer(name).flatMap { (0...Int64(UInt32.max)).contains($0) ? $0 : nil }
    }

    /// The required `MsgRandom` / `Random` (90005).
    func random(_ name: String) throws(TencentError) -> Int64 {
        guard let random = uint32(name) else {
            throw TencentError(code: 90005, message: "\(name) is required: an integer from 0 to 4294967295")
        }
        return random
    }

    /// `From_Account` (at most 32 bytes); nil when absent or empty (the admin sends).
    func sender() throws(TencentError) -> String? {
        let refusal = TencentError(code: RestCode.badJSON, message: "From_Account must be a string of at most \(AccountCommands.maxUserID) bytes")
        guard let from = try value(String.self, "From_Account", or: refusal) else { return nil }
        guard from.utf8.count <= AccountCommands.maxUserID else { throw refusal }
        return from.isEmpty ? nil : from
    }

    /// `To_Account` of a batch: 1 to 500 non-empty strings (90003 for a non-string, 90011 beyond 500).
    func recipients() throws(TencentError) -> [String] {
        guard has("To_Account"), var list = try? container.nestedUnkeyedContainer(forKey: Key("To_Account")) else {
            throw TencentError(code: 90003, message: "To_Account must be an array of strings")
        }
        guard (1...500).contains(list.count ?? 0) else { throw TencentError(code: 90011, message: "To_Account must hold 1 to 500 accounts") }
        var users: [String] = []
        while !list.isAtEnd {
            guard let user = try? list.decode(String.self), !user.isEmpty else {
                throw TencentError(code: 90003, message: "To_Account[\(users.count)] must be a string")
            }
            users.append(user)
        }
        return users
    }
}

/// A message's `MsgBody`: a non-empty array of known elements, at most 12 KB, written once with
/// sorted keys for its CRC32 (equal content, equal bytes: the de-duplication key).
struct MessageContent {
    var body: MsgBody
    var crc: UInt32

    /// Tencent's limit on a message: 12 KB of `MsgBody`.
    static let maxBytes = 12 * 1024

    init(_ members: RequestMembers) throws {
        guard members.has("MsgBody"), let list = try? members.container.nestedUnkeyedContainer(forKey: .init("MsgBody")), list.count ?? 0 > 0 else {
            throw TencentError(code: 90007, message: "MsgBody must be a non-empty array")
        }
        body = try members.container.decode(MsgBody.self, forKey: .init("MsgBody"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = try encoder.encode(body)
        guard json.count <= Self.maxBytes else {
            throw TencentError(code: RestCode.msgBodyTooLarge, message: "MsgBody is over 12 KB")
        }
        crc = CRC32.checksum(json)
    }
}

/// The members every C2C send shares (`openim/sendmsg`, `openim/batchsendmsg`).
struct C2CMessageFields {
    var from: String?
    var random: Int64
    var seq: Int64?
    var content: MessageContent
    var lifetime: Int64?
    var msgTime: Int64?
    var offlinePushInfo: OfflinePushInfo?
    var sendMsgControl: [String]
    var cloudCustomData: String?
    /// `OnlineOnlyFlag: 1` (batchsendmsg): online delivery only, so no offline push, no unread and
    /// no history.
    var onlineOnly: Bool

    init(_ m: RequestMembers) throws {
        from = try m.sender()
        random = try m.random("MsgRandom")
        seq = m.uint32("MsgSeq")
        content = try MessageContent(m)
        lifetime = m.integer("MsgLifeTime")
        msgTime = m.integer("MsgTimeStamp")
        offlinePushInfo = try m.typed(OfflinePushInfo.self, "OfflinePushInfo")
        sendMsgControl = try m.typed([String].self, "SendMsgControl") ?? []
        cloudCustomData = try m.value(String.self, "CloudCustomData", or: TencentError(code: RestCode.badJSON, message: "CloudCustomData must be a string"))
        onlineOnly = m.integer("OnlineOnlyFlag") == 1
    }
}

/// `openim/sendmsg`.
struct SendMsgRequest: Decodable {
    var to: String
    var message: C2CMessageFields

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        guard let to = try? m.container.decode(String.self, forKey: .init("To_Account")), !to.isEmpty else {
            throw TencentError(code: 90003, message: "To_Account must be a non-empty string")
        }
        self.to = to
        message = try C2CMessageFields(m)
    }
}

/// `openim/importmsg`: a sendmsg body with `SyncFromOldSystem` (1 real-time, 2 history) and the
/// required `MsgTimeStamp` of the original message.
struct ImportMsgRequest: Decodable {
    var send: SendMsgRequest

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        guard let sync = m.integer("SyncFromOldSystem"), sync == 1 || sync == 2 else {
            throw TencentError(code: RestCode.badJSON, message: "SyncFromOldSystem must be 1 or 2")
        }
        guard m.uint32("MsgTimeStamp") != nil else {
            throw TencentError(code: RestCode.badJSON, message: "MsgTimeStamp is required: seconds from 0 to 4294967295")
        }
        send = try SendMsgRequest(from: decoder)
    }
}

/// `openim/batchsendmsg`.
struct BatchSendMsgRequest: Decodable {
    var to: [String]
    var message: C2CMessageFields

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        to = try m.recipients()
        message = try C2CMessageFields(m)
    }
}

/// `timpush/batch`: a push without a message for up to 500 users.
struct PushBatchRequest: Decodable {
    var from: String
    var to: [String]
    var random: Int64
    var msgBody: MsgBody
    var offlinePushInfo: OfflinePushInfo

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        guard let from = try m.sender() else { throw TencentError(code: RestCode.badJSON, message: "From_Account must be a non-empty string") }
        self.from = from
        to = try m.recipients()
        random = try m.random("MsgRandom")
        guard m.has("OfflinePushInfo"), let info = try m.typed(OfflinePushInfo.self, "OfflinePushInfo") else {
            throw TencentError(code: RestCode.badJSON, message: "OfflinePushInfo must be an object")
        }
        offlinePushInfo = info
        msgBody = try m.typed(MsgBody.self, "MsgBody") ?? .empty
        let dataID = try m.value(String.self, "DataId", or: TencentError(code: RestCode.badJSON, message: "DataId must be a string of at most 64 bytes"))
        try RestAPI.require(dataID?.utf8.count ?? 0 <= 64, "DataId must be a string of at most 64 bytes")
    }
}

/// `group_open_http_svc/send_group_msg`; its parameters are refused with 10004.
struct GroupSendRequest: Decodable {
    var groupID: String
    var random: Int64
    var content: MessageContent
    var onlineOnly: Bool
    var sendMsgControl: [String]
    /// `To_Account`: a message directed to these members only.
    var directed: Set<ExactString>?
    var atAll: Bool
    var atAccounts: Set<ExactString>
    var from: String?
    var offlinePushInfo: OfflinePushInfo?

    static func refusal(_ message: String) -> TencentError { TencentError(code: RestCode.groupBadParameter, message: message) }

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        guard let groupID = try? m.container.decode(String.self, forKey: .init("GroupId")), !groupID.isEmpty else {
            throw Self.refusal("GroupId must be a non-empty string")
        }
        self.groupID = groupID
        random = try m.random("Random")
        content = try MessageContent(m)
        onlineOnly = try Self.flag(m.integer("OnlineOnlyFlag"), present: m.has("OnlineOnlyFlag"), "OnlineOnlyFlag")
        sendMsgControl = try m.value([String].self, "SendMsgControl", or: Self.refusal("SendMsgControl must be an array of strings")) ?? []
        try GroupCommands.require(!(onlineOnly && sendMsgControl.contains("NoUnread")), "SendMsgControl NoUnread is not allowed with OnlineOnlyFlag 1")
        directed = try m.value([String].self, "To_Account", or: Self.refusal("To_Account must be an array of strings"))?.exactSet
        if let directed {
            try GroupCommands.require((1...GroupCommands.maxDirected).contains(directed.count), "To_Account must hold 1 to \(GroupCommands.maxDirected) accounts")
        }
        let at = try m.value([AtInfo].self, "GroupAtInfo", or: Self.refusal("GroupAtInfo must be an array of objects")) ?? []
        atAll = false
        atAccounts = []
        for (index, item) in at.enumerated() {
            if try Self.flag(item.allFlag, present: item.allFlagPresent, "GroupAtInfo[\(index)].GroupAtAllFlag") {
                atAll = true
            } else if let account = item.account, !account.isEmpty {
                atAccounts.insert(ExactString(account))
            } else {
                throw Self.refusal("GroupAtInfo[\(index)] needs GroupAtAllFlag 1 or a GroupAt_Account")
            }
        }
        from = try m.sender()
        offlinePushInfo = try m.typed(OfflinePushInfo.self, "OfflinePushInfo")
    }

    /// An optional 0/1 flag.
    static func flag(_ value: Int64?, present: Bool, _ field: String) throws(TencentError) -> Bool {
        guard present else { return false }
        guard let value, value == 0 || value == 1 else { throw refusal("\(field) must be 0 or 1") }
        return value == 1
    }

    /// One `GroupAtInfo` item: `{"GroupAtAllFlag": 1}` or `{"GroupAtAllFlag": 0, "GroupAt_Account": "bob"}`.
    struct AtInfo: Decodable {
        var allFlag: Int64?
        var allFlagPresent: Bool
        var account: String?

        init(from decoder: any Decoder) throws {
            let m = try RequestMembers(decoder)
            allFlag = m.integer("GroupAtAllFlag")
            allFlagPresent = m.has("GroupAtAllFlag")
            account = try? m.container.decodeIfPresent(String.self, forKey: .init("GroupAt_Account"))
        }
    }
}

/// `all_member_push/im_push` and `timpush/push`.
struct CampaignRequest: Decodable {
    var random: Int64
    var from: String?
    /// 0 to 7 days; 0 when absent.
    var lifetime: Int
    var content: MessageContent
    var offlinePushInfo: OfflinePushInfo?
    var audience: Audience
    var onlineOnly: Bool

    init(from decoder: any Decoder) throws {
        let m = try RequestMembers(decoder)
        random = try m.random("MsgRandom")
        from = try m.sender()
        lifetime = 0
        if m.has("MsgLifeTime") {
            guard let seconds = m.integer("MsgLifeTime"), (0...Int64(CampaignCommands.maxLifetime)).contains(seconds) else {
                throw TencentError(code: RestCode.badLifetime, message: "MsgLifeTime must be 0 to \(CampaignCommands.maxLifetime) seconds")
            }
            lifetime = Int(seconds)
        }
        content = try MessageContent(m)
        offlinePushInfo = try m.typed(OfflinePushInfo.self, "OfflinePushInfo")
        audience = try Self.audience(m)
        onlineOnly = m.integer("OnlineOnlyFlag") == 1
    }

    /// `Condition`: an object (or a list of one, as one OpenAPI model has it) with `TagsAnd`,
    /// `TagsOr`, `AttrsAnd`, `AttrsOr`; tags and attributes exclude each other; none means everyone.
    static func audience(_ m: RequestMembers) throws -> Audience {
        guard m.has("Condition") else { return .everyone }
        let key = RequestMembers.Key("Condition")
        let condition: Condition
        if (try? m.container.nestedContainer(keyedBy: RequestMembers.Key.self, forKey: key)) != nil {
            condition = try m.container.decode(Condition.self, forKey: key)
        } else if let list = try? m.container.nestedUnkeyedContainer(forKey: key), list.count ?? 0 <= 1 {
            condition = try m.container.decode([Condition].self, forKey: key).first ?? Condition()
        } else {
            throw TencentError(code: RestCode.badJSON, message: "Condition must be an object")
        }
        try RestAPI.require(
            (condition.tagsAnd.isEmpty && condition.tagsOr.isEmpty) || (condition.attrsAnd.isEmpty && condition.attrsOr.isEmpty),
            "a Condition selects by tags or by attributes, not both", code: RestCode.tagsWithAttrs
        )
        return Audience(all: condition.tagsAnd.map(AudienceTerm.tag) + condition.attrsAnd, any: condition.tagsOr.map(AudienceTerm.tag) + condition.attrsOr)
    }

    /// One campaign condition.
    struct Condition: Decodable {
        var tagsAnd: [String] = [], tagsOr: [String] = []
        var attrsAnd: [AudienceTerm] = [], attrsOr: [AudienceTerm] = []

        init() {}

        init(from decoder: any Decoder) throws {
            let m = try RequestMembers(decoder)
            tagsAnd = try Self.tags(m, "TagsAnd")
            tagsOr = try Self.tags(m, "TagsOr")
            attrsAnd = try Self.attrs(m, "AttrsAnd")
            attrsOr = try Self.attrs(m, "AttrsOr")
        }

        static func tags(_ m: RequestMembers, _ field: String) throws(TencentError) -> [String] {
            guard m.has(field) else { return [] }
            guard var list = try? m.container.nestedUnkeyedContainer(forKey: .init(field)) else {
                throw TencentError(code: RestCode.badJSON, message: "\(field) must be an array of tags")
            }
            let max = CampaignCommands.maxConditionTags
            try RestAPI.require(list.count ?? 0 <= max, "\(field) holds more than \(max) tags", code: RestCode.tooManyTags)
            var tags: [String] = []
            while !list.isAtEnd {
                guard let tag = try? list.decode(String.self) else { throw TencentError(code: RestCode.badJSON, message: "a tag must be a string") }
                tags.append(try AudienceCommands.tag(tag))
            }
            try RestAPI.require(Set(tags).count == tags.count, "\(field) holds a tag twice", code: RestCode.duplicateTag)
            return tags
        }

        static func attrs(_ m: RequestMembers, _ field: String) throws(TencentError) -> [AudienceTerm] {
            guard m.has(field) else { return [] }
            guard let object = try? m.container.nestedContainer(keyedBy: RequestMembers.Key.self, forKey: .init(field)) else {
                throw TencentError(code: RestCode.badJSON, message: "\(field) must be an object of attribute name → value")
            }
            return try object.allKeys.map(\.stringValue).sorted().map { name throws(TencentError) -> AudienceTerm in
                guard let text = try? object.decode(String.self, forKey: .init(name)), text.utf8.count <= AudienceCommands.maxBytes else {
                    throw TencentError(
                        code: RestCode.badAttribute, message: "\(field).\(name) must be a string of at most \(AudienceCommands.maxBytes) bytes"
                    )
                }
                return .attr(name: name, value: text)
            }
        }
    }
}

import Foundation
import Messaging
import PushCore
import PushJob
import Storage
import Tracing

/// Groups (tencent-rest-api.md sections 4.3 and 4.8): `create_group`, `add_group_member` (and
/// `import_group_member`), `delete_group_member`, `modify_group_member_info` (`MsgFlag`),
/// `modify_group_base_info` (`Name`), `change_group_owner`, `destroy_group`,
/// `get_group_member_info`, `get_group_info`, `get_joined_group_list`, `get_appid_group_list`,
/// `forbid_send_msg`, and `send_group_msg` and `send_group_system_notification`, which push each
/// member as their `MsgFlag`, the group type, `GroupAtInfo` and receive options say.
struct GroupCommands: Sendable {
    let store: any PushStore
    /// A send's reads and its write, shared with concurrent requests.
    let sends: SendCoalescer
    let clock: any EpochClock
    let writes: WriteTimer
    /// Chat jobs carry the request's trace context when tracing is on (``JobTrace``).
    var tracer: (any Tracer)? = nil

    /// Group messages with the same content and `Random` within 5 minutes are one message.
    static let dedupeWindowMillis: Int64 = 300_000
    static let maxNameBytes = 30
    static let maxGroupIDBytes = 48
    static let maxNameCardBytes = 50
    static let maxCreateMembers = 100
    static let maxAddMembers = 500
    static let maxDirected = 50
    /// `get_group_info` takes at most 50 groups; `get_appid_group_list` pages at most 10,000.
    static let maxInfoGroups = 50
    static let maxListLimit = 10_000
    /// A system notification's `Content` is at most 12 KB, like a message body.
    static let maxNotificationBytes = 12 * 1024

    var commands: [String: RestAPI.Command] {
        [
            "group_open_http_svc/create_group": .init(adminOnly: true, run: create),
            "group_open_http_svc/add_group_member": .init(adminOnly: true, run: addMembers),
            "group_open_http_svc/delete_group_member": .init(adminOnly: true, run: deleteMembers),
            "group_open_http_svc/modify_group_member_info": .init(adminOnly: true, run: modifyMember),
            "group_open_http_svc/modify_group_base_info": .init(adminOnly: true, run: modifyBase),
            "group_open_http_svc/destroy_group": .init(adminOnly: true, run: destroy),
            "group_open_http_svc/get_group_member_info": .init(adminOnly: true, run: memberInfo),
            "group_open_http_svc/import_group_member": .init(adminOnly: true, run: addMembers),
            "group_open_http_svc/change_group_owner": .init(adminOnly: true, run: changeOwner),
            "group_open_http_svc/get_group_info": .init(adminOnly: true, run: groupInfo),
            "group_open_http_svc/get_joined_group_list": .init(adminOnly: true, run: joinedGroups),
            "group_open_http_svc/get_appid_group_list": .init(adminOnly: true, run: appGroups),
            "group_open_http_svc/forbid_send_msg": .init(adminOnly: true, run: forbidSend),
            "group_open_http_svc/group_msg_recall": .init(adminOnly: true, run: recall),
            "group_open_http_svc/send_group_system_notification": .init(adminOnly: true, run: systemNotification),
            "group_open_http_svc/send_group_msg": .init(adminOnly: true, run: send),
        ]
    }

    static func require(_ condition: Bool, _ message: String) throws(TencentError) {
        try RestAPI.require(condition, message, code: RestCode.groupBadParameter)
    }

    struct MemberItem: Decodable {
        var Member_Account: String
        var Role: String?
        var MsgFlag: String?
        var NameCard: String?

        func member() throws(TencentError) -> GroupMember {
            try GroupCommands.require(!Member_Account.isEmpty, "Member_Account must not be empty")
            let role = Role ?? "Member"
            try GroupCommands.require(["Admin", "Member"].contains(role), "Role must be Admin or Member")
            return GroupMember(userID: Member_Account, role: role, msgFlag: try GroupCommands.flag(MsgFlag), nameCard: try GroupCommands.card(NameCard))
        }
    }

    static func flag(_ text: String?) throws(TencentError) -> MsgFlag {
        guard let text else { return .acceptAndNotify }
        guard let flag = MsgFlag(rawValue: text) else {
            throw TencentError(code: RestCode.groupBadParameter, message: "MsgFlag must be one of \(MsgFlag.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return flag
    }

    static func card(_ text: String?) throws(TencentError) -> String {
        try require((text ?? "").utf8.count <= maxNameCardBytes, "NameCard must be at most \(maxNameCardBytes) bytes")
        return text ?? ""
    }

    /// Fails with 10019 naming the first account that is not imported.
    func requireImported(_ users: [String], app: UInt64) async throws {
        let imported = try await store.importedAccounts(sdkAppID: app, userIDs: users)
        if let missing = users.first(where: { !imported.contains(ExactString($0)) }) {
            throw TencentError(code: RestCode.groupNoAccount, message: "account \(missing) is not imported")
        }
    }

    func group(_ app: UInt64, _ id: String?) async throws -> (group: Group, members: [GroupMember]) {
        guard let id, !id.isEmpty else { throw TencentError(code: RestCode.groupBadParameter, message: "GroupId is required") }
        guard let found = try await store.group(sdkAppID: app, groupID: id) else {
            throw TencentError(code: RestCode.groupNotFound, message: "group \(id) does not exist")
        }
        return found
    }

    struct Create: Decodable {
        var Owner_Account: String?
        var `Type`: String
        var GroupId: String?
        var Name: String
        var MemberList: [MemberItem]?
    }

    @Sendable func create(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Create.self, body)
        guard let type = GroupType(rawValue: r.Type) else {
            throw TencentError(code: RestCode.groupBadParameter, message: "Type must be one of \(GroupType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try Self.require(!r.Name.isEmpty && r.Name.utf8.count <= Self.maxNameBytes, "Name must be 1 to \(Self.maxNameBytes) bytes")
        let items = r.MemberList ?? []
        try Self.require(items.count <= Self.maxCreateMembers, "MemberList holds at most \(Self.maxCreateMembers) members")
        if let id = r.GroupId { try Self.require(!id.isEmpty && id.utf8.count <= Self.maxGroupIDBytes, "GroupId must be 1 to \(Self.maxGroupIDBytes) bytes") }
        let id = r.GroupId ?? "@TGS#\(String(UInt64.random(in: 1...UInt64.max), radix: 36).uppercased())"
        var members = try items.map { item throws(TencentError) in try item.member() }
        let owner = r.Owner_Account.flatMap { $0.isEmpty ? nil : $0 }
        if let owner {
            members.removeAll { $0.userID.sameBytes(as: owner) }
            members.insert(GroupMember(userID: owner, role: "Owner"), at: 0)
        }
        let app = caller.app.sdkAppID
        try await requireImported(members.map(\.userID), app: app)
        let group = Group(sdkAppID: app, groupID: id, type: type, name: r.Name, owner: owner ?? "")
        guard try await store.createGroup(group, members: members) else {
            return .fail(RestCode.groupIDTaken, "GroupId \(id) is already used")
        }
        return .ok([("GroupId", id)])
    }

    struct Add: Decodable {
        var GroupId: String?
        var MemberList: [MemberItem]
    }

    /// Per member `Result`: 1 added, 2 already a member, 0 failed (not imported).
    @Sendable func addMembers(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Add.self, body)
        let app = caller.app.sdkAppID
        let (group, _) = try await group(app, r.GroupId)
        guard group.type != .avChatRoom else { return .fail(RestCode.groupNotPermitted, "AVChatRoom groups have no member list") }
        try Self.require((1...Self.maxAddMembers).contains(r.MemberList.count), "MemberList must hold 1 to \(Self.maxAddMembers) members")
        let members = try r.MemberList.map { item throws(TencentError) in try item.member() }
        let imported = try await store.importedAccounts(sdkAppID: app, userIDs: members.map(\.userID))
        let added = try await store.addGroupMembers(sdkAppID: app, groupID: group.groupID, members.filter { imported.contains(ExactString($0.userID)) })
        let results: [[String: any Sendable]] = members.map { m in
            let result = added.contains(m.userID) ? 1 : imported.contains(ExactString(m.userID)) ? 2 : 0
            return ["Member_Account": m.userID, "Result": result]
        }
        return .ok([("MemberList", results)])
    }

    struct Delete: Decodable {
        var GroupId: String?
        var MemberToDel_Account: [String]
    }

    @Sendable func deleteMembers(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Delete.self, body)
        let (group, _) = try await group(caller.app.sdkAppID, r.GroupId)
        try Self.require((1...Self.maxAddMembers).contains(r.MemberToDel_Account.count), "MemberToDel_Account must hold 1 to \(Self.maxAddMembers) accounts")
        _ = try await store.deleteGroupMembers(sdkAppID: caller.app.sdkAppID, groupID: group.groupID, userIDs: r.MemberToDel_Account)
        return .ok()
    }

    struct ModifyMember: Decodable {
        var GroupId: String?
        var Member_Account: String
        var Role: String?
        var MsgFlag: String?
        var NameCard: String?
    }

    @Sendable func modifyMember(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(ModifyMember.self, body)
        let (group, members) = try await group(caller.app.sdkAppID, r.GroupId)
        guard group.type != .avChatRoom else { return .fail(RestCode.groupNotPermitted, "AVChatRoom members cannot be modified") }
        guard var member = members.first(where: { $0.userID.sameBytes(as: r.Member_Account) }) else {
            return .fail(RestCode.groupNoAccount, "\(r.Member_Account) is not a member of \(group.groupID)")
        }
        if let role = r.Role {
            try Self.require(["Admin", "Member"].contains(role) && member.role != "Owner", "Role must be Admin or Member, and the owner's cannot change")
            member.role = role
        }
        if let flag = r.MsgFlag { member.msgFlag = try Self.flag(flag) }
        if let card = r.NameCard { member.nameCard = try Self.card(card) }
        guard try await store.updateGroupMember(sdkAppID: caller.app.sdkAppID, groupID: group.groupID, member) else {
            return .fail(RestCode.groupNoAccount, "\(r.Member_Account) is not a member of \(group.groupID)")
        }
        return .ok()
    }

    struct ModifyBase: Decodable {
        var GroupId: String?
        var Name: String?
    }

    @Sendable func modifyBase(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(ModifyBase.self, body)
        let (group, _) = try await group(caller.app.sdkAppID, r.GroupId)
        if let name = r.Name {
            try Self.require(!name.isEmpty && name.utf8.count <= Self.maxNameBytes, "Name must be 1 to \(Self.maxNameBytes) bytes")
            _ = try await store.renameGroup(sdkAppID: caller.app.sdkAppID, groupID: group.groupID, name: name)
        }
        return .ok()
    }

    struct GroupRef: Decodable {
        var GroupId: String?
    }

    @Sendable func destroy(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(GroupRef.self, body)
        let (group, _) = try await group(caller.app.sdkAppID, r.GroupId)
        _ = try await store.destroyGroup(sdkAppID: caller.app.sdkAppID, groupID: group.groupID)
        return .ok()
    }

    @Sendable func memberInfo(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(GroupRef.self, body)
        let (_, members) = try await group(caller.app.sdkAppID, r.GroupId)
        return .ok([("MemberNum", members.count), ("MemberList", members.map(Self.memberItem))])
    }

    struct ChangeOwner: Decodable {
        var GroupId: String?
        var NewOwner_Account: String?
    }

    /// The new owner must be a member (10019); the former owner stays as a plain member.
    @Sendable func changeOwner(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(ChangeOwner.self, body)
        let app = caller.app.sdkAppID
        let (group, _) = try await group(app, r.GroupId)
        guard group.type != .avChatRoom else { return .fail(RestCode.groupNotPermitted, "AVChatRoom groups have no owner to change") }
        guard let owner = r.NewOwner_Account, !owner.isEmpty else { throw TencentError(code: RestCode.groupBadParameter, message: "NewOwner_Account is required") }
        guard try await store.changeGroupOwner(sdkAppID: app, groupID: group.groupID, to: owner) else {
            return .fail(RestCode.groupNoAccount, "\(owner) is not a member of \(group.groupID)")
        }
        return .ok()
    }

    struct InfoQuery: Decodable {
        var GroupIdList: [String]
    }

    /// Per group: its base info and members, or `ErrorCode` 10010 when it does not exist.
    @Sendable func groupInfo(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(InfoQuery.self, body)
        try Self.require((1...Self.maxInfoGroups).contains(r.GroupIdList.count), "GroupIdList must hold 1 to \(Self.maxInfoGroups) groups")
        var infos: [[String: any Sendable]] = []
        for id in r.GroupIdList {
            guard let (group, members) = try await store.group(sdkAppID: caller.app.sdkAppID, groupID: id) else {
                infos.append(["GroupId": id, "ErrorCode": RestCode.groupNotFound, "ErrorInfo": "group \(id) does not exist"])
                continue
            }
            infos.append([
                "GroupId": id, "ErrorCode": 0, "ErrorInfo": "", "Type": group.type.rawValue, "Name": group.name, "Owner_Account": group.owner,
                "MemberNum": members.count, "MemberList": members.map(Self.memberItem),
            ])
        }
        return .ok([("GroupInfo", infos)])
    }

    static func memberItem(_ m: GroupMember) -> [String: any Sendable] {
        ["Member_Account": m.userID, "Role": m.role, "MsgFlag": m.msgFlag.rawValue, "NameCard": m.nameCard]
    }

    struct JoinedQuery: Decodable {
        var Member_Account: String
        var Limit: Int?
        var Offset: Int?
    }

    /// `TotalCount` and the page of `GroupIdList` from `Offset` (`Limit` absent: all of them).
    @Sendable func joinedGroups(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(JoinedQuery.self, body)
        try Self.require(!r.Member_Account.isEmpty, "Member_Account is required")
        try RestAPI.require(r.Limit.map(Int64.init), in: 0...Int64(Self.maxListLimit), field: "Limit")
        try RestAPI.require(r.Offset.map(Int64.init), in: 0...Int64(Int32.max), field: "Offset")
        let ids = try await store.joinedGroups(sdkAppID: caller.app.sdkAppID, userID: r.Member_Account)
        let page = ids.dropFirst(r.Offset ?? 0).prefix(r.Limit ?? ids.count)
        return .ok([("TotalCount", ids.count), ("GroupIdList", page.map { ["GroupId": $0] as [String: any Sendable] })])
    }

    struct AppQuery: Decodable {
        var Limit: Int?
        var Next: Int?
    }

    /// The app's groups in id order, `Limit` (≤ 10,000) at a time; `Next` is where the next page
    /// starts, 0 after the last.
    @Sendable func appGroups(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(AppQuery.self, body)
        try RestAPI.require(r.Limit.map(Int64.init), in: 1...Int64(Self.maxListLimit), field: "Limit")
        try RestAPI.require(r.Next.map(Int64.init), in: 0...Int64(Int32.max), field: "Next")
        let (offset, limit) = (r.Next ?? 0, r.Limit ?? Self.maxListLimit)
        let (ids, total) = try await store.groupPage(sdkAppID: caller.app.sdkAppID, offset: offset, limit: limit)
        let next = offset + ids.count < total ? offset + ids.count : 0
        return .ok([("TotalCount", total), ("GroupIdList", ids.map { ["GroupId": $0] as [String: any Sendable] }), ("Next", next)])
    }

    struct Forbid: Decodable {
        var GroupId: String?
        var Members_Account: [String]
        var MuteTime: Int64
    }

    /// `Members_Account` (1 to 500) may not send for `MuteTime` seconds (0 lets them send again);
    /// a muted member's `send_group_msg` is refused with 10017.
    @Sendable func forbidSend(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Forbid.self, body)
        try RestAPI.require(r.MuteTime, in: RestAPI.secondsRange, field: "MuteTime")
        try Self.require((1...Self.maxAddMembers).contains(r.Members_Account.count), "Members_Account must hold 1 to \(Self.maxAddMembers) accounts")
        let app = caller.app.sdkAppID
        let (group, _) = try await group(app, r.GroupId)
        let until = r.MuteTime == 0 ? 0 : clock.nowMillis() + r.MuteTime * 1000
        _ = try await store.muteGroupMembers(sdkAppID: app, groupID: group.groupID, userIDs: r.Members_Account, untilMillis: until)
        return .ok()
    }

    struct Recall: Decodable {
        struct Seq: Decodable { var MsgSeq: Int64 }
        var GroupId: String?
        var MsgSeqList: [Seq]
    }

    /// Up to 10 messages by `MsgSeq`: each leaves roaming, the members' pushes not sent yet are
    /// never sent and those delivered are revoked where the vendor can. `RecallRetList` answers per message: 0, or 10030 when there is no such message
    /// (or it was recalled before).
    @Sendable func recall(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Recall.self, body)
        try Self.require((1...Self.maxRecall).contains(r.MsgSeqList.count), "MsgSeqList must hold 1 to \(Self.maxRecall) messages")
        let app = caller.app.sdkAppID
        let (group, _) = try await group(app, r.GroupId)
        let revocation = try PushJobSpec.revocation(sdkAppID: app)
        var results: [[String: any Sendable]] = []
        for seq in r.MsgSeqList.map(\.MsgSeq) {
            let result = try await store.withdraw(Withdrawal(sdkAppID: app, .group(groupID: group.groupID, msgSeq: seq), revocationJob: revocation))
            let code = if case .withdrawn = result { 0 } else { RestCode.groupMessageNotFound }
            results.append(["MsgSeq": seq, "RetCode": code])
        }
        return .ok([("RecallRetList", results)])
    }

    /// `group_msg_recall` takes at most 10 messages.
    static let maxRecall = 10

    struct SystemNotification: Decodable {
        var GroupId: String?
        var ToMembers_Account: [String]?
        var Content: String
    }

    /// `Content` to the group's members, or to `ToMembers_Account` (≤ 500) of them, pushed as each
    /// member's `MsgFlag` and receive options say. A notification is not a group message: it takes
    /// no `MsgSeq`, is not roamed and does not count as unread.
    @Sendable func systemNotification(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(SystemNotification.self, body)
        try Self.require(!r.Content.isEmpty && r.Content.utf8.count <= Self.maxNotificationBytes, "Content must be 1 byte to 12 KB")
        try Self.require((r.ToMembers_Account?.count ?? 0) <= Self.maxAddMembers, "ToMembers_Account holds at most \(Self.maxAddMembers) accounts")
        let app = caller.app.sdkAppID
        let (group, members) = try await group(app, r.GroupId)
        let settings = try await store.receiveSettings(
            sdkAppID: app, userIDs: members.map(\.userID), conversation: ReceiveSettings.conversation(group: group.groupID)
        )
        let now = clock.nowSeconds()
        let text = try MsgBody([.text(.init(text: r.Content))])
        let job = PushJobSpec(
            sdkAppID: app, msgBody: text, conversationType: "Group", groupId: group.groupID, groupName: group.name,
            expiresAtMillis: clock.nowMillis() + Int64(PushMessage.defaultLifetime) * 1000
        )
        let taskID = "sysnotify_\(group.groupID)_\(now)_\(UInt64.random(in: 1...UInt64.max))"
        let template = try JobTemplate(job: job, keyPrefix: taskID, countsForBadge: false)
        let directed: Set<ExactString>? = r.ToMembers_Account.map { $0.exactSet }
        let fates = members.map { member -> (to: String, fate: Recipients.Fate) in
            let fate = Recipients.group(
                group, member: member, sender: "", atAll: false, atAccounts: [], directedTo: directed,
                settings: settings[ExactString(member.userID)] ?? ReceiveSettings(), nowSeconds: now
            )
            return (member.userID, fate)
        }
        _ = try await store.enqueue(template.fanOuts(fates))
        return .ok()
    }

    // MARK: - send_group_msg

    /// A group message is stored once (the group's next `MsgSeq`) with one push job per member due one.
    @Sendable func send(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try RestAPI.decode(GroupSendRequest.self, body)
        let app = caller.app.sdkAppID
        let (groupID, random, content, onlineOnly, directed) = (request.groupID, request.random, request.content, request.onlineOnly, request.directed)
        let from = request.from ?? caller.app.admin

        let (group, members) = try await self.group(app, groupID)
        let facts = try await sends.facts(
            SendLookup(
                sdkAppID: app, accounts: [from], recipients: onlineOnly ? [] : members.map(\.userID),
                conversation: ReceiveSettings.conversation(group: group.groupID)
            )
        )
        let profiles = facts.profiles
        if let refusal = MessageCommands.senderRefusal(from, profiles: profiles, caller: caller) { return refusal }
        if let sender = members.first(where: { $0.userID.sameBytes(as: from) }), sender.isMuted(nowMillis: clock.nowMillis()) {
            return .fail(RestCode.groupSenderMuted, "\(from) is muted in \(group.groupID)")
        }
        let expiresAt = clock.nowMillis() + Int64(onlineOnly ? 0 : PushMessage.defaultLifetime) * 1000
        let msgTime = clock.nowSeconds()
        let msgKey = MessageCommands.msgKey(random: random, msgTime: msgTime, nowSeconds: msgTime)
        var jobs: [NewJob] = []
        if !onlineOnly {
            let job = PushJobSpec(
                sdkAppID: app, msgBody: content.body, offlinePushInfo: request.offlinePushInfo, sendMsgControl: request.sendMsgControl,
                conversationType: "Group", senderNick: AccountCommands.nick(of: from, in: profiles), groupId: group.groupID, groupName: group.name,
                expiresAtMillis: expiresAt
            )
            // A directed message is not counted as unread (tencent-rest-api.md section 4.3).
            let template = try JobTemplate(job: job, keyPrefix: msgKey, countsForBadge: directed == nil, trace: JobTrace.carrier(tracer))
            // A job per 500 members, which the dispatcher turns into theirs: a large group's
            // message is not a job and a badge per member in the sender's transaction.
            jobs = template.fanOuts(
                members.map { member in
                    let fate = Recipients.group(
                        group, member: member, sender: from, atAll: request.atAll, atAccounts: request.atAccounts, directedTo: directed,
                        settings: facts.settings[ExactString(member.userID)] ?? ReceiveSettings(), nowSeconds: msgTime
                    )
                    return (member.userID, fate)
                }
            )
        }
        let dedupe = caller.dedupe("group|\(group.groupID)|\(random)|\(content.crc)", window: Self.dedupeWindowMillis)
        let message = NewMessage(
            sdkAppID: app, msgKey: msgKey, fromAccount: from, toAccount: "", groupID: group.groupID, msgSeq: 0, msgRandom: random,
            msgTime: msgTime, body: body, dedupeKey: dedupe.key, dedupeWindowMillis: dedupe.windowMillis, expiresAtMillis: expiresAt
        )
        switch try await writes({ try await sends.storeMessage(message, jobs: jobs) }) {
        case .stored(let seq): return .ok([("MsgTime", msgTime), ("MsgSeq", seq), ("MsgKey", msgKey)])
        case .duplicate(let key, let time, let seq): return .ok([("MsgTime", time), ("MsgSeq", seq), ("MsgKey", key)])
        case .groupNotFound: return .fail(RestCode.groupNotFound, "group \(groupID) does not exist")
        }
    }
}

import Foundation
import PushCore
import Storage

/// C2C unread counts (tencent-rest-api.md; Tencent's 清理单聊会话的未读消息计数 and 查询单聊未读消息计数):
/// `openim/admin_set_msg_read` marks a conversation read, which lowers the badge of the user's
/// devices by the messages it clears; `openim/get_c2c_unread_msg_num` answers from the same
/// counters, which every counted C2C message raises with the badge (push-rules.md 5.2).
struct UnreadCommands: Sendable {
    let store: any DeviceStore & Directory
    let clock: any EpochClock

    /// `Peer_Account` of `get_c2c_unread_msg_num` holds at most 10 accounts.
    static let maxPeers = 10

    var commands: [String: RestAPI.Command] {
        [
            "openim/admin_set_msg_read": .init(adminOnly: true, run: setRead),
            "openim/get_c2c_unread_msg_num": .init(adminOnly: true, run: unreadCount),
        ]
    }

    struct ReadMark: Decodable {
        var Report_Account: String?
        var Peer_Account: String?
        /// Seconds; a string in one version of Tencent's documentation, an integer in another.
        var MsgReadTime: FlexibleInt?
    }

    /// `{"Report_Account", "Peer_Account", "MsgReadTime"?}`: the report account's messages from the
    /// peer up to `MsgReadTime` (now when absent) are read.
    @Sendable func setRead(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(ReadMark.self, body)
        try RestAPI.require(r.MsgReadTime.map { Int64($0.value) }, in: RestAPI.secondsRange, field: "MsgReadTime")
        let app = caller.app.sdkAppID
        guard let user = r.Report_Account, !user.isEmpty else { return .fail(RestCode.noToAccount, "Report_Account is required") }
        guard let peer = r.Peer_Account, !peer.isEmpty else { return .fail(RestCode.noFromAccount, "Peer_Account is required") }
        let imported = try await store.importedAccounts(sdkAppID: app, userIDs: [user, peer])
        guard imported.contains(ExactString(user)) else { return .fail(RestCode.noToAccount, "Report_Account \(user) is not imported") }
        guard imported.contains(ExactString(peer)) else { return .fail(RestCode.noFromAccount, "Peer_Account \(peer) is not imported") }
        let readAt = r.MsgReadTime.map { Int64($0.value) * 1000 } ?? clock.nowMillis()
        _ = try await store.markRead(sdkAppID: app, userID: user, peer: peer, readAtMillis: readAt)
        return .ok()
    }

    struct Query: Decodable {
        var To_Account: String?
        var Peer_Account: [String]?
    }

    /// `{"To_Account"}`: `AllC2CUnreadMsgNum`; with `Peer_Account` (≤ 10): `C2CUnreadMsgNumList`, and
    /// `ErrorList` (70107) for peers that are not imported.
    @Sendable func unreadCount(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Query.self, body)
        let app = caller.app.sdkAppID
        guard let user = r.To_Account, !user.isEmpty else { return .fail(RestCode.noToAccount, "To_Account is required") }
        if let peers = r.Peer_Account {
            try RestAPI.require(peers.count <= Self.maxPeers, "Peer_Account holds at most \(Self.maxPeers) accounts")
        }
        let imported = try await store.importedAccounts(sdkAppID: app, userIDs: [user] + (r.Peer_Account ?? []))
        guard imported.contains(ExactString(user)) else { return .fail(RestCode.noToAccount, "To_Account \(user) is not imported") }
        guard let peers = r.Peer_Account else {
            let counts = try await store.unreadCounts(sdkAppID: app, userID: user, peers: nil)
            return .ok([("AllC2CUnreadMsgNum", counts.values.reduce(0) { $0 &+ $1 })])
        }
        let known = peers.filter { imported.contains(ExactString($0)) }
        let counts = try await store.unreadCounts(sdkAppID: app, userID: user, peers: known)
        var fields: [(String, any Sendable)] = [
            ("C2CUnreadMsgNumList", known.map { ["Peer_Account": $0, "C2CUnreadMsgNum": counts[ExactString($0)] ?? 0] as [String: any Sendable] })
        ]
        let unknown = peers.filter { !imported.contains(ExactString($0)) }
        if !unknown.isEmpty {
            fields.append(("ErrorList", unknown.map { ["Peer_Account": $0, "ErrorCode": RestCode.notImported] as [String: any Sendable] }))
        }
        return .ok(fields)
    }
}

import Foundation
import Messaging
import PushCore
import Storage

/// `pushd/set_receive_opt` (interface.md section 3): "receive but do not notify" for one C2C peer
/// or group, or, without either, a user-wide do-not-disturb window. A user sets their own; the
/// admin names the user.
struct ReceiveOptionCommands: Sendable {
    let store: any Directory

    var commands: [String: RestAPI.Command] {
        ["pushd/set_receive_opt": .init(adminOnly: false, run: set)]
    }

    struct Request: Decodable {
        var UserID: String?
        var Peer_Account: String?
        var GroupId: String?
        var Opt: String?
        var StartTime: Int64?
        var Duration: Int64?
    }

    @Sendable func set(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Request.self, body)
        let user = try caller.subject(r.UserID)
        let app = caller.app.sdkAppID
        let peer = r.Peer_Account.flatMap { $0.isEmpty ? nil : $0 }
        let group = r.GroupId.flatMap { $0.isEmpty ? nil : $0 }
        if peer != nil || group != nil {
            try RestAPI.require(peer == nil || group == nil, "name Peer_Account or GroupId, not both")
            try RestAPI.require((peer?.utf8.count ?? 0) <= AccountCommands.maxUserID, "Peer_Account must be at most \(AccountCommands.maxUserID) bytes")
            try RestAPI.require((group?.utf8.count ?? 0) <= GroupCommands.maxGroupIDBytes, "GroupId must be at most \(GroupCommands.maxGroupIDBytes) bytes")
            guard let opt = r.Opt, ["AcceptAndNotify", "AcceptNotNotify"].contains(opt) else {
                throw TencentError(code: RestCode.badJSON, message: "Opt must be AcceptAndNotify or AcceptNotNotify")
            }
            let conversation = peer.map(ReceiveSettings.conversation(peer:)) ?? ReceiveSettings.conversation(group: group!)
            try await store.setReceiveOption(sdkAppID: app, userID: user, conversation: conversation, muted: opt == "AcceptNotNotify")
            return .ok()
        }
        guard let start = r.StartTime, let duration = r.Duration else {
            throw TencentError(code: RestCode.badJSON, message: "Peer_Account or GroupId with Opt, or StartTime and Duration, are required")
        }
        try RestAPI.require(start, in: RestAPI.secondsRange, field: "StartTime")
        try RestAPI.require(duration, in: RestAPI.secondsRange, field: "Duration")
        let window = DoNotDisturb(start: start, duration: duration)
        try RestAPI.require(!window.isDaily || duration <= DoNotDisturb.secondsPerDay, "a daily window (StartTime below 86400) lasts at most 86400 seconds")
        try await store.setDoNotDisturb(sdkAppID: app, userID: user, duration > 0 ? window : nil)
        return .ok()
    }
}

import Foundation
import PushCore
import Storage

/// A push job: one message with the context its push text needs. `pushd enqueue` and brokers
/// hand it in with its recipient (`To_Account`); the REST commands build it once per message,
/// encode it once, and every recipient's queue entry carries those bytes (the recipient and the
/// key are the entry's own columns). The dispatcher decodes it once per message.
///
/// ```json
/// {"SdkAppID": 1400000000, "To_Account": "bob", "IdempotencyKey": "msg-1", "Lane": "chat",
///  "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}], "OfflinePushInfo": {…},
///  "MsgLifeTime": 604800, "SendMsgControl": [], "ConversationType": "C2C", "SenderNick": "Alice",
///  "GroupId": "", "GroupName": "", "Silent": "AcceptNotNotify", "ExpiresAt": 1795000000000}
/// ```
///
/// `Silent` (a reason) makes a job that notifies no device but still counts for the badge (a muted
/// conversation, a do-not-disturb window); `ExpiresAt` (milliseconds) is when the offline copy
/// expires (`MsgLifeTime`): a job still queued then pushes nothing.
public struct PushJobSpec: Codable, Sendable, Equatable {
    public var sdkAppID: UInt64
    /// The recipient of an enqueued job; empty in a message's shared job.
    public var toAccount: String
    /// Re-enqueueing the same key is a no-op. Absent: a digest of the whole job.
    public var idempotencyKey: String?
    public var lane: Lane
    public var msgBody: MsgBody
    public var offlinePushInfo: OfflinePushInfo?
    public var msgLifeTime: Int?
    public var onlineOnlyFlag: Int?
    public var sendMsgControl: [String]
    public var conversationType: String?
    public var senderNick: String?
    /// The sender's account: with `GroupId`, which conversation a push belongs to.
    public var fromAccount: String?
    public var groupId: String?
    public var groupName: String?
    public var silent: String?
    public var expiresAtMillis: Int64?
    /// A revocation (`"Revoke": true`): it takes back what the job its key names
    /// (``Withdrawal/revokedKey(_:)``) delivered to the devices it is limited to.
    public var revoke: Bool = false
    /// The trace context of the request that made the job (W3C `traceparent`, `tracestate`), so
    /// its sends join that request's trace; nil when tracing is off.
    public var trace: [String: String]?

    enum CodingKeys: String, CodingKey {
        case sdkAppID = "SdkAppID", toAccount = "To_Account", idempotencyKey = "IdempotencyKey", lane = "Lane"
        case msgBody = "MsgBody", offlinePushInfo = "OfflinePushInfo", msgLifeTime = "MsgLifeTime"
        case onlineOnlyFlag = "OnlineOnlyFlag", sendMsgControl = "SendMsgControl", conversationType = "ConversationType"
        case senderNick = "SenderNick", fromAccount = "From_Account", groupId = "GroupId", groupName = "GroupName", silent = "Silent", expiresAtMillis = "ExpiresAt"
        case revoke = "Revoke"
        case trace = "Trace"
    }

    public init(
        sdkAppID: UInt64, toAccount: String = "", lane: Lane = .chat, msgBody: MsgBody, offlinePushInfo: OfflinePushInfo? = nil,
        msgLifeTime: Int? = nil, onlineOnlyFlag: Int? = nil, sendMsgControl: [String] = [], conversationType: String? = nil,
        senderNick: String? = nil, fromAccount: String? = nil, groupId: String? = nil, groupName: String? = nil, expiresAtMillis: Int64? = nil
    ) {
        self.sdkAppID = sdkAppID
        self.toAccount = toAccount
        self.lane = lane
        self.msgBody = msgBody
        self.offlinePushInfo = offlinePushInfo
        self.msgLifeTime = msgLifeTime
        self.onlineOnlyFlag = onlineOnlyFlag
        self.sendMsgControl = sendMsgControl
        self.conversationType = conversationType
        self.senderNick = senderNick
        self.fromAccount = fromAccount
        self.groupId = groupId
        self.groupName = groupName
        self.expiresAtMillis = expiresAtMillis
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let id = UInt64(exactly: try c.decode(FlexibleInt.self, forKey: .sdkAppID).value), id > 0 else {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "SdkAppID must be a positive integer")
        }
        sdkAppID = id
        toAccount = try c.decodeIfPresent(String.self, forKey: .toAccount) ?? ""
        idempotencyKey = try c.decodeIfPresent(String.self, forKey: .idempotencyKey)
        let laneName = try c.decodeIfPresent(String.self, forKey: .lane) ?? "chat"
        guard let lane = Lane(name: laneName) else {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "Lane must be chat or campaign, got \(laneName)")
        }
        self.lane = lane
        msgBody = try c.decode(MsgBody.self, forKey: .msgBody)
        offlinePushInfo = try c.decodeIfPresent(OfflinePushInfo.self, forKey: .offlinePushInfo)
        msgLifeTime = try c.decodeIfPresent(Int.self, forKey: .msgLifeTime)
        onlineOnlyFlag = try c.decodeIfPresent(Int.self, forKey: .onlineOnlyFlag)
        sendMsgControl = try c.decodeIfPresent([String].self, forKey: .sendMsgControl) ?? []
        conversationType = try c.decodeIfPresent(String.self, forKey: .conversationType)
        senderNick = try c.decodeIfPresent(String.self, forKey: .senderNick)
        fromAccount = try c.decodeIfPresent(String.self, forKey: .fromAccount)
        groupId = try c.decodeIfPresent(String.self, forKey: .groupId)
        groupName = try c.decodeIfPresent(String.self, forKey: .groupName)
        silent = try c.decodeIfPresent(String.self, forKey: .silent)
        expiresAtMillis = try c.decodeIfPresent(Int64.self, forKey: .expiresAtMillis)
        revoke = try c.decodeIfPresent(Bool.self, forKey: .revoke) ?? false
        trace = try c.decodeIfPresent([String: String].self, forKey: .trace)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sdkAppID, forKey: .sdkAppID)
        if !toAccount.isEmpty { try c.encode(toAccount, forKey: .toAccount) }
        try c.encodeIfPresent(idempotencyKey, forKey: .idempotencyKey)
        if lane != .chat { try c.encode(lane.description, forKey: .lane) }
        try c.encode(msgBody, forKey: .msgBody)
        try c.encodeIfPresent(offlinePushInfo, forKey: .offlinePushInfo)
        try c.encodeIfPresent(msgLifeTime, forKey: .msgLifeTime)
        try c.encodeIfPresent(onlineOnlyFlag, forKey: .onlineOnlyFlag)
        if !sendMsgControl.isEmpty { try c.encode(sendMsgControl, forKey: .sendMsgControl) }
        try c.encodeIfPresent(conversationType, forKey: .conversationType)
        try c.encodeIfPresent(senderNick, forKey: .senderNick)
        try c.encodeIfPresent(fromAccount, forKey: .fromAccount)
        try c.encodeIfPresent(groupId, forKey: .groupId)
        try c.encodeIfPresent(groupName, forKey: .groupName)
        try c.encodeIfPresent(silent, forKey: .silent)
        try c.encodeIfPresent(expiresAtMillis, forKey: .expiresAtMillis)
        if revoke { try c.encode(revoke, forKey: .revoke) }
        try c.encodeIfPresent(trace, forKey: .trace)
    }

    /// The payload of an app's revocation jobs (``Withdrawal/revocationJob``).
    public static func revocation(sdkAppID: UInt64) throws(TencentError) -> Data {
        var spec = PushJobSpec(sdkAppID: sdkAppID, msgBody: .empty)
        spec.revoke = true
        return try spec.encoded()
    }

    /// The job as stored: compact JSON, keys sorted (the same job gives the same bytes).
    public func encoded() throws(TencentError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(self)
        } catch {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "the job cannot be written as JSON: \(error)")
        }
    }

    /// The skip reason of a push whose message's offline lifetime ran out before it went out.
    public static let expiredReason = "MessageExpired"

    /// Why no device of this job is notified at `nowMillis`, nil when they may be.
    public func suppression(nowMillis: Int64) -> String? {
        if let expiresAtMillis, nowMillis >= expiresAtMillis { return Self.expiredReason }
        return silent.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Decodes a job; a malformed one is a Tencent-style error naming the field.
    public static func decode(_ data: Data) throws(TencentError) -> PushJobSpec {
        do {
            return try JSONDecoder().decode(PushJobSpec.self, from: data)
        } catch let error as TencentError {
            throw error
        } catch let error as DecodingError {
            throw TencentError(decoding: error)
        } catch {
            throw TencentError(code: TencentError.jsonParseCode, message: "job is not valid JSON")
        }
    }

    public var message: PushMessage {
        PushMessage(body: msgBody, offlinePushInfo: offlinePushInfo, lifetime: msgLifeTime, onlineOnly: onlineOnlyFlag == 1)
    }

    /// The C2C peer whose conversation a counted chat job belongs to (`NewJob.unreadPeer`).
    public var unreadPeer: String? {
        guard lane == .chat, conversationType?.lowercased() != "group", let fromAccount, !fromAccount.isEmpty else { return nil }
        return fromAccount
    }

    public var conversation: Conversation {
        if conversationType?.lowercased() == "group" {
            return .group(id: groupId ?? "", name: groupName, senderNick: senderNick)
        }
        return .c2c(senderNick: senderNick, sender: fromAccount ?? "")
    }

    /// The queue entry of an enqueued job (`To_Account` required); `payload` is the JSON it was
    /// decoded from.
    public func newJob(payload: Data) throws(TencentError) -> NewJob {
        guard !toAccount.isEmpty else {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "To_Account must be a non-empty string")
        }
        return NewJob(
            sdkAppID: sdkAppID, idempotencyKey: idempotencyKey ?? Self.digest(payload), lane: lane, userID: toAccount, payload: payload,
            countsForBadge: Badge.counts(message, sendMsgControl: sendMsgControl), unreadPeer: unreadPeer
        )
    }

    /// A stable key for a job that brings none: FNV-1a 64 of its bytes, twice with different seeds.
    static func digest(_ data: Data) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            data.reduce(seed) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        }
        return String(format: "job-%016llx%016llx", fnv(0xcbf2_9ce4_8422_2325), fnv(0x84222325_cbf29ce4))
    }
}

import Foundation
import Messaging
import PushCore
import PushJob
import Storage
import Tracing

/// `openim/sendmsg` and `pushd/get_push_records`: a C2C message is validated, de-duplicated,
/// stored, and its push job written in the same transaction.
struct MessageCommands: Sendable {
    let store: any PushStore
    /// A send's reads and its write, shared with concurrent requests.
    let sends: SendCoalescer
    let clock: any EpochClock
    let writes: WriteTimer
    /// Chat jobs carry the request's trace context when tracing is on (``JobTrace``).
    var tracer: (any Tracer)? = nil

    /// C2C duplicates within 120 s are one message.
    static let dedupeWindowMillis: Int64 = 120_000

    var commands: [String: RestAPI.Command] {
        [
            "openim/sendmsg": .init(adminOnly: true, run: sendmsg),
            "openim/batchsendmsg": .init(adminOnly: true, run: batchsendmsg),
            "openim/importmsg": .init(adminOnly: true, run: importmsg),
            "openim/admin_msgwithdraw": .init(adminOnly: true, run: withdraw),
            "timpush/batch": .init(adminOnly: true, run: pushBatch),
            "openim/admin_getroammsg": .init(adminOnly: true, run: roamingMessages),
            "pushd/get_push_records": .init(adminOnly: true, run: pushRecords),
        ]
    }

    /// The fields of a C2C send, validated once for all its recipients.
    struct C2C {
        var from: String
        var random: Int64
        var seq: Int64
        var content: MessageContent
        var lifetime: Int
        var msgTime: Int64
        var msgKey: String
        /// When the offline copy and its pushes expire (`MsgLifeTime`), in milliseconds.
        var expiresAtMillis: Int64
        /// The server's time of the send, in seconds: what the recipients' do-not-disturb windows see.
        var nowSeconds: Int64
        /// `SendMsgControl` holds `WithMuteNotifications`: muted recipients are notified anyway.
        var withMuteNotifications: Bool
        var fields: C2CMessageFields

        init(_ fields: C2CMessageFields, caller: RestAPI.Caller, clock: any EpochClock) {
            let now = clock.nowSeconds()
            self.fields = fields
            from = fields.from ?? caller.app.admin
            random = fields.random
            seq = fields.seq ?? Int64(UInt32.random(in: 1...UInt32.max))
            content = fields.content
            lifetime = Int(min(max(fields.lifetime ?? Int64(PushMessage.defaultLifetime), 0), Int64(PushMessage.defaultLifetime)))
            msgTime = fields.msgTime ?? now
            msgKey = MessageCommands.msgKey(random: random, msgTime: msgTime, nowSeconds: now)
            expiresAtMillis = clock.nowMillis() + Int64(lifetime) * 1000
            nowSeconds = now
            withMuteNotifications = fields.sendMsgControl.contains("WithMuteNotifications")
        }
    }

    /// A new `MsgKey` in Tencent's `<a>_<MsgRandom>_<MsgTime>` shape, `<a>` being the server's
    /// second (10 digits) and 16 random digits. Job keys start with it, so a collision would take
    /// a message's pushes for duplicates: 16 random digits keep that unlikely even for clients
    /// that send the same `MsgRandom` every time. Keys of one second also sort together, so the
    /// indexes keyed by them grow at one end.
    static func msgKey(random: Int64, msgTime: Int64, nowSeconds: Int64) -> String {
        let seconds = String(min(max(nowSeconds, 0), 9_999_999_999))
        let digits = String(UInt64.random(in: 0..<10_000_000_000_000_000))
        return String(repeating: "0", count: 10 - seconds.count) + seconds + String(repeating: "0", count: 16 - digits.count) + digits
            + "_\(random)_\(msgTime)"
    }

    /// Nil when the sender may send: the admin, or an imported account.
    /// `code`: C2C sends refuse with Tencent's 20003, the other commands with 70107.
    static func senderRefusal(_ from: String, profiles: Profiles, caller: RestAPI.Caller, code: Int = RestCode.notImported) -> RestReply? {
        profiles[ExactString(from)] != nil || from.sameBytes(as: caller.app.admin) ? nil : .fail(code, "From_Account \(from) is not imported")
    }

    /// The C2C message's jobs, joining the trace of `trace` (the request's, read in its task).
    func template(_ m: C2C, nick: String?, caller: RestAPI.Caller, trace: [String: String]?) throws -> JobTemplate {
        let job = PushJobSpec(
            sdkAppID: caller.app.sdkAppID, msgBody: m.content.body, offlinePushInfo: m.fields.offlinePushInfo, msgLifeTime: m.lifetime,
            sendMsgControl: m.fields.sendMsgControl, conversationType: "C2C", senderNick: nick, fromAccount: m.from,
            expiresAtMillis: m.expiresAtMillis
        )
        return try JobTemplate(job: job, keyPrefix: m.msgKey, trace: trace)
    }

    /// A recipient's fate (push-rules.md sections 1.2, 1.3).
    func fate(_ m: C2C, to: String, settings: ReceiveSettings?) -> Recipients.Fate {
        Recipients.c2c(
            sender: m.from, recipient: to, settings: settings ?? ReceiveSettings(), withMuteNotifications: m.withMuteNotifications,
            nowSeconds: m.nowSeconds
        )
    }

    /// The stored message of a send to `to`, or of a batch to `recipients` (`to` empty).
    func message(_ m: C2C, to: String, recipients: [String] = [], body: Data, dedupeKey: String, caller: RestAPI.Caller) -> NewMessage {
        let dedupe = caller.dedupe(dedupeKey, window: Self.dedupeWindowMillis)
        return NewMessage(
            sdkAppID: caller.app.sdkAppID, msgKey: m.msgKey, fromAccount: m.from, toAccount: to, recipients: recipients, msgSeq: m.seq,
            msgRandom: m.random, msgTime: m.msgTime, body: body, dedupeKey: dedupe.key, dedupeWindowMillis: dedupe.windowMillis,
            expiresAtMillis: m.expiresAtMillis
        )
    }

    @Sendable func sendmsg(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try RestAPI.decode(SendMsgRequest.self, body)
        let to = request.to
        let m = C2C(request.message, caller: caller, clock: clock)
        let lookup = SendLookup(sdkAppID: caller.app.sdkAppID, accounts: [m.from, to], recipients: [to], conversation: ReceiveSettings.conversation(peer: m.from))
        /// Nil when the accounts allow the send.
        @Sendable func refusal(_ facts: SendFacts) -> RestReply? {
            if let refusal = Self.senderRefusal(m.from, profiles: facts.profiles, caller: caller, code: RestCode.noSuchUser) { return refusal }
            return facts.profiles[ExactString(to)] == nil ? .fail(RestCode.noSuchUser, "To_Account \(to) is not imported") : nil
        }
        // The build below runs in the store's transaction, outside this request's task.
        let trace = JobTrace.carrier(tracer)
        // The accounts are read in the transaction that stores the message.
        let result = try await writes({
            try await sends.store(
                LookedUpSend(lookup: lookup) { facts in
                    guard refusal(facts) == nil else { return nil }
                    let template = try template(m, nick: AccountCommands.nick(of: m.from, in: facts.profiles), caller: caller, trace: trace)
                    let job = m.lifetime > 0 ? try template.job(to: to, fate: fate(m, to: to, settings: facts.settings[ExactString(to)])) : nil
                    let message = message(m, to: to, body: body, dedupeKey: "\(m.from)|\(to)|\(m.seq)|\(m.random)|\(m.content.crc)", caller: caller)
                    return (message, job.map { [$0] } ?? [])
                }
            )
        })
        switch result.stored {
        case .duplicate(let key, let time, _)?: return .ok([("MsgTime", time), ("MsgKey", key)])
        case .stored?, .groupNotFound?: return .ok([("MsgTime", m.msgTime), ("MsgKey", m.msgKey)])
        case nil: return refusal(result.facts) ?? .fail(RestCode.noSuchUser, "the send was refused")
        }
    }

    /// A message from an earlier system, stored for roaming at its own `MsgTimeStamp`: it never
    /// pushes and counts as no unread. The same message (sender, recipient, `MsgSeq` or else
    /// `MsgTimeStamp`, `MsgRandom`, body) imported again within sendmsg's de-duplication window is
    /// stored once.
    @Sendable func importmsg(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try RestAPI.decode(ImportMsgRequest.self, body).send
        let to = request.to
        let m = C2C(request.message, caller: caller, clock: clock)
        let profiles = try await store.profiles(sdkAppID: caller.app.sdkAppID, userIDs: [m.from, to])
        if let refusal = Self.senderRefusal(m.from, profiles: profiles, caller: caller, code: RestCode.noSuchUser) { return refusal }
        guard profiles[ExactString(to)] != nil else { return .fail(RestCode.noSuchUser, "To_Account \(to) is not imported") }
        // Without a MsgSeq the original message is known by its time, not by a random sequence.
        let dedupeKey = "import|\(m.from)|\(to)|\(m.fields.seq ?? m.msgTime)|\(m.random)|\(m.content.crc)"
        _ = try await writes({ try await sends.storeMessage(message(m, to: to, body: body, dedupeKey: dedupeKey, caller: caller), jobs: []) })
        return .ok()
    }

    struct Withdraw: Decodable {
        var From_Account: String?
        var To_Account: String?
        var MsgKey: String?
    }

    /// `{"From_Account", "To_Account", "MsgKey"}`: the message leaves roaming and its push, when not
    /// sent yet, is never sent (recorded as skipped, `Withdrawn`); when delivered, it is revoked
    /// where the vendor can (recorded as `Revoked`, or skipped as `RevokeUnsupported`). 20022 when there is no such
    /// message, 20023 when it was withdrawn before.
    @Sendable func withdraw(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let r = try RestAPI.decode(Withdraw.self, body)
        guard let from = r.From_Account, !from.isEmpty else { return .fail(RestCode.noFromAccount, "From_Account is required") }
        guard let to = r.To_Account, !to.isEmpty else { return .fail(RestCode.noToAccount, "To_Account is required") }
        guard let key = r.MsgKey, !key.isEmpty, key.utf8.count <= Self.maxMsgKeyBytes else {
            return .fail(RestCode.badMsgKey, "MsgKey must be 1 to \(Self.maxMsgKeyBytes) bytes")
        }
        let withdrawal = Withdrawal(
            sdkAppID: caller.app.sdkAppID, .c2c(msgKey: key, from: from, to: to), revocationJob: try PushJobSpec.revocation(sdkAppID: caller.app.sdkAppID)
        )
        switch try await store.withdraw(withdrawal) {
        case .notFound: return .fail(RestCode.noSuchMessage, "no message \(key) from \(from) to \(to)")
        case .alreadyWithdrawn: return .fail(RestCode.alreadyWithdrawn, "message \(key) was withdrawn before")
        case .withdrawn: return .ok()
        }
    }

    /// A `MsgKey` pushd issues is under 64 bytes; anything much longer is not one.
    static let maxMsgKeyBytes = 128

    /// Up to 500 recipients, one `MsgKey`; recipients that are not imported go to `ErrorList`.
    @Sendable func batchsendmsg(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try RestAPI.decode(BatchSendMsgRequest.self, body)
        let recipients = request.to
        let m = C2C(request.message, caller: caller, clock: clock)
        let app = caller.app.sdkAppID
        let facts = try await sends.facts(
            SendLookup(sdkAppID: app, accounts: [m.from] + recipients, recipients: recipients, conversation: ReceiveSettings.conversation(peer: m.from))
        )
        let (profiles, settings) = (facts.profiles, facts.settings)
        if let refusal = Self.senderRefusal(m.from, profiles: profiles, caller: caller, code: RestCode.noSuchUser) { return refusal }
        let template = try template(m, nick: AccountCommands.nick(of: m.from, in: profiles), caller: caller, trace: JobTrace.carrier(tracer))
        var errors: [[String: any Sendable]] = []
        // The stored message keeps what roaming reads, not the 500-account request.
        let stored = try JSONEncoder().encode(StoredMessage(MsgBody: m.content.body, CloudCustomData: m.fields.cloudCustomData))
        var fates: [(to: String, fate: Recipients.Fate)] = []
        var seen = Set<ExactString>()
        for to in recipients where seen.insert(ExactString(to)).inserted {
            guard profiles[ExactString(to)] != nil else {
                errors.append(["To_Account": to, "ErrorCode": RestCode.notImported])
                continue
            }
            fates.append((to, fate(m, to: to, settings: settings[ExactString(to)])))
        }
        // Online only: delivered over the live connections pushd does not hold; nothing is stored or pushed.
        guard !fates.isEmpty, !m.fields.onlineOnly else { return .ok([("MsgTime", m.msgTime), ("MsgKey", m.msgKey), ("ErrorList", errors)]) }
        // One stored message for every recipient and one job that the dispatcher turns into theirs
        // (`FanOut`): the request's cost does not grow with a copy, a job and a badge per recipient.
        let accepted = fates.map(\.to)
        let audience = CRC32.checksum(Data(accepted.joined(separator: "\n").utf8))
        let message = message(
            m, to: "", recipients: accepted, body: stored, dedupeKey: "\(m.from)|\(audience)|\(m.seq)|\(m.random)|\(m.content.crc)", caller: caller
        )
        let jobs = m.lifetime > 0 ? template.fanOuts(fates) : []
        switch try await writes({ try await sends.storeMessage(message, jobs: jobs) }) {
        case .duplicate(let key, let time, _): return .ok([("MsgTime", time), ("MsgKey", key), ("ErrorList", errors)])
        case .stored, .groupNotFound: return .ok([("MsgTime", m.msgTime), ("MsgKey", m.msgKey), ("ErrorList", errors)])
        }
    }

    /// A `timpush/batch` is a retry of an earlier one (and gets its `TaskId`, pushing nothing twice)
    /// when it comes from the same sender with the same `MsgRandom` and the same body within about
    /// this long; the same `MsgRandom` with another body, or later, is a new push.
    static let batchDedupeWindowMillis: Int64 = 120_000

    /// The task of a batch: sender, `MsgRandom`, the body's CRC and the dedupe window it falls in.
    /// A retry that crosses into the next window finds its task in the previous one, so a true
    /// retry is folded for at least one window and at most two.
    func batchTaskID(app: UInt64, from: String, random: Int64, body: Data) async throws -> String {
        let sender = CRC32.checksum(Data("\(app)|\(from)".utf8)), content = CRC32.checksum(body)
        let window = clock.nowMillis() / Self.batchDedupeWindowMillis
        func task(_ window: Int64) -> String {
            String(format: "batch_%08x_%08x_%08x_%llx", UInt32(truncatingIfNeeded: random), sender, content, window)
        }
        let earlier = task(window - 1)
        if try await store.jobStatus(sdkAppID: app, idempotencyKey: earlier + FanOut.keySuffix + "-0") != nil { return earlier }
        return task(window)
    }

    /// A 64-bit FNV-1a of an event key: a `TaskId` of fixed length whatever the key.
    static func eventHash(_ key: String) -> UInt64 {
        key.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01b3 }
    }

    /// `timpush/batch`: a push without a message for up to 500 users (`OfflinePushInfo`, optional
    /// `MsgBody`). The `TaskId` comes from sender and `MsgRandom`, so a retried call pushes nothing twice.
    @Sendable func pushBatch(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try RestAPI.decode(PushBatchRequest.self, body)
        let (from, recipients, random) = (request.from, request.to, request.random)
        // A broker event's task is its key's: a redelivery finds the same jobs however late it comes.
        let taskID: String
        if let key = caller.eventKey {
            taskID = "event_" + String(format: "%016llx", Self.eventHash(key))
        } else {
            taskID = try await batchTaskID(app: caller.app.sdkAppID, from: from, random: random, body: body)
        }
        let facts = try await sends.facts(
            SendLookup(
                sdkAppID: caller.app.sdkAppID, accounts: [from] + recipients, recipients: recipients,
                conversation: ReceiveSettings.conversation(peer: from)
            )
        )
        let profiles = facts.profiles
        if let refusal = Self.senderRefusal(from, profiles: profiles, caller: caller) { return refusal }
        let job = PushJobSpec(
            sdkAppID: caller.app.sdkAppID, msgBody: request.msgBody, offlinePushInfo: request.offlinePushInfo, conversationType: "C2C",
            senderNick: AccountCommands.nick(of: from, in: profiles), fromAccount: from
        )
        // A push-only send never raises the unread count (push-rules.md 5.5): it carries the current badge.
        let template = try JobTemplate(job: job, keyPrefix: taskID, countsForBadge: false, trace: JobTrace.carrier(tracer))
        var pushed: [(to: String, fate: Recipients.Fate)] = []
        var errors: [[String: any Sendable]] = []
        for to in recipients.exactSet.map(\.value).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            guard profiles[ExactString(to)] != nil else {
                errors.append(["To_Account": to, "ErrorCode": RestCode.notImported])
                continue
            }
            // The push rules apply (push-rules.md 1.3): not to the sender, and the recipient's
            // mute of the sender and do-not-disturb window silence it.
            let fate = Recipients.c2c(
                sender: from, recipient: to, settings: facts.settings[ExactString(to)] ?? ReceiveSettings(), withMuteNotifications: true,
                nowSeconds: clock.nowSeconds()
            )
            pushed.append((to, fate))
        }
        // One fan-out job: the dispatcher writes the users' jobs.
        let jobs = template.fanOuts(pushed)
        try await writes { try await store.enqueue(jobs) }
        return .ok([("TaskId", taskID), ("ErrorList", errors)])
    }

    /// What a batch's stored message keeps for roaming, instead of the 500-account request.
    struct StoredMessage: Encodable {
        var MsgBody: MsgBody
        var CloudCustomData: String?
    }

    struct RoamQuery: Decodable {
        var Operator_Account: String?
        var Peer_Account: String?
        var From_Account: String?
        var To_Account: String?
        var MaxCnt: Int?
        var MinTime: Int64?
        var MaxTime: Int64?
        var LastMsgKey: String?
    }

    /// One page of a C2C conversation, newest first; `LastMsgKey` continues from the previous page.
    @Sendable func roamingMessages(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let q = try RestAPI.decode(RoamQuery.self, body)
        guard let a = q.Operator_Account ?? q.From_Account, !a.isEmpty, let b = q.Peer_Account ?? q.To_Account, !b.isEmpty else {
            throw TencentError(code: RestCode.badJSON, message: "Operator_Account and Peer_Account (or From_Account and To_Account) are required")
        }
        let limit = min(max(q.MaxCnt ?? 100, 1), 100)
        let rows = try await store.conversation(
            sdkAppID: caller.app.sdkAppID, between: a, and: b, minTime: q.MinTime ?? 0, maxTime: q.MaxTime ?? Int64(Int32.max) * 2,
            before: q.LastMsgKey.flatMap { $0.isEmpty ? nil : $0 }, limit: limit + 1
        )
        let page = rows.prefix(limit)
        let messages: [[String: any Sendable]] = page.map { row in
            let request = (try? JSONSerialization.jsonObject(with: row.body)) as? [String: Any] ?? [:]
            return [
                "From_Account": row.fromAccount, "To_Account": row.toAccount, "MsgSeq": row.msgSeq, "MsgRandom": row.msgRandom,
                "MsgTimeStamp": row.msgTime, "MsgFlagBits": 0, "IsPeerRead": 0, "MsgKey": row.msgKey,
                "MsgBody": Self.sendable(request["MsgBody"] ?? [Any]()), "CloudCustomData": request["CloudCustomData"] as? String ?? "",
            ]
        }
        return .ok([
            ("Complete", rows.count > limit ? 0 : 1), ("MsgCnt", page.count), ("LastMsgTime", page.last?.msgTime ?? 0),
            ("LastMsgKey", page.last?.msgKey ?? ""), ("MsgList", messages),
        ])
    }

    /// A parsed JSON value as a tree of Sendable values, to be serialised again.
    static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let object as [String: Any]: return object.mapValues { sendable($0) }
        case let array as [Any]: return array.map { sendable($0) }
        case let text as String: return text
        case let number as NSNumber: return number
        default: return NSNull()
        }
    }

    struct RecordsQuery: Decodable {
        var MsgKey: String?
        var TaskId: String?
        var UserID: String?
    }

    /// Per device of a C2C message (`MsgKey`) or of one user of a push task (`TaskId`, `UserID`):
    /// vendor, outcome, reason, vendor message id, attempts, time.
    @Sendable func pushRecords(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let query = try RestAPI.decode(RecordsQuery.self, body)
        // Job keys are "<MsgKey or TaskId>:<recipient>".
        let prefix: String
        let recipients: [String]
        if let msgKey = query.MsgKey, !msgKey.isEmpty {
            prefix = msgKey
            recipients = try await store.messageRecipients(sdkAppID: caller.app.sdkAppID, msgKey: msgKey)
        } else if let task = query.TaskId, !task.isEmpty, let user = query.UserID, !user.isEmpty {
            prefix = task
            recipients = [user]
        } else {
            throw TencentError(code: RestCode.badJSON, message: "MsgKey, or TaskId and UserID, are required")
        }
        var items: [[String: any Sendable]] = []
        for recipient in recipients {
            let key = "\(prefix):\(recipient)"
            // A withdrawn message's revocations follow its pushes.
            let records =
                try await store.pushRecords(sdkAppID: caller.app.sdkAppID, idempotencyKey: key)
                + store.pushRecords(sdkAppID: caller.app.sdkAppID, idempotencyKey: Withdrawal.revocationKey(of: key))
            for r in records {
                items.append([
                    "UserID": recipient, "DeviceId": r.deviceID, "Vendor": r.vendor, "Outcome": r.outcome.rawValue, "Reason": r.reason ?? "",
                    "VendorMessageId": r.vendorMessageID ?? "", "Attempts": r.attempts, "Time": r.atMillis,
                ])
            }
        }
        return .ok([("Records", items)])
    }
}

/// CRC-32 (IEEE), for the C2C de-duplication key.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        (0..<8).reduce(UInt32(n)) { c, _ in c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }

    static func checksum(_ data: Data) -> UInt32 {
        ~data.reduce(~UInt32(0)) { crc, byte in table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
    }
}

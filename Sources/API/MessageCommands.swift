import Dispatcher
import Foundation
import PushCore
import Queue

/// `openim/sendmsg` and `pushd/get_push_records`: a C2C message is validated, de-duplicated,
/// stored, and its push job written in the same transaction.
struct MessageCommands: Sendable {
    let store: any PushStore
    let clock: any EpochClock

    /// Tencent's limit on a message: 12 KB of `MsgBody`.
    static let maxMsgBodyBytes = 12 * 1024
    /// C2C duplicates within 120 s are one message.
    static let dedupeWindowMillis: Int64 = 120_000

    var commands: [String: RestAPI.Command] {
        [
            "openim/sendmsg": .init(adminOnly: true, run: sendmsg),
            "openim/batchsendmsg": .init(adminOnly: true, run: batchsendmsg),
            "pushd/get_push_records": .init(adminOnly: true, run: pushRecords),
        ]
    }

    /// The fields of a C2C send, validated once for all its recipients.
    struct C2C {
        var from: String
        var random: Int64
        var seq: Int64
        var msgBody: [Any]
        var crc: UInt32
        var lifetime: Int
        var msgTime: Int64
        var msgKey: String
        var request: [String: Any]

        init(_ request: [String: Any], caller: RestAPI.Caller, now: Int64) throws(TencentError) {
            self.request = request
            from = (request["From_Account"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? caller.app.admin
            guard let random = MessageCommands.uint32(request["MsgRandom"]) else {
                throw TencentError(code: 90005, message: "MsgRandom is required: an integer from 0 to 4294967295")
            }
            self.random = random
            seq = MessageCommands.uint32(request["MsgSeq"]) ?? Int64(UInt32.random(in: 1...UInt32.max))
            guard let msgBody = request["MsgBody"] as? [Any], !msgBody.isEmpty else {
                throw TencentError(code: 90007, message: "MsgBody must be a non-empty array")
            }
            self.msgBody = msgBody
            // Sorted keys: the same content gives the same bytes, so the same CRC32 for de-duplication.
            guard let json = try? JSONSerialization.data(withJSONObject: msgBody, options: [.sortedKeys]) else {
                throw TencentError(code: 90007, message: "MsgBody must be a JSON array")
            }
            guard json.count <= MessageCommands.maxMsgBodyBytes else {
                throw TencentError(code: TencentError.invalidMsgBodyCode, message: "MsgBody is over 12 KB")
            }
            crc = CRC32.checksum(json)
            lifetime = min(max(MessageCommands.int(request["MsgLifeTime"]) ?? PushMessage.defaultLifetime, 0), PushMessage.defaultLifetime)
            msgTime = MessageCommands.int(request["MsgTimeStamp"]).map(Int64.init) ?? now
            msgKey = "\(UInt32.random(in: 1...UInt32.max))_\(random)_\(msgTime)"
        }
    }

    /// Stores the message for one recipient with its push job (the sender's nickname as prefix).
    func deliver(_ m: C2C, to: String, nick: String?, caller: RestAPI.Caller, body: Data) async throws -> StoredMessage {
        var job: [String: Any] = [
            "SdkAppID": caller.app.sdkAppID, "To_Account": to, "IdempotencyKey": "\(m.msgKey):\(to)", "MsgBody": m.msgBody,
            "MsgLifeTime": m.lifetime, "ConversationType": "C2C",
        ]
        for key in ["OfflinePushInfo", "SendMsgControl"] { job[key] = m.request[key] }
        if let nick { job["SenderNick"] = nick }
        let payload = try JSONSerialization.data(withJSONObject: job)
        // Decoding the job validates the message (element types, one TIMCustomElem, field types).
        let spec = try PushJobSpec.decode(payload)
        let message = NewMessage(
            sdkAppID: caller.app.sdkAppID, msgKey: m.msgKey, fromAccount: m.from, toAccount: to, msgSeq: m.seq, msgRandom: m.random,
            msgTime: m.msgTime, body: body, dedupeKey: "\(m.from)|\(to)|\(m.seq)|\(m.random)|\(m.crc)",
            dedupeWindowMillis: Self.dedupeWindowMillis, expiresAtMillis: clock.nowMillis() + Int64(m.lifetime) * 1000
        )
        return try await store.storeMessage(message, jobs: m.lifetime > 0 ? [spec.newJob(payload: payload)] : [])
    }

    static func object(_ body: Data) throws(TencentError) -> [String: Any] {
        guard let request = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TencentError(code: RestCode.badJSON, message: "body is not a JSON object")
        }
        return request
    }

    @Sendable func sendmsg(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try Self.object(body)
        guard let to = request["To_Account"] as? String, !to.isEmpty else {
            throw TencentError(code: 90003, message: "To_Account must be a non-empty string")
        }
        let m = try C2C(request, caller: caller, now: clock.nowSeconds())
        let profiles = try await store.profiles(sdkAppID: caller.app.sdkAppID, userIDs: [m.from, to])
        guard profiles[to] != nil else { return .fail(RestCode.notImported, "To_Account \(to) is not imported") }
        let nick = profiles[m.from]?[AccountCommands.nickTag].map(AccountCommands.value) as? String
        switch try await deliver(m, to: to, nick: nick, caller: caller, body: body) {
        case .stored: return .ok([("MsgTime", m.msgTime), ("MsgKey", m.msgKey)])
        case .duplicate(let key, let time): return .ok([("MsgTime", time), ("MsgKey", key)])
        }
    }

    /// Up to 500 recipients, one `MsgKey`; recipients that are not imported go to `ErrorList`.
    @Sendable func batchsendmsg(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let request = try Self.object(body)
        guard let list = request["To_Account"] as? [Any], !list.isEmpty else {
            throw TencentError(code: 90003, message: "To_Account must be a non-empty array of strings")
        }
        let recipients = try list.enumerated().map { index, item throws(TencentError) -> String in
            guard let user = item as? String, !user.isEmpty else { throw TencentError(code: 90003, message: "To_Account[\(index)] must be a string") }
            return user
        }
        guard recipients.count <= 500 else { throw TencentError(code: 90011, message: "at most 500 recipients per batch") }
        let m = try C2C(request, caller: caller, now: clock.nowSeconds())
        let profiles = try await store.profiles(sdkAppID: caller.app.sdkAppID, userIDs: [m.from] + recipients)
        let nick = profiles[m.from]?[AccountCommands.nickTag].map(AccountCommands.value) as? String
        var errors: [[String: any Sendable]] = []
        var seen = Set<String>()
        for to in recipients where seen.insert(to).inserted {
            guard profiles[to] != nil else {
                errors.append(["To_Account": to, "ErrorCode": RestCode.notImported])
                continue
            }
            _ = try await deliver(m, to: to, nick: nick, caller: caller, body: body)
        }
        return .ok([("MsgTime", m.msgTime), ("MsgKey", m.msgKey), ("ErrorList", errors)])
    }

    struct RecordsQuery: Decodable {
        var MsgKey: String
    }

    /// Per device of a C2C message: vendor, outcome, reason, vendor message id, attempts, time.
    @Sendable func pushRecords(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let query = try RestAPI.decode(RecordsQuery.self, body)
        var items: [[String: any Sendable]] = []
        // The job keys of a message are "<MsgKey>:<recipient>"; the message names its recipient.
        for recipient in try await store.messageRecipients(sdkAppID: caller.app.sdkAppID, msgKey: query.MsgKey) {
            for r in try await store.pushRecords(sdkAppID: caller.app.sdkAppID, idempotencyKey: "\(query.MsgKey):\(recipient)") {
                items.append([
                    "UserID": recipient, "DeviceId": r.deviceID, "Vendor": r.vendor, "Outcome": r.outcome.rawValue, "Reason": r.reason ?? "",
                    "VendorMessageId": r.vendorMessageID ?? "", "Attempts": r.attempts, "Time": r.atMillis,
                ])
            }
        }
        return .ok([("Records", items)])
    }

    static func uint32(_ value: Any?) -> Int64? {
        guard let number = value as? NSNumber, let v = Int64(exactly: number.doubleValue), (0...Int64(UInt32.max)).contains(v) else {
            return nil
        }
        return v
    }

    static func int(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        return Int(exactly: number.doubleValue)
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

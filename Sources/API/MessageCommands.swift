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
            "pushd/get_push_records": .init(adminOnly: true, run: pushRecords),
        ]
    }

    @Sendable func sendmsg(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        guard let request = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw TencentError(code: RestCode.badJSON, message: "body is not a JSON object")
        }
        guard let to = request["To_Account"] as? String, !to.isEmpty else {
            throw TencentError(code: 90003, message: "To_Account must be a non-empty string")
        }
        let from = (request["From_Account"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? caller.app.admin
        guard let random = Self.uint32(request["MsgRandom"]) else {
            throw TencentError(code: 90005, message: "MsgRandom is required: an integer from 0 to 4294967295")
        }
        let seq = Self.uint32(request["MsgSeq"]) ?? Int64(UInt32.random(in: 1...UInt32.max))
        guard let msgBody = request["MsgBody"] as? [Any], !msgBody.isEmpty else {
            throw TencentError(code: 90007, message: "MsgBody must be a non-empty array")
        }
        // Sorted keys: the same content gives the same bytes, so the same CRC32 for de-duplication.
        let msgBodyJSON = try JSONSerialization.data(withJSONObject: msgBody, options: [.sortedKeys])
        guard msgBodyJSON.count <= Self.maxMsgBodyBytes else {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "MsgBody is over 12 KB")
        }
        let lifetime = min(max(Self.int(request["MsgLifeTime"]) ?? PushMessage.defaultLifetime, 0), PushMessage.defaultLifetime)

        // The push job: the message's own fields plus the sender's nickname.
        let profiles = try await store.profiles(sdkAppID: caller.app.sdkAppID, userIDs: [from, to])
        guard profiles[to] != nil else { return .fail(RestCode.notImported, "To_Account \(to) is not imported") }
        let nick = profiles[from]?[AccountCommands.nickTag].map(AccountCommands.value) as? String
        let msgTime = Self.int(request["MsgTimeStamp"]).map(Int64.init) ?? clock.nowSeconds()
        let msgKey = "\(UInt32.random(in: 1...UInt32.max))_\(random)_\(msgTime)"
        var job: [String: Any] = [
            "SdkAppID": caller.app.sdkAppID, "To_Account": to, "IdempotencyKey": "\(msgKey):\(to)", "MsgBody": msgBody,
            "MsgLifeTime": lifetime, "ConversationType": "C2C",
        ]
        for key in ["OfflinePushInfo", "SendMsgControl"] { job[key] = request[key] }
        if let nick { job["SenderNick"] = nick }
        let payload = try JSONSerialization.data(withJSONObject: job)
        // Decoding the job validates the message (element types, one TIMCustomElem, field types).
        let spec = try PushJobSpec.decode(payload)
        let jobs = lifetime > 0 ? [spec.newJob(payload: payload)] : []

        let dedupe = "\(from)|\(seq)|\(random)|\(CRC32.checksum(msgBodyJSON))"
        let message = NewMessage(
            sdkAppID: caller.app.sdkAppID, msgKey: msgKey, fromAccount: from, toAccount: to, msgSeq: seq, msgRandom: random, msgTime: msgTime,
            body: body, dedupeKey: dedupe, dedupeWindowMillis: Self.dedupeWindowMillis,
            expiresAtMillis: clock.nowMillis() + Int64(lifetime) * 1000
        )
        switch try await store.storeMessage(message, jobs: jobs) {
        case .stored: return .ok([("MsgTime", msgTime), ("MsgKey", msgKey)])
        case .duplicate(let key, let time): return .ok([("MsgTime", time), ("MsgKey", key)])
        }
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

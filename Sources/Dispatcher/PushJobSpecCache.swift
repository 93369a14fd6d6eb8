import Foundation
import PushCore
import PushJob
import Synchronization

/// Decoded job specs, shared by jobs that differ only in their leading `To_Account`,
/// `IdempotencyKey` and `Silent` members: the jobs of one campaign (`{"To_Account":…,` in front of
/// the campaign's template) and the recipients of one REST message. Each such message is decoded
/// once instead of once per recipient; bounded, and emptied when full.
final class PushJobSpecCache: Sendable {
    struct Key: Hashable {
        var tail: Data
        /// Which of the leading members the payload had: the others come from the tail.
        var present: UInt8
    }

    /// `"To_Account":"`, `"IdempotencyKey":"`, `"Silent":"`: the leading members, as bytes.
    private static let leadingPrefixes = ["To_Account", "IdempotencyKey", "Silent"].map { Array("\"\($0)\":\"".utf8) }
    private let entries = Mutex<[Key: PushJobSpec]>([:])
    private let limit: Int

    init(limit: Int = 256) {
        self.limit = limit
    }

    func decode(_ payload: Data) throws(TencentError) -> PushJobSpec {
        guard let (values, key) = Self.split(payload) else { return try PushJobSpec.decode(payload) }
        if var spec = entries.withLock({ $0[key] }) {
            if let to = values[0] { spec.toAccount = to }
            if let idempotencyKey = values[1] { spec.idempotencyKey = idempotencyKey }
            if let silent = values[2] { spec.silent = silent }
            return spec
        }
        let spec = try PushJobSpec.decode(payload)
        entries.withLock { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[key] = spec
        }
        return spec
    }

    /// The leading string members (`"Name":"value",` without escapes) and the rest; nil when the
    /// payload does not start with a non-empty `{"To_Account":"…",`.
    static func split(_ payload: Data) -> (values: [String?], key: Key)? {
        var values: [String?] = [nil, nil, nil]
        var present: UInt8 = 0
        var index = payload.startIndex
        guard index < payload.endIndex, payload[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        member: while index < payload.endIndex {
            for (n, prefix) in leadingPrefixes.enumerated() where present & (1 << n) == 0 {
                guard payload[index...].starts(with: prefix) else { continue }
                let start = index + prefix.count
                guard let end = payload[start...].firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }),
                    payload[end] == UInt8(ascii: "\""), end + 1 < payload.endIndex, payload[end + 1] == UInt8(ascii: ",")
                else { return nil }
                values[n] = String(decoding: payload[start..<end], as: UTF8.self)
                present |= 1 << n
                index = end + 2
                continue member
            }
            break
        }
        // An empty To_Account is refused by the full decode; it must not be served from the cache.
        guard present & 1 != 0, values[0]?.isEmpty == false else { return nil }
        return (values, Key(tail: Data(payload[index...]), present: present))
    }
}

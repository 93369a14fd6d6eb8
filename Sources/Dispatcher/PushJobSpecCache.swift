import Foundation
import PushCore
import PushJob
import Synchronization

/// Decoded jobs by their stored bytes: the recipients of one message (a group's members, a batch,
/// a campaign's users) carry the same bytes, so the message is decoded once, not once per
/// recipient. Bounded, and emptied when full.
final class PushJobSpecCache: Sendable {
    private let entries = Mutex<[Data: PushJobSpec]>([:])
    private let limit: Int

    init(limit: Int = 256) {
        self.limit = limit
    }

    func decode(_ payload: Data) throws(TencentError) -> PushJobSpec {
        if let spec = entries.withLock({ $0[payload] }) { return spec }
        let spec = try PushJobSpec.decode(payload)
        entries.withLock { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[payload] = spec
        }
        return spec
    }
}

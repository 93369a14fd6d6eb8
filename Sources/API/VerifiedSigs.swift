import PushCore
import Synchronization

/// UserSigs already verified, with their expiry: an app server sends the same admin UserSig with
/// every request, and decoding, inflating and HMAC-checking it each time costs more than most
/// commands. Only successful verifications are kept; an entry stops counting at its expiry.
/// Bounded: when full it starts over.
final class VerifiedSigs: Sendable {
    private let entries = Mutex<[Key: Int64]>([:])
    let capacity: Int

    /// Compared and hashed by bytes: a UserSig verified for one spelling of an identifier must not
    /// let a canonically equivalent spelling (another account) in.
    struct Key: Hashable {
        var app: UInt64
        var identifier: ExactString
        var sig: ExactString

        init(app: UInt64, identifier: String, sig: String) {
            self.app = app
            self.identifier = ExactString(identifier)
            self.sig = ExactString(sig)
        }
    }

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// True when this exact UserSig was verified for the app and identifier and has not expired.
    func contains(_ key: Key, now: Int64) -> Bool {
        entries.withLock { $0[key].map { now <= $0 } ?? false }
    }

    /// Forgets every verification (a reload may have changed an app's key).
    func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    func insert(_ key: Key, expiresAt: Int64) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = expiresAt
        }
    }
}

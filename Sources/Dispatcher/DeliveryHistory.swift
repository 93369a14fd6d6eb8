import PushCore
import Synchronization

/// What the operator console draws: each app's sends per second per vendor and outcome over the
/// last hour, in an in-memory ring of per-second counters made on the app's first send, and the
/// last failed sends with their reasons. Fed by `DispatcherMetrics.sent`; nothing leaves the process.
public final class DeliveryHistory: Sendable {
    /// The outcomes counted, in the order of `pushd_sends_total`'s `outcome` label.
    public static let outcomes = DispatcherMetrics.outcomes
    /// Seconds kept.
    public let seconds: Int
    /// Failed sends kept, newest first.
    public static let failuresKept = 50

    /// One failed send.
    public struct Failure: Sendable, Equatable {
        public var atMillis: Int64
        public var app: UInt64
        public var vendor: Vendor
        public var outcome: String
        public var reason: String
    }

    /// Counts of one second, by vendor then outcome.
    public struct Second: Sendable, Equatable {
        public var second: Int64
        public var counts: [Int]

        public func count(_ vendor: Vendor, _ outcome: Int) -> Int { counts[DeliveryHistory.slot(vendor, outcome)] }
    }

    private struct State {
        var apps: [UInt64: [Second]] = [:]
        var failures: [Failure] = []
    }

    private static let vendors = Vendor.allCases
    private static let width = vendors.count * outcomes.count
    private let state: Mutex<State>
    private let clock: any EpochClock

    public init(seconds: Int = 3600, clock: any EpochClock = SystemEpochClock()) {
        self.seconds = max(1, seconds)
        self.clock = clock
        state = Mutex(State())
    }

    private static func empty(_ second: Int64) -> Second { Second(second: second, counts: Array(repeating: 0, count: width)) }

    private func position(_ second: Int64) -> Int { Int(((second % Int64(seconds)) + Int64(seconds)) % Int64(seconds)) }

    static func slot(_ vendor: Vendor, _ outcome: Int) -> Int {
        (vendors.firstIndex(of: vendor) ?? 0) * outcomes.count + outcome
    }

    /// Counts one send; a failure's reason is kept among the last ones.
    func record(app: UInt64, vendor: Vendor, outcome: String, reason: String?) {
        guard let index = Self.outcomes.firstIndex(of: outcome) else { return }
        let now = clock.nowMillis()
        let second = now / 1000
        let position = position(second)
        state.withLock { s in
            if s.apps[app] == nil { s.apps[app] = Array(repeating: Self.empty(-1), count: seconds) }
            if s.apps[app]?[position].second != second { s.apps[app]?[position] = Self.empty(second) }
            s.apps[app]?[position].counts[Self.slot(vendor, index)] += 1
            guard let reason, index != 0 else { return }
            if s.failures.count >= Self.failuresKept { s.failures.removeLast() }
            s.failures.insert(Failure(atMillis: now, app: app, vendor: vendor, outcome: outcome, reason: String(reason.prefix(300))), at: 0)
        }
    }

    /// An app's last `seconds` whole seconds before now, oldest first; a second with no send has
    /// zero counts.
    public func window(app: UInt64) -> [Second] {
        let current = clock.nowMillis() / 1000
        let kept = state.withLock { $0.apps[app] }
        return (0..<Int64(seconds)).map { back in
            let second = current - Int64(seconds) + back
            guard let slot = kept?[position(second)], slot.second == second else { return Self.empty(second) }
            return slot
        }
    }

    /// An app's last failed sends, newest first.
    public func failures(app: UInt64) -> [Failure] { state.withLock { $0.failures.filter { $0.app == app } } }
}

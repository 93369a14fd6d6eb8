import PushCore
import Synchronization

/// Where the REST API's time goes: every handled request, and the part of it spent in durable
/// writes (a message and its push jobs reaching the store). `pushd bench api` reports the share.
public final class APITimings: Sendable {
    private let requests = Atomic<Int64>(0)
    private let handleNanos = Atomic<Int64>(0)
    private let writeNanos = Atomic<Int64>(0)

    public init() {}

    public struct Snapshot: Sendable {
        public var requests: Int64
        public var handleNanos: Int64
        public var writeNanos: Int64

        /// Share of handling time spent writing, between two snapshots.
        public func writeShare(since earlier: Snapshot) -> Double {
            let handled = handleNanos - earlier.handleNanos
            return handled > 0 ? Double(writeNanos - earlier.writeNanos) / Double(handled) : 0
        }
    }

    public var snapshot: Snapshot {
        Snapshot(requests: requests.load(ordering: .relaxed), handleNanos: handleNanos.load(ordering: .relaxed), writeNanos: writeNanos.load(ordering: .relaxed))
    }

    func handled(since start: ContinuousClock.Instant) {
        requests.add(1, ordering: .relaxed)
        handleNanos.add((ContinuousClock.now - start).nanoseconds, ordering: .relaxed)
    }

    /// Runs a durable write and counts its time.
    @discardableResult
    func write<T>(_ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer { writeNanos.add((ContinuousClock.now - start).nanoseconds, ordering: .relaxed) }
        return try await body()
    }
}

import GRDB
import Synchronization

/// Runs write transactions on SQLite's single writer back to back, urgent ones first.
///
/// GRDB runs writes in arrival order, so a chat push claimed during a campaign would wait for
/// every campaign page and completion queued ahead of it. Here callers queue their transactions by
/// priority and one drain on GRDB's writer connection runs them: an urgent transaction waits for
/// the one running only, however many background ones wait. The writer never waits for a caller's
/// thread to be scheduled before the next transaction starts, so a campaign step resumed on a
/// low-priority thread cannot hold the writer idle while chat waits behind it.
///
/// Background work is not starved: when urgent transactions keep coming, every `urgentRun + 1`th
/// goes to the oldest background one, so a campaign job's completion cannot wait until its lease
/// runs out (and the push is sent twice).
///
/// Between transactions the drain asks `CheckpointPolicy` whether to checkpoint the log, so that
/// SQLite's checkpoint does not land inside a chat write.
final class WriteQueue: Sendable {
    enum Priority: Sendable {
        /// Chat pushes, the REST API, claims.
        case urgent
        /// Campaign walking and the completion of campaign jobs.
        case background
    }

    /// A queued transaction: runs on the writer connection and resumes its caller.
    typealias Transaction = @Sendable (Database) -> Void

    private struct State {
        /// A drain is running on the writer, or has been asked to.
        var draining = false
        var urgent: [Transaction] = []
        var background: [Transaction] = []
        /// Urgent transactions run in a row while background ones waited.
        var run = 0
        /// When the last urgent transaction ended.
        var urgentEnded: ContinuousClock.Instant?
    }

    private let pool: DatabasePool
    private let state = Mutex(State())
    /// When the writer checkpoints the log: between transactions, in chat's gaps.
    private let checkpoints: CheckpointPolicy
    /// Most urgent transactions in a row while a background one waits.
    static let urgentRun = 8
    /// Most transactions waiting; past it a write fails at once with `StoreBusy`.
    let maxWaiting: Int

    init(pool: DatabasePool, checkpoints: CheckpointPolicy, maxWaiting: Int = 50_000) {
        self.pool = pool
        self.checkpoints = checkpoints
        self.maxWaiting = maxWaiting
    }

    /// Runs `updates` in a transaction of its own, committed when it returns and rolled back when
    /// it throws; returns once the transaction has ended.
    func write<T: Sendable>(_ priority: Priority, _ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let transaction: Transaction = { db in
                continuation.resume(
                    with: Result {
                        var value: T?
                        try db.inTransaction {
                            value = try updates(db)
                            return .commit
                        }
                        return value!
                    }
                )
            }
            let start = state.withLock { state -> Bool? in
                guard state.urgent.count + state.background.count < maxWaiting else { return nil }
                switch priority {
                case .urgent: state.urgent.append(transaction)
                case .background: state.background.append(transaction)
                }
                defer { state.draining = true }
                return !state.draining
            }
            switch start {
            case nil: continuation.resume(throwing: StoreBusy(waiting: maxWaiting))
            case true?: pool.asyncWriteWithoutTransaction { db in self.drain(db) }
            case false?: break
            }
        }
    }

    /// Transactions queued and not started.
    var waiting: Int { state.withLock { $0.urgent.count + $0.background.count } }

    private func drain(_ db: Database) {
        while let (next, priority) = next() {
            next(db)
            let now = ContinuousClock.now
            let (urgentWaiting, sinceUrgent) = state.withLock { state in
                if priority == .urgent { state.urgentEnded = now }
                return (!state.urgent.isEmpty, state.urgentEnded.map { now - $0 })
            }
            if checkpoints.due(urgentWaiting: urgentWaiting, sinceUrgent: sinceUrgent) { checkpoints.checkpoint(db) }
        }
    }

    /// The oldest urgent transaction (the oldest background one after `urgentRun` urgent ones in a
    /// row), else the oldest background one; nil, and the drain over, when none is queued.
    private func next() -> (Transaction, Priority)? {
        state.withLock { state in
            if !state.urgent.isEmpty, state.background.isEmpty || state.run < Self.urgentRun {
                if !state.background.isEmpty { state.run += 1 }
                return (state.urgent.removeFirst(), .urgent)
            }
            state.run = 0
            if !state.background.isEmpty { return (state.background.removeFirst(), .background) }
            state.draining = false
            return nil
        }
    }
}

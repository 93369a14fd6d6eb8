import Synchronization

/// Lets one write transaction at a time through to SQLite's single writer, urgent ones first.
///
/// GRDB queues writes in arrival order, so a chat push claimed during a campaign would wait for
/// every campaign page and completion queued ahead of it. Behind the gate at most one transaction
/// is at the writer; an urgent one waits for that one only, however many background transactions
/// wait. Background work waits as long as urgent work keeps coming: chat pushes always go first.
final class WriteGate: Sendable {
    enum Priority: Sendable {
        /// Chat pushes, the REST API, claims.
        case urgent
        /// Campaign walking and the completion of campaign jobs.
        case background
    }

    private struct State {
        /// Transactions past the gate (running, or queued at GRDB's writer).
        var inside = 0
        var urgent: [CheckedContinuation<Void, Never>] = []
        var background: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let depth: Int

    /// At most `depth` transactions are past the gate (running, or queued at GRDB's writer); an
    /// urgent caller waits for no more than these.
    init(depth: Int = 1) {
        self.depth = max(1, depth)
    }

    /// Runs `body` once the gate is free, holding it until `body` returns.
    func pass<T>(_ priority: Priority, _ body: () async throws -> T) async throws -> T {
        await enter(priority)
        defer { leave() }
        return try await body()
    }

    private func enter(_ priority: Priority) async {
        // The common case, nobody inside: no continuation.
        let entered = state.withLock { state -> Bool in
            guard state.inside < depth else { return false }
            state.inside += 1
            return true
        }
        if entered { return }
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                // Freed between the two locks.
                guard state.inside >= depth else {
                    state.inside += 1
                    return true
                }
                switch priority {
                case .urgent: state.urgent.append(continuation)
                case .background: state.background.append(continuation)
                }
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Callers waiting to pass.
    var waiting: Int { state.withLock { $0.urgent.count + $0.background.count } }

    /// Hands the gate to the oldest urgent waiter, else the oldest background one, else frees it.
    private func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.urgent.isEmpty { return state.urgent.removeFirst() }
            if !state.background.isEmpty { return state.background.removeFirst() }
            state.inside -= 1
            return nil
        }
        next?.resume()
    }
}

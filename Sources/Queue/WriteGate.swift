import Synchronization

/// Lets one write transaction at a time through to SQLite's single writer, urgent ones first.
///
/// GRDB queues writes in arrival order, so a chat push claimed during a campaign would wait for
/// every campaign page and completion queued ahead of it. Behind the gate at most one transaction
/// is at the writer; an urgent one waits for that one only, however many background transactions
/// wait. Chat goes first, but background work is not starved: when urgent callers keep the gate
/// busy, every `urgentRun + 1`th pass goes to the oldest background caller, so a campaign job's
/// completion cannot wait until its lease runs out (and the push is sent twice).
final class WriteGate: Sendable {
    enum Priority: Sendable {
        /// Chat pushes, the REST API, claims.
        case urgent
        /// Campaign walking and the completion of campaign jobs.
        case background
    }

    private struct State {
        /// A transaction is past the gate (running, or queued at GRDB's writer).
        var busy = false
        var urgent: [CheckedContinuation<Void, Never>] = []
        var background: [CheckedContinuation<Void, Never>] = []
        /// Passes handed to urgent callers in a row while background callers waited.
        var run = 0
    }

    private let state = Mutex(State())
    /// Most passes in a row for urgent callers while a background one waits.
    static let urgentRun = 8

    /// Runs `body` once the gate is free, holding it until `body` returns.
    func pass<T>(_ priority: Priority, _ body: () async throws -> T) async throws -> T {
        await enter(priority)
        defer { leave() }
        return try await body()
    }

    private func enter(_ priority: Priority) async {
        // The common case, nobody inside: no continuation.
        let entered = state.withLock { state -> Bool in
            guard !state.busy else { return false }
            state.busy = true
            return true
        }
        if entered { return }
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                // Freed between the two locks.
                guard state.busy else {
                    state.busy = true
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

    /// Hands the gate to the oldest urgent waiter (the oldest background one after `urgentRun`
    /// urgent ones in a row), else the oldest background one, else frees it.
    private func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.urgent.isEmpty, state.background.isEmpty || state.run < Self.urgentRun {
                if !state.background.isEmpty { state.run += 1 }
                return state.urgent.removeFirst()
            }
            state.run = 0
            if !state.background.isEmpty { return state.background.removeFirst() }
            state.busy = false
            return nil
        }
        next?.resume()
    }
}

import Synchronization

/// Wakes workers waiting for jobs, and hands chat jobs to a waiting worker as they are enqueued.
///
/// `notify()` wakes every waiter, `notify(campaignOnly: true)` only those that can take campaign
/// jobs; a waiter also returns after its timeout, so a missed signal costs at most one poll
/// interval. A waiter that offers to take jobs can instead be picked by an enqueuer (`taker()`):
/// the enqueuer inserts up to its limit of chat jobs already claimed for it and hands them over,
/// so the worker neither claims them nor waits for a wake-up.
final class JobSignal: Sendable {
    private struct Waiter {
        var handoff: JobHandoff
        var campaign: Bool
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        /// Waiters that take jobs, longest waiting first.
        var takers: [UInt64] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Callers waiting.
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Whether notifications from other processes reach this signal (PostgreSQL's LISTEN is up).
    let listening = Atomic<Bool>(false)

    func notify(campaignOnly: Bool = false) {
        let woken = state.withLock { state -> [JobHandoff] in
            let woken = state.waiters.filter { !campaignOnly || $0.value.campaign }
            for id in woken.keys { state.waiters.removeValue(forKey: id) }
            state.takers.removeAll { woken[$0] != nil }
            return woken.values.map(\.handoff)
        }
        for waiter in woken { waiter.deliver(HandedJobs()) }
    }

    /// When `jobs` hold one that can be handed over, the longest-waiting waiter that takes jobs,
    /// no longer waiting: the caller hands it what it inserted claimed for it
    /// (`JobHandoff.deliver`), or nothing. Nil when no job can be or no such waiter waits.
    func taker(for jobs: [NewJob], now: Int64) -> JobHandoff? {
        guard jobs.contains(where: { ClaimedInsert.canHandOver($0, now: now) }) else { return nil }
        return state.withLock { state in
            guard !state.takers.isEmpty else { return nil }
            return state.waiters.removeValue(forKey: state.takers.removeFirst())?.handoff
        }
    }

    /// Waits for a notification or `timeout`; with `campaign` false, campaign-only ones do not wake.
    /// With `takes` above 0 an enqueuer may hand it up to that many chat jobs, claimed for
    /// `leaseMillis`, with their users' devices, which it returns; otherwise it returns none.
    @discardableResult
    func wait(timeout: Duration, campaign: Bool = true, takes: Int = 0, leaseMillis: Int64 = 0) async -> HandedJobs {
        let id = state.withLock { state -> UInt64 in
            state.nextID &+= 1
            return state.nextID
        }
        return await withTaskGroup(of: HandedJobs.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let handoff = JobHandoff(limit: takes, leaseMillis: leaseMillis, continuation: continuation)
                        let cancelled = self.state.withLock { state -> Bool in
                            if Task.isCancelled { return true }
                            state.waiters[id] = Waiter(handoff: handoff, campaign: campaign)
                            if takes > 0 { state.takers.append(id) }
                            return false
                        }
                        if cancelled { handoff.deliver(HandedJobs()) }
                    }
                } onCancel: {
                    self.withdraw(id)?.deliver(HandedJobs())
                }
            }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return HandedJobs() }
                return HandedJobs(timedOut: true)
            }
            var handed = await group.next() ?? HandedJobs()
            // Cancelling withdraws the waiter, unless an enqueuer picked it: then its jobs are on
            // their way and are collected here.
            group.cancelAll()
            while let jobs = await group.next() { handed.append(jobs) }
            return handed
        }
    }

    private func withdraw(_ id: UInt64) -> JobHandoff? {
        state.withLock { state in
            state.takers.removeAll { $0 == id }
            return state.waiters.removeValue(forKey: id)?.handoff
        }
    }
}

/// A waiting worker picked by an enqueuer: it resumes once, with the jobs handed to it. Dropped
/// without a delivery (an enqueue that failed), it resumes with none.
final class JobHandoff: Sendable {
    /// Most chat jobs it takes.
    let limit: Int
    /// How long the jobs handed to it are claimed for.
    let leaseMillis: Int64
    private let continuation: Mutex<CheckedContinuation<HandedJobs, Never>?>

    init(limit: Int, leaseMillis: Int64, continuation: CheckedContinuation<HandedJobs, Never>) {
        self.limit = limit
        self.leaseMillis = leaseMillis
        self.continuation = Mutex(continuation)
    }

    func deliver(_ jobs: HandedJobs) {
        continuation.withLock { $0.take() }?.resume(returning: jobs)
    }

    deinit {
        deliver(HandedJobs())
    }
}

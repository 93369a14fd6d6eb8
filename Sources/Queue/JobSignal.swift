import Synchronization

/// Wakes workers waiting for jobs. `notify()` wakes every waiter, `notify(campaignOnly: true)` only
/// those that can take campaign jobs; a waiter also returns after its timeout, so a missed signal
/// costs at most one poll interval.
final class JobSignal: Sendable {
    private struct State {
        var waiters: [UInt64: (continuation: CheckedContinuation<Void, Never>, campaign: Bool)] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Callers waiting.
    var waiting: Int { state.withLock { $0.waiters.count } }

    func notify(campaignOnly: Bool = false) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let woken = state.waiters.filter { !campaignOnly || $0.value.campaign }
            for id in woken.keys { state.waiters.removeValue(forKey: id) }
            return woken.values.map(\.continuation)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for a notification or `timeout`; with `campaign` false, campaign-only ones do not wake.
    func wait(timeout: Duration, campaign: Bool = true) async {
        let id = state.withLock { state -> UInt64 in
            state.nextID &+= 1
            return state.nextID
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let cancelled = self.state.withLock { state -> Bool in
                            if Task.isCancelled { return true }
                            state.waiters[id] = (continuation, campaign)
                            return false
                        }
                        if cancelled { continuation.resume() }
                    }
                } onCancel: {
                    self.state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }
}

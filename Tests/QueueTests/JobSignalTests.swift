import Synchronization
import Testing

@testable import Queue

/// The store's wake-up signal: workers that cannot take campaign jobs sleep through campaign-only news.
@Suite("JobSignal", .timeLimit(.minutes(1)))
struct JobSignalTests {
    final class Woken: Sendable {
        let names = Mutex<[String]>([])
    }

    @Test("a campaign-only notification wakes campaign waiters only; a chat one wakes everyone")
    func lanes() async throws {
        let signal = JobSignal()
        let woken = Woken()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await signal.wait(timeout: .seconds(30), campaign: false)
                woken.names.withLock { $0.append("chat-only") }
            }
            group.addTask {
                await signal.wait(timeout: .seconds(30), campaign: true)
                woken.names.withLock { $0.append("campaign") }
            }
            while signal.waiting < 2 { await Task.yield() }
            signal.notify(campaignOnly: true)
            while woken.names.withLock({ $0.isEmpty }) { await Task.yield() }
            try await Task.sleep(for: .milliseconds(200))
            #expect(woken.names.withLock { $0 } == ["campaign"])
            #expect(signal.waiting == 1)
            signal.notify()
            try await group.waitForAll()
        }
        #expect(woken.names.withLock { $0 } == ["campaign", "chat-only"])
    }
}

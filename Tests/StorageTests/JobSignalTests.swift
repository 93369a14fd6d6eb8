import Foundation
import Synchronization
import Testing

@testable import Storage

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
            // notify removes the waiters it wakes under its lock: one left means chat-only was not woken.
            #expect(signal.waiting == 1)
            while woken.names.withLock({ $0.isEmpty }) { await Task.yield() }
            #expect(woken.names.withLock { $0 } == ["campaign"])
            signal.notify()
            try await group.waitForAll()
        }
        #expect(woken.names.withLock { $0 } == ["campaign", "chat-only"])
    }

    @Test("an enqueuer picks the longest-waiting taker for a chat job due now; a dropped pick resumes it empty")
    func handoff() async throws {
        let signal = JobSignal()
        let now: Int64 = 1_000
        let chat = NewJob(sdkAppID: 1, idempotencyKey: "m1", userID: "bob", payload: Data())
        var later = chat
        later.notBeforeMillis = now + 1
        let campaign = NewJob(sdkAppID: 1, idempotencyKey: "c1", lane: .campaign, userID: "bob", payload: Data())
        try await withThrowingTaskGroup(of: (String, [String]).self) { group in
            group.addTask { ("first", await signal.wait(timeout: .seconds(30), takes: 2, leaseMillis: 500).jobs.map(\.idempotencyKey)) }
            while signal.waiting < 1 { await Task.yield() }
            group.addTask { ("second", await signal.wait(timeout: .seconds(30), takes: 2, leaseMillis: 500).jobs.map(\.idempotencyKey)) }
            group.addTask { ("not a taker", await signal.wait(timeout: .seconds(30)).jobs.map(\.idempotencyKey)) }
            while signal.waiting < 3 { await Task.yield() }
            // Nothing a waiting worker may take: a campaign job, a job for later.
            #expect(signal.taker(for: [campaign, later], now: now) == nil)
            let first = try #require(signal.taker(for: [campaign, chat], now: now))
            #expect(first.limit == 2 && first.leaseMillis == 500 && signal.waiting == 2)
            let claimed = ClaimedJob(
                id: 7, claim: 1, sdkAppID: 1, idempotencyKey: "m1", lane: .chat, userID: "bob", payload: Data(), deviceIDs: nil,
                attempts: 0, enqueuedAtMillis: now, leaseUntilMillis: now + 500
            )
            first.deliver(HandedJobs(jobs: [claimed]))
            #expect(try await group.next()! == ("first", ["m1"]))
            // An enqueue that fails drops its pick: the worker resumes with nothing.
            do { _ = try #require(signal.taker(for: [chat], now: now)) }
            #expect(try await group.next()! == ("second", []))
            #expect(signal.taker(for: [chat], now: now) == nil, "the only one left does not take jobs")
            signal.notify()
            #expect(try await group.next()! == ("not a taker", []))
        }
    }
}

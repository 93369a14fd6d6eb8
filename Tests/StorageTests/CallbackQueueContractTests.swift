import Foundation
import PushCore
import Storage
import Testing
import TestSupport

@Suite("Callback outbox contract")
struct CallbackQueueContractTests {
    static let app: UInt64 = 1_400_000_000
    static let lease: Int64 = 60_000

    static func event(_ n: Int, app: UInt64 = app) -> NewCallbackEvent {
        NewCallbackEvent(sdkAppID: app, command: CallbackCommand.offlinePush, body: Data("{\"N\":\(n)}".utf8))
    }

    @Test("events are written with a completion that is current, never with a stale one", arguments: Backend.available)
    func writtenWithCompletion(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueue([job("m1"), job("m2")])
            let first = try await store.claim(limit: 10, leaseMillis: 30_000)
            // m2's worker dies; its lease runs out and another worker claims it.
            fixture.clock.advance(millis: 30_000)
            try await store.complete([JobCompletion(job: first[0], records: [record("d1", .delivered)], events: [Self.event(1), Self.event(2)])])
            let again = try await store.claim(limit: 10, leaseMillis: 30_000)
            #expect(again.map(\.idempotencyKey) == ["m2"])
            try await store.complete([JobCompletion(job: first[1], events: [Self.event(3)])])
            #expect(try await store.callbackBacklog().events == 2, "the stale claim's events are not written")
            try await store.complete([JobCompletion(job: again[0], events: [Self.event(4)])])

            let claimed = try await store.claimCallbackEvents(limit: 10, leaseMillis: Self.lease)
            #expect(claimed.map { String(decoding: $0.body, as: UTF8.self) } == [#"{"N":1}"#, #"{"N":2}"#, #"{"N":4}"#])
            #expect(claimed.allSatisfy { $0.sdkAppID == Self.app && $0.command == CallbackCommand.offlinePush && $0.attempts == 0 })
            #expect(claimed.map(\.id) == claimed.map(\.id).sorted() && Set(claimed.map(\.id)).count == 3)
        }
    }

    @Test("claims lease events; a failed POST delays them and counts an attempt; delivered ones are deleted", arguments: Backend.available)
    func leaseRetryDelete(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            try await store.enqueueCallbackEvents((1...5).map { Self.event($0) })
            let start = fixture.clock.nowMillis()
            #expect(try await store.callbackBacklog() == (5, start))
            let first = try await store.claimCallbackEvents(limit: 3, leaseMillis: Self.lease)
            #expect(first.count == 3)
            let second = try await store.claimCallbackEvents(limit: 10, leaseMillis: Self.lease)
            #expect(second.count == 2 && Set(first.map(\.id)).isDisjoint(with: second.map(\.id)), "a leased event is nobody else's")
            #expect(try await store.claimCallbackEvents(limit: 10, leaseMillis: Self.lease).isEmpty)

            try await store.deleteCallbackEvents(ids: first.map(\.id))
            try await store.retryCallbackEvents(ids: [second[0].id], notBeforeMillis: start + 5_000)
            fixture.clock.advance(millis: 4_999)
            #expect(try await store.claimCallbackEvents(limit: 10, leaseMillis: Self.lease).isEmpty, "not before its backoff")
            fixture.clock.advance(millis: 1)
            let retried = try await store.claimCallbackEvents(limit: 10, leaseMillis: Self.lease)
            #expect(retried.map(\.id) == [second[0].id] && retried[0].attempts == 1 && retried[0].body == second[0].body)

            // The sender holding the other one died: it comes back when the lease runs out.
            fixture.clock.advance(millis: Self.lease)
            let expired = try await store.claimCallbackEvents(limit: 10, leaseMillis: Self.lease)
            #expect(Set(expired.map(\.id)) == Set(second.map(\.id)))
            #expect(try await store.callbackBacklog().events == 2, "only the delivered ones are gone")
            try await store.deleteCallbackEvents(ids: expired.map(\.id))
            #expect(try await store.callbackBacklog() == (0, nil))
        }
    }

    @Test("a campaign that finishes writes one CampaignFinished event with its task", arguments: Backend.available)
    func campaignFinished(_ backend: Backend) async throws {
        try await withStore(backend) { fixture, store in
            let campaign = NewCampaign(
                sdkAppID: Self.app, taskID: "t1", msgRandom: 1, audience: .everyone,
                template: Data(#"{"SdkAppID":1400000000,"Lane":"campaign","MsgBody":[]}"#.utf8), countsForBadge: false
            )
            #expect(try await store.createCampaign(campaign, quota: CampaignQuota()) == .created)
            let walk = try #require(try await store.leaseCampaign(leaseMillis: 15_000))
            let jobs = ["a", "b"].map { walk.job(for: $0) }
            _ = try await store.advanceCampaign(
                walk, cursor: "b", users: 2, usersWithoutDevice: 0, devices: 2, jobs: jobs, last: true, leaseMillis: 15_000, claimMillis: nil
            )
            let claimed = try await store.claim(limit: 10, leaseMillis: 30_000)
            try await store.complete([JobCompletion(job: claimed[0])])
            #expect(try await store.callbackBacklog().events == 0, "not finished while a push is pending")
            try await store.complete([JobCompletion(job: claimed[1])])
            let events = try await store.claimCallbackEvents(limit: 10, leaseMillis: Self.lease)
            #expect(events.count == 1)
            let body = try #require(try JSONSerialization.jsonObject(with: events[0].body) as? [String: Any])
            #expect(events[0].command == CallbackCommand.campaignFinished && events[0].sdkAppID == Self.app)
            #expect(body["TaskId"] as? String == "t1" && body["CallbackCommand"] as? String == "Push.CampaignFinished")
            #expect((body["EventTime"] as? NSNumber)?.int64Value == fixture.clock.nowMillis() / 1000)
            #expect(try await store.cancelCampaign(sdkAppID: Self.app, taskID: "t1") == false)
            #expect(try await store.callbackBacklog().events == 1, "finishing is once")
        }
    }
}

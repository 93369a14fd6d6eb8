import Dispatcher
import Foundation
import Messaging
import PushCore
import PushJob
import Storage
import Testing

@Suite("Fan-out jobs")
struct FanOutTests {
    static func template() throws -> JobTemplate {
        let job = try PushJobSpec.decode(Data(#"{"SdkAppID":1400000000,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}"#.utf8))
        return try JobTemplate(job: job, keyPrefix: "k")
    }

    /// The fan-out jobs as a worker claims them from a fresh SQLite store.
    static func claimed(_ jobs: [NewJob]) async throws -> (store: SQLiteStore, jobs: [ClaimedJob]) {
        let store = try SQLiteStore(path: FileManager.default.temporaryDirectory.appendingPathComponent("fanout-\(UUID()).sqlite").path)
        try await store.enqueue(jobs)
        return (store, try await store.claim(limit: 100, leaseMillis: 60_000))
    }

    @Test("a job per 500 recipients with a job; each expands to exactly the jobs sending them one by one would make")
    func chunks() async throws {
        let fates: [(to: String, fate: Recipients.Fate)] = (0..<1_203).map { i in
            ("u\(i)", i % 100 == 0 ? .none(reason: "Sender") : i % 7 == 0 ? .silent(reason: "Muted") : .push)
        }
        let template = try Self.template()
        let fanOuts = template.fanOuts(fates)
        #expect(fanOuts.map(\.idempotencyKey) == ["k#fanout-0", "k#fanout-1", "k#fanout-2"])
        #expect(fanOuts.allSatisfy { $0.userID == FanOut.userID && !$0.countsForBadge }, "the badge moves with the recipients' jobs")
        let (store, claimed) = try await Self.claimed(fanOuts)
        let expanded = try claimed.sorted { $0.id < $1.id }.flatMap { try FanOut.jobs(of: $0) }
        let direct = try fates.compactMap { try template.job(to: $0.to, fate: $0.fate) }
        #expect(expanded == direct, "expanding a plan gives the jobs a direct send would")
        // And those jobs are what the rules say, written out: one per recipient keyed prefix:user,
        // none for u0 (the sender), u7 muted (a job that notifies nobody), u1 pushed.
        #expect(expanded.prefix(3).map(\.idempotencyKey) == ["k:u1", "k:u2", "k:u3"])
        let muted = try #require(expanded.first { $0.userID == "u7" })
        #expect(String(decoding: muted.payload, as: UTF8.self).contains(#""Silent":"Muted""#))
        // The others carry the message's job as it was encoded once: no recipient, no key, not silent.
        let pushed = try #require(expanded.first { $0.userID == "u1" })
        #expect(pushed.payload == template.payload)
        #expect(String(decoding: pushed.payload, as: UTF8.self) == #"{"MsgBody":[{"MsgContent":{"Text":"hi"},"MsgType":"TIMTextElem"}],"SdkAppID":1400000000}"#)
        #expect(try PushJobSpec.decode(muted.payload).silent == "Muted" && expanded.allSatisfy(\.countsForBadge))
        #expect(expanded.count == 1_203 - 13)
        #expect(try await FanOut.expand(claimed, into: store).refused.isEmpty)
        #expect(try await store.stats().lanes[.chat]?.ready == 1_203 - 13, "every recipient's job queued")
        #expect(try await FanOut.expand(claimed, into: store).refused.isEmpty)
        #expect(try await store.stats().lanes[.chat]?.ready == 1_203 - 13, "a second expansion adds nothing")
        try await store.close()
        #expect(template.fanOuts(fates.map { ($0.to, Recipients.Fate.none(reason: "x")) }).isEmpty)
    }

    @Test("a fan-out job that is not a plan is refused with a reason, and the others still expand")
    func badPlan() async throws {
        let good = try Self.template().fanOuts([("bob", .push)])[0]
        var bad = good
        bad.idempotencyKey = "broken"
        bad.payload = Data("{}".utf8)
        let (store, claimed) = try await Self.claimed([good, bad])
        let refused = try await FanOut.expand(claimed, into: store).refused
        #expect(refused.count == 1 && refused[claimed.first { $0.idempotencyKey == "broken" }?.id ?? -1] != nil)
        #expect(try await store.jobStatus(sdkAppID: 1_400_000_000, idempotencyKey: "k:bob") != nil, "the good one expanded")
        try await store.close()
    }

    @Test("a plan queued before the job was a value (the job as a JSON string) still expands")
    func stringPlan() async throws {
        let plan = #"{"KeyPrefix":"k","CountsForBadge":true,"To":["bob","carol"],"Silent":{"carol":"Muted"},"Job":"{\"SdkAppID\":1400000000,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"hi\"}}]}"}"#
        let (store, claimed) = try await Self.claimed([NewJob(sdkAppID: 1_400_000_000, idempotencyKey: "k#fanout-0", userID: FanOut.userID, payload: Data(plan.utf8))])
        let jobs = try FanOut.jobs(of: try #require(claimed.first))
        #expect(jobs.map(\.idempotencyKey) == ["k:bob", "k:carol"] && jobs.map(\.userID) == ["bob", "carol"])
        let silent = try jobs.map { job throws -> String? in try PushJobSpec.decode(job.payload).silent }
        #expect(silent == [nil, "Muted"])
        #expect(jobs.allSatisfy { $0.countsForBadge })
        try await store.close()
    }
}

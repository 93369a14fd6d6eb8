import API
import ArgumentParser
import Dispatcher
import Foundation
import Gateways
import PushCore
import PushdConfig
import PushdRuntime
import Storage
import Synchronization
import UserSig

/// `pushd-bench campaign`: a tag campaign to half of N users (one APNs device each) against the
/// emulator, next to the dispatch benchmark's queued rate in the same run, with the latency of
/// chat pushes sent while it runs against their latency with no campaign.
struct CampaignBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "A tag campaign to half of N users: time to select, time to complete, pushes/s against the dispatch rate, chat p99 during it, memory."
    )

    @Option(help: "Users, one APNs device each; every other one carries the campaign's tag.") var users = 1_000_000
    @Option(help: "sqlite or postgres.") var backend = "sqlite"
    @Option(help: "PostgreSQL server URL.") var url: String?
    @Option(help: "Jobs of the reference run (the dispatch benchmark's queued path).") var referenceJobs = 30_000
    @Option(help: "Chat pushes per second while measuring chat latency.") var chatRate = 50
    @Option(help: "Seconds of the idle chat latency run.") var idleSeconds = 20
    @Option(help: "Connections to the emulator.") var connections = 2
    @Option(help: "Concurrent streams per connection.") var streams = 100
    @Option(help: "Dispatcher workers.") var workers = 8
    @Option(help: "Jobs per claim.") var batch = 64
    @Option(help: "Campaign pushes at the vendor at once (dispatcher.campaign_in_flight; default: the config's).") var campaignInFlight: Int?
    @Option(help: "Users per walker step (dispatcher.campaign_page; default: the config's).") var campaignPage: Int?

    func run() throws {
        let serverURL = try benchServerURL(backend: backend, url: url)
        let dispatch = DispatchBench(
            backend: backend, n: referenceJobs, serverURL: serverURL, processCounts: [], memoryJobs: 0, latencySeconds: 0,
            connections: connections, streams: streams, workers: workers, batch: batch
        )
        let bench = CampaignBench(dispatch: dispatch, users: users, chatRate: chatRate, idleSeconds: idleSeconds, campaignInFlight: campaignInFlight, campaignPage: campaignPage)
        try runBlocking { try await bench.run() }
    }
}

struct CampaignBench: Sendable {
    var dispatch: DispatchBench
    var users: Int
    var chatRate: Int
    var idleSeconds: Int
    var campaignInFlight: Int?
    var campaignPage: Int?

    static let tag = "half"

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-campaign-bench-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The emulator keeps few requests: the benchmark must not hold per-push state itself.
        let rig = try await DispatchBench.rig(folder: folder, recordLimit: 2_000)
        defer { Task { await rig.running.stop() } }
        var config = try dispatch.config(rig, storage: try await dispatch.storageYAML(folder: folder))
        if let campaignInFlight { config.dispatcher.campaignInFlight = campaignInFlight }
        if let campaignPage { config.dispatcher.campaignPage = campaignPage }
        let store = try await openStore(config)
        print(
            "pushd-bench campaign: \(users) users with one APNs device, every other one tagged \"\(Self.tag)\", backend \(dispatch.backend), "
                + "\(dispatch.connections) connections × \(dispatch.streams) streams, \(dispatch.workers) workers × \(dispatch.batch) jobs per claim, "
                + "campaign pages of \(config.dispatcher.campaignPage), backlog \(config.dispatcher.campaignBacklog), \(config.dispatcher.campaignInFlight) campaign pushes in flight, emulator in this process."
        )

        let setup = try await populate(store)
        print(String(format: "setup: %d users, devices and %d tags in %.1f s", users, (users + 1) / 2, setup))
        let rssBefore = DispatchBench.memoryKB(pid: getpid(), field: "VmRSS:")

        // Reference: the dispatch benchmark's queued path on this store.
        // The VM's speed drifts over a run: the reference is measured before and after the
        // campaign, and the campaign compared with their mean.
        let before = try await referenceRate(store, config: config, keys: "ref-before")
        let idle = try await withDispatcher(store, config: config) {
            try await chatLatency(store, phase: "idle") { started in ContinuousClock.now - started >= .seconds(idleSeconds) }
        }

        var peakRSS = rssBefore
        let (campaign, chat) = try await withDispatcher(store, config: config) { () -> (CampaignStatus, ChatLatency) in
            let task = try await createCampaign(config, store: store)
            let finished = ManagedFlag()
            async let latency = chatLatency(store, phase: "campaign") { _ in finished.value }
            var status: CampaignStatus?
            while true {
                status = try await store.campaign(sdkAppID: DispatchBench.app, taskID: task)
                peakRSS = max(peakRSS, DispatchBench.memoryKB(pid: getpid(), field: "VmRSS:"))
                if status?.state.isOver == true { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            finished.set()
            return (status!, try await latency)
        }
        let after = try await referenceRate(store, config: config, keys: "ref-after")
        let reference = (before + after) / 2
        try await store.close()

        let select = Double((campaign.walkedAtMillis ?? 0) - campaign.createdAtMillis) / 1000
        let complete = Double((campaign.finishedAtMillis ?? 0) - campaign.createdAtMillis) / 1000
        let pushes = campaign.count(.delivered) + campaign.count(.tokenInvalid) + campaign.count(.failed)
        let rate = Double(pushes) / complete
        var table = BenchTable(header: ["run", "pushes/s", "ratio", "notes"])
        table.add([
            "dispatch (queued chat jobs)", String(format: "%.0f", reference), "1.00",
            String(format: "%d jobs enqueued, then drained; mean of %.0f before and %.0f after the campaign", dispatch.n, before, after),
        ])
        table.add([
            "tag campaign", String(format: "%.0f", rate), String(format: "%.2f", rate / reference),
            "\(campaign.users) users selected, \(pushes) pushes, \(campaign.count(.delivered)) delivered",
        ])
        print(table.render())
        print(String(format: "campaign: time to select (every push enqueued) %.1f s, time to complete %.1f s", select, complete))
        var latency = BenchTable(header: ["chat pushes at \(chatRate)/s", "count", "p50 ms", "p99 ms", "p99 ratio", "enqueue p50 / p99 ms"])
        for (name, run) in [("no campaign", idle), ("during the campaign", chat)] {
            latency.add([
                name, "\(run.count)", String(format: "%.1f", run.p50), String(format: "%.1f", run.p99), String(format: "%.2f", run.p99 / max(idle.p99, 0.001)),
                String(format: "%.1f / %.1f", run.enqueueP50, run.enqueueP99),
            ])
        }
        print(latency.render())
        print(String(format: "memory: RSS %.1f MB after setup, peak %.1f MB during the campaign", Double(rssBefore) / 1024, Double(peakRSS) / 1024))
    }

    /// Imports the users, one device each and the tag on every other one; seconds taken.
    func populate(_ store: any PushStore) async throws -> Double {
        let started = ContinuousClock.now
        let chunk = 10_000
        for start in stride(from: 0, to: users, by: chunk) {
            let ids = (start..<min(start + chunk, users)).map(Self.user)
            try await store.importAccounts(sdkAppID: DispatchBench.app, ids.map { ($0, [:]) })
            try await dispatch.registerDevices(store, users: ids, offset: start)
            let tagged = ids.enumerated().filter { $0.offset % 2 == 0 }.map { ($0.element, [Self.tag]) }
            _ = try await store.addTags(sdkAppID: DispatchBench.app, tagged, maxPerUser: 100)
        }
        // Chat users: separate devices, no tag.
        try await dispatch.registerDevices(store, users: (0..<100).map { "chat\($0)" }, offset: users)
        return (ContinuousClock.now - started).seconds
    }

    static func user(_ i: Int) -> String { String(format: "u%07d", i) }

    func referenceRate(_ store: any PushStore, config: PushdConfig, keys: String) async throws -> Double {
        let ids = (0..<dispatch.n).map { Self.user($0 % users) }
        _ = try await dispatch.enqueue(store, keys: (0..<dispatch.n).map { "\(keys)-\($0)" }, users: ids)
        return try await withDispatcher(store, config: config) {
            let started = ContinuousClock.now
            try await dispatch.waitDrained(store)
            return Double(dispatch.n) / (ContinuousClock.now - started).seconds
        }
    }

    /// Runs a dispatcher in this process around `body`, then until the queue is empty.
    func withDispatcher<T: Sendable>(_ store: any PushStore, config: PushdConfig, _ body: () async throws -> T) async throws -> T {
        let gateways = try VendorGateways(config: config)
        let dispatcher = try Dispatcher(store: store, gateways: gateways, config: config)
        let task = Task { try await dispatcher.run() }
        let result = try await body()
        try await dispatch.waitDrained(store)
        task.cancel()
        _ = await task.result
        try await gateways.shutdown()
        return result
    }

    func createCampaign(_ config: PushdConfig, store: any PushStore) async throws -> String {
        let app = config.apps[0]
        let api = RestAPI(config: config, store: store)
        let sig = UserSig.generate(sdkAppID: app.sdkAppID, key: app.secretKey, identifier: app.admin, time: Int64(Date().timeIntervalSince1970))
        let reply = await api.handle(
            service: "timpush", command: "push", query: ["sdkappid": "\(app.sdkAppID)", "identifier": app.admin, "usersig": sig],
            body: Data(#"{"MsgRandom": \#(UInt32.random(in: 1...UInt32.max)), "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}], "Condition": {"TagsAnd": ["\#(Self.tag)"]}}"#.utf8)
        )
        guard reply.code == 0, let task = reply.fields.first(where: { $0.0 == "TaskId" })?.1 as? String else {
            throw ValidationError("timpush/push failed: \(reply.code) \(reply.info)")
        }
        return task
    }

    /// Latency of chat pushes in milliseconds: from the call to enqueue to the push record, and
    /// to the enqueue's return.
    struct ChatLatency: Sendable {
        var p50: Double
        var p99: Double
        var count: Int
        var enqueueP50: Double
        var enqueueP99: Double
    }

    /// Enqueues chat pushes at `chatRate` until `stop`, then reads when each was sent.
    func chatLatency(_ store: any PushStore, phase: String, stop: @Sendable (ContinuousClock.Instant) async -> Bool) async throws -> ChatLatency {
        let started = ContinuousClock.now
        var enqueuedAt: [(String, Int64)] = []
        var enqueueTimes: [Double] = []
        while !(await stop(started)) {
            let due = Int((ContinuousClock.now - started).seconds * Double(chatRate)) + 1
            while enqueuedAt.count < due {
                let key = "chat-\(phase)-\(enqueuedAt.count)"
                // From before the enqueue: a push waits for its transaction as much as for a worker.
                let at = SystemEpochClock().nowMillis()
                let call = ContinuousClock.now
                try await store.enqueue(DispatchBench.job(key: key, user: "chat\(enqueuedAt.count % 100)"))
                enqueueTimes.append((ContinuousClock.now - call).seconds * 1000)
                enqueuedAt.append((key, at))
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        try await dispatch.waitDrained(store)
        var latencies: [Double] = []
        for (key, at) in enqueuedAt {
            if let record = try await store.pushRecords(sdkAppID: DispatchBench.app, idempotencyKey: key).first {
                latencies.append(Double(record.atMillis - at))
            }
        }
        latencies.sort()
        enqueueTimes.sort()
        return ChatLatency(
            p50: GatewayBench.percentile(latencies, 0.5), p99: GatewayBench.percentile(latencies, 0.99), count: latencies.count,
            enqueueP50: GatewayBench.percentile(enqueueTimes, 0.5), enqueueP99: GatewayBench.percentile(enqueueTimes, 0.99)
        )
    }
}

/// A flag one task sets and another polls.
final class ManagedFlag: Sendable {
    private let flag = Mutex(false)

    var value: Bool { flag.withLock { $0 } }

    func set() { flag.withLock { $0 = true } }
}

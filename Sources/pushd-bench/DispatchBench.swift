import ArgumentParser
import Dispatcher
import Emulator
import Foundation
import Gateways
import Messaging
import PushCore
import PushdConfig
import PushdRuntime
import Storage

/// `pushd-bench dispatch`: queued pushes end to end (enqueue → claim → render → send → finish)
/// against the emulator, next to the gateway-only rate of `bench gateway` in the same run.
struct DispatchBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "Delivered pushes/s through the queue against the gateway-only rate, enqueue rate, latency, memory.",
        discussion: """
            PostgreSQL: --url, else PUSHD_STORAGE_URL or PUSHD_TEST_POSTGRES_URL; a fresh database is created on that server. \
            --processes runs the drain with that many `pushd serve` processes (e.g. 1,2). --memory-jobs M queues M jobs in a \
            fresh SQLite store and reports the peak RSS of a `pushd serve` process working that backlog.
            """
    )

    @Option(help: "sqlite or postgres.") var backend = "sqlite"
    @Option(name: .short, help: "Jobs (one APNs device each).") var n = 30_000
    @Option(help: "PostgreSQL server URL.") var url: String?
    @Option(help: "Comma-separated process counts for a multi-process drain, e.g. 1,2 (0: skip).") var processes = "0"
    @Option(help: "Jobs for the memory run (0: skip).") var memoryJobs = 0
    @Option(help: "Seconds of the latency run at half of the peak rate (0: skip).") var latencySeconds = 5
    @Option(help: "Connections to the emulator.") var connections = 2
    @Option(help: "Concurrent streams per connection.") var streams = 100
    @Option(help: "Dispatcher workers.") var workers = 8
    @Option(help: "Jobs per claim.") var batch = 64

    func run() throws {
        let serverURL = try benchServerURL(backend: backend, url: url)
        let counts = processes.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        let bench = DispatchBench(
            backend: backend, n: n, serverURL: serverURL, processCounts: counts, memoryJobs: memoryJobs,
            latencySeconds: latencySeconds, connections: connections, streams: streams, workers: workers, batch: batch
        )
        try runBlocking { try await bench.run() }
    }
}

struct DispatchBench: Sendable {
    var backend: String
    var n: Int
    var serverURL: String?
    var processCounts: [Int]
    var memoryJobs: Int
    var latencySeconds: Int
    var connections: Int
    var streams: Int
    var workers: Int
    var batch: Int

    static let app = DemoCredentials.sdkAppID

    /// The emulator in this process and a config (file and value) whose vendors all point at it.
    struct Rig {
        var folder: String
        var state: EmulatorState
        var running: GatewayEmulator.Running
        var demo: DemoCredentials
        var base: String
        var caFile: String
        var yaml: String
    }

    /// Starts the emulator in this process, keeping the last `recordLimit` requests, with a
    /// config for it in `folder`.
    static func rig(folder: String, recordLimit: Int) async throws -> Rig {
        let certificates = try EmulatorCertificates()
        let caFile = try certificates.writeCA(to: folder)
        let state = EmulatorState(recordLimit: recordLimit)
        let demo = try DemoCredentials()
        demo.register(with: state)
        // Threads of its own, as a vendor's servers are: on the client's loops, the emulator's
        // work on the campaign's requests would hold up the reads of chat pushes' answers.
        let running = try await GatewayEmulator(state: state, certificates: certificates).start(threads: ProcessInfo.processInfo.activeProcessorCount)
        let base = "https://127.0.0.1:\(running.port)"
        let path = try demo.write(to: folder, emulator: base, caFile: caFile, listen: "127.0.0.1:0")
        return Rig(
            folder: folder, state: state, running: running, demo: demo, base: base, caFile: caFile,
            yaml: try String(contentsOfFile: path, encoding: .utf8)
        )
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-dispatch-bench-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let rig = try await Self.rig(folder: folder, recordLimit: max(200_000, n * 2))
        defer { Task { await rig.running.stop() } }

        print(
            "pushd-bench dispatch: \(n) jobs, backend \(backend), APNs, \(connections) connections × \(streams) streams, "
                + "\(workers) workers × \(batch) jobs per claim, emulator in this process."
        )
        let gateway = try await gatewayOnly(rig)
        var table = BenchTable(header: ["path", "pushes/s", "ratio", "notes"])
        table.add(["gateway only (bench gateway)", String(format: "%.0f", gateway), "1.00", "client.send in a loop"])

        let config = try config(rig, storage: try await storageYAML(folder: folder))
        let store = try await openStore(config)
        let users = (0..<n).map { "u\($0)" }
        try await registerDevices(store, users: users)
        let enqueueRate = try await enqueue(store, keys: users.map { "m-\($0)" }, users: users)
        let queued = try await drainInProcess(store, config: config, rig: rig, expected: n)
        table.add(["queued, one process", String(format: "%.0f", queued.rate), String(format: "%.2f", queued.rate / gateway), "enqueue → claim → send → finish"])
        print(table.render())
        print(String(format: "enqueue: %.0f jobs/s (batches of 500, one transaction each)", enqueueRate))
        if latencySeconds > 0 {
            let latency = try await latencyRun(store, config: config, rig: rig, rate: queued.rate / 2, users: users)
            print(
                String(
                    format: "enqueue → gateway latency at %.0f jobs/s (half of peak), %d jobs: p50 %.1f ms, p99 %.1f ms",
                    queued.rate / 2, latency.count, latency.p50, latency.p99
                )
            )
        }
        try await store.close()
        if !processCounts.isEmpty { try await processRuns(rig: rig, gateway: gateway) }
        if memoryJobs > 0 { try await memoryRun(rig: rig) }
    }

    // MARK: Phases

    /// The rate of `bench gateway` with the same settings: the reference.
    func gatewayOnly(_ rig: Rig) async throws -> Double {
        let gatewayBench = GatewayBench(settings: (vendor: .apns, n: n, connections: connections, streams: streams, h2load: false, external: nil))
        let transport = try VendorTransport(
            settings: .init(connections: connections, maxInFlight: connections * streams, caFile: rig.caFile)
        )
        let client = gatewayBench.makeClient(demo: rig.demo, apnsKey: rig.demo.apnsKey, base: rig.base, transport: transport)
        let renderer = PushRenderer(app: GatewayBench.app)
        let content = PushContent(body: "Alice:hello u0")
        let now = SystemEpochClock().nowMillis()
        let requests = try (0..<n).map { i -> (VendorRequest, String) in
            let token = Self.token(i)
            return (try renderer.render(content, vendor: .apns, to: .init(token: token, badge: 1, pushID: UUID().uuidString.lowercased(), nowMillis: now)), token)
        }
        for (request, token) in requests.prefix(connections * 4) { _ = await client.send(request, token: token) }
        let figures = try await gatewayBench.measurePushd(client: client, requests: requests)
        try await transport.shutdown()
        rig.state.clearRequests()
        return figures.rate
    }

    func registerDevices(_ store: any PushStore, users: [String], offset: Int = 0) async throws {
        let now = SystemEpochClock().nowMillis()
        for chunk in stride(from: 0, to: users.count, by: 10_000) {
            let devices = (chunk..<min(chunk + 10_000, users.count)).map { i in
                Device(sdkAppID: Self.app, userID: users[i], deviceID: "d", vendor: .apns, token: Self.token(offset + i), locale: .en, registeredAtMillis: now)
            }
            try await store.upsertDevices(devices)
        }
    }

    /// Enqueues one job per user in batches of 500; jobs per second.
    func enqueue(_ store: any PushStore, keys: [String], users: [String]) async throws -> Double {
        let started = ContinuousClock.now
        for chunk in stride(from: 0, to: users.count, by: 500) {
            let jobs = (chunk..<min(chunk + 500, users.count)).map { i in Self.job(key: keys[i], user: users[i]) }
            try await store.enqueue(jobs)
        }
        return Double(users.count) / (ContinuousClock.now - started).seconds
    }

    /// Runs a dispatcher in this process until the queue is empty.
    func drainInProcess(_ store: any PushStore, config: PushdConfig, rig: Rig, expected: Int) async throws -> (rate: Double, seconds: Double) {
        let gateways = try VendorGateways(config: config)
        let dispatcher = try Dispatcher(store: store, gateways: gateways, config: config)
        let started = ContinuousClock.now
        let task = Task { try await dispatcher.run() }
        try await waitDrained(store)
        let elapsed = (ContinuousClock.now - started).seconds
        task.cancel()
        _ = await task.result
        try await gateways.shutdown()
        let delivered = rig.state.requests(vendor: .apns).filter { $0.status == 200 }.count
        if delivered < expected { print("warning: \(delivered) of \(expected) pushes reached the emulator") }
        return (Double(expected) / elapsed, elapsed)
    }

    /// Enqueues at `rate` for `latencySeconds` with a dispatcher running; enqueue → emulator latency.
    func latencyRun(_ store: any PushStore, config: PushdConfig, rig: Rig, rate: Double, users: [String]) async throws -> (p50: Double, p99: Double, count: Int) {
        rig.state.clearRequests()
        let gateways = try VendorGateways(config: config)
        let dispatcher = try Dispatcher(store: store, gateways: gateways, config: config)
        let task = Task { try await dispatcher.run() }
        let total = min(users.count, Int(rate * Double(latencySeconds)))
        var enqueuedAt: [String: Int64] = [:]
        let started = ContinuousClock.now
        var sent = 0
        while sent < total {
            // Every 10 ms, the jobs due by now.
            let due = min(total, Int((ContinuousClock.now - started).seconds * rate) + 1)
            if due > sent {
                let now = SystemEpochClock().nowMillis()
                let jobs = (sent..<due).map { i in Self.job(key: "lat-\(i)", user: users[i]) }
                try await store.enqueue(jobs)
                for i in sent..<due { enqueuedAt[Self.token(i)] = now }
                sent = due
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        try await waitDrained(store)
        task.cancel()
        _ = await task.result
        try await gateways.shutdown()
        var latencies: [Double] = []
        for request in rig.state.requests(vendor: .apns) where request.status == 200 {
            guard let token = request.path.split(separator: "/").last, let at = enqueuedAt[String(token)] else { continue }
            latencies.append(Double(request.receivedAtMillis - at))
        }
        latencies.sort()
        return (GatewayBench.percentile(latencies, 0.5), GatewayBench.percentile(latencies, 0.99), latencies.count)
    }

    /// The drain with K `pushd serve` processes on one database, for each K.
    func processRuns(rig: Rig, gateway: Double) async throws {
        var table = BenchTable(header: ["pushd serve processes", "pushes/s", "vs gateway only", "vs one process"])
        var one: Double?
        for (round, k) in processCounts.enumerated() {
            let storage = try await storageYAML(folder: rig.folder + "/procs-\(round)")
            let config = try config(rig, storage: storage)
            let configFile = rig.folder + "/procs-\(round).yaml"
            try (try configYAML(rig, storage: storage)).write(toFile: configFile, atomically: true, encoding: .utf8)
            let store = try await openStore(config)
            let users = (0..<n).map { "u\($0)" }
            try await registerDevices(store, users: users)
            _ = try await enqueue(store, keys: users.map { "p\(round)-\($0)" }, users: users)
            let children = try (0..<k).map { _ in try Self.spawnServe(config: configFile, log: rig.folder + "/serve-\(round).log") }
            // The clock starts at the first finished job, so process start-up is not counted.
            let deadline = ContinuousClock.now + .seconds(600)
            while try await pending(store) == n, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            let started = ContinuousClock.now
            let left = try await pending(store)
            try await waitDrained(store)
            let rate = Double(left) / (ContinuousClock.now - started).seconds
            for child in children { child.terminate() }
            for child in children { child.waitUntilExit() }
            try await store.close()
            one = one ?? (k == 1 ? rate : nil)
            table.add([
                "\(k)", String(format: "%.0f", rate), String(format: "%.2f", rate / gateway), one.map { String(format: "%.2f", rate / $0) } ?? "—",
            ])
        }
        print("\nSeveral processes on one \(backend) store (\(n) jobs each run):")
        print(table.render())
    }

    /// Peak RSS of a `pushd serve` process working a backlog of `memoryJobs` jobs (SQLite).
    func memoryRun(rig: Rig) async throws {
        let folder = rig.folder + "/memory"
        let storage = "storage: { backend: sqlite, path: \(folder)/pushd.sqlite }"
        let config = try config(rig, storage: storage)
        let configFile = folder + ".yaml"
        try (try configYAML(rig, storage: storage)).write(toFile: configFile, atomically: true, encoding: .utf8)
        let store = try await openStore(config)
        let users = (0..<memoryJobs).map { "m\($0)" }
        try await registerDevices(store, users: users)
        let enqueueRate = try await enqueue(store, keys: users.map { "mem-\($0)" }, users: users)
        let child = try Self.spawnServe(config: configFile, log: folder + "-serve.log")
        var peakRSS = 0
        let started = ContinuousClock.now
        var atStart: Int?
        while ContinuousClock.now - started < .seconds(30), child.isRunning {
            peakRSS = max(peakRSS, Self.memoryKB(pid: child.processIdentifier, field: "VmHWM:"))
            if atStart == nil { atStart = try await pending(store) }
            try await Task.sleep(for: .milliseconds(200))
        }
        let worked = (atStart ?? memoryJobs) - (try await pending(store))
        peakRSS = max(peakRSS, Self.memoryKB(pid: child.processIdentifier, field: "VmHWM:"))
        child.terminate()
        child.waitUntilExit()
        try await store.close()
        print(
            String(
                format: "\nmemory: %d jobs queued (enqueued at %.0f jobs/s); one pushd serve worked %d of them in 30 s (%.0f pushes/s), peak RSS %.1f MB",
                memoryJobs, enqueueRate, worked, Double(worked) / 30, Double(peakRSS) / 1024
            )
        )
    }

    // MARK: Helpers

    static func token(_ i: Int) -> String { String(format: "%064x", i + 1) }

    static func job(key: String, user: String) -> NewJob {
        let payload = Data(
            #"{"SdkAppID":\#(app),"To_Account":"\#(user)","IdempotencyKey":"\#(key)","SenderNick":"Alice","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello \#(user)"}}]}"#
                .utf8
        )
        return NewJob(sdkAppID: app, idempotencyKey: key, userID: user, payload: payload, countsForBadge: true)
    }

    /// The `storage:` line of a fresh store: a SQLite file in `folder`, or a new PostgreSQL database.
    func storageYAML(folder: String) async throws -> String {
        if backend == "postgres", let serverURL {
            let url = try await freshBenchDatabase("pushd_bench_", serverURL: serverURL)
            return "storage: { backend: postgres, url: \"\(url)\" }"
        }
        return "storage: { backend: sqlite, path: \(folder)/pushd.sqlite }"
    }

    func configYAML(_ rig: Rig, storage: String) throws -> String {
        // The demo config's templates are the working directory's already.
        rig.yaml.replacingOccurrences(of: "storage: \(DemoCredentials.demoStorage)", with: storage)
            + "dispatcher: { workers: \(workers), batch_size: \(batch), connections: \(connections), max_in_flight: \(connections * streams) }\n"
    }

    func config(_ rig: Rig, storage: String) throws -> PushdConfig {
        try ConfigLoader().parse(try configYAML(rig, storage: storage)).config
    }

    func pending(_ store: any PushStore) async throws -> Int {
        try await store.stats().lanes.values.reduce(0) { $0 + $1.pending }
    }

    func waitDrained(_ store: any PushStore) async throws {
        while try await pending(store) > 0 { try await Task.sleep(for: .milliseconds(20)) }
    }

    static func spawnServe(config: String, log: String) throws -> Process {
        let process = Process()
        process.executableURL = try pushdBinary()
        process.arguments = ["serve", "--config", config]
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// A `/proc/PID/status` field in kB.
    static func memoryKB(pid: Int32, field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field) {
            return Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty }.map(String.init) ?? "") ?? 0
        }
        return 0
    }
}

/// The `pushd` binary built beside this one (`swift build -c release` builds both).
func pushdBinary() throws -> URL {
    let url = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("pushd")
    guard FileManager.default.isExecutableFile(atPath: url.path) else {
        throw ValidationError("no pushd binary at \(url.path): build it first (swift build -c release)")
    }
    return url
}

/// The PostgreSQL server of a benchmark: `--url`, else `PUSHD_STORAGE_URL` or `PUSHD_TEST_POSTGRES_URL`;
/// nil for SQLite.
func benchServerURL(backend: String, url: String?) throws -> String? {
    guard ["sqlite", "postgres"].contains(backend) else { throw ValidationError("--backend must be sqlite or postgres") }
    let env = ProcessInfo.processInfo.environment
    let serverURL = url ?? env["PUSHD_STORAGE_URL"] ?? env["PUSHD_TEST_POSTGRES_URL"]
    if backend == "postgres", serverURL == nil { throw ValidationError("postgres needs --url (or PUSHD_STORAGE_URL)") }
    return serverURL
}

/// A new, empty database on the server, named `prefix` and a random suffix: its URL.
func freshBenchDatabase(_ prefix: String, serverURL: String) async throws -> String {
    let name = prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    return try await PostgresStore.createDatabase(name, serverURL: serverURL)
}

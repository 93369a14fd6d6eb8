import API
import ArgumentParser
import Dispatcher
import Foundation
import Hummingbird
import Messaging
import PushCore
import PushJob
import PushdConfig
import PushdRuntime
import Storage
import Synchronization
import UserSig

/// `pushd-bench api`: the REST API under a concurrent HTTP load generator (wrk, from Debian) with
/// a valid UserSig, in this process on SQLite or PostgreSQL: `openim/sendmsg` (one recipient, one
/// device each) and `openim/batchsendmsg` (500 recipients), next to a reference run of the same
/// requests refused before any storage (HTTP, UserSig and JSON parsing only).
struct ApiBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Accepted sendmsg/s and batch recipients/s over HTTP with wrk, p99 latency, share of time in durable writes.",
        discussion: "PostgreSQL: --url, else PUSHD_STORAGE_URL or PUSHD_TEST_POSTGRES_URL; a fresh database is created on that server."
    )

    @Option(help: "sqlite or postgres.") var backend = "sqlite"
    @Option(help: "PostgreSQL server URL.") var url: String?
    @Option(help: "Seconds per run.") var seconds = 10
    @Option(help: "Concurrent HTTP connections.") var connections = 64
    @Option(help: "wrk threads.") var threads = 2
    @Option(help: "Imported users, one APNs device each.") var users = 20_000
    @Option(help: "Run only this one (sendmsg or batchsendmsg) after the reference, to profile it; batchsendmsg alone also times the fan-out of its jobs.") var only: String?

    func run() throws {
        let serverURL = try benchServerURL(backend: backend, url: url)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
            throw ValidationError("pushd-bench api drives wrk: apt-get install wrk")
        }
        let bench = ApiBench(backend: backend, serverURL: serverURL, seconds: seconds, connections: connections, threads: threads, users: users, only: only)
        try runBlocking { try await bench.run() }
    }
}

struct ApiBench: Sendable {
    var backend: String
    var serverURL: String?
    var seconds: Int
    var connections: Int
    var threads: Int
    var users: Int
    var only: String?

    static let app: UInt64 = 1_400_000_000
    static let batchSize = 500

    /// One wrk run: what it sent, what was accepted, latency.
    struct Result: Decodable {
        var requests: Int
        var duration_us: Int
        var p50_us: Int
        var p99_us: Int
        var ok: Int
        var bad: Int
        var socket_errors: Int

        var seconds: Double { Double(duration_us) / 1_000_000 }
        var accepted: Double { Double(ok) / seconds }
    }

    /// Nanoseconds spent handling requests and, within them, in durable writes, so far.
    static func writeShare(_ timings: TimerTotals) -> (handled: Int64, writing: Int64) {
        (timings.total("pushd_api_request_duration_seconds").nanoseconds, timings.total("pushd_api_write_duration_seconds").nanoseconds)
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-api-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var config = PushdConfig()
        var app = PushdConfig.App(sdkAppID: Self.app)
        app.secretKey = UUID().uuidString
        config.apps = [app]
        if backend == "postgres", let serverURL {
            config.storage.backend = "postgres"
            config.storage.url = try await freshBenchDatabase("pushd_api_bench_", serverURL: serverURL)
        } else {
            config.storage.path = folder + "/pushd.sqlite"
        }
        let store = try await openStore(config)
        try await seed(store)

        let timings = TimerTotals()
        let router = Router(context: PushdRequestContext.self)
        // As in `pushd serve`: every request counted and timed by route and status.
        router.add(middleware: HTTPObserver(factory: timings))
        RestAPI(config: config, store: store, metrics: timings).addRoutes(to: router)
        let port = PortBox()
        let server = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.set(channel.localAddress?.port ?? 0) }
        )
        let serving = Task { try await server.runService() }
        defer { serving.cancel() }
        let base = "http://127.0.0.1:\(try await port.wait())"
        let sig = UserSig.generate(sdkAppID: Self.app, key: app.secretKey, identifier: app.admin, expire: 86_400, time: Int64(Date().timeIntervalSince1970))
        let path = "/v4/openim/%@?sdkappid=\(Self.app)&identifier=\(app.admin)&usersig=\(sig)&random=1&contenttype=json"

        print(
            "pushd-bench api: backend \(backend), wrk \(threads) threads × \(connections) connections, \(seconds) s per run, "
                + "\(users) users with one APNs device each, pushd in this process (no dispatcher: acceptance only)."
        )
        var table = BenchTable(header: ["run", "requests/s", "accepted msgs/s", "recipients/s", "p50 ms", "p99 ms", "durable writes", "ratio"])
        func add(_ name: String, _ r: Result, recipients: Int, write: Double?, reference: Double) {
            table.add([
                name, String(format: "%.0f", Double(r.requests) / r.seconds), String(format: "%.0f", r.accepted),
                String(format: "%.0f", r.accepted * Double(recipients)), String(format: "%.1f", Double(r.p50_us) / 1000),
                String(format: "%.1f", Double(r.p99_us) / 1000), write.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
                String(format: "%.2f", Double(r.requests) / r.seconds / reference),
            ])
        }
        let reference = try await wrk(url: base + String(format: path, "sendmsg"), script: Self.referenceScript, name: "reference", folder: folder)
        let referenceRate = Double(reference.requests) / reference.seconds
        add("reference: sendmsg refused before storage (90005)", reference, recipients: 0, write: nil, reference: referenceRate)

        var results: [(String, Result)] = []
        for (name, script, recipients, label) in [
            ("sendmsg", sendScript(), 1, "openim/sendmsg, 1 recipient"),
            ("batchsendmsg", batchScript(), Self.batchSize, "openim/batchsendmsg, \(Self.batchSize) recipients"),
        ] where only == nil || only == name {
            let before = Self.writeShare(timings)
            let result = try await wrk(url: base + String(format: path, name), script: script, name: name, folder: folder)
            let after = Self.writeShare(timings)
            let share = after.handled > before.handled ? Double(after.writing - before.writing) / Double(after.handled - before.handled) : 0
            add(label, result, recipients: recipients, write: share, reference: referenceRate)
            results.append((name, result))
        }
        print(table.render())
        for (name, r) in results where r.bad > 0 || r.socket_errors > 0 {
            print("\(name): \(r.bad) replies were not OK, \(r.socket_errors) socket errors")
        }
        let stats = try await store.stats()
        print("jobs queued durably: \(stats.lanes.values.reduce(0) { $0 + $1.pending })")
        if only == "batchsendmsg" { try await fanOut(store) }
        serving.cancel()
        try await store.close()
    }

    /// A batch is accepted as one job; the dispatcher later turns it into a job per recipient (and
    /// raises their badges). With `--only batchsendmsg` (the queue holds nothing else), this
    /// drains the batches' jobs that way, as the dispatcher's workers would (64 per claim, one
    /// enqueue and one finish per claim), and reports the rate.
    func fanOut(_ store: any PushStore) async throws {
        let start = ContinuousClock.now
        var (batches, recipients) = (0, 0)
        while true {
            let claimed = try await store.claim(limit: 64, leaseMillis: 60_000).filter(FanOut.isFanOut)
            guard !claimed.isEmpty else { break }
            recipients += try await FanOut.expand(claimed, into: store).jobs
            try await store.complete(claimed.map { JobCompletion(job: $0) })
            batches += claimed.count
        }
        let seconds = Double((ContinuousClock.now - start).nanoseconds) / 1e9
        print(
            String(
                format: "fan-out afterwards (not in the figures above): %d batches into %d recipients' jobs in %.1f s, %.0f recipients/s",
                batches, recipients, seconds, Double(recipients) / max(seconds, 0.001)
            )
        )
    }

    /// Imports the users and registers one APNs device each.
    func seed(_ store: any PushStore) async throws {
        let ids = (0..<users).map { "u\($0)" }
        for chunk in stride(from: 0, to: ids.count, by: 1_000) {
            let part = ids[chunk..<min(chunk + 1_000, ids.count)]
            try await store.importAccounts(sdkAppID: Self.app, part.map { ($0, [:]) } + [("sender", ["Tag_Profile_IM_Nick": "\"Sender\""])])
            try await store.upsertDevices(
                part.enumerated().map { i, user in
                    Device(sdkAppID: Self.app, userID: user, deviceID: "phone", vendor: .apns, token: String(format: "%064x", chunk + i + 1), registeredAtMillis: 0)
                }
            )
        }
    }

    // MARK: wrk

    /// Counts replies by `ErrorCode` and prints one JSON line at the end.
    static let common = #"""
        local threads = {}
        function setup(thread) thread:set("tid", #threads) table.insert(threads, thread) end
        function init(args) n = 0 ok = 0 bad = 0 end
        function response(status, headers, body)
          if string.find(body, '"ErrorCode":0', 1, true) then ok = ok + 1 else bad = bad + 1 end
        end
        function done(summary, latency, requests)
          local ok, bad = 0, 0
          for _, t in ipairs(threads) do ok = ok + t:get("ok") bad = bad + t:get("bad") end
          local e = summary.errors
          io.write(string.format('RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"ok":%d,"bad":%d,"socket_errors":%d}\n',
            summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), ok, bad, e.connect + e.read + e.write + e.timeout))
        end
        """#

    /// A sendmsg body without `MsgRandom`: authenticated and parsed, then refused (90005).
    static let referenceScript = common + "\n" + #"""
        function request()
          return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
            '{"From_Account":"sender","To_Account":"u1","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello"}}]}')
        end
        """#

    /// Distinct messages (a unique `MsgRandom` per request) to the users in turn.
    func sendScript() -> String {
        Self.common + "\n" + #"""
            function request()
              n = n + 1
              local r = tid * 100000000 + n
              return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                '{"From_Account":"sender","To_Account":"u' .. (r % \#(users)) .. '","MsgRandom":' .. r ..
                ',"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello ' .. r .. '"}}]}')
            end
            """#
    }

    /// 500 recipients per request, a unique `MsgRandom` each time, the recipient window moving on.
    func batchScript() -> String {
        Self.common + "\n" + #"""
            function request()
              n = n + 1
              local r = tid * 100000000 + n
              local first = (r * \#(Self.batchSize)) % \#(users)
              local to = {}
              for i = 0, \#(Self.batchSize - 1) do to[#to + 1] = '"u' .. ((first + i) % \#(users)) .. '"' end
              return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                '{"From_Account":"sender","To_Account":[' .. table.concat(to, ",") .. '],"MsgRandom":' .. r ..
                ',"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello ' .. r .. '"}}]}')
            end
            """#
    }

    func wrk(url: String, script: String, name: String, folder: String) async throws -> Result {
        let scriptPath = folder + "/\(name).lua"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--timeout", "10s", "-s", scriptPath, url]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        // Never block a cooperative thread: the server runs on them.
        let output: Data = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { _ in continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile()) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let text = String(decoding: output, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }) else {
            throw ValidationError("wrk printed no result:\n\(text)")
        }
        return try JSONDecoder().decode(Result.self, from: Data(line.dropFirst("RESULT ".count).utf8))
    }
}

/// The port the server bound, once it runs.
final class PortBox: Sendable {
    private let port = Mutex<Int?>(nil)

    func set(_ value: Int) { port.withLock { $0 = value } }

    func wait() async throws -> Int {
        while true {
            if let value = port.withLock({ $0 }) { return value }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

import AsyncHTTPClient
import Callbacks
import Emulator
import Foundation
import GRDB
import Ingest
import Messaging
import PushCore
import Storage
import RequestFuzzing
import Testing
import TestSupport
import UserSig

/// `pushd serve`, `enqueue` and `dlq` as child processes against an emulator in the test process.
@Suite("pushd daemon", .serialized)
struct DaemonTests {
    /// `pushd emulate` in its own process (so its load does not starve this one) and a pushd config
    /// using it, with SQLite in a temporary folder.
    struct Setup {
        let folder: String
        let config: String
        let emulator: Child
        let base: String

        init(dispatcher: String) async throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-daemon-\(UUID())").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            emulator = try Child.start(["emulate", "--listen", "127.0.0.1:0", "--cert-dir", folder], logFile: folder + "/emulator.log")
            try await emulator.waitFor("pushd config using it")
            guard let url = emulator.log.split(separator: "\n").first(where: { $0.hasPrefix("pushd emulator: ") })?.split(separator: " ")[2] else {
                throw CancellationError()
            }
            base = String(url)
            let yaml = try String(contentsOfFile: folder + "/pushd-emulator.yaml", encoding: .utf8)
                .replacingOccurrences(of: "storage: \(DemoCredentials.demoStorage)", with: "storage: { backend: sqlite, path: \(folder)/pushd.sqlite }")
                .replacingOccurrences(of: #"listen: "127.0.0.1:8080""#, with: #"listen: "127.0.0.1:0""#)
            config = folder + "/pushd.yaml"
            try (yaml + "dispatcher:\n" + dispatcher).write(toFile: config, atomically: true, encoding: .utf8)
        }

        func store() throws -> SQLiteStore { try SQLiteStore(path: folder + "/pushd.sqlite") }

        /// The app's UserSig key, from the config the emulator wrote.
        func secretKey() throws -> String {
            let yaml = try String(contentsOfFile: config, encoding: .utf8)
            return try #require(yaml.components(separatedBy: "secret_key: \"").dropFirst().first?.split(separator: "\"").first.map(String.init))
        }

        /// Starts `pushd serve` on this setup's config; returns it with the port it listens on.
        func serve(_ extra: [String] = [], log: String = "serve.log") async throws -> (Child, Int) {
            let serve = try Child.start(["serve", "--config", config] + extra, logFile: folder + "/" + log)
            try await serve.waitFor("listening on")
            return (serve, try Child.port(of: serve))
        }

        /// Polls `condition` until it holds; records an issue and throws when `timeout` passes first.
        static func waitUntil(_ what: String, timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool) async throws {
            try await eventually(what, timeout: timeout, every: interval, condition)
        }

        /// An admin call to the emulator (curl, trusting its CA).
        @discardableResult
        func admin(_ method: String, _ path: String, body: String? = nil) async throws -> Data {
            try await Self.curl(["--cacert", folder + "/ca.pem", "-X", method, base + path] + (body.map { ["-d", $0] } ?? []))
        }

        /// curl's output for these arguments.
        static func curl(_ arguments: [String]) async throws -> Data {
            try await Child.offPool {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                process.arguments = ["-sf"] + arguments
                let output = Pipe()
                process.standardOutput = output
                try process.run()
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                return data
            }
        }

        /// The APNs device tokens the emulator accepted a push for, once per push.
        func deliveredTokens() async throws -> [String] {
            let requests = try JSONSerialization.jsonObject(with: try await admin("GET", "/admin/requests?vendor=apns")) as? [[String: Any]] ?? []
            return requests.filter { $0["status"] as? Int == 200 }.compactMap { ($0["path"] as? String)?.split(separator: "/").last.map(String.init) }
        }

        func stop() async {
            emulator.kill(SIGTERM)
            let status = try? await emulator.exitStatus(within: .seconds(5))
            #expect(status == 0, "pushd emulate stops cleanly on SIGTERM")
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    static func token(_ i: Int) -> String { String(format: "%064x", i + 1) }

    @Test("a child process dropped while running (a test that threw) is killed and reaped")
    func childReaped() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-reap-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pid = try {
            let child = try Child.start(["emulate", "--listen", "127.0.0.1:0", "--cert-dir", folder], logFile: folder + "/emulator.log")
            #expect(child.process.isRunning)
            return child.process.processIdentifier
        }()
        #expect(kill(pid, 0) != 0, "pid \(pid) still exists")
    }

    @Test("SIGKILL with thousands of jobs in flight: after a restart every job reaches the emulator, none is lost")
    func crashAndRestart() async throws {
        // A short lease so the crashed process's jobs come back quickly, but longer than a batch takes.
        let setup = try await Setup(dispatcher: "  lease_seconds: 5\n  shutdown_grace_seconds: 3\n  workers: 4\n  batch_size: 64\n")
        let n = 3_000
        let store = try setup.store()
        let now = SystemEpochClock().nowMillis()
        try await store.upsertDevices((0..<n).map { i in
            Device(sdkAppID: DemoCredentials.sdkAppID, userID: "u\(i)", deviceID: "d", vendor: .apns, token: Self.token(i), registeredAtMillis: now)
        })
        let jobs = (0..<n).map { i in
            #"{"SdkAppID":\#(DemoCredentials.sdkAppID),"To_Account":"u\#(i)","IdempotencyKey":"m\#(i)","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"crash test \#(i)"}}]}"#
        }
        let enqueued = try await Child.run(["enqueue", "--config", setup.config], stdin: jobs.joined(separator: "\n"))
        #expect(enqueued.status == 0 && enqueued.stdout.contains(#""Enqueued":\#(n)"#), "\(enqueued)")
        // Slow gateway: many sends are in flight when the process dies.
        try await setup.admin("POST", "/admin/faults", body: #"{"vendor":"apns","latencyMillis":300}"#)

        let first = try Child.start(["serve", "--config", setup.config], logFile: setup.folder + "/serve-1.log")
        try await first.waitFor("listening on")
        try await Setup.waitUntil("300 jobs sent before the kill", every: .milliseconds(20)) { try await store.stats().lanes[.chat]!.pending <= n - 300 }
        first.kill(SIGKILL)
        #expect(try await first.exitStatus(within: .seconds(10)) == SIGKILL)
        let atCrash = try await store.stats().lanes[.chat]!
        #expect(atCrash.pending > 0, "the crash left work behind")

        try await setup.admin("DELETE", "/admin/faults")
        let second = try Child.start(["serve", "--config", setup.config], logFile: setup.folder + "/serve-2.log")
        try await second.waitFor("listening on")
        try await Setup.waitUntil("the queue drained after the restart", timeout: .seconds(90)) { try await store.stats().lanes[.chat]!.pending == 0 }

        let tokens = try await setup.deliveredTokens()
        let delivered = Set(tokens)
        let missing = (0..<n).filter { !delivered.contains(Self.token($0)) }
        #expect(missing.isEmpty, "\(missing.count) jobs never reached the emulator, e.g. \(missing.prefix(5))")
        let sends = tokens.count
        print("crash test: \(n) jobs, \(sends) deliveries (\(sends - n) repeated after the crash), \(atCrash.pending) pending at the crash")
        // Only what the killed process held can be sent twice: at most workers (4) × batch_size (64)
        // claimed jobs, plus chat workers' (1 × 64).
        #expect(sends - n <= 5 * 64, "\(sends - n) repeated deliveries: more than the dead process could hold")
        #expect(try await store.stats().deadLetters == 0)

        // SIGTERM: a clean stop, exit 0.
        second.kill(SIGTERM)
        #expect(try await second.exitStatus(within: .seconds(15)) == 0, "\(second.log.suffix(2_000))")
        try await store.close()
        await setup.stop()
    }

    /// Issue 30: at least once from a broker, end to end, across a crash.
    @Test(
        "broker ingest: SIGKILL of pushd serve in the middle of 20,000 events; after a restart every event's push reaches the emulator, none enqueued twice",
        arguments: [BrokerServer.Kind.nats, .redis]
    )
    func ingestCrash(kind: BrokerServer.Kind) async throws {
        let broker = try BrokerServer(kind)
        let setup = try await Setup(dispatcher: "  workers: 4\n  batch_size: 64\n")
        let source: String
        switch kind {
        case .nats:
            source = #"{ kind: nats, url: "\#(broker.url)", stream: PUSHD, subject: pushd.events, dead_letter: pushd.dead, batch: 256 }"#
        case .redis:
            source = #"{ kind: redis, url: "\#(broker.url)", stream: "pushd:events", dead_letter: "pushd:dead", consumer_name: pushd-1, batch: 256 }"#
        }
        try (String(contentsOfFile: setup.config, encoding: .utf8) + "ingest:\n  - \(source)\n").write(toFile: setup.config, atomically: true, encoding: .utf8)
        // Half the events are push jobs to j<i>, half sendmsg commands to s<i> (imported accounts).
        let half = 10_000
        let app = DemoCredentials.sdkAppID
        let store = try setup.store()
        let now = SystemEpochClock().nowMillis()
        try await store.upsertDevices((0..<(2 * half)).map { i in
            Device(sdkAppID: app, userID: i < half ? "j\(i)" : "s\(i - half)", deviceID: "d", vendor: .apns, token: Self.token(i), registeredAtMillis: now)
        })
        try await store.importAccounts(sdkAppID: app, (0..<half).map { ("s\($0)", [:]) })
        var events: [[UInt8]] = []
        for i in 0..<half {
            events.append(Array(#"{"SdkAppID":\#(app),"To_Account":"j\#(i)","IdempotencyKey":"job-\#(i)","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"job \#(i)"}}]}"#.utf8))
            events.append(Array(#"{"Command":"openim/sendmsg","SdkAppID":\#(app),"Body":{"To_Account":"s\#(i)","MsgRandom":\#(i),"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"msg \#(i)"}}]}}"#.utf8))
        }
        switch kind {
        case .nats:
            let publisher = try await retrying { try await NATSPublisher(url: broker.url) }
            try await retrying {
                try await publisher.ensureStream("PUSHD", subjects: ["pushd.events"])
                try await publisher.ensureStream("DEAD", subjects: ["pushd.dead"])
            }
            try await publisher.publish("pushd.events", events)
            await publisher.shutdown()
        case .redis:
            let publisher = try await RedisPublisher(url: broker.url)
            try await publisher.publish("pushd:events", events)
            await publisher.shutdown()
        }
        let database = try DatabaseQueue(path: setup.folder + "/pushd.sqlite", configuration: { var c = Configuration(); c.readonly = true; return c }())
        func count(_ table: String) throws -> Int { try database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") ?? 0 } }

        let first = try Child.start(["serve", "--config", setup.config], logFile: setup.folder + "/serve-1.log")
        try await first.waitFor("listening on")
        try await Setup.waitUntil("a quarter of the events ingested before the kill", every: .milliseconds(10)) { try count("jobs") >= half / 2 }
        first.kill(SIGKILL)
        #expect(try await first.exitStatus(within: .seconds(10)) == SIGKILL)
        let atCrash = try count("jobs")
        #expect(atCrash < 2 * half, "the crash left events behind")

        let second = try Child.start(["serve", "--config", setup.config], logFile: setup.folder + "/serve-2.log")
        try await second.waitFor("listening on")
        try await Setup.waitUntil("every event's push delivered", timeout: .seconds(240), every: .seconds(1)) {
            Set(try await setup.deliveredTokens()).count == 2 * half
        }
        // One job per push job and per sendmsg; one stored message per sendmsg: nothing ran twice.
        #expect(try count("jobs") == 2 * half)
        #expect(try count("messages") == half)
        #expect(try await store.stats().deadLetters == 0)
        print("ingest crash test (\(kind)): \(2 * half) events, \(atCrash) jobs at the crash, \(try await setup.deliveredTokens().count) deliveries")
        second.kill(SIGTERM)
        #expect(try await second.exitStatus(within: .seconds(15)) == 0, "\(second.log.suffix(2_000))")
        try await store.close()
        await setup.stop()
    }

    /// Issue 28 section 4: SIGHUP and `pushd config reload`.
    @Test("reload: a new Huawei channel ID on the next push; a bad file refused and counted; 10,000 queued pushes across five reloads, none lost or repeated")
    func hotReload() async throws {
        let setup = try await Setup(dispatcher: "  workers: 4\n  batch_size: 64\n")
        let store = try setup.store()
        let n = 10_000
        let now = SystemEpochClock().nowMillis()
        try await store.upsertDevices(
            (0..<n).map { i in
                Device(sdkAppID: DemoCredentials.sdkAppID, userID: "u\(i)", deviceID: "d", vendor: .apns, token: Self.token(i), registeredAtMillis: now)
            } + [Device(sdkAppID: DemoCredentials.sdkAppID, userID: "hw", deviceID: "mate", vendor: .huawei, token: "hw-token", registeredAtMillis: now)]
        )
        let (serve, port) = try await setup.serve()
        let original = try String(contentsOfFile: setup.config, encoding: .utf8)
        let huaweiChannel = #"default_channel_id: "chat", default_category: "IM", action"#
        #expect(original.contains(huaweiChannel))
        func enqueue(_ jobs: [String]) async throws {
            let result = try await Child.run(["enqueue", "--config", setup.config], stdin: jobs.joined(separator: "\n"))
            #expect(result.status == 0 && result.stdout.contains(#""Enqueued":\#(jobs.count)"#), "\(result)")
        }
        func job(_ user: String, _ key: String) -> String {
            #"{"SdkAppID":\#(DemoCredentials.sdkAppID),"To_Account":"\#(user)","IdempotencyKey":"\#(key)","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"reload"}}]}"#
        }
        func huaweiChannels() async throws -> [String] {
            let requests = try JSONSerialization.jsonObject(with: try await setup.admin("GET", "/admin/requests?vendor=huawei")) as? [[String: Any]] ?? []
            return requests.compactMap { $0["body"] as? String }.compactMap { body in
                body.range(of: #""channel_id":""#).map { String(body[$0.upperBound...].prefix { $0 != "\"" }) }
            }
        }
        func reloads() -> Int { serve.log.components(separatedBy: "config reloaded").count - 1 }
        func refusals() -> Int { serve.log.components(separatedBy: "config reload refused").count - 1 }

        try await enqueue([job("hw", "hw-1")])
        try await Setup.waitUntil("the first Huawei push") { try await huaweiChannels().count == 1 }
        #expect(try await huaweiChannels() == ["chat"])

        // `pushd config reload` checks the file and signals the process in the pid file.
        try original.replacingOccurrences(of: huaweiChannel, with: #"default_channel_id: "chat-v2", default_category: "IM", action"#)
            .write(toFile: setup.config, atomically: true, encoding: .utf8)
        let sent = try await Child.run(["config", "reload", "--config", setup.config])
        #expect(sent.status == 0 && sent.stdout.contains("sent SIGHUP"), "\(sent)")
        try await Setup.waitUntil("the reload") { reloads() == 1 }
        try await enqueue([job("hw", "hw-2")])
        try await Setup.waitUntil("the second Huawei push") { try await huaweiChannels().count == 2 }
        #expect(try await huaweiChannels() == ["chat", "chat-v2"])

        // A file that fails config check: the command refuses to signal; SIGHUP itself is refused and counted.
        let good = try String(contentsOfFile: setup.config, encoding: .utf8)
        try (good.replacingOccurrences(of: #"  - sdkappid: "#, with: #"  - sdkappid: x"#)).write(toFile: setup.config, atomically: true, encoding: .utf8)
        let refusedCommand = try await Child.run(["config", "reload", "--config", setup.config])
        #expect(refusedCommand.status != 0 && !refusedCommand.stdout.contains("sent SIGHUP"), "\(refusedCommand)")
        serve.kill(SIGHUP)
        try await Setup.waitUntil("the refusal") { refusals() == 1 }
        let metrics = String(decoding: try await Setup.curl(["http://127.0.0.1:\(port)/metrics"]), as: UTF8.self)
        #expect(metrics.contains(#"pushd_config_reloads_total{result="ok"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"pushd_config_reloads_total{result="refused"} 1"#))
        #expect(metrics.contains("pushd_config_last_reload_successful 0"))
        let ready = String(decoding: try await Setup.curl(["-w", " %{http_code}", "http://127.0.0.1:\(port)/readyz"]), as: UTF8.self)
        #expect(ready.hasPrefix(#"{"config":{"generation":2,"last_reload":{"#) && ready.contains(#""result":"refused""#), "\(ready)")
        #expect(ready.hasSuffix(#""ready":true,"reasons":[]} 200"#), "the running config still delivers: \(ready)")
        try await enqueue([job("hw", "hw-3")])
        try await Setup.waitUntil("the third Huawei push") { try await huaweiChannels().count == 3 }
        #expect(try await huaweiChannels() == ["chat", "chat-v2", "chat-v2"])

        // A backlog of 10,000 while the APNs client is swapped five times (its sandbox endpoint
        // changes, so each reload builds a new client and retires the old connections).
        try good.write(toFile: setup.config, atomically: true, encoding: .utf8)
        try await setup.admin("POST", "/admin/faults", body: #"{"vendor":"apns","latencyMillis":20}"#)
        try await enqueue((0..<n).map { job("u\($0)", "m\($0)") })
        for round in 1...5 {
            try await Task.sleep(for: .milliseconds(300))
            let sandbox = round % 2 == 1 ? "/apns/" : "/apns"
            let text = good.replacingOccurrences(of: #"/apns", team_id"#, with: sandbox + #"", team_id"#)
            #expect(text != good || round % 2 == 0)
            try text.write(toFile: setup.config, atomically: true, encoding: .utf8)
            serve.kill(SIGHUP)
            try await Setup.waitUntil("reload \(round)") { reloads() == 1 + round }
        }
        let pendingAtLastReload = try await store.stats().lanes[.chat]!.pending
        try await setup.admin("DELETE", "/admin/faults")
        try await Setup.waitUntil("the backlog drained", timeout: .seconds(120)) { try await store.stats().lanes[.chat]!.pending == 0 }
        let tokens = try await setup.deliveredTokens()
        #expect(Set(tokens).count == n, "\(n - Set(tokens).count) pushes lost")
        #expect(tokens.count == n, "\(tokens.count - n) pushes repeated")
        #expect(try await store.stats().deadLetters == 0)
        let apns = try JSONSerialization.jsonObject(with: try await setup.admin("GET", "/admin/requests?vendor=apns")) as? [[String: Any]] ?? []
        let connections = Set(apns.compactMap { $0["connection"] as? Int }).count
        #expect(connections > 2, "each reload's new APNs client opened its own connections: \(connections)")
        print("reload test: \(pendingAtLastReload) of \(n) still queued at the fifth reload; \(connections) APNs connections")
        #expect(pendingAtLastReload > 0, "the reloads happened during the backlog")

        serve.kill(SIGTERM)
        #expect(try await serve.exitStatus(within: .seconds(15)) == 0)
        #expect(!FileManager.default.fileExists(atPath: setup.folder + "/pushd.pid"), "the pid file goes with the process")
        try await store.close()
        await setup.stop()
    }

    @Test("pushd serve delivers a queued job to every vendor; devices registered with pushd device")
    func everyVendor() async throws {
        let setup = try await Setup(dispatcher: "  workers: 2\n")
        for (i, vendor) in Vendor.allCases.enumerated() {
            let token = vendor == .apns ? Self.token(i) : "\(vendor.rawValue)-token-\(i)"
            let r = try await Child.run([
                "device", "register", "--config", setup.config, "--user", "bob", "--device", "d-\(vendor.rawValue)", "--vendor", vendor.rawValue,
                "--token", token, "--locale", "en",
            ])
            #expect(r.status == 0, "\(r)")
        }
        let r = try await Child.run(
            ["enqueue", "--config", setup.config],
            stdin: #"{"SdkAppID":1400000000,"To_Account":"bob","SenderNick":"Alice","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"to every vendor"}}]}"#
        )
        #expect(r.status == 0, "\(r)")
        let serve = try Child.start(["serve", "--config", setup.config], logFile: setup.folder + "/serve.log")
        try await serve.waitFor("listening on")
        let store = try setup.store()
        try await Setup.waitUntil("the job sent to every vendor") { try await store.stats().lanes[.chat]!.pending == 0 }
        let requests = try JSONSerialization.jsonObject(with: try await setup.admin("GET", "/admin/requests")) as? [[String: Any]] ?? []
        for vendor in Vendor.allCases {
            let sends = requests.filter { $0["vendor"] as? String == vendor.rawValue && $0["status"] as? Int == 200 }
            let bodies = sends.compactMap { ($0["body"] as? String)?.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            #expect(bodies.contains { $0.contains("to every vendor") }, "\(vendor.rawValue): \(bodies)")
        }
        // The port comes from the log line; /healthz and /metrics answer there.
        let port = try Child.port(of: serve)
        #expect(try await Setup.curl(["http://127.0.0.1:\(port)/healthz"]) == Data("ok\n".utf8))
        // Issue 28: ready, with a JSON body saying so.
        let ready = String(decoding: try await Setup.curl(["-w", " %{http_code}", "http://127.0.0.1:\(port)/readyz"]), as: UTF8.self)
        #expect(ready == #"{"config":{"generation":1},"ready":true,"reasons":[]} 200"#, "\(ready)")
        // Issue 29: the console is off unless `console.enabled`; nothing under /console answers.
        for path in ["console", "console/signin", "console/static/console.css"] {
            let code = try await Setup.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/\(path)"])
            #expect(code == Data("404".utf8), "/\(path)")
        }
        // A REST call, refused for its missing UserSig, is still timed under its command.
        _ = try await Setup.curl(["-d", "{}", "http://127.0.0.1:\(port)/v4/openim/sendmsg?sdkappid=1400000000&identifier=x&usersig=x"])
        let metrics = String(decoding: try await Setup.curl(["http://127.0.0.1:\(port)/metrics"]), as: UTF8.self)
        #expect(metrics.contains(#"pushd_sends_total{app="1400000000",vendor="honor",outcome="delivered"} 1"#), "\(metrics.prefix(2_000))")
        // Issue 28 section 3: every HTTP request by route and status, API errors by code, vendor state per app.
        #expect(metrics.contains(#"pushd_http_requests_total{route="/v4/openim/sendmsg",method="POST",status="200"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"pushd_http_requests_total{route="/readyz",method="GET",status="200"} 1"#))
        #expect(metrics.contains(#"pushd_http_request_duration_seconds_count{route="/healthz",method="GET",status="200"} 1"#))
        #expect(metrics.contains(#/pushd_api_errors_total\{code="70\d{3}"\} 1/#), "the refused UserSig, by its code")
        #expect(metrics.contains(#"pushd_vendor_paused{app="1400000000",vendor="apns"} 0"#))
        #expect(metrics.contains(#"pushd_vendor_config_alarm{app="1400000000",vendor="honor"} 0"#))
        #expect(metrics.contains(#"pushd_campaigns_running{app="1400000000"} 0"#))
        #expect(metrics.contains(#"pushd_queue_pending{app="1400000000",lane="chat"} 0"#), "a configured app's queue, even when it never waited")
        #expect(metrics.contains(#/pushd_build_info\{version="\d+\.\d+\.\d+",commit="([0-9a-f]{12}(\+dirty)?|unknown)"\} 1/#), "\(metrics.prefix(2_000))")
        #expect(metrics.contains(#"pushd_api_request_duration_seconds_count{command="openim/sendmsg"} 1"#), "\(metrics.prefix(4_000))")
        serve.kill(SIGTERM)
        #expect(try await serve.exitStatus(within: .seconds(15)) == 0)
        try await store.close()
        await setup.stop()
    }

    /// Issue 24: a job whose processing takes the daemon down every time (here: the daemon is killed
    /// while the job's send hangs) must not crash-loop it for ever.
    @Test("a job that dies with its daemon on every claim is dead-lettered after max_attempts restarts; other jobs flow meanwhile")
    func poisonAcrossRestarts() async throws {
        let setup = try await Setup(dispatcher: "  lease_seconds: 2\n  max_attempts: 2\n  workers: 2\n  batch_size: 1\n")
        let store = try setup.store()
        let now = SystemEpochClock().nowMillis()
        try await store.upsertDevices([
            Device(sdkAppID: DemoCredentials.sdkAppID, userID: "victim", deviceID: "d", vendor: .apns, token: Self.token(1), registeredAtMillis: now),
        ] + (0..<3).map { i in
            Device(sdkAppID: DemoCredentials.sdkAppID, userID: "ok\(i)", deviceID: "d", vendor: .fcm, token: "fcm-ok-\(i)", registeredAtMillis: now)
        })
        func job(_ user: String, _ key: String) -> String {
            #"{"SdkAppID":\#(DemoCredentials.sdkAppID),"To_Account":"\#(user)","IdempotencyKey":"\#(key)","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]}"#
        }
        // Every APNs send hangs: the daemon holding the victim's job is killed while it waits.
        try await setup.admin("POST", "/admin/faults", body: #"{"vendor":"apns","stall":true}"#)
        _ = try await Child.run(["enqueue", "--config", setup.config], stdin: job("victim", "poison"))
        var restarts = 0
        for round in 0..<4 {
            _ = try await Child.run(["enqueue", "--config", setup.config], stdin: job("ok\(round % 3)", "ok-\(round)"))
            let serve = try Child.start(["serve", "--config", setup.config], logFile: setup.folder + "/serve-\(round).log")
            try await serve.waitFor("listening on")
            let deadline = ContinuousClock.now + .seconds(20)
            // Wait until the round's healthy job is done and the victim is either held or dead.
            while ContinuousClock.now < deadline {
                let healthy = try await store.jobStatus(sdkAppID: DemoCredentials.sdkAppID, idempotencyKey: "ok-\(round)")?.finishedAtMillis != nil
                let victim = try await store.jobStatus(sdkAppID: DemoCredentials.sdkAppID, idempotencyKey: "poison")
                if healthy, victim?.finishedAtMillis != nil || (victim?.availableAtMillis ?? 0) > SystemEpochClock().nowMillis() { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await store.jobStatus(sdkAppID: DemoCredentials.sdkAppID, idempotencyKey: "ok-\(round)")?.finishedAtMillis != nil, "round \(round): other jobs flow")
            if try await store.jobStatus(sdkAppID: DemoCredentials.sdkAppID, idempotencyKey: "poison")?.finishedAtMillis != nil {
                serve.kill(SIGTERM)
                _ = try await serve.exitStatus(within: .seconds(15))
                break
            }
            serve.kill(SIGKILL)
            _ = try await serve.exitStatus(within: .seconds(10))
            restarts += 1
            try await Setup.waitUntil("the dead daemon's lease on the victim runs out") {
                let victim = try await store.jobStatus(sdkAppID: DemoCredentials.sdkAppID, idempotencyKey: "poison")
                return (victim?.availableAtMillis ?? 0) <= SystemEpochClock().nowMillis()
            }
        }
        let dead = try await store.deadLetters(afterID: 0, limit: 10)
        #expect(dead.map(\.idempotencyKey) == ["poison"] && dead.first?.lastError.hasPrefix("Poison: claimed 3 times") == true, "\(dead)")
        #expect(restarts == 2, "dead after max_attempts (2) killed claims: \(restarts) restarts")
        print("poison job: dead-lettered after \(restarts) killed daemons")
        try await store.close()
        await setup.stop()
    }

    /// Issue 24: several instances on one PostgreSQL, one of three killed while they work a backlog.
    @Test("three pushd serve on one PostgreSQL, one SIGKILLed mid-backlog: the survivors deliver all 3,000, none lost")
    func multiInstanceCrash() async throws {
        guard let server = ProcessInfo.processInfo.environment["PUSHD_TEST_POSTGRES_URL"] else {
            print("** multi-instance crash test SKIPPED: PUSHD_TEST_POSTGRES_URL is not set **")
            return
        }
        let name = "pushd_multi_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        let url = try await PostgresStore.createDatabase(name, serverURL: server)
        let setup = try await Setup(dispatcher: "  lease_seconds: 4\n  shutdown_grace_seconds: 3\n  workers: 2\n  batch_size: 32\n")
        let yaml = try String(contentsOfFile: setup.config, encoding: .utf8)
            .replacingOccurrences(of: "storage: { backend: sqlite, path: \(setup.folder)/pushd.sqlite }", with: "storage: { backend: postgres, url: \"\(url)\" }")
        #expect(yaml.contains("backend: postgres"))
        try yaml.write(toFile: setup.config, atomically: true, encoding: .utf8)
        let store = try await PostgresStore(url: url)
        let n = 3_000
        let now = SystemEpochClock().nowMillis()
        try await store.upsertDevices((0..<n).map { i in
            Device(sdkAppID: DemoCredentials.sdkAppID, userID: "u\(i)", deviceID: "d", vendor: .apns, token: Self.token(i), registeredAtMillis: now)
        })
        let jobs = (0..<n).map { i in
            #"{"SdkAppID":\#(DemoCredentials.sdkAppID),"To_Account":"u\#(i)","IdempotencyKey":"m\#(i)","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"multi \#(i)"}}]}"#
        }
        let enqueued = try await Child.run(["enqueue", "--config", setup.config], stdin: jobs.joined(separator: "\n"))
        #expect(enqueued.status == 0 && enqueued.stdout.contains(#""Enqueued":\#(n)"#), "\(enqueued)")
        // A slow gateway keeps sends in flight in every instance.
        try await setup.admin("POST", "/admin/faults", body: #"{"vendor":"apns","latencyMillis":200}"#)
        var instances: [Child] = []
        for i in 0..<3 {
            let child = try Child.start(["serve", "--config", setup.config], logFile: setup.folder + "/serve-\(i).log")
            try await child.waitFor("listening on")
            instances.append(child)
        }
        try await Setup.waitUntil("600 jobs sent before the kill", every: .milliseconds(20)) { try await store.stats().lanes[.chat]!.pending <= n - 600 }
        instances[1].kill(SIGKILL)
        #expect(try await instances[1].exitStatus(within: .seconds(10)) == SIGKILL)
        let atCrash = try await store.stats().lanes[.chat]!.pending
        #expect(atCrash > 0, "the kill left work behind")
        try await setup.admin("DELETE", "/admin/faults")
        try await Setup.waitUntil("the survivors drained the queue", timeout: .seconds(120)) { try await store.stats().lanes[.chat]!.pending == 0 }
        let tokens = try await setup.deliveredTokens()
        let delivered = Set(tokens)
        let missing = (0..<n).filter { !delivered.contains(Self.token($0)) }
        print("multi-instance crash: \(n) jobs, 3 instances, one killed with \(atCrash) pending, \(tokens.count) deliveries, \(missing.count) lost")
        #expect(missing.isEmpty, "\(missing.count) jobs never reached the emulator, e.g. \(missing.prefix(5))")
        #expect(try await store.stats().deadLetters == 0)
        for i in [0, 2] {
            instances[i].kill(SIGTERM)
            #expect(try await instances[i].exitStatus(within: .seconds(15)) == 0)
        }
        try await store.close()
        await setup.stop()
    }

    @Test("over HTTP: import accounts, register a device, sendmsg; the push reaches the emulator, get_push_records shows it, the IM server hears of it")
    func restEndToEnd() async throws {
        let setup = try await Setup(dispatcher: "  workers: 2\n")
        let key = try setup.secretKey()
        // Issue 28 section 5: the app's IM server gets the outcome as a signed callback.
        let receiver = try await CallbackReceiver.start()
        let yaml = try String(contentsOfFile: setup.config, encoding: .utf8).replacingOccurrences(
            of: "  - sdkappid: 1400000000\n", with: "  - sdkappid: 1400000000\n    callback: { url: \"\(receiver.url)\", key: \"cb-key\" }\n"
        )
        try yaml.write(toFile: setup.config, atomically: true, encoding: .utf8)
        let (serve, port) = try await setup.serve()
        func call(_ command: String, _ body: String, as identifier: String = "administrator") async throws -> [String: Any] {
            let sig = UserSig.generate(sdkAppID: 1_400_000_000, key: key, identifier: identifier, time: Int64(Date().timeIntervalSince1970))
            let url = "http://127.0.0.1:\(port)/v4/\(command)?sdkappid=1400000000&identifier=\(identifier)&usersig=\(sig)&random=1&contenttype=json"
            let data = try await Setup.curl(["-X", "POST", "-d", body, url])
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }
        #expect(try await call("im_open_login_svc/multiaccount_import", #"{"AccountList": [{"UserID": "alice", "Nick": "Alice"}, {"UserID": "bob"}]}"#)["ErrorCode"] as? Int == 0)
        let token = String(repeating: "5", count: 64)
        #expect(try await call("pushd/register_device", #"{"DeviceId": "iphone", "Vendor": "apns", "Token": "\#(token)"}"#, as: "bob")["ErrorCode"] as? Int == 0)
        #expect(try await call("pushd/report_state", #"{"DeviceId": "iphone", "State": "PushOnline", "Unread": 2}"#, as: "bob")["ErrorCode"] as? Int == 0)
        let sent = try await call(
            "openim/sendmsg", #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 7, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi bob"}}]}"#
        )
        let msgKey = try #require(sent["MsgKey"] as? String, "\(sent)")
        var records: [[String: Any]] = []
        try await Setup.waitUntil("the push recorded") {
            records = try await call("pushd/get_push_records", #"{"MsgKey": "\#(msgKey)"}"#)["Records"] as? [[String: Any]] ?? []
            return !records.isEmpty
        }
        #expect(records.first?["Outcome"] as? String == "Delivered" && records.first?["DeviceId"] as? String == "iphone", "\(records)")
        let requests = try JSONSerialization.jsonObject(with: try await setup.admin("GET", "/admin/requests?vendor=apns")) as? [[String: Any]] ?? []
        let body = try #require(requests.last?["body"] as? String)
        #expect(body.contains(#""alert":"Alice:hi bob""#) && body.contains(#""badge":3"#), "\(body)")
        let emulatorRoute = try await Setup.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/emulator/requests"])
        #expect(String(decoding: emulatorRoute, as: UTF8.self) == "404", "no /emulator routes outside demo mode")
        try await Setup.waitUntil("the callback received") { !receiver.requests.isEmpty }
        let callback = receiver.requests[0]
        #expect(callback.query["CallbackCommand"] == "Push.OfflinePush" && callback.query["SdkAppid"] == "1400000000")
        let time = try #require(callback.query["RequestTime"].flatMap { Int64($0) })
        #expect(abs(time - Int64(Date().timeIntervalSince1970)) < 60)
        #expect(CallbackSignature.isValid(callback.query["Sign"] ?? "", key: "cb-key", requestTime: time, body: callback.body))
        let event = try #require(callback.events.first)
        #expect(event["Outcome"] as? String == "Delivered" && event["MsgKey"] as? String == msgKey && event["From_Account"] as? String == "alice")
        #expect(event["To_Account"] as? String == "bob" && event["DeviceId"] as? String == "iphone")
        await receiver.stop()
        serve.kill(SIGTERM)
        #expect(try await serve.exitStatus(within: .seconds(15)) == 0)
        await setup.stop()
    }

    /// Issue 28 section 3: with `tracing.endpoint`, swift-otel exports a push's trace over OTLP/HTTP,
    /// continuing the IM server's `traceparent`.
    @Test("tracing: the sendmsg request, its job and its APNs request are exported over OTLP/HTTP as one trace continuing the caller's traceparent")
    func tracingExport() async throws {
        let setup = try await Setup(dispatcher: "  workers: 2\n")
        let key = try setup.secretKey()
        let collector = try await CallbackReceiver.start(path: "/v1/traces")
        let yaml = try String(contentsOfFile: setup.config, encoding: .utf8) + "tracing: { endpoint: \"\(collector.url)\", protocol: http/json }\n"
        try yaml.write(toFile: setup.config, atomically: true, encoding: .utf8)
        let (serve, port) = try await setup.serve()
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736", parentID = "00f067aa0ba902b7"
        func call(_ command: String, _ body: String, as identifier: String = "administrator") async throws -> [String: Any] {
            let sig = UserSig.generate(sdkAppID: 1_400_000_000, key: key, identifier: identifier, time: Int64(Date().timeIntervalSince1970))
            let url = "http://127.0.0.1:\(port)/v4/\(command)?sdkappid=1400000000&identifier=\(identifier)&usersig=\(sig)&random=1&contenttype=json"
            let data = try await Setup.curl(["-X", "POST", "-H", "traceparent: 00-\(traceID)-\(parentID)-01", "-d", body, url])
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }
        #expect(try await call("im_open_login_svc/multiaccount_import", #"{"AccountList": [{"UserID": "alice"}, {"UserID": "bob"}]}"#)["ErrorCode"] as? Int == 0)
        #expect(try await call("pushd/register_device", #"{"DeviceId": "iphone", "Vendor": "apns", "Token": "\#(Self.token(7))"}"#, as: "bob")["ErrorCode"] as? Int == 0)
        let sent = try await call(
            "openim/sendmsg", #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 9, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#
        )
        #expect(sent["ErrorCode"] as? Int == 0)
        /// OTLP/JSON ids are hex; a protobuf-JSON encoder may write them as base64.
        func hex(_ id: Any?) -> String {
            guard let text = id as? String else { return "" }
            if text.count == 32 || text.count == 16, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
            return Data(base64Encoded: text).map { $0.map { String(format: "%02x", $0) }.joined() } ?? text
        }
        var spans: [[String: Any]] = []
        try await Setup.waitUntil("the push's spans exported", timeout: .seconds(90)) {
            spans = collector.requests.flatMap { request -> [[String: Any]] in
                let object = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
                let resources = object?["resourceSpans"] as? [[String: Any]] ?? []
                return resources.flatMap { ($0["scopeSpans"] as? [[String: Any]] ?? []).flatMap { $0["spans"] as? [[String: Any]] ?? [] } }
            }
            return spans.contains { $0["name"] as? String == "pushd.send apns" }
        }
        func span(_ name: String) -> [String: Any]? { spans.first { $0["name"] as? String == name } }
        let request = try #require(span("POST /v4/openim/sendmsg"), "\(spans.map { $0["name"] ?? "" })")
        let job = try #require(span("pushd.dispatch"))
        let send = try #require(span("pushd.send apns"))
        #expect(hex(request["traceId"]) == traceID && hex(request["parentSpanId"]) == parentID, "the IM server's trace continues")
        #expect(hex(job["traceId"]) == traceID && hex(job["parentSpanId"]) == hex(request["spanId"]))
        #expect(hex(send["traceId"]) == traceID && hex(send["parentSpanId"]) == hex(job["spanId"]))
        let body = String(decoding: collector.requests[0].body, as: UTF8.self)
        #expect(body.contains("service.name") && body.contains("pushd"))
        serve.kill(SIGTERM)
        #expect(try await serve.exitStatus(within: .seconds(15)) == 0)
        await collector.stop()
        await setup.stop()
    }

    @Test("a tag campaign under pushd serve, followed to the end by pushd campaign watch")
    func campaignWatch() async throws {
        let setup = try await Setup(dispatcher: "  workers: 2\n  campaign_page: 16\n")
        let key = try setup.secretKey()
        let (serve, port) = try await setup.serve()
        func call(_ command: String, _ body: String) async throws -> [String: Any] {
            let sig = UserSig.generate(sdkAppID: 1_400_000_000, key: key, identifier: "administrator", time: Int64(Date().timeIntervalSince1970))
            let url = "http://127.0.0.1:\(port)/v4/\(command)?sdkappid=1400000000&identifier=administrator&usersig=\(sig)&random=1&contenttype=json"
            let reply = try JSONSerialization.jsonObject(with: try await Setup.curl(["-X", "POST", "-d", body, url])) as? [String: Any] ?? [:]
            #expect(reply["ErrorCode"] as? Int == 0, "\(command): \(reply)")
            return reply
        }
        let users = (0..<60).map { "w\($0)" }
        _ = try await call("im_open_login_svc/multiaccount_import", #"{"Accounts": [\#(users.map { "\"\($0)\"" }.joined(separator: ","))]}"#)
        let tagged = users.prefix(40).map { #"{"To_Account": "\#($0)", "Tags": ["vip"]}"# }.joined(separator: ",")
        _ = try await call("all_member_push/im_add_tag", #"{"UserTags": [\#(tagged)]}"#)
        for (i, user) in users.enumerated() {
            _ = try await call("pushd/register_device", #"{"UserID": "\#(user)", "DeviceId": "d", "Vendor": "apns", "Token": "\#(Self.token(7_000 + i))"}"#)
        }
        let reply = try await call(
            "all_member_push/im_push", #"{"MsgRandom": 9, "MsgLifeTime": 3600, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}], "Condition": {"TagsOr": ["vip"]}}"#
        )
        let task = try #require(reply["TaskId"] as? String)
        let watch = try Child.start(
            ["campaign", "watch", task, "--config", setup.config, "--url", "http://127.0.0.1:\(port)", "--interval", "0.2"], logFile: setup.folder + "/watch.log"
        )
        #expect(try await watch.exitStatus(within: .seconds(60)) == 0, "\(watch.log)")
        #expect(watch.log.contains("100.0%") && watch.log.contains("Finished: 40 users, 40 delivered, 0 invalid tokens, 0 failed, 0 skipped"), "\(watch.log)")
        #expect(Set(try await setup.deliveredTokens()) == Set((0..<40).map { Self.token(7_000 + $0) }))
        serve.kill(SIGTERM)
        #expect(try await serve.exitStatus(within: .seconds(15)) == 0)
        await setup.stop()
    }

    /// Issue 24: with the shipped `vendors: {}` and secrets in the environment, serve used to start the
    /// emulator silently and report every push delivered.
    @Test("serve without vendors exits naming --demo; --demo starts the emulator with 0600 key files; a busy port exits non-zero")
    func demoModeIsExplicit() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-demo-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let config = folder + "/pushd.yaml"
        try """
            listen: "127.0.0.1:0"
            storage: { backend: sqlite, path: \(folder)/pushd.sqlite }
            templates: \(Child.repoRoot.path)/Templates
            apps:
              - sdkappid: 1400000000
                secret_key: "k"
                vendors: {}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let refused = try await Child.run(["serve", "--config", config])
        #expect(refused.status != 0, "no vendor and no --demo: \(refused)")
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("--demo") && lines[0].contains("PUSHD_1400000000_"), "\(refused.stderr)")

        let demo = try Child.start(["serve", "--demo", "--config", config, "--data", folder], logFile: folder + "/demo.log")
        try await demo.waitFor("listening on")
        #expect(demo.log.contains("DEMO MODE"))
        for file in ["pushd-emulator.yaml", "AuthKey_DEMOKEY001.p8", "fcm-service-account.json"] {
            let path = folder + "/emulator/" + file
            let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
            #expect(mode == 0o600, "\(file) holds secrets: mode \(String(mode, radix: 8))")
        }
        let port = try Child.port(of: demo)
        #expect(try await Setup.curl(["http://127.0.0.1:\(port)/emulator/requests"]).first == UInt8(ascii: "["))

        // The same port again: a supervisor must see the failure.
        let busy = try await Child.run(["serve", "--demo", "--config", config, "--data", folder + "/second", "--listen", "127.0.0.1:\(port)"])
        #expect(busy.status != 0, "a port in use is a failure: \(busy)")
        demo.kill(SIGTERM)
        #expect(try await demo.exitStatus(within: .seconds(15)) == 0)
    }

    /// A TCP connection to the loopback port that sends nothing; true when the server has closed it.
    final class IdleSocket {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { throw CancellationError() }
        }

        /// Whether the peer closed: a read of zero bytes (non-blocking).
        var closedByServer: Bool {
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
        }

        deinit { close(fd) }
    }

    @Test("limits: an idle connection is closed after idle_timeout_seconds; past max_connections a client waits")
    func connectionLimits() async throws {
        let setup = try await Setup(dispatcher: "  workers: 1\n")
        try ("\nlimits: { idle_timeout_seconds: 2, max_connections: 2 }\n").appendLine(to: setup.config)
        let (serve, port) = try await setup.serve()
        let held = [try IdleSocket(port: port), try IdleSocket(port: port)]
        try await Task.sleep(for: .milliseconds(300))
        let blocked = try await Setup.curl(["--max-time", "0.8", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"])
        #expect(String(decoding: blocked, as: UTF8.self) != "200", "a third connection waits while two are open")
        let openBefore = held.filter { !$0.closedByServer }.count
        #expect(openBefore == 2)
        try await Setup.waitUntil("both idle connections closed by the server") { held.allSatisfy(\.closedByServer) }
        let served = try await Setup.curl(["--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"])
        #expect(String(decoding: served, as: UTF8.self) == "200")
        serve.kill(SIGTERM)
        #expect(try await serve.exitStatus(within: .seconds(15)) == 0)
        await setup.stop()
    }

    /// Issue 24, at the daemon: generated hostile calls over real HTTP to a child `pushd serve`.
    @Test("3,000 generated hostile calls over HTTP: every answer an envelope; afterwards /healthz is ok and a normal send is delivered")
    func generatedCallsOverHTTP() async throws {
        let setup = try await Setup(dispatcher: "  workers: 2\n")
        let key = try setup.secretKey()
        let (serve, port) = try await setup.serve()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let now = Int64(Date().timeIntervalSince1970)
        let sigs = Dictionary(uniqueKeysWithValues: ["administrator", "bob", "alice", "jos\u{E9}"].map {
            ($0, UserSig.generate(sdkAppID: 1_400_000_000, key: key, identifier: $0, time: now))
        })
        func post(_ command: String, _ body: [UInt8], as identifier: String = "administrator") async throws -> (Int, [String: Any]) {
            let id = identifier.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? identifier
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v4/\(command)?sdkappid=1400000000&identifier=\(id)&usersig=\(sigs[identifier] ?? "")&random=1&contenttype=json")
            request.method = .POST
            request.body = .bytes(body)
            let response = try await client.execute(request, timeout: .seconds(30))
            let data = try await response.body.collect(upTo: 1 << 22)
            return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: data))) as? [String: Any] ?? [:])
        }
        for (command, body) in HostileRequests.setup {
            #expect(try await post(command, Array(body.utf8)).1["ErrorCode"] as? Int == 0, "setup \(command)")
        }
        // A fixed seed base, printed on failure: the same calls replay with it.
        let base: UInt64 = 20_261_204
        var malformed: [String] = []
        for n in 0..<3_000 {
            let call = HostileRequests.call(seed: base &+ UInt64(n))
            let (status, reply) = try await post(call.command, call.body, as: call.identifier)
            let code = reply["ErrorCode"] as? Int, action = reply["ActionStatus"] as? String
            if status != 200 || !(action == "OK" && code == 0 || action == "FAIL" && (code ?? 0) != 0) {
                malformed.append("seed \(base &+ UInt64(n)): HTTP \(status) \(reply) for \(call)")
            }
        }
        #expect(malformed.isEmpty, "\(malformed.prefix(5))")
        #expect(try await Setup.curl(["http://127.0.0.1:\(port)/healthz"]) == Data("ok\n".utf8))
        #expect(serve.process.isRunning)
        let token = String(repeating: "7", count: 64)
        _ = try await post("im_open_login_svc/multiaccount_import", Array(#"{"Accounts": ["after1", "after2"]}"#.utf8))
        _ = try await post("pushd/register_device", Array(#"{"UserID": "after2", "DeviceId": "p", "Vendor": "apns", "Token": "\#(token)"}"#.utf8))
        let sent = try await post("openim/sendmsg", Array(#"{"From_Account": "after1", "To_Account": "after2", "MsgRandom": 77, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "still here"}}]}"#.utf8))
        #expect(sent.1["ErrorCode"] as? Int == 0, "\(sent)")
        try await Setup.waitUntil("the normal send reached the emulator", timeout: .seconds(30)) { try await setup.deliveredTokens().contains(token) }
        try await client.shutdown()
        serve.kill(SIGTERM)
        #expect(try await serve.exitStatus(within: .seconds(15)) == 0)
        await setup.stop()
    }

    @Test("enqueue takes an object, an array or JSON lines; a bad job enqueues nothing and names its field")
    func enqueueCommand() async throws {
        let setup = try await Setup(dispatcher: "  workers: 1\n")
        let job = { (key: String) in #"{"SdkAppID":1400000000,"To_Account":"bob","IdempotencyKey":"\#(key)","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}"# }
        var r = try await Child.run(["enqueue", "--config", setup.config], stdin: "[\(job("a")), \(job("b"))]")
        #expect(r.status == 0 && r.stdout.contains(#""Enqueued":2,"Duplicates":0"#), "\(r)")
        r = try await Child.run(["enqueue", "--config", setup.config], stdin: job("a"))
        #expect(r.status == 0 && r.stdout.contains(#""Enqueued":0,"Duplicates":1"#), "\(r)")
        r = try await Child.run(["enqueue", "--config", setup.config], stdin: job("c") + "\n" + #"{"SdkAppID":1400000000,"To_Account":"bob","MsgBody":[{"MsgType":"TIMLocationElem","MsgContent":{"Latitude":"north"}}]}"#)
        #expect(r.status == 1)
        #expect(r.stdout.contains(#""ErrorCode":90002"#) && r.stdout.contains("job 1") && r.stdout.contains("Latitude"), "\(r.stdout)")
        r = try await Child.run(["enqueue", "--config", setup.config], stdin: "{not json")
        #expect(r.status == 1 && r.stdout.contains(#""ErrorCode":90001"#), "\(r.stdout)")
        let store = try setup.store()
        #expect(try await store.stats().lanes[.chat]?.pending == 2, "the refused batch enqueued nothing")
        try await store.close()
        await setup.stop()
    }

    @Test("dlq list shows the context, replay puts it back for its device, purge deletes")
    func dlqCommands() async throws {
        let setup = try await Setup(dispatcher: "  workers: 1\n")
        let store = try setup.store()
        let payload = Data(#"{"SdkAppID":1400000000,"To_Account":"bob","MsgBody":[]}"#.utf8)
        try await store.enqueue([
            NewJob(sdkAppID: 1_400_000_000, idempotencyKey: "m1", userID: "bob", payload: payload),
            NewJob(sdkAppID: 1_400_000_000, idempotencyKey: "m2", userID: "bob", payload: payload),
        ])
        let claimed = try await store.claim(limit: 2, leaseMillis: 60_000)
        try await store.complete(claimed.map {
            JobCompletion(job: $0, deadDevices: [.init(deviceID: "d1", vendor: "apns", token: "tok", error: "BadTopic")])
        })
        var r = try await Child.run(["dlq", "list", "--config", setup.config])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].contains(#""DeviceId":"d1""#) && lines[0].contains(#""LastError":"BadTopic""#) && lines[0].contains(#""UserID":"bob""#))
        r = try await Child.run(["dlq", "replay", "--config", setup.config, "--id", "1"])
        #expect(r.status == 0 && r.stdout.contains("replayed 1"), "\(r)")
        let replayed = try await store.claim(limit: 5, leaseMillis: 60_000)
        #expect(replayed.count == 1 && replayed[0].deviceIDs == ["d1"])
        r = try await Child.run(["dlq", "purge", "--config", setup.config, "--all"])
        #expect(r.status == 0 && r.stdout.contains("purged 1"), "\(r)")
        r = try await Child.run(["dlq", "purge", "--config", setup.config])
        #expect(r.status != 0, "purge needs --id or --all")
        try await store.close()
        await setup.stop()
    }
}

extension String {
    /// Appends the string to a file.
    func appendLine(to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}

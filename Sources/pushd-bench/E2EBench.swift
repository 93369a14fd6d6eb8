import AsyncHTTPClient
import ArgumentParser
import Emulator
import Foundation
import Hummingbird
import Logging
import Messaging
import PushCore
import PushdConfig
import PushdRuntime
import Storage
import UserSig
import VendorAuth

/// `pushd-bench e2e`: `openim/batchsendmsg` to U users × D APNs devices each, repeated, through a
/// `pushd serve` process (REST → queue → dispatcher → APNs client) into nginx (HTTP/2 + TLS,
/// `return 200`), against h2load posting as many APNs-sized requests to the same nginx in the same
/// run. Debian's `nginx-light` and `nghttp2-client` provide the sink and the reference.
struct E2EBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "Pushes/s end to end (REST → queue → APNs client → nginx) against h2load on the same nginx: ratio, CPU and page faults per push, peak RSS.",
        discussion: """
            Each round posts batchsendmsg R times (--rounds, e.g. 4,40: 40,000 and 400,000 pushes with the defaults) to a fresh \
            `pushd serve` with default settings, and runs h2load (--connections × --streams) with as many requests just before. \
            PostgreSQL: --backend postgres with --url, else PUSHD_STORAGE_URL or PUSHD_TEST_POSTGRES_URL; --processes 1,2 runs \
            that many `pushd serve` processes on one database.
            """
    )

    @Option(help: "sqlite or postgres.") var backend = "sqlite"
    @Option(help: "PostgreSQL server URL.") var url: String?
    @Option(help: "Recipients per batchsendmsg.") var users = 10
    @Option(help: "APNs devices per recipient.") var devices = 1_000
    @Option(help: "Comma-separated batchsendmsg counts, one round each.") var rounds = "4,40"
    @Option(help: "Comma-separated `pushd serve` process counts (PostgreSQL), one set of rounds each.") var processes = "1"
    @Option(help: "h2load connections.") var connections = 4
    @Option(help: "h2load streams per connection.") var streams = 100
    @Option(help: "Comma-separated: off, on (every callback event of every push POSTed to the same nginx), one set of rounds each.")
    var callbacks = "off"

    func run() throws {
        let serverURL = try benchServerURL(backend: backend, url: url)
        for tool in ["/usr/sbin/nginx", "/usr/bin/h2load"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw ValidationError("pushd-bench e2e needs \(tool): apt-get install nginx-light nghttp2-client")
        }
        let counts = rounds.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        let procs = processes.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        guard !counts.isEmpty, !procs.isEmpty, users > 0, devices > 0 else { throw ValidationError("nothing to run") }
        guard backend == "postgres" || procs == [1] else { throw ValidationError("several processes need PostgreSQL") }
        let modes = callbacks.split(separator: ",").map { $0 == "on" }
        guard !modes.isEmpty, callbacks.split(separator: ",").allSatisfy({ $0 == "on" || $0 == "off" }) else {
            throw ValidationError("--callbacks takes off, on or off,on")
        }
        let bench = E2EBench(
            backend: backend, serverURL: serverURL, users: users, devices: devices, rounds: counts, processes: procs,
            connections: connections, streams: streams, callbacks: modes
        )
        try runBlocking { try await bench.run() }
    }
}

struct E2EBench: Sendable {
    var backend: String
    var serverURL: String?
    var users: Int
    var devices: Int
    var rounds: [Int]
    var processes: [Int]
    var connections: Int
    var streams: Int
    /// For each set of rounds, whether the app has a callback (every event, to the sink).
    var callbacks: [Bool] = [false]

    static let app = DemoCredentials.sdkAppID

    /// What a process used between two readings of `/proc/<pid>/stat`.
    struct Usage {
        var cpuSeconds: Double
        var minorFaults: Double

        static func read(_ pid: Int32) -> Usage {
            (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)).flatMap(parse)?.usage ?? Usage(cpuSeconds: 0, minorFaults: 0)
        }

        /// A `/proc/<pid>/stat` line: the program's name and its usage so far.
        static func parse(_ text: String) -> (program: String, usage: Usage)? {
            guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
            // Fields after "(comm)": state is field 3, minflt 10, utime 14, stime 15.
            let fields = text[text.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double { fields.count > n - 3 ? Double(fields[n - 3]) ?? 0 : 0 }
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            return (String(text[text.index(after: open)..<close]), Usage(cpuSeconds: (field(14) + field(15)) / ticks, minorFaults: field(10)))
        }

        static func - (a: Usage, b: Usage) -> Usage {
            Usage(cpuSeconds: a.cpuSeconds - b.cpuSeconds, minorFaults: a.minorFaults - b.minorFaults)
        }
    }

    /// CPU seconds by program name (`postgres`, `nginx`, `pushd`) over every process, and the
    /// machine's busy seconds over all cores: where a round's CPU went.
    struct CPUShares {
        var byProgram: [String: Double]
        var machineBusy: Double

        static func read() -> CPUShares {
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            var byProgram: [String: Double] = [:]
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where entry.allSatisfy(\.isNumber) {
                guard let text = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8), let (program, usage) = Usage.parse(text),
                    ["postgres", "nginx", "pushd"].contains(program)
                else { continue }
                byProgram[program, default: 0] += usage.cpuSeconds
            }
            // /proc/stat "cpu user nice system idle iowait irq softirq steal ...": busy is all but idle and iowait.
            let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first ?? ""
            let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            let busy = values.enumerated().filter { $0.offset != 3 && $0.offset != 4 && $0.offset < 8 }.map(\.element).reduce(0, +)
            return CPUShares(byProgram: byProgram, machineBusy: busy / ticks)
        }

        /// "pushd/postgres/nginx/machine" in cores over `seconds`; a process that ended or started
        /// in between counts only its part inside.
        func cores(since earlier: CPUShares, seconds: Double) -> String {
            let programs = ["pushd", "postgres", "nginx"].map { max(0, (byProgram[$0] ?? 0) - (earlier.byProgram[$0] ?? 0)) / seconds }
            return (programs + [(machineBusy - earlier.machineBusy) / seconds]).map { String(format: "%.2f", $0) }.joined(separator: "/")
        }
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-e2e-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder + "/nginx-tmp", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let certificates = try EmulatorCertificates()
        let caFile = try certificates.writeCA(to: folder)
        let sinkPort = try LoopbackPort.free()
        let nginx = try startNginx(folder: folder, port: sinkPort, certificates: certificates)
        defer {
            nginx.terminate()
            nginx.waitUntilExit()
        }
        try await waitForPort(sinkPort)
        let sink = "https://127.0.0.1:\(sinkPort)"
        let demo = try DemoCredentials()
        // An IM server for the callbacks: reads every POST to the end and answers 200 (nginx's
        // `return 200` answers before reading a body, which stalls an HTTP/2 client's upload).
        var imServer: (url: String, task: Task<Void, any Error>)?
        if callbacks.contains(true) {
            let port = try LoopbackPort.free()
            let router = Router()
            router.post("/callback") { request, _ -> HTTPResponse.Status in
                _ = try await request.body.collect(upTo: 64 << 20)
                return .ok
            }
            var logger = Logger(label: "im-server")
            logger.logLevel = .error
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
            imServer = ("http://127.0.0.1:\(port)/callback", Task { try await app.run() })
            try await waitForPort(port)
        }
        defer { imServer?.task.cancel() }

        print(
            "pushd-bench e2e: batchsendmsg to \(users) users × \(devices) APNs devices, backend \(backend), pushd serve with default settings "
                + "→ nginx \(Self.nginxVersion()) (HTTP/2 + TLS, return 200, one worker); h2load \(connections) connections × \(streams) streams."
        )
        var table = BenchTable(header: [
            "processes", "callbacks", "pushes", "pushd pushes/s", "h2load req/s", "ratio", "CPU µs/push", "minor faults/push", "peak RSS MB",
            "cores pushd/postgres/nginx/machine",
        ])
        for k in processes {
            for callback in callbacks {
                var first: Double?
                for (index, count) in rounds.enumerated() {
                    let pushes = count * users * devices
                    let reference = try runH2load(n: pushes, sink: sink, folder: folder, demo: demo)
                    let ours = try await runPushd(
                        sends: count, processes: k, sink: sink, caFile: caFile, demo: demo, folder: folder + "/run-\(k)-\(callback)-\(index)",
                        callback: callback ? imServer?.url : nil
                    )
                    first = first ?? ours.rate
                    table.add([
                        "\(k)", callback ? "on" : "off", "\(pushes)", String(format: "%.0f", ours.rate), String(format: "%.0f", reference), String(format: "%.2f", ours.rate / reference),
                        String(format: "%.1f", ours.usage.cpuSeconds * 1e6 / Double(pushes)), String(format: "%.3f", ours.usage.minorFaults / Double(pushes)),
                        String(format: "%.0f", ours.peakRSSKB / 1024), ours.cores,
                    ])
                    if let first, index > 0 {
                        print(String(format: "%d pushes ran at %.2f of the first round's rate", pushes, ours.rate / first))
                    }
                }
            }
        }
        print(table.render())
    }

    // MARK: pushd

    /// A fresh store seeded with the users and their devices, `processes` × `pushd serve` on it,
    /// `sends` batchsendmsg posted to the first; the rate from the first post to an empty queue.
    func runPushd(
        sends: Int, processes: Int, sink: String, caFile: String, demo: DemoCredentials, folder: String, callback: String? = nil
    ) async throws -> (rate: Double, usage: Usage, peakRSSKB: Double, cores: String) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let storage: String
        if backend == "postgres", let serverURL {
            storage = "{ backend: postgres, url: \"\(try await freshBenchDatabase("pushd_e2e_", serverURL: serverURL))\" }"
        } else {
            storage = "{ backend: sqlite, path: \(folder)/pushd.sqlite }"
        }
        var ports: [Int] = []
        var children: [Process] = []
        defer {
            for child in children { child.terminate() }
            for child in children { child.waitUntilExit() }
        }
        var store: (any PushStore)?
        for i in 0..<processes {
            let port = try LoopbackPort.free()
            ports.append(port)
            let file = try demo.write(
                to: folder + "/p\(i)", emulator: sink, caFile: caFile, listen: "127.0.0.1:\(port)", storage: storage,
                templates: FileManager.default.currentDirectoryPath + "/Templates"
            )
            var yaml = try String(contentsOfFile: file, encoding: .utf8)
            if let callback {
                // Every event of every push, to an IM server that takes them all.
                yaml = yaml.replacingOccurrences(
                    of: "  - sdkappid: \(Self.app)\n", with: "  - sdkappid: \(Self.app)\n    callback: { url: \"\(callback)\", key: \"bench\" }\n"
                )
                try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            }
            if store == nil {
                let opened = try await openStore(try ConfigLoader().parse(yaml).config)
                try await seed(opened)
                store = opened
            }
            children.append(try DispatchBench.spawnServe(config: file, log: folder + "/serve-\(i).log"))
        }
        guard let store else { throw ValidationError("no store") }
        defer { Task { try? await store.close() } }
        for port in ports { try await waitForPort(port) }
        let post = "http://127.0.0.1:\(ports[0])/v4/openim/batchsendmsg?sdkappid=\(Self.app)&identifier=administrator&usersig="
            + UserSig.generate(sdkAppID: Self.app, key: demo.userSigKey, identifier: "administrator", expire: 86_400, time: Int64(Date().timeIntervalSince1970))
            + "&random=1&contenttype=json"
        let recipients = (0..<users).map { "\"u\($0)\"" }.joined(separator: ",")
        func send(_ n: Int) async throws {
            var request = HTTPClientRequest(url: post)
            request.method = .POST
            request.body = .bytes(
                Data(
                    #"{"SyncOtherMachine":2,"From_Account":"sender","To_Account":[\#(recipients)],"MsgRandom":\#(n),"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello \#(n)"}}]}"#
                        .utf8
                )
            )
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            let reply = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
            guard response.status == .ok, reply?["ErrorCode"] as? Int == 0 else {
                throw ValidationError("batchsendmsg answered \(response.status): \(String(buffer: body))")
            }
        }
        // One warm-up send opens the connections and signs the first token; not counted.
        try await send(0)
        try await waitDrained(store)
        let before = children.map { Usage.read($0.processIdentifier) }
        let shares = CPUShares.read()
        let started = ContinuousClock.now
        for n in 1...sends { try await send(n) }
        try await waitDrained(store)
        let elapsed = (ContinuousClock.now - started).seconds
        let cores = CPUShares.read().cores(since: shares, seconds: elapsed)
        if callback != nil {
            // The events are their own lane: how many were still waiting when the pushes were done, and how long they took after.
            let waiting = try await store.callbackBacklog().events
            let drained = ContinuousClock.now
            while try await store.callbackBacklog().events > 0 {
                guard ContinuousClock.now - drained < .seconds(600) else { throw ValidationError("callback events did not drain in 10 minutes") }
                try await Task.sleep(for: .milliseconds(20))
            }
            print(
                String(
                    format: "callbacks: %d events waiting when the last push was done; all accepted %.2f s later (%.0f events/s overall)", waiting,
                    (ContinuousClock.now - drained).seconds, Double((sends + 1) * users * devices) / (ContinuousClock.now - started).seconds
                )
            )
        }
        var usage = Usage(cpuSeconds: 0, minorFaults: 0)
        for (child, was) in zip(children, before) {
            let now = Usage.read(child.processIdentifier) - was
            usage.cpuSeconds += now.cpuSeconds
            usage.minorFaults += now.minorFaults
        }
        let peak = children.map { Double(DispatchBench.memoryKB(pid: $0.processIdentifier, field: "VmHWM:")) }.max() ?? 0
        // Every push reached nginx and was answered 200, per the processes' own counters.
        var delivered = 0.0
        for port in ports { delivered += try await Self.deliveredPushes(port: port) }
        if Int(delivered) != (sends + 1) * users * devices {
            print("warning: \(Int(delivered)) pushes delivered of \((sends + 1) * users * devices) (warm-up included)")
        }
        return (Double(sends * users * devices) / elapsed, usage, peak, cores)
    }

    /// The sum of `pushd_sends_total{outcome="delivered"}` on a `pushd serve`'s `/metrics`.
    static func deliveredPushes(port: Int) async throws -> Double {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        return text.split(separator: "\n").filter { $0.hasPrefix("pushd_sends_total{") && $0.contains("outcome=\"delivered\"") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    /// The recipients (and the sender) as accounts, each recipient with `devices` APNs devices.
    func seed(_ store: any PushStore) async throws {
        try await store.importAccounts(sdkAppID: Self.app, [("sender", [:])] + (0..<users).map { ("u\($0)", [:]) })
        let now = SystemEpochClock().nowMillis()
        for u in 0..<users {
            try await store.upsertDevices(
                (0..<devices).map { d in
                    Device(sdkAppID: Self.app, userID: "u\(u)", deviceID: "d\(d)", vendor: .apns, token: DispatchBench.token(u * devices + d), locale: .en, registeredAtMillis: now)
                }
            )
        }
    }

    func waitDrained(_ store: any PushStore) async throws {
        let deadline = ContinuousClock.now + .seconds(900)
        while try await store.stats().lanes.values.reduce(0, { $0 + $1.pending }) > 0 {
            guard ContinuousClock.now < deadline else { throw ValidationError("the queue did not drain in 15 minutes") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    // MARK: Reference and sink

    /// h2load posting `n` APNs requests like pushd's (same headers, a payload of the same size,
    /// one device path per request from a cycle of 10,000) to the sink: requests/s.
    func runH2load(n: Int, sink: String, folder: String, demo: DemoCredentials) throws -> Double {
        let renderer = PushRenderer(app: GatewayBench.app)
        let now = SystemEpochClock().nowMillis()
        let request = try renderer.render(
            PushContent(body: "sender:hello 1", title: "pushd demo"), vendor: .apns,
            to: .init(token: DispatchBench.token(0), badge: 1, pushID: UUID().uuidString.lowercased(), nowMillis: now)
        )
        let bodyFile = folder + "/h2load-body"
        try Data(request.body.bytes).write(to: URL(fileURLWithPath: bodyFile))
        let uriFile = folder + "/h2load-uris"
        try ((0..<min(n, 10_000)).map { "\(sink)/apns/3/device/\(DispatchBench.token($0))" }.joined(separator: "\n") + "\n")
            .write(toFile: uriFile, atomically: true, encoding: .utf8)
        var arguments = ["-n", String(n), "-c", String(connections), "-m", String(streams), "-d", bodyFile, "-i", uriFile]
        for header in request.headers { arguments += ["-H", "\(header.name): \(header.value)"] }
        let jwt = try JWT.es256(
            kid: DemoCredentials.keyID, claims: ["iss": DemoCredentials.teamID, "iat": Int64(Date().timeIntervalSince1970)], key: demo.apnsKey
        )
        arguments += ["-H", "authorization: bearer " + jwt]
        let (text, rate) = try h2load(arguments)
        guard let rate else { throw ValidationError("h2load gave no rate:\n\(text)") }
        return rate
    }

    /// nginx with one worker answering 200 to everything over HTTP/2 and TLS.
    func startNginx(folder: String, port: Int, certificates: EmulatorCertificates) throws -> Process {
        try certificates.serverCertificatePEM.write(toFile: folder + "/server.pem", atomically: true, encoding: .utf8)
        try certificates.serverKeyPEM.write(toFile: folder + "/server.key", atomically: true, encoding: .utf8)
        let conf = """
            worker_processes 1;
            pid \(folder)/nginx.pid;
            error_log \(folder)/nginx-error.log warn;
            events { worker_connections 4096; }
            http {
              access_log off;
              client_body_temp_path \(folder)/nginx-tmp;
              keepalive_requests 1000000000;
              keepalive_timeout 600s;
              http2_max_concurrent_streams 1000;
              server {
                listen 127.0.0.1:\(port) ssl http2;
                ssl_certificate \(folder)/server.pem;
                ssl_certificate_key \(folder)/server.key;
                location / { return 200; }
              }
            }
            """
        try conf.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", folder, "-c", folder + "/nginx.conf", "-g", "daemon off;"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func nginxVersion() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-v"]
        let output = Pipe()
        process.standardError = output
        try? process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "/").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
    }
}

/// Waits until something accepts TCP connections on the port (30 s at most).
func waitForPort(_ port: Int) async throws {
    guard await LoopbackPort.waitUntilListening(port, timeout: .seconds(30)) else {
        throw ValidationError("nothing listens on port \(port)")
    }
}

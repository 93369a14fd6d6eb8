import ArgumentParser
import Crypto
import Emulator
import Foundation
import Gateways
import PushCore
import PushdRuntime
import Synchronization
import VendorAuth

/// `pushd-bench gateway`: pushd's vendor client against h2load on the same emulator, same
/// connections and streams, in one run.
struct GatewayBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Pushes/s and latency to the emulator: pushd's client against h2load with the same settings."
    )

    @Option(help: "apns, fcm, huawei, honor, xiaomi, oppo, vivo or meizu.") var vendor: Vendor = .apns
    @Option(name: .short, help: "Pushes to send.") var n = 100_000
    @Option(help: "Connections.") var connections = 2
    @Option(help: "Concurrent streams per connection.") var streams = 100
    @Flag(help: "Skip the h2load run.") var noH2load = false
    @Option(help: "An emulator running in another process (`pushd emulate`), e.g. https://127.0.0.1:9443: measures or profiles the client alone. APNs only.")
    var emulator: String?
    @Option(help: "That emulator's --cert-dir (its CA and APNs key).") var certDir = "data/emulator"

    func run() throws {
        if emulator != nil, vendor != .apns { throw ValidationError("--emulator works with --vendor apns only") }
        let external = emulator.map { (base: $0, certDir: certDir) }
        let settings = (vendor: vendor, n: n, connections: connections, streams: streams, h2load: !noH2load, external: external)
        try runBlocking { try await GatewayBench(settings: settings).run() }
    }
}


struct GatewayBench {
    let settings: (vendor: Vendor, n: Int, connections: Int, streams: Int, h2load: Bool, external: (base: String, certDir: String)?)

    struct Figures {
        var rate: Double
        var p50: Double
        var p99: Double
        var ok: Int
        /// CPU time per push: this process (pushd's client and the emulator, or the emulator alone
        /// while h2load runs) and h2load's process.
        var cpuMicros: Double
        var loadGeneratorCPUMicros: Double?
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let state = EmulatorState(recordLimit: 10_000)
        let demo: DemoCredentials?
        let base: String
        let caFile: String
        let apnsKey: P256.Signing.PrivateKey
        var emulator: GatewayEmulator.Running?
        if let external = settings.external {
            // Its own credentials (APNs only): no RSA key to generate here.
            demo = nil
            base = external.base
            caFile = external.certDir + "/ca.pem"
            let pem = try String(contentsOfFile: external.certDir + "/AuthKey_\(DemoCredentials.keyID).p8", encoding: .utf8)
            apnsKey = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } else {
            let generated = try DemoCredentials()
            demo = generated
            apnsKey = generated.apnsKey
            let certificates = try EmulatorCertificates()
            caFile = try certificates.writeCA(to: folder)
            generated.register(with: state)
            // The emulator gets threads of its own, as h2load has: on the client's loops, a slow
            // vendor route (FCM and Huawei parse JSON bodies) would hold up the client's reads.
            let running = try await GatewayEmulator(state: state, certificates: certificates).start(threads: ProcessInfo.processInfo.activeProcessorCount)
            emulator = running
            base = "https://127.0.0.1:\(running.port)"
        }
        defer { if let emulator { Task { await emulator.stop() } } }
        let transport = try VendorTransport(
            settings: .init(connections: settings.connections, maxInFlight: settings.connections * settings.streams, caFile: caFile)
        )
        let client = makeClient(demo: demo, apnsKey: apnsKey, base: base, transport: transport)
        let renderer = PushRenderer(app: Self.app)
        let content = PushContent(body: "Alice:明天上午十点开会，记得带上 Q4 的数据", title: "Alice", ext: #"{"entity":{"chat":"c2c","from":"alice"}}"#)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let requests = try (0..<settings.n).map { i -> (VendorRequest, String) in
            let token = settings.vendor == .apns ? String(format: "%064x", i + 1) : "\(settings.vendor.rawValue)-device-\(i)"
            return (try renderer.render(content, vendor: settings.vendor, to: .init(token: token, badge: 1, pushID: UUID().uuidString.lowercased(), nowMillis: now)), token)
        }
        // Warm up: connections and the auth token.
        for (request, token) in requests.prefix(settings.connections * 4) { _ = await client.send(request, token: token) }
        state.clearRequests()

        let ours = try await measurePushd(client: client, requests: requests)
        var table = BenchTable(header: [
            "\(settings.vendor.rawValue) → emulator", "pushes/s", "p50", "p99", "ok", "ratio", "CPU µs/push: this process", "load generator",
        ])
        table.add([
            "pushd", String(format: "%.0f", ours.rate), Self.ms(ours.p50), Self.ms(ours.p99), "\(ours.ok)/\(settings.n)", "—",
            String(format: settings.external == nil ? "%.1f (client + emulator)" : "%.1f (client)", ours.cpuMicros), "—",
        ])
        if settings.h2load {
            let theirs = try runH2load(requests: requests.map(\.0), base: base, caFile: caFile, state: state, demo: demo, apnsKey: apnsKey, folder: folder)
            table.rows[0][5] = String(format: "%.2f", ours.rate / theirs.rate)
            table.add([
                "h2load", String(format: "%.0f", theirs.rate), Self.ms(theirs.p50), Self.ms(theirs.p99), "\(theirs.ok)/\(settings.n)", "1.00",
                String(format: "%.1f (emulator)", theirs.cpuMicros), theirs.loadGeneratorCPUMicros.map { String(format: "%.1f", $0) } ?? "—",
            ])
        }
        print("\(settings.n) pushes, \(settings.connections) connections × \(settings.streams) streams, emulator \(settings.external == nil ? "in this process" : "at " + base).")
        print(table.render())
        try await transport.shutdown()
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }

    /// Sends every request through `client`, keeping `connections × streams` in flight: that many
    /// senders, each taking the next request when its last one is answered (no task per push, so
    /// the load generator costs little next to what it measures).
    func measurePushd(client: any VendorClient, requests: [(VendorRequest, String)]) async throws -> Figures {
        let clock = ContinuousClock()
        let senders = min(settings.connections * settings.streams, requests.count)
        let next = RequestCursor()
        let cpuBefore = CPUTime.process()
        let started = clock.now
        let results = await withTaskGroup(of: (latencies: [Double], ok: Int).self) { group in
            // Each sender runs on one of the connections' event loops, so resuming it after an answer
            // wakes no other thread: load-generator cost that h2load does not have.
            let loops = EventLoopExecutor.vendorLoops()
            for i in 0..<senders {
                group.addTask(executorPreference: loops[i % loops.count]) {
                    var latencies: [Double] = []
                    var ok = 0
                    while true {
                        let index = next.take()
                        guard index < requests.count else { break }
                        let (request, token) = requests[index]
                        let start = clock.now
                        if case .delivered = await client.send(request, token: token) { ok += 1 }
                        latencies.append((clock.now - start).seconds)
                    }
                    return (latencies, ok)
                }
            }
            return await group.reduce(into: [(latencies: [Double], ok: Int)]()) { $0.append($1) }
        }
        let seconds = (clock.now - started).seconds
        let cpu = CPUTime.process() - cpuBefore
        let latencies = results.flatMap(\.latencies).sorted()
        let ok = results.reduce(0) { $0 + $1.ok }
        return Figures(
            rate: Double(requests.count) / seconds, p50: Self.percentile(latencies, 0.5), p99: Self.percentile(latencies, 0.99), ok: ok,
            cpuMicros: cpu * 1e6 / Double(requests.count)
        )
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    /// h2load with the same body, headers, connections and streams; latencies from its log file.
    /// Where pushd's pushes differ by path (APNs puts the device token there), h2load cycles
    /// through the same paths (its `-i` file), so that the emulator decodes a new path for both.
    func runH2load(
        requests: [VendorRequest], base: String, caFile: String, state: EmulatorState, demo: DemoCredentials?, apnsKey: P256.Signing.PrivateKey, folder: String
    ) throws -> Figures {
        let request = requests[0]
        let bodyFile = folder + "/body"
        try Data(request.body.bytes).write(to: URL(fileURLWithPath: bodyFile))
        let uriFile = folder + "/uris"
        let uris = requests.prefix(10_000).map { base + "/" + settings.vendor.rawValue + $0.path }
        try (uris.joined(separator: "\n") + "\n").write(toFile: uriFile, atomically: true, encoding: .utf8)
        let logFile = folder + "/h2load.log"
        var arguments = [
            "-n", String(settings.n), "-c", String(settings.connections), "-m", String(settings.streams), "-d", bodyFile,
            "--log-file", logFile, "-i", uriFile,
        ]
        for header in request.headers { arguments += ["-H", "\(header.name): \(header.value)"] }
        for header in try credentialHeaders(state: state, demo: demo, apnsKey: apnsKey) { arguments += ["-H", header] }
        let cpuBefore = (process: CPUTime.process(), children: CPUTime.children())
        let (text, h2loadRate) = try h2load(arguments)
        let cpu = (process: CPUTime.process() - cpuBefore.process, children: CPUTime.children() - cpuBefore.children)
        let rate = h2loadRate ?? 0
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        var latencies: [Double] = []
        var ok = 0
        for line in log.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            guard fields.count >= 3, let micros = Double(fields[2]) else { continue }
            latencies.append(micros / 1e6)
            if fields[1] == "200" { ok += 1 }
        }
        latencies.sort()
        if rate == 0 { print(text) }
        let perPush = 1e6 / Double(max(1, settings.n))
        return Figures(
            rate: rate, p50: Self.percentile(latencies, 0.5), p99: Self.percentile(latencies, 0.99), ok: ok,
            cpuMicros: cpu.process * perPush, loadGeneratorCPUMicros: cpu.children * perPush
        )
    }

    /// What h2load sends in place of the credentials pushd's client adds.
    func credentialHeaders(state: EmulatorState, demo: DemoCredentials?, apnsKey: P256.Signing.PrivateKey) throws -> [String] {
        switch settings.vendor {
        case .apns:
            let jwt = try JWT.es256(
                kid: DemoCredentials.keyID, claims: ["iss": DemoCredentials.teamID, "iat": Int64(Date().timeIntervalSince1970)], key: apnsKey
            )
            return ["authorization: bearer " + jwt]
        case .fcm, .huawei, .honor:
            return ["authorization: Bearer " + state.issueAccessToken(vendor: settings.vendor, lifetime: 3600)]
        case .vivo:
            return ["authToken: " + state.issueAccessToken(vendor: .vivo, lifetime: 3600)]
        case .xiaomi:
            return ["authorization: key=" + (demo?.secret ?? "")]
        case .oppo, .meizu:
            return []
        }
    }

    /// The client for the bench's vendor; `demo` may be nil for APNs only (an external emulator).
    func makeClient(demo: DemoCredentials?, apnsKey: P256.Signing.PrivateKey, base: String, transport: VendorTransport) -> any VendorClient {
        switch (settings.vendor, demo) {
        case (.apns, _):
            APNsClient(
                credentials: .init(teamID: DemoCredentials.teamID, keyID: DemoCredentials.keyID, privateKey: apnsKey, endpoint: base + "/apns", sandboxEndpoint: base + "/apns"),
                transport: transport
            )
        case (_, nil): preconditionFailure("\(settings.vendor) needs the in-process emulator's credentials")
        case (.fcm, let demo?):
            FCMClient(credentials: .init(clientEmail: DemoCredentials.serviceAccount, privateKey: demo.fcmKey, tokenURI: base + "/fcm/token", endpoint: base + "/fcm"), transport: transport)
        case (.huawei, let demo?):
            HuaweiClient(credentials: .init(clientID: "10086", clientSecret: demo.secret, tokenEndpoint: base + "/huawei/oauth2/v3/token", endpoint: base + "/huawei"), transport: transport)
        case (.honor, let demo?):
            HonorClient(credentials: .init(clientID: "honor-demo", clientSecret: demo.secret, tokenEndpoint: base + "/honor/token", endpoint: base + "/honor"), transport: transport)
        case (.xiaomi, let demo?): XiaomiClient(appSecret: demo.secret, endpoint: base + "/xiaomi", transport: transport)
        case (.oppo, let demo?): OPPOClient(appKey: "oppo-demo", masterSecret: demo.secret, endpoint: base + "/oppo", transport: transport)
        case (.vivo, let demo?): VivoClient(appID: "10010", appKey: "vivo-demo", appSecret: demo.secret, endpoint: base + "/vivo", transport: transport)
        case (.meizu, let demo?): MeizuClient(appSecret: demo.secret, endpoint: base + "/meizu", transport: transport)
        }
    }

    static let app = AppPushSettings(
        defaultTitle: "pushd demo", apns: .init(bundleID: DemoCredentials.bundleID), fcm: .init(projectID: "pushd-demo", defaultChannelID: "chat"),
        huawei: .init(appID: "10086", defaultChannelID: "chat", defaultCategory: "IM"), xiaomi: .init(packageName: DemoCredentials.bundleID, defaultChannelID: "chat"),
        oppo: .init(defaultChannelID: "chat", defaultCategory: "IM"), vivo: .init(appID: "10010", defaultCategory: "IM"), meizu: .init(appID: "20020"),
        honor: .init(appID: "30030")
    )
}

/// Runs h2load with `arguments`: what it printed, and its requests/s (nil when it printed none).
func h2load(_ arguments: [String]) throws -> (output: String, rate: Double?) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/h2load")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    // "finished in 1.23s, 81234.56 req/s, 12.3MB/s"
    let line = text.split(separator: "\n").first { $0.hasPrefix("finished in") && $0.contains("req/s") }
    let parts = line?.split(separator: ",") ?? []
    let rate = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces).split(separator: " ").first.flatMap { Double($0) } : nil
    return (text, rate)
}

/// Hands out request indexes to the senders of `measurePushd`, each once.
final class RequestCursor: Sendable {
    private let next = Atomic<Int>(0)

    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

import Dispatcher
import Emulator
import Foundation
import Logging
import Messaging
import PushCore
import PushJob
import PushdConfig
import Storage
import Testing
import TestSupport
import Tracing

/// The emulator serving all eight vendors with demo credentials, a pushd config pointing at it, a
/// fresh SQLite store on a manual clock, and a dispatcher working that store.
final class DispatchHarness: Sendable {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let app = DemoCredentials.sdkAppID

    let clock: ManualEpochClock
    let emulator: EmulatorState
    let running: GatewayEmulator.Running
    let folder: String
    let config: PushdConfig
    let store: SQLiteStore
    let gateways: VendorGateways

    /// Where the manual clock starts: a fixed instant, 2026-11-20 03:00:00 UTC, so that rules
    /// that depend on the time of day (do-not-disturb windows) see the same time on every run.
    static let startMillis: Int64 = 1_795_143_600_000

    init(
        dispatcher: (inout PushdConfig.Dispatcher) -> Void = { _ in }, app: (inout PushdConfig.App) -> Void = { _ in },
        global: (inout PushdConfig) -> Void = { _ in }
    ) async throws {
        clock = ManualEpochClock(millis: Self.startMillis)
        emulator = EmulatorState()
        let certificates = try EmulatorCertificates()
        running = try await GatewayEmulator(state: emulator, certificates: certificates).start()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-dispatch-\(UUID())").path
        let caFile = try certificates.writeCA(to: folder)
        let demo = try DemoCredentials()
        demo.register(with: emulator)
        let path = try demo.write(to: folder, emulator: "https://127.0.0.1:\(running.port)", caFile: caFile)
        var config = try ConfigLoader().load(path: path).config
        config.templates = Self.repoRoot + "/Templates"
        config.dispatcher.workers = 2
        config.dispatcher.batchSize = 16
        dispatcher(&config.dispatcher)
        app(&config.apps[0])
        global(&config)
        self.config = config
        store = try SQLiteStore(path: folder + "/pushd.sqlite", clock: clock)
        // The gateways keep real time: the emulator checks JWT ages against its own clock.
        gateways = try VendorGateways(config: config)
    }

    func makeDispatcher(
        logger: Logger = Logger(label: "test"), metrics: DispatcherMetrics = DispatcherMetrics(), tracer: (any Tracer)? = nil
    ) throws -> Dispatcher {
        var settings = Dispatcher.Settings(config.dispatcher)
        settings.pollInterval = .milliseconds(20)
        settings.shutdownGrace = .seconds(2)
        return try Dispatcher(
            store: store, gateways: gateways, config: config, clock: clock, metrics: metrics, logger: logger, settings: settings, random: { 0.5 },
            tracer: tracer
        )
    }

    /// Runs `body` with a harness and a running dispatcher; stops both afterwards.
    static func with(
        dispatcher configure: (inout PushdConfig.Dispatcher) -> Void = { _ in }, app: (inout PushdConfig.App) -> Void = { _ in },
        global: (inout PushdConfig) -> Void = { _ in }, _ body: (DispatchHarness) async throws -> Void
    ) async throws {
        let harness = try await DispatchHarness(dispatcher: configure, app: app, global: global)
        let dispatcher = try harness.makeDispatcher()
        let task = Task { try await dispatcher.run() }
        do {
            try await body(harness)
        } catch {
            task.cancel()
            _ = await task.result
            await harness.shutdown()
            throw error
        }
        task.cancel()
        _ = await task.result
        await harness.shutdown()
    }

    func shutdown() async {
        try? await gateways.shutdown()
        try? await store.close()
        await running.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A well-formed token of a vendor.
    static func token(_ vendor: Vendor, _ n: Int) -> String {
        vendor == .apns ? String(format: "%064x", n) : "\(vendor.rawValue)-device-\(n)"
    }

    @discardableResult
    func register(_ user: String, _ deviceID: String, _ vendor: Vendor, n: Int, state: DeviceState = .pushOnline, badge: Int = 0) async throws
        -> Device
    {
        let device = Device(
            sdkAppID: Self.app, userID: user, deviceID: deviceID, vendor: vendor, token: Self.token(vendor, n), locale: .en, state: state,
            badge: badge, registeredAtMillis: clock.nowMillis()
        )
        try await store.upsertDevice(device)
        return device
    }

    /// Enqueues a text message for `user`.
    @discardableResult
    func enqueue(_ key: String, to user: String, text: String = "hello", extra: String = "") async throws -> Bool {
        let json = """
            {"SdkAppID": \(Self.app), "To_Account": "\(user)", "IdempotencyKey": "\(key)", "SenderNick": "Alice",
             "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "\(text)"}}]\(extra)}
            """
        let data = Data(json.utf8)
        return try await store.enqueue(try PushJobSpec.decode(data).newJob(payload: data))
    }

    /// Waits (real time) until `condition` holds, failing after `timeout`.
    func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        try await TestSupport.eventually(what, timeout: timeout, condition)
    }

    /// Waits until the job has failed `attempts` rounds and is waiting for its retry; returns when it is due.
    @discardableResult
    func waitRescheduled(_ key: String, attempts: Int) async throws -> Int64 {
        var due: Int64 = 0
        try await eventually("\(key) rescheduled after \(attempts) attempts") {
            guard let status = try await store.jobStatus(sdkAppID: Self.app, idempotencyKey: key), status.attempts == attempts else { return false }
            due = status.availableAtMillis
            return true
        }
        return due
    }

    func records(_ key: String) async throws -> [PushRecord] {
        try await store.pushRecords(sdkAppID: Self.app, idempotencyKey: key)
    }

    func pending() async throws -> Int {
        try await store.stats().lanes.values.reduce(0) { $0 + $1.pending }
    }
}

import ArgumentParser
import Emulator
import Foundation
import Logging
import PushdConfig
import Storage
import ServiceLifecycle

/// `--config` and `--data`, shared by the commands that open the store.
struct StoreOptions: ParsableArguments {
    @Option(help: "The config file.") var config = "Config/pushd.yaml"
    @Option(help: "Data folder: the SQLite store goes to DIR/pushd.sqlite (overrides storage.path).") var data: String?

    /// The config with `--data` applied, and its load-time warnings (unknown keys).
    func load() throws -> (PushdConfig, [ConfigProblem]) {
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader().load(path: config)
        } catch {
            throw ValidationError(error.description)
        }
        return (applying(to: loaded.config), loaded.problems)
    }

    /// `--data` applied to a loaded config.
    func applying(to loaded: PushdConfig) -> PushdConfig {
        var config = loaded
        if let data { config.storage.path = (data as NSString).appendingPathComponent("pushd.sqlite") }
        return config
    }

    /// Where `serve` writes its process id, for `pushd config reload`.
    func pidFile(_ config: PushdConfig) -> String {
        (dataFolder(config) as NSString).appendingPathComponent("pushd.pid")
    }

    /// The data folder: `--data`, else the folder of the SQLite file.
    func dataFolder(_ config: PushdConfig) -> String {
        data ?? (config.storage.path as NSString).deletingLastPathComponent
    }
}

/// The built-in emulator, started by `pushd serve --demo`: every app gets the emulator as all
/// eight vendors.
struct BuiltInEmulator {
    let running: GatewayEmulator.Running
    let base: String
    /// What the emulator received, for `GET /emulator/requests`.
    let state: EmulatorState
    /// The demo config written beside the CA (it holds the demo app's UserSig key).
    let configFile: String
    /// The demo app: its vendors (the emulator's) and its key.
    let demoApp: PushdConfig.App
    let caFile: String

    static let recordLimit = 10_000

    /// Starts the emulator and rewrites `config` to use it; the demo files go to `folder`.
    static func start(into config: inout PushdConfig, folder: String) async throws -> BuiltInEmulator {
        let certificates = try EmulatorCertificates()
        let caFile = try certificates.writeCA(to: folder)
        // Bounded: a long demo keeps its newest requests, not all of them.
        let state = EmulatorState(recordLimit: Self.recordLimit)
        let demo = try DemoCredentials()
        demo.register(with: state)
        let running = try await GatewayEmulator(state: state, certificates: certificates).start()
        let base = "https://127.0.0.1:\(running.port)"
        let path = try demo.write(to: folder, emulator: base, caFile: caFile, listen: config.listen, templates: config.templates)
        let demoConfig = try ConfigLoader().load(path: path).config
        let emulator = BuiltInEmulator(running: running, base: base, state: state, configFile: path, demoApp: demoConfig.apps[0], caFile: caFile)
        emulator.apply(to: &config)
        return emulator
    }

    /// Points every app of `config` at the emulator (at start and at every reload).
    func apply(to config: inout PushdConfig) {
        if config.apps.isEmpty { config.apps = [demoApp] }
        for index in config.apps.indices {
            config.apps[index].vendors = demoApp.vendors
            if config.apps[index].secretKey.isEmpty { config.apps[index].secretKey = demoApp.secretKey }
            if config.apps[index].appName.isEmpty { config.apps[index].appName = demoApp.appName }
        }
        config.tls.caFile = caFile
    }
}

/// A long-lived resource opened before the service group runs (the store, the vendor connections,
/// the built-in emulator): it stays open until its turn in the group's graceful shutdown, which
/// goes in reverse order of the services, or until the group is cancelled, and then closes.
struct ResourceService: Service {
    let close: @Sendable () async throws -> Void

    init(close: @escaping @Sendable () async throws -> Void) {
        self.close = close
    }

    func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }
}

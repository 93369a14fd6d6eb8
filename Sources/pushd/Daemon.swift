import ArgumentParser
import Emulator
import Foundation
import Logging
import PushdConfig
import Queue

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
        var config = loaded.config
        if let data { config.storage.path = (data as NSString).appendingPathComponent("pushd.sqlite") }
        return (config, loaded.problems)
    }

    /// The data folder: `--data`, else the folder of the SQLite file.
    func dataFolder(_ config: PushdConfig) -> String {
        data ?? (config.storage.path as NSString).deletingLastPathComponent
    }
}

/// Opens the configured store (SQLite file or PostgreSQL URL) and runs its migrations.
func openStore(_ config: PushdConfig, logger: Logger = Logger(label: "pushd.store")) async throws -> any PushStore {
    switch config.storage.backend {
    case "postgres": return try await PostgresStore(url: config.storage.url, logger: logger)
    case "sqlite": return try SQLiteStore(path: config.storage.path)
    default: throw ValidationError("storage.backend must be sqlite or postgres, not \(config.storage.backend)")
    }
}

/// Opens the store, runs `body`, closes the store.
func withStore<T: Sendable>(_ config: PushdConfig, _ body: @Sendable (any PushStore) async throws -> T) async throws -> T {
    let store = try await openStore(config)
    do {
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
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
        let path = try demo.write(to: folder, emulator: base, caFile: caFile, listen: config.listen)
        let demoConfig = try ConfigLoader().load(path: path).config
        let demoApp = demoConfig.apps[0]
        if config.apps.isEmpty { config.apps = [demoApp] }
        for index in config.apps.indices {
            config.apps[index].vendors = demoApp.vendors
            if config.apps[index].secretKey.isEmpty { config.apps[index].secretKey = demoApp.secretKey }
            if config.apps[index].defaultTitle.isEmpty { config.apps[index].defaultTitle = demoApp.defaultTitle }
        }
        config.tls.caFile = caFile
        return BuiltInEmulator(running: running, base: base, state: state, configFile: path)
    }
}

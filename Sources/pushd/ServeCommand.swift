import API
import ArgumentParser
import Callbacks
import Console
import Dispatcher
import Foundation
import Hummingbird
import HummingbirdCore
import Ingest
import Logging
import Metrics
import Prometheus
import PushCore
import PushdConfig
import PushdRuntime
import Storage
import ServiceLifecycle

/// `pushd serve`: the dispatcher working the queue, the REST API (`/v4/…`), `/healthz` and `/metrics`, under
/// swift-service-lifecycle (SIGTERM/SIGINT: stop claiming, drain in-flight sends, exit 0).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the dispatcher and the HTTP endpoints.",
        discussion: """
            With --demo, pushd starts the built-in gateway emulator and sends every push of every app there (the demo \
            credentials and CA go to DATA/emulator; what it receives is at GET /emulator/requests). Without --demo, at \
            least one vendor must be configured, in the file or the environment.
            """
    )

    @OptionGroup var store: StoreOptions
    @Option(help: "HOST:PORT for the HTTP endpoints (overrides listen).") var listen: String?
    @Flag(help: "Demo mode: every vendor is the built-in gateway emulator; nothing reaches a real device.") var demo = false

    func run() throws {
        // How the file is read at start and at every reload: `--data` and `--listen` applied.
        let options = store
        let listen = listen
        let reread: @Sendable () throws -> LoadedConfig = {
            var loaded = try ConfigLoader().load(path: options.config)
            loaded.config = options.applying(to: loaded.config)
            if let listen { loaded.config.listen = listen }
            return loaded
        }
        let loaded: LoadedConfig
        do {
            loaded = try reread()
        } catch {
            throw ValidationError(String(describing: error))
        }
        let (config, warnings) = (loaded.config, loaded.problems)
        let dataFolder = store.dataFolder(config)
        if !demo, let missing = Self.missingVendors(config) {
            // One line, on stderr, naming the way out.
            FileHandle.standardError.write(Data("pushd: \(missing)\n".utf8))
            throw ExitCode(2)
        }
        Self.bootstrapLogging(config.log)
        // SIGHUP reloads the config once the service group runs; until then it must not stop pushd.
        signal(SIGHUP, SIG_IGN)
        try runBlocking { [config, warnings, demo] in
            try await Self.serve(
                config: config, warnings: warnings, dataFolder: dataFolder, pidFile: options.pidFile(config), demo: demo, reread: reread
            )
        }
    }

    /// Every logger of the process writes as `log.format` says, from `log.level` up
    /// (`PUSHD_LOG_LEVEL` wins).
    static func bootstrapLogging(_ log: PushdConfig.Log) {
        let name = ProcessInfo.processInfo.environment["PUSHD_LOG_LEVEL"] ?? log.level
        let level = Logger.Level(rawValue: name) ?? .info
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = log.format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Why `serve` without `--demo` cannot deliver anything, or nil when some vendor is configured.
    static func missingVendors(_ config: PushdConfig) -> String? {
        guard config.apps.allSatisfy({ $0.vendors.isEmpty }) else { return nil }
        let apps = config.apps.map { String($0.sdkAppID) }
        let example = apps.first.map { "PUSHD_\($0)_APNS_KEY_ID" } ?? "PUSHD_<SDKAPPID>_<VENDOR>_<FIELD>"
        return "no vendor is configured for \(apps.isEmpty ? "any app (apps: is empty)" : "app " + apps.joined(separator: ", ")): "
            + "run `pushd serve --demo` for the built-in emulator, or set apps[].vendors in the config or \(example) and the other "
            + "PUSHD_<SDKAPPID>_<VENDOR>_<FIELD> variables"
    }

    /// The operator console, signed in with the password and sessions keyed from the environment.
    static func console(config: PushdConfig, store: any PushStore, api: RestAPI, dispatcher: Dispatcher, password: String, logger: Logger) throws
        -> Console
    {
        let environment = ProcessInfo.processInfo.environment
        if let address = HostPort(config.listen), !["127.0.0.1", "localhost", "::1"].contains(address.host) {
            logger.warning("console: enabled on \(config.listen), which is not loopback; serve it only through a TLS proxy")
        }
        logger.notice(
            "console: enabled at /console",
            metadata: [
                "password_sign_in": "\(!password.isEmpty)",
                "sessions": "\(environment[PushdConfig.Console.sessionKeyVariable]?.isEmpty == false ? "signed with the configured key" : "end when pushd stops")",
            ]
        )
        return try Console(
            config: config, store: store, api: api, dispatcher: dispatcher, password: password,
            sessionSecret: environment[PushdConfig.Console.sessionKeyVariable], logger: logger
        )
    }

    static func serve(
        config: PushdConfig, warnings: [ConfigProblem], dataFolder: String, pidFile: String, demo: Bool,
        reread: @escaping @Sendable () throws -> LoadedConfig
    ) async throws {
        var config = config
        let logger = Logger(label: "pushd")
        for warning in warnings { logger.warning("config: \(warning)") }
        guard let address = HostPort(config.listen) else { throw ValidationError("listen must be HOST:PORT, got \(config.listen)") }

        var emulator: BuiltInEmulator?
        if demo {
            let started = try await BuiltInEmulator.start(into: &config, folder: (dataFolder as NSString).appendingPathComponent("emulator"))
            emulator = started
            logger.notice(
                "DEMO MODE: every vendor is the built-in emulator, nothing reaches a real device; what it receives is at GET /emulator/requests",
                metadata: ["emulator": "\(started.base)", "demo_config": "\(started.configFile)"]
            )
        }
        // The demo shows the console too, with a password of its own unless one is set.
        var consolePassword = ProcessInfo.processInfo.environment[PushdConfig.Console.passwordVariable] ?? ""
        if demo {
            config.console.enabled = true
            if consolePassword.isEmpty {
                consolePassword = String(UInt64.random(in: 0...UInt64.max), radix: 36)
                logger.notice("DEMO MODE: console at http://\(config.listen)/console, password \(consolePassword)")
            }
        }
        let problems = ConfigValidator().validate(config).filter { $0.kind != .warning }
        guard problems.isEmpty else {
            for problem in problems { logger.error("config: \(problem)") }
            throw ExitCode(1)
        }

        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        // Which build is running, as Prometheus's `*_build_info` convention has it: always 1.
        registry.makeGauge(name: "pushd_build_info", labels: [("version", pushdVersion), ("commit", buildCommit)]).set(1.0)
        // The console's overview draws the last hour of sends; without the console none is kept.
        let metrics = DispatcherMetrics(factory: factory, history: config.console.enabled ? DeliveryHistory() : nil)
        let tracing = try TracingBackend.make(config.tracing)
        let store = try await openStore(config, logger: logger)
        let gateways = try VendorGateways(config: config)
        // The console's push lookup shows the requests sent; without the console none are kept.
        let dispatcher = try Dispatcher(
            store: store, gateways: gateways, config: config, metrics: metrics, logger: logger, tracer: tracing?.tracer,
            sentRequests: config.console.enabled ? SentRequests() : nil
        )
        let api = RestAPI(
            config: config, store: store, maxPendingWrites: config.limits.maxPendingWrites,
            metrics: factory, logger: logger, tracer: tracing?.tracer
        )
        let callbacks = CallbackSender(store: store, config: config, metrics: CallbackMetrics(factory: factory), logger: logger)
        let ingest = IngestService(sources: config.ingest, store: store, api: api, metrics: IngestMetrics(factory: factory), logger: logger)
        let console =
            try config.console.enabled
            ? Self.console(config: config, store: store, api: api, dispatcher: dispatcher, password: consolePassword, logger: logger) : nil
        let reloader = ConfigReloader(
            running: config,
            read: { [emulator] in
                var loaded = try reread()
                emulator?.apply(to: &loaded.config)
                return loaded
            },
            apply: { config in
                try dispatcher.reload(config)
                api.reload(config)
                callbacks.reload(config)
                console?.reload(config)
            },
            metrics: factory, logger: logger
        )

        let router = Router(context: PushdRequestContext.self)
        router.add(middleware: HTTPObserver(factory: factory, logRequests: logger.logLevel <= .debug, tracer: tracing?.tracer))
        router.get("healthz") { _, _ -> Response in
            do {
                try await store.healthCheck()
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
            } catch {
                return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "store: \(error)\n")))
            }
        }
        router.get("readyz") { _, _ -> Response in
            var storeError: (any Error)?
            do { try await store.healthCheck() } catch { storeError = error }
            let readiness = dispatcher.readiness(storeError: storeError, config: reloader.status, more: ingest.problems())
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let body = try encoder.encode(readiness)
            return Response(
                status: readiness.ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        router.get("metrics") { _, _ -> Response in
            try? await dispatcher.recordQueue()
            dispatcher.recordVendorStates()
            try? await dispatcher.recordCampaignProgress()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16_384)
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
        api.addRoutes(to: router)
        console?.addRoutes(to: router)
        if let state = emulator?.state {
            // The built-in emulator's recorder on pushd's own port, so a demo needs no TLS client.
            router.get("emulator/requests") { request, _ -> Response in
                let vendor = request.uri.queryParameters.get("vendor").flatMap(Vendor.init(rawValue:))
                let data = try JSONEncoder().encode(state.requests(vendor: vendor))
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
        let backend = config.storage.backend == "postgres" ? "postgres" : "sqlite \(config.storage.path)"
        let limits = config.limits
        var app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(limits.idleTimeoutSeconds)))),
            configuration: .init(
                address: .hostname(address.host, port: address.port),
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections)
            ),
            onServerRunning: { channel in
                // `pushd config reload` finds the process here.
                try? "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
                // Tests and scripts read the port from this line.
                print("pushd: listening on \(address.host):\(channel.localAddress?.port ?? address.port), store \(backend)")
                fflush(nil)
            },
            logger: logger
        )
        // Graceful shutdown runs in reverse: the HTTP server stops taking requests, the dispatcher
        // drains, then the emulator, the vendor connections and the store close.
        // The span exporter stops last: the spans of the final sends are flushed.
        if let tracing { app.addServices(tracing.service) }
        app.addServices(ResourceService { try await store.close() }, ResourceService { try await gateways.shutdown() })
        if let emulator { app.addServices(ResourceService { await emulator.running.stop() }) }
        // Callbacks stop after the dispatcher: the events of its last completions are written, and
        // those not sent yet wait in the store for the next start.
        // Ingest stops first: what it committed is acknowledged, the rest comes back from the broker.
        app.addServices(callbacks, dispatcher, ingest, ReloadOnHangup(reloader: reloader))
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            // A port already in use, for one: a supervisor must see a failure, not a clean exit.
            logger.error("stopped with an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info("pushd stopped")
    }
}

import Foundation
import Logging
import Metrics
import PushdConfig
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Re-reads the config file and applies it to a running `serve` (SIGHUP, `pushd config reload`):
/// a file that fails `config check` is refused with its problems logged and the old config stays.
/// The result goes to the log, to `pushd_config_reloads_total{result}` and to `/readyz`.
final class ConfigReloader: Sendable {
    /// Reads the file as `serve` did at start (`--data`, `--listen`, the demo's vendors applied).
    typealias Read = @Sendable () throws -> LoadedConfig
    /// Hands a checked config to delivery and the API; throws when a part cannot take it (a key that
    /// does not load), and then nothing has changed.
    typealias Apply = @Sendable (PushdConfig) throws -> Void

    private struct State {
        var config: PushdConfig
        var status = ReloadStatus()
    }

    private let read: Read
    private let apply: Apply
    private let state: Mutex<State>
    private let applied: Counter
    private let refused: Counter
    private let lastSuccessful: Gauge
    private let logger: Logger

    init(running config: PushdConfig, read: @escaping Read, apply: @escaping Apply, metrics: any MetricsFactory, logger: Logger) {
        self.read = read
        self.apply = apply
        state = Mutex(State(config: config))
        applied = Counter(label: "pushd_config_reloads_total", dimensions: [("result", "ok")], factory: metrics)
        refused = Counter(label: "pushd_config_reloads_total", dimensions: [("result", "refused")], factory: metrics)
        lastSuccessful = Gauge(label: "pushd_config_last_reload_successful", factory: metrics)
        lastSuccessful.record(1)
        self.logger = logger
    }

    /// The running config's generation and the last attempt, for `/readyz`.
    var status: ReloadStatus { state.withLock { $0.status } }

    /// One reload; true when the new config is running. Reloads run one at a time.
    @discardableResult
    func reload() -> Bool {
        let loaded: LoadedConfig
        do {
            loaded = try read()
        } catch {
            return refuse([String(describing: error)])
        }
        let problems = (loaded.problems + ConfigValidator().validate(loaded.config)).filter { $0.kind != .warning }
        guard problems.isEmpty else { return refuse(problems.map(\.description)) }
        return state.withLock { state in
            do {
                try apply(loaded.config)
            } catch {
                return refuse([String(describing: error)], in: &state)
            }
            let restart = state.config.restartOnlyChanges(in: loaded.config).map { "\($0) changed: applies at the next restart" }
            state.config = loaded.config
            state.status.generation += 1
            state.status.lastReload = .init(result: "ok", at: Self.now(), problems: restart)
            applied.increment()
            lastSuccessful.record(1)
            logger.notice(
                "config reloaded", metadata: ["generation": "\(state.status.generation)", "apps": "\(loaded.config.apps.count)"]
            )
            for line in restart { logger.warning("config: \(line)") }
            return true
        }
    }

    private func refuse(_ problems: [String]) -> Bool {
        state.withLock { refuse(problems, in: &$0) }
    }

    private func refuse(_ problems: [String], in state: inout State) -> Bool {
        state.status.lastReload = .init(result: "refused", at: Self.now(), problems: problems)
        refused.increment()
        lastSuccessful.record(0)
        logger.error("config reload refused; the running config stays", metadata: ["generation": "\(state.status.generation)"])
        for problem in problems { logger.error("config: \(problem)") }
        return false
    }

    private static func now() -> String {
        Date().formatted(.iso8601)
    }
}

/// Reloads the config on every SIGHUP until graceful shutdown.
struct ReloadOnHangup: Service {
    let reloader: ConfigReloader

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reloader.reload()
        }
    }
}

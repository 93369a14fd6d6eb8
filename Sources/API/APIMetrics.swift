import CoreMetrics
import PushCore
import Synchronization

/// The REST API's metrics, made by an injected factory (Prometheus in `pushd serve`) rather than
/// the global bootstrap, every timer up front: how long each command takes
/// (`pushd_api_request_duration_seconds`, by command) and how long durable writes take, a message
/// and its push jobs reaching the store (`pushd_api_write_duration_seconds`).
final class APIMetrics: Sendable {
    /// The `command` label of requests for a command the API does not serve.
    static let unknownCommand = "unknown"

    private let requests: [String: Timer]
    let writes: WriteTimer
    private let factory: any MetricsFactory
    /// `pushd_api_errors_total{code}`: the codes come from pushd's own answers, made on first use.
    private let errors = Mutex<[Int: Counter]>([:])

    /// Timers for `commands` (`service/command`) and for unknown commands.
    init(commands: [String], writes: WriteTimer, factory: any MetricsFactory) {
        requests = Dictionary(
            uniqueKeysWithValues: (commands + [Self.unknownCommand]).map {
                ($0, Timer(label: "pushd_api_request_duration_seconds", dimensions: [("command", $0)], factory: factory))
            }
        )
        self.writes = writes
        self.factory = factory
    }

    /// Counts a failed answer under its Tencent error code; returns the reply.
    @discardableResult
    func answered(_ reply: RestReply) -> RestReply {
        guard reply.code != 0 else { return reply }
        errors.withLock { errors in
            if let counter = errors[reply.code] { return counter }
            let counter = Counter(label: "pushd_api_errors_total", dimensions: [("code", String(reply.code))], factory: factory)
            errors[reply.code] = counter
            return counter
        }.increment()
        return reply
    }

    func handled(_ command: String, since start: ContinuousClock.Instant) {
        (requests[command] ?? requests[Self.unknownCommand])?.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }
}

/// Times the durable writes of the commands that store messages and jobs.
struct WriteTimer: Sendable {
    let timer: Timer

    init(factory: any MetricsFactory) {
        timer = Timer(label: "pushd_api_write_duration_seconds", factory: factory)
    }

    /// Runs a durable write and times it.
    @discardableResult
    func callAsFunction<T>(_ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer { timer.recordNanoseconds((ContinuousClock.now - start).nanoseconds) }
        return try await body()
    }
}

import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import PushCore
import PushdConfig
import ServiceLifecycle
import Storage
import Synchronization

/// Delivers the callback events of the store's outbox to each app's IM server, apart from the
/// push path: its own claims (background priority on SQLite), its own HTTP client, its own tasks.
///
/// A round claims the due events under a lease, groups them by app and command, and POSTs each
/// group in batches of at most ``Settings/batchSize`` as `{"Events": [...]}` to
/// `callback.url?SdkAppid=…&CallbackCommand=…&contenttype=json&RequestTime=…&Sign=…`. A 2xx answer
/// deletes the batch; anything else (an error, a timeout, another status) puts it back after an
/// exponential backoff, the server's `Retry-After` when it gives one. Events are delivered at least
/// once: a crash between the answer and the delete sends them again, with the same `EventId`.
public final class CallbackSender: Service, Sendable {
    public struct Settings: Sendable {
        /// Events per POST (Tencent's push callback carries 1 to 100).
        public var batchSize = 100
        /// Events one round claims.
        public var claimLimit = 1000
        /// POSTs at once across apps.
        public var concurrency = 8
        /// How long a claim holds its events: longer than any POST takes.
        public var leaseMillis: Int64 = 120_000
        /// The wait between rounds while nothing is due.
        public var pollInterval: Duration = .seconds(1)
        /// Backlog gauges are refreshed this often.
        public var gaugeInterval: Duration = .seconds(5)
        public var backoff = Backoff(baseMillis: 1_000, maxMillis: 600_000)

        public init() {}
    }

    private let store: any CallbackQueue & CampaignStore
    private let apps: Reloadable<[UInt64: CallbackSettings]>
    /// The HTTP client's settings; the client itself lives as long as `run()`, so a sender that
    /// never runs (a `serve` that fails to start) leaves nothing to shut down.
    private let clientConfiguration: HTTPClient.Configuration
    private let clock: any EpochClock
    private let settings: Settings
    private let metrics: CallbackMetrics
    private let logger: Logger
    private let random: @Sendable () -> Double

    public init(
        store: any CallbackQueue & CampaignStore, config: PushdConfig, clock: any EpochClock = SystemEpochClock(),
        metrics: CallbackMetrics = CallbackMetrics(), logger: Logger = Logger(label: "pushd.callbacks"), settings: Settings = Settings(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !config.tls.caFile.isEmpty { tls.additionalTrustRoots = [.file(config.tls.caFile)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10))
        configuration.redirectConfiguration = .disallow
        clientConfiguration = configuration
        apps = Reloadable(Self.callbacks(config))
        self.store = store
        self.clock = clock
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.random = random
    }

    /// The callbacks of a reloaded config: URLs, keys, timeouts and retentions apply from the next POST.
    public func reload(_ config: PushdConfig) {
        apps.replace(Self.callbacks(config))
    }

    static func callbacks(_ config: PushdConfig) -> [UInt64: CallbackSettings] {
        Dictionary(config.apps.map { ($0.sdkAppID, $0.callback) }, uniquingKeysWith: { first, _ in first })
    }

    public func run() async throws {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
        await loop(client)
        try await client.shutdown()
    }

    private func loop(_ client: HTTPClient) async {
        let continuous = ContinuousClock()
        var gaugesAt: ContinuousClock.Instant?
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            if gaugesAt.map({ continuous.now - $0 >= settings.gaugeInterval }) ?? true {
                if let backlog = try? await store.callbackBacklog() { metrics.record(backlog: backlog, nowMillis: clock.nowMillis()) }
                gaugesAt = continuous.now
            }
            var claimed = 0
            do {
                claimed = try await sendDue(with: client)
            } catch {
                logger.warning("callback round failed", metadata: ["error": "\(error)"])
            }
            if claimed < settings.claimLimit {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.settings.pollInterval) }
            }
        }
    }

    /// One round: claims the due events, drops those of apps without a callback and those past
    /// their retention, and POSTs the rest. Returns how many events it claimed.
    @discardableResult
    func sendDue(with client: HTTPClient) async throws -> Int {
        let events = try await store.claimCallbackEvents(limit: settings.claimLimit, leaseMillis: settings.leaseMillis)
        guard !events.isEmpty else { return 0 }
        let now = clock.nowMillis()
        let apps = self.apps.current
        var dropped: [(CallbackMetrics.Drop, ClaimedCallbackEvent)] = []
        var batches: [Batch] = []
        // Events come oldest first; so do their groups, each by its oldest event.
        let groups = Dictionary(grouping: events) { GroupKey(app: $0.sdkAppID, command: $0.command) }
        for (key, group) in groups.sorted(by: { $0.value[0].id < $1.value[0].id }) {
            let (app, command) = (key.app, key.command)
            guard let callback = apps[app], callback.isEnabled else {
                dropped += group.map { (.noCallback, $0) }
                continue
            }
            let retention = Int64(callback.retentionHours) * 3_600_000
            var live: [ClaimedCallbackEvent] = []
            for event in group {
                // A stored time may be anything: the age saturates rather than traps.
                if now.subtractingSaturating(event.createdAtMillis) > retention {
                    dropped.append((.expired, event))
                } else if !Self.isObject(event.body) || !CallbackCommand.all.contains(event.command) {
                    dropped.append((.corrupt, event))
                } else {
                    live.append(event)
                }
            }
            for start in stride(from: 0, to: live.count, by: max(1, settings.batchSize)) {
                let chunk = Array(live[start..<min(live.count, start + max(1, settings.batchSize))])
                batches.append(Batch(app: app, command: command, callback: callback, events: chunk))
            }
        }
        if !dropped.isEmpty {
            for (reason, event) in dropped {
                metrics.dropped(app: event.sdkAppID, reason: reason)
                // Events of an app without a callback are expected (a campaign finished); the others are news.
                if reason != .noCallback {
                    logger.warning(
                        "callback event dropped",
                        metadata: ["app": "\(event.sdkAppID)", "event": "\(event.id)", "reason": "\(reason.rawValue)", "attempts": "\(event.attempts)"]
                    )
                }
            }
            try await store.deleteCallbackEvents(ids: dropped.map(\.1.id))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for batch in batches {
                if running >= max(1, settings.concurrency) {
                    try await group.next()
                    running -= 1
                }
                group.addTask { try await self.deliver(batch, with: client) }
                running += 1
            }
            try await group.waitForAll()
        }
        return events.count
    }

    private struct GroupKey: Hashable {
        var app: UInt64
        var command: String
    }

    struct Batch: Sendable {
        var app: UInt64
        var command: String
        var callback: CallbackSettings
        var events: [ClaimedCallbackEvent]
    }

    /// POSTs one batch; deletes it when accepted, puts it back for later otherwise.
    private func deliver(_ batch: Batch, with client: HTTPClient) async throws {
        let ids = batch.events.map(\.id)
        let failure: String
        var retryAfter: Int?
        do {
            let body = try await self.body(batch)
            let requestTime = clock.nowSeconds()
            let sign = CallbackSignature.sign(key: batch.callback.key, requestTime: requestTime, body: body)
            var request = HTTPClientRequest(url: Self.url(batch.callback.url, app: batch.app, command: batch.command, requestTime: requestTime, sign: sign))
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
            let response = try await client.execute(request, timeout: .seconds(Int64(batch.callback.timeoutSeconds)))
            // The answer is not read further than this: after-event callbacks ignore it, as Tencent's do.
            _ = try? await response.body.collect(upTo: 64 << 10)
            if (200..<300).contains(response.status.code) {
                try await store.deleteCallbackEvents(ids: ids)
                metrics.delivered(app: batch.app, count: ids.count)
                return
            }
            failure = "HTTP \(response.status.code)"
            retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        } catch {
            failure = "\(error)"
        }
        let attempt = (batch.events.map(\.attempts).max() ?? 0) + 1
        let delay = settings.backoff.delayMillis(attempt: attempt, retryAfterSeconds: retryAfter, unit: random())
        try await store.retryCallbackEvents(ids: ids, notBeforeMillis: clock.nowMillis().addingSaturating(delay))
        metrics.retried(app: batch.app, count: ids.count)
        logger.warning(
            "callback POST failed; retrying",
            metadata: [
                "app": "\(batch.app)", "command": "\(batch.command)", "events": "\(ids.count)", "attempt": "\(attempt)",
                "retry_in_ms": "\(delay)", "error": "\(failure)",
            ]
        )
    }

    /// `{"Events":[…]}`: each stored event with its `EventId` first. A finished campaign's event
    /// gets the campaign's final counts here.
    func body(_ batch: Batch) async throws -> Data {
        var out = Data("{\"Events\":[".utf8)
        for (index, event) in batch.events.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            var body = event.body
            if event.command == CallbackCommand.campaignFinished { body = try await campaignSummary(event) }
            out.append(contentsOf: "{\"EventId\":\"\(event.id)\"".utf8)
            // `{"A":1}` → `,"A":1}`; an empty object adds nothing.
            let rest = body.dropFirst().drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }
            if rest.first != UInt8(ascii: "}") { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: rest)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// A campaign-finished event with the campaign's counts as `pushd/get_task` gives them.
    private func campaignSummary(_ event: ClaimedCallbackEvent) async throws -> Data {
        guard var fields = (try? JSONSerialization.jsonObject(with: event.body)) as? [String: Any], let task = fields["TaskId"] as? String else {
            return event.body
        }
        if let status = try await store.campaign(sdkAppID: event.sdkAppID, taskID: task) {
            for (name, value) in status.summary where fields[name] == nil { fields[name] = value }
        }
        return try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    }

    /// The callback URL with Tencent's query parameters, then `RequestTime` and `Sign`.
    static func url(_ base: String, app: UInt64, command: String, requestTime: Int64, sign: String) -> String {
        let separator = base.contains("?") ? (base.hasSuffix("?") || base.hasSuffix("&") ? "" : "&") : "?"
        return base + separator + "SdkAppid=\(app)&CallbackCommand=\(command)&contenttype=json&RequestTime=\(requestTime)&Sign=\(sign)"
    }

    /// A stored body pushd can send: one JSON object.
    static func isObject(_ body: Data) -> Bool {
        body.first == UInt8(ascii: "{") && body.last == UInt8(ascii: "}")
    }
}

/// `pushd_callback_events_total{app,result}` (delivered, retried, dropped_<reason>) and the outbox's
/// backlog (`pushd_callback_backlog_events`, `pushd_callback_oldest_event_age_seconds`).
public final class CallbackMetrics: Sendable {
    enum Drop: String {
        /// The app has no callback (any more).
        case noCallback = "no_callback"
        /// Not accepted within `callback.retention_hours`.
        case expired
        /// The stored event is not a JSON object, or names a command pushd does not write.
        case corrupt
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Counter]>([:])
    private let backlog: Gauge
    private let oldest: Gauge

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        backlog = Gauge(label: "pushd_callback_backlog_events", dimensions: [], factory: factory)
        oldest = Gauge(label: "pushd_callback_oldest_event_age_seconds", dimensions: [], factory: factory)
    }

    func delivered(app: UInt64, count: Int) { counter(app, "delivered").increment(by: count) }
    func retried(app: UInt64, count: Int) { counter(app, "retried").increment(by: count) }
    func dropped(app: UInt64, reason: Drop) { counter(app, "dropped_" + reason.rawValue).increment() }

    func record(backlog: (events: Int, oldestMillis: Int64?), nowMillis: Int64) {
        self.backlog.record(backlog.events)
        oldest.record(Double(max(0, nowMillis.subtractingSaturating(backlog.oldestMillis ?? nowMillis))) / 1000)
    }

    private func counter(_ app: UInt64, _ result: String) -> Counter {
        counters.withLock { counters in
            let key = "\(app)|\(result)"
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "pushd_callback_events_total", dimensions: [("app", "\(app)"), ("result", result)], factory: factory)
            counters[key] = counter
            return counter
        }
    }
}

import API
import Foundation
import Logging
import PushCore
import PushdConfig
import ServiceLifecycle
import Storage
import Synchronization

/// Consumes every configured broker (`ingest:`), at least once: each fetched batch is committed to
/// pushd's store (push jobs in one transaction, REST commands through the API as the app's admin),
/// and only then acknowledged. A bad event is written to the source's dead-letter stream with its
/// Tencent error and acknowledged: it never blocks the stream. A broker that fails is reconnected
/// with backoff, and `/readyz` says so meanwhile; while pushd's queue is deeper than the source's
/// `max_queue_depth`, the source is not read.
public final class IngestService: Service, Sendable {
    /// Timings, which tests shorten.
    public struct Settings: Sendable {
        /// How long one fetch waits for a first event: also how soon a shutdown is noticed.
        public var fetchWait: Duration = .seconds(1)
        /// How often the queue's depth is read for backpressure.
        public var depthInterval: Duration = .seconds(1)
        /// How long a paused source waits before it looks at the depth again.
        public var pauseInterval: Duration = .milliseconds(250)
        /// Reconnects after a failure: 0.5 s doubling to 30 s.
        public var backoff = Backoff(baseMillis: 500, maxMillis: 30_000)
        /// Message sends of one batch that run at once (their order within a run is free).
        public var concurrentSends = 1_024

        public init() {}
    }

    /// The commands run concurrently when consecutive: sends, whose relative order is their MsgTime's.
    static let sendCommands: Set<String> = [
        "openim/sendmsg", "openim/batchsendmsg", "timpush/batch", "group_open_http_svc/send_group_msg", "openim/importmsg",
    ]

    let sources: [IngestSource]
    /// Makes a source's consumer when `run()` starts: a service that never runs leaves no client
    /// thread behind.
    let makeConsumer: @Sendable (IngestSource) -> any BrokerConsumer
    let store: any PushStore
    let api: RestAPI
    let settings: Settings
    let metrics: IngestMetrics
    let logger: Logger
    /// Why a source is not consuming, by name; absent while it is.
    private let down: Mutex<[String: String]>

    /// `makeConsumer`: a source's consumer, by default its broker's own (``IngestSource/makeConsumer()``).
    public init(
        sources: [IngestSource], store: any PushStore, api: RestAPI, settings: Settings = Settings(),
        metrics: IngestMetrics = IngestMetrics(), logger: Logger = Logger(label: "pushd.ingest"),
        makeConsumer: @escaping @Sendable (IngestSource) -> any BrokerConsumer = { $0.makeConsumer() }
    ) {
        self.sources = sources
        self.makeConsumer = makeConsumer
        self.store = store
        self.api = api
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        down = Mutex(Dictionary(sources.map { ($0.name, "not connected yet") }, uniquingKeysWith: { a, _ in a }))
    }

    /// One sentence per source that is not consuming (for `/readyz`), empty when all are.
    public func problems() -> [String] {
        down.withLock { down in down.sorted { $0.key < $1.key }.map { "ingest \($0.key): \($0.value)" } }
    }

    /// Consumes until the graceful shutdown (a service that returned early would end the group).
    public func run() async throws {
        guard !sources.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        await withDiscardingTaskGroup { group in
            for source in sources {
                group.addTask { await self.consume(source, self.makeConsumer(source)) }
            }
        }
    }

    /// One source's loop until shutdown: connect, respect the depth, fetch, commit, acknowledge.
    /// The next batch is fetched while the current one commits, so the broker's round trip overlaps
    /// the store's write; a batch fetched but not committed is handed back.
    func consume(_ source: IngestSource, _ consumer: any BrokerConsumer) async {
        var failures = 0
        var connected = false
        var depth = DepthGate(limit: source.maxQueueDepth, interval: settings.depthInterval)
        var next: Task<[BrokerMessage], any Error>?
        /// Hands the fetched batch back undone, if there is one.
        func releaseNext() async {
            guard let pending = next else { return }
            next = nil
            if let messages = try? await pending.value, !messages.isEmpty { await consumer.release(messages) }
        }
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                if !connected {
                    try await consumer.connect()
                    connected = true
                    setDown(source, nil)
                    logger.info("ingest connected", metadata: ["source": "\(source.name)", "broker": "\(source.safeURL)"])
                }
                if try await depth.isOver(store) {
                    metrics.paused(source.name, true)
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.settings.pauseInterval) }
                    continue
                }
                metrics.paused(source.name, false)
                let messages: [BrokerMessage]
                if let pending = next {
                    next = nil
                    messages = try await pending.value
                } else {
                    messages = try await consumer.fetch(max: source.batch, wait: settings.fetchWait)
                }
                if !messages.isEmpty {
                    let (batch, wait) = (source.batch, settings.fetchWait)
                    next = Task { try await consumer.fetch(max: batch, wait: wait) }
                    try await handle(messages, source: source, consumer: consumer)
                    depth.added(messages.count)
                }
                failures = 0
            } catch {
                await releaseNext()
                failures += 1
                let reason = "\(error)"
                logger.warning("ingest failed", metadata: ["source": "\(source.name)", "error": "\(reason)", "failures": "\(failures)"])
                if !consumer.isConnected {
                    connected = false
                    await consumer.close()
                    setDown(source, "not connected to \(source.safeURL): \(reason)")
                }
                let delay = settings.backoff.delayMillis(attempt: failures, retryAfterSeconds: nil, unit: Double.random(in: 0..<1))
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(delay)) }
            }
        }
        await releaseNext()
        await consumer.shutdown()
        setDown(source, "stopped")
    }

    private func setDown(_ source: IngestSource, _ reason: String?) {
        down.withLock { $0[source.name] = reason }
        metrics.connected(source.name, reason == nil)
    }

    /// Commits a batch in the broker's order, then acknowledges what was committed or dead-lettered.
    /// A failure of pushd's own (the store) hands the rest back undone and throws.
    func handle(_ messages: [BrokerMessage], source: IngestSource, consumer: any BrokerConsumer) async throws {
        let events = messages.map { message in
            Result { () throws(TencentError) in try IngestEvent.decode(message.data, source: source, position: message.position) }
        }
        var done = 0
        do {
            while done < messages.count {
                switch events[done] {
                case .failure(let error):
                    try await deadLetter(messages[done], error.code, error.message, source: source, consumer: consumer)
                    done += 1
                case .success(.job):
                    done = try await enqueueRun(messages, events, from: done, source: source, consumer: consumer)
                case .success(let event):
                    done = try await commandRun(messages, events, from: done, first: event, source: source, consumer: consumer)
                }
            }
        } catch {
            try await consumer.ack(Array(messages[..<done]))
            await consumer.release(Array(messages[done...]))
            throw error
        }
        try await consumer.ack(messages)
    }

    /// The push jobs from `start` on, up to the first event that is not one, in one transaction;
    /// returns where the run ended.
    private func enqueueRun(
        _ messages: [BrokerMessage], _ events: [Result<IngestEvent, TencentError>], from start: Int, source: IngestSource,
        consumer: any BrokerConsumer
    ) async throws -> Int {
        var jobs: [NewJob] = []
        var end = start
        while end < events.count, case .success(.job(let job)) = events[end] {
            if api.serves(sdkAppID: job.sdkAppID) {
                jobs.append(job)
            } else {
                try await deadLetter(messages[end], RestCode.unknownSDKAppID, "SDKAppID \(job.sdkAppID) does not exist", source: source, consumer: consumer)
            }
            end += 1
        }
        if !jobs.isEmpty {
            let inserted = try await store.enqueue(jobs)
            let new = inserted.count { $0 }
            metrics.count(source.name, .enqueued, new)
            metrics.count(source.name, .duplicate, jobs.count - new)
        }
        return end
    }

    /// A REST command, with the message sends that follow it when it is one (run together: their
    /// order is their MsgTime's); returns where the run ended.
    private func commandRun(
        _ messages: [BrokerMessage], _ events: [Result<IngestEvent, TencentError>], from start: Int, first: IngestEvent,
        source: IngestSource, consumer: any BrokerConsumer
    ) async throws -> Int {
        guard case .command(_, let name, _, _) = first, Self.sendCommands.contains(name) else {
            try await command(messages[start], first, source: source, consumer: consumer)
            return start + 1
        }
        var end = start + 1
        while end < events.count, end - start < settings.concurrentSends, case .success(.command(_, let next, _, _)) = events[end],
            Self.sendCommands.contains(next)
        {
            end += 1
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in start..<end {
                guard case .success(let event) = events[index] else { continue }
                let message = messages[index]
                group.addTask { try await self.command(message, event, source: source, consumer: consumer) }
            }
            try await group.waitForAll()
        }
        return end
    }

    /// One REST command: done, dead-lettered with its Tencent error, or (busy, internal) thrown to
    /// be tried again.
    private func command(_ message: BrokerMessage, _ event: IngestEvent, source: IngestSource, consumer: any BrokerConsumer) async throws {
        guard case .command(let app, let name, let body, let key) = event else { return }
        let reply = await api.handleEvent(sdkAppID: app, command: name, body: body, eventKey: key)
        switch reply.code {
        case 0: metrics.count(source.name, .command, 1)
        case RestCode.busy, 91000: throw BrokerError("\(name) failed (\(reply.code) \(reply.info)): tried again")
        default: try await deadLetter(message, reply.code, reply.info, source: source, consumer: consumer)
        }
    }

    private func deadLetter(_ message: BrokerMessage, _ code: Int, _ info: String, source: IngestSource, consumer: any BrokerConsumer) async throws {
        try await consumer.deadLetter(message, code: code, info: info)
        metrics.count(source.name, .deadLettered, 1)
        logger.notice(
            "ingest event dead-lettered",
            metadata: ["source": "\(source.name)", "position": "\(message.position)", "code": "\(code)", "info": "\(info)"]
        )
    }
}

/// Backpressure: whether pushd's queue is deeper than a source allows. The depth is read at most
/// once an interval; meanwhile what this source added counts on top of the last reading.
struct DepthGate {
    let limit: Int
    let interval: Duration
    private var checked: ContinuousClock.Instant?
    private var depth = 0

    init(limit: Int, interval: Duration) {
        self.limit = limit
        self.interval = interval
    }

    mutating func isOver(_ store: any PushStore) async throws -> Bool {
        let now = ContinuousClock.now
        if checked.map({ now - $0 >= interval }) ?? true {
            depth = try await store.stats().lanes.values.reduce(0) { $0.addingSaturating($1.pending) }
            checked = now
        }
        return depth >= limit
    }

    /// Events this source just committed (an upper bound of the jobs they made, for the gate).
    mutating func added(_ count: Int) { depth = depth.addingSaturating(count) }
}

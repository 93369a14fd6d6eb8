import API
import Foundation
import Ingest
import Logging
import MetricsTestKit
import PushCore
import PushdConfig
import ServiceLifecycle
import Storage
import Synchronization
import Testing
import TestSupport

/// Broker ingest (issue 30) against real brokers started by the tests: Debian's nats-server with
/// JetStream and redis-server, through pushd's consumers on their C clients, into a SQLite store.
@Suite("broker ingest", .serialized)
struct IngestTests {
    static let app: UInt64 = 1_400_000_000
    static let admin = "administrator"

    /// A broker, a store, the API and the ingest service running until `stop()`.
    final class Rig: @unchecked Sendable {
        let broker: BrokerServer
        let source: IngestSource
        let store: SQLiteStore
        let api: RestAPI
        let metrics = TestMetrics()
        let service: IngestService
        let nats: NATSPublisher?
        let redis: RedisPublisher?
        private var task: Task<Void, any Error>?

        init(_ kind: BrokerServer.Kind, configure: (inout IngestSource) -> Void = { _ in }) async throws {
            broker = try BrokerServer(kind)
            var source: IngestSource
            switch kind {
            case .nats:
                source = IngestSource(kind: .nats, name: "events", url: broker.url, stream: "PUSHD", deadLetter: "pushd.dead")
                source.subject = "pushd.events"
            case .redis:
                source = IngestSource(kind: .redis, name: "events", url: broker.url, stream: "pushd:events", deadLetter: "pushd:dead")
                source.consumerName = "pushd-a"
            }
            source.batch = 64
            configure(&source)
            self.source = source
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-ingest-\(UUID())/pushd.sqlite").path
            store = try SQLiteStore(path: path)
            var config = PushdConfig()
            var app = PushdConfig.App(sdkAppID: IngestTests.app)
            app.secretKey = "k"
            config.apps = [app]
            api = RestAPI(config: config, store: store)
            var settings = IngestService.Settings()
            settings.fetchWait = .milliseconds(200)
            settings.depthInterval = .milliseconds(50)
            settings.pauseInterval = .milliseconds(50)
            settings.backoff = Backoff(baseMillis: 100, maxMillis: 500)
            service = IngestService(sources: [source], store: store, api: api, settings: settings, metrics: IngestMetrics(factory: metrics))
            switch kind {
            case .nats:
                let url = broker.url
                let publisher = try await retrying { try await NATSPublisher(url: url) }
                try await retrying {
                    try await publisher.ensureStream("PUSHD", subjects: ["pushd.events"])
                    try await publisher.ensureStream("DEAD", subjects: ["pushd.dead"])
                }
                (nats, redis) = (publisher, nil)
            case .redis:
                (nats, redis) = (nil, try await RedisPublisher(url: broker.url))
            }
        }

        func start() {
            let service = service
            task = Task { try await service.run() }
        }

        func stop() async {
            task?.cancel()
            _ = await task?.result
            await nats?.shutdown()
            await redis?.shutdown()
            try? await store.close()
        }

        func publish(_ events: [String]) async throws {
            let payloads = events.map { Array($0.utf8) }
            if let nats { try await nats.publish("pushd.events", payloads) }
            if let redis { try await redis.publish(source.stream, payloads) }
        }

        /// The dead letters: the event's bytes, its error code and text.
        func deadLetters() async throws -> [(event: String, code: String, info: String)] {
            if let nats {
                return try await nats.messages(stream: "DEAD", headers: ["Pushd-Error-Code", "Pushd-Error-Info"]).map {
                    (String(decoding: $0.data, as: UTF8.self), $0.headers["Pushd-Error-Code"] ?? "", $0.headers["Pushd-Error-Info"] ?? "")
                }
            }
            return try await (redis?.entries(source.deadLetter) ?? []).map {
                (String(decoding: $0["event"] ?? [], as: UTF8.self), String(decoding: $0["code"] ?? [], as: UTF8.self), String(decoding: $0["info"] ?? [], as: UTF8.self))
            }
        }

        /// Redis: entries delivered to the group and not acknowledged.
        func brokerPending() async throws -> Int64? {
            try await redis?.integer(["EVAL", "return redis.call('XPENDING', KEYS[1], ARGV[1])[1]", "1", source.stream, source.consumer])
        }

        func pending() async throws -> Int { try await store.stats().lanes.values.reduce(0) { $0 + $1.pending } }

        func counted(_ result: String) -> Int64 {
            (try? metrics.expectCounter("pushd_ingest_events_total", [("source", source.name), ("result", result)]).totalValue) ?? 0
        }
    }

    static func job(_ i: Int, key: String? = nil) -> String {
        #"{"SdkAppID":\#(app),"To_Account":"u\#(i)","IdempotencyKey":"\#(key ?? "job-\(i)")","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi \#(i)"}}]}"#
    }

    static func command(_ name: String, _ body: String, key: String? = nil) -> String {
        #"{"Command":"\#(name)","SdkAppID":\#(app),"Body":\#(body)"# + (key.map { #","IdempotencyKey":"\#($0)""# } ?? "") + "}"
    }

    static func sendmsg(_ to: String, _ text: String, random: Int) -> String {
        #"{"To_Account":"\#(to)","MsgRandom":\#(random),"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"\#(text)"}}]}"#
    }

    @Test("both kinds of event are committed, a malformed one lands in the dead-letter stream with its error, a redelivery enqueues nothing twice", arguments: [BrokerServer.Kind.nats, .redis])
    func eventsOfBothKinds(kind: BrokerServer.Kind) async throws {
        let rig = try await Rig(kind)
        rig.start()
        try await rig.publish(
            (0..<100).map { Self.job($0) } + [
                Self.command("im_open_login_svc/multiaccount_import", #"{"Accounts":["alice","bob"]}"#),
                Self.command("openim/sendmsg", Self.sendmsg("bob", "hello bob", random: 7)),
                // The same event published twice by the IM server, and the same job twice: one each.
                Self.command("openim/sendmsg", Self.sendmsg("alice", "hello alice", random: 8), key: "im-event-1"),
                Self.command("openim/sendmsg", Self.sendmsg("alice", "hello alice", random: 8), key: "im-event-1"),
                Self.job(5),
                // Bad events: not JSON, an unknown command, a command a broker may not carry, a Tencent error.
                "not json {",
                Self.command("openim/no_such_command", "{}"),
                Self.command("pushd/get_devices", #"{"UserID":"bob"}"#),
                Self.command("openim/sendmsg", Self.sendmsg("nobody", "to whom", random: 9)),
                #"{"SdkAppID":1,"To_Account":"x","IdempotencyKey":"other-app","MsgBody":[]}"#,
            ]
        )
        try await eventually("every good event committed", timeout: .seconds(30)) { try await rig.pending() == 102 }
        try await eventually("five dead letters", timeout: .seconds(30)) { try await rig.deadLetters().count == 5 }
        let dead = try await rig.deadLetters()
        #expect(dead[0].event == "not json {" && dead[0].code == "90001", "\(dead[0])")
        #expect(dead[1].code == "\(RestCode.unknownCommand)" && dead[1].info.contains("openim/no_such_command"), "\(dead[1])")
        #expect(dead[2].code == "\(RestCode.unknownCommand)" && dead[2].info.contains("may carry"), "\(dead[2])")
        #expect(dead[3].code == "\(RestCode.noSuchUser)" && dead[3].info.contains("nobody"), "\(dead[3])")
        #expect(dead[4].code == "\(RestCode.unknownSDKAppID)", "\(dead[4])")
        #expect(rig.counted("enqueued") == 100 && rig.counted("duplicate") == 1)
        #expect(rig.counted("command") == 4 && rig.counted("dead_lettered") == 5)
        #expect(rig.service.problems().isEmpty)
        // Everything was acknowledged: nothing is left pending on the broker.
        if let redis = rig.redis {
            #expect(try await redis.integer(["XLEN", rig.source.stream]) == 110)
            // Acknowledged after the commit, behind the next fetch: soon, not at once.
            try await eventually("every entry acknowledged", timeout: .seconds(10)) { try await rig.brokerPending() == 0 }
        }
        await rig.stop()
    }

    @Test("a broker that goes away: /readyz names it, ingest reconnects with backoff and goes on", arguments: [BrokerServer.Kind.nats, .redis])
    func brokerGoesAway(kind: BrokerServer.Kind) async throws {
        let rig = try await Rig(kind)
        rig.start()
        try await rig.publish((0..<10).map { Self.job($0) })
        try await eventually("the first events", timeout: .seconds(30)) { try await rig.pending() == 10 }
        rig.broker.stop()
        try await eventually("readiness names the broker", timeout: .seconds(30)) {
            rig.service.problems().contains { $0.contains("ingest events: not connected to \(rig.broker.url)") }
        }
        try rig.broker.restart()
        try await eventually("connected again", timeout: .seconds(30)) { rig.service.problems().isEmpty }
        // A new publisher (the old one's connection died with the server; Redis lost its data).
        let events = (10..<20).map { Array(Self.job($0).utf8) }
        switch kind {
        case .nats:
            let publisher = try await retrying { try await NATSPublisher(url: rig.broker.url) }
            try await retrying { try await publisher.publish("pushd.events", events) }
            await publisher.shutdown()
        case .redis:
            let publisher = try await RedisPublisher(url: rig.broker.url)
            try await publisher.publish(rig.source.stream, events)
            await publisher.shutdown()
        }
        try await eventually("the events after the return", timeout: .seconds(30)) { try await rig.pending() == 20 }
        await rig.stop()
    }

    @Test("backpressure: over max_queue_depth the source is not read; as the queue drains, ingest goes on", arguments: [BrokerServer.Kind.nats, .redis])
    func backpressure(kind: BrokerServer.Kind) async throws {
        let rig = try await Rig(kind) { source in
            source.maxQueueDepth = 20
            source.batch = 10
        }
        rig.start()
        try await rig.publish((0..<100).map { Self.job($0) })
        try await eventually("ingest paused", timeout: .seconds(30)) {
            (try? rig.metrics.expectGauge("pushd_ingest_paused", [("source", "events")]).lastValue) == 1
        }
        try await Task.sleep(for: .milliseconds(500))
        // At most the depth plus one batch read before the depth was seen.
        let held = try await rig.pending()
        #expect(held >= 20 && held <= 30, "\(held) jobs queued with a depth limit of 20")
        // The dispatcher's part: finish what is queued, and the rest comes in.
        var finished = 0
        while finished < 100 {
            let claimed = try await rig.store.claim(limit: 100, campaignLimit: 0, leaseMillis: 60_000)
            try await rig.store.complete(claimed.map { JobCompletion(job: $0) })
            finished += claimed.count
            if claimed.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(try await rig.pending() == 0)
        await rig.stop()
    }

    @Test("a service built but never run (pushd serve failing before its services start) makes no broker client to leak")
    func neverRun() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-ingest-\(UUID())/pushd.sqlite").path
        let store = try SQLiteStore(path: path)
        var config = PushdConfig()
        config.apps = [PushdConfig.App(sdkAppID: Self.app)]
        let made = Mutex(0)
        let sources = [IngestSource(kind: .nats, name: "n", url: "nats://127.0.0.1:1", stream: "S", deadLetter: "d")]
        // Before, each consumer (and its client thread, which must be shut down) was made here.
        _ = IngestService(sources: sources, store: store, api: RestAPI(config: config, store: store)) { source in
            made.withLock { $0 += 1 }
            return source.makeConsumer()
        }
        #expect(made.withLock { $0 } == 0)
        try await store.close()
    }

    @Test("Redis: entries a crashed consumer left pending are claimed by another after the idle time")
    func redisReclaim() async throws {
        let rig = try await Rig(.redis) { source in
            source.consumerName = "pushd-b"
            source.claimIdleSeconds = 1
        }
        try await rig.publish((0..<30).map { Self.job($0) })
        // Consumer a reads everything and dies before acknowledging.
        var crashed = rig.source
        crashed.consumerName = "pushd-a"
        let a = crashed.makeConsumer()
        try await a.connect()
        #expect(try await a.fetch(max: 100, wait: .milliseconds(100)).count == 30)
        await a.shutdown()
        rig.start()
        try await eventually("b took over a's 30 pending entries", timeout: .seconds(30)) { try await rig.pending() == 30 }
        try await eventually("b acknowledged them", timeout: .seconds(10)) { try await rig.brokerPending() == 0 }
        await rig.stop()
    }
}

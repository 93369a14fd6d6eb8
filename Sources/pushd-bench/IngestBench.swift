import API
import ArgumentParser
import Foundation
import Ingest
import PushCore
import PushdConfig
import PushdRuntime
import Storage
import TestSupport

/// `pushd-bench ingest`: events/s consumed from each broker into the SQLite queue, against the
/// broker's own publish rate measured in the same run by a small publisher on the same C client
/// (`nats bench` is not in Debian). The events wait in the broker first, so the ingest rate is
/// the consumer's and the store's alone.
struct IngestBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Events/s ingested from NATS JetStream and Redis Streams into the SQLite queue, against the publisher's rate in the same run."
    )

    @Option(help: "Events per run.") var events = 100_000
    @Option(help: "Runs per broker and kind.") var rounds = 3
    @Option(help: "Brokers, comma separated: nats, redis.") var brokers = "nats,redis"
    @Option(help: "Event kinds, comma separated: job (a push job), sendmsg (openim/sendmsg run as the admin).") var kinds = "job,sendmsg"
    @Option(help: "Events per fetch (the source's batch).") var batch = 1_024

    func run() throws {
        let brokers = try brokers.split(separator: ",").map { name in
            guard let kind = BrokerServer.Kind(rawValue: String(name)) else { throw ValidationError("unknown broker \(name)") }
            return kind
        }
        let kinds = try kinds.split(separator: ",").map { name in
            guard let kind = IngestBench.EventKind(rawValue: String(name)) else { throw ValidationError("unknown event kind \(name)") }
            return kind
        }
        guard events > 0, rounds > 0, (1...10_000).contains(batch) else { throw ValidationError("events and rounds must be positive, batch 1 to 10000") }
        let bench = IngestBench(events: events, rounds: rounds, brokers: brokers, kinds: kinds, batch: batch)
        try runBlocking { try await bench.run() }
    }
}

struct IngestBench: Sendable {
    enum EventKind: String, Sendable {
        case job
        case sendmsg
    }

    var events: Int
    var rounds: Int
    var brokers: [BrokerServer.Kind]
    var kinds: [EventKind]
    var batch: Int

    static let app: UInt64 = 1_400_000_000
    static let users = 10_000

    func run() async throws {
        print(
            "pushd-bench ingest: \(events) events per run, \(rounds) runs per broker and kind, batch \(batch); the broker (Debian's "
                + "nats-server -js, redis-server) on loopback; pushd's consumer in this process into a fresh SQLite queue (no dispatcher)."
        )
        var table = BenchTable(header: ["broker", "events", "publisher events/s", "ingested events/s", "ratio", "store floor events/s", "of the floor", "CPU µs/event"])
        for round in 1...rounds {
            for kind in kinds {
                // The floor: the same events committed straight to a fresh store, no broker, no JSON.
                let floor = try await storeFloor(kind, round: round)
                for broker in brokers {
                    let result = try await once(broker, kind, round: round)
                    table.add([
                        broker.rawValue, kind == .job ? "push jobs" : "openim/sendmsg", String(format: "%.0f", result.published),
                        String(format: "%.0f", result.ingested), String(format: "%.2f", result.ingested / result.published),
                        String(format: "%.0f", floor), String(format: "%.2f", result.ingested / floor), String(format: "%.1f", result.cpuMicros),
                    ])
                }
            }
        }
        print(table.render())
    }

    func payloads(_ kind: EventKind, round: Int) -> [[UInt8]] {
        (0..<events).map { i in
            let user = "u\(i % Self.users)"
            let text: String
            switch kind {
            case .job:
                text = #"{"SdkAppID":\#(Self.app),"To_Account":"\#(user)","IdempotencyKey":"r\#(round)-\#(i)","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"message \#(i)"}}]}"#
            case .sendmsg:
                text = #"{"Command":"openim/sendmsg","SdkAppID":\#(Self.app),"Body":{"To_Account":"\#(user)","MsgRandom":\#(i),"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"message \#(i)"}}]}}"#
            }
            return Array(text.utf8)
        }
    }

    /// A fresh store with the bench's app and users.
    func store(folder: String) async throws -> (any PushStore, PushdConfig) {
        var config = PushdConfig()
        var app = PushdConfig.App(sdkAppID: Self.app)
        app.secretKey = UUID().uuidString
        config.apps = [app]
        config.storage.path = folder + "/pushd.sqlite"
        let store = try await openStore(config)
        try await store.importAccounts(sdkAppID: Self.app, (0..<Self.users).map { ("u\($0)", [:]) })
        return (store, config)
    }

    /// Events/s committed without a broker: push jobs decoded beforehand and enqueued a batch per
    /// transaction; sends run through the API as the admin, `batch` at a time.
    func storeFloor(_ kind: EventKind, round: Int) async throws -> Double {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-ingest-floor-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (store, config) = try await store(folder: folder)
        let source = IngestSource(kind: .redis, name: "floor", url: "redis://127.0.0.1", stream: "s", deadLetter: "d")
        let events = try payloads(kind, round: round).enumerated().map { try IngestEvent.decode($0.element, source: source, position: "\($0.offset)") }
        let api = RestAPI(config: config, store: store)
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            var start = 0
            while start < events.count {
                let chunk = events[start..<min(start + batch, events.count)]
                switch kind {
                case .job:
                    try await store.enqueue(chunk.compactMap { if case .job(let job) = $0 { job } else { nil } })
                case .sendmsg:
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for event in chunk {
                            guard case .command(let app, let name, let body, let key) = event else { continue }
                            group.addTask { _ = await api.handleEvent(sdkAppID: app, command: name, body: body, eventKey: key) }
                        }
                        try await group.waitForAll()
                    }
                }
                start += chunk.count
            }
        }
        try await store.close()
        return Double(events.count) / elapsed.seconds
    }

    func once(_ broker: BrokerServer.Kind, _ kind: EventKind, round: Int) async throws -> (published: Double, ingested: Double, cpuMicros: Double) {
        let server = try BrokerServer(broker)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-ingest-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var source: IngestSource
        let events = payloads(kind, round: round)
        let clock = ContinuousClock()
        let publishing: Duration
        switch broker {
        case .nats:
            source = IngestSource(kind: .nats, name: "bench", url: server.url, stream: "BENCH", deadLetter: "bench.dead")
            source.subject = "bench.events"
            let publisher = try await retrying { try await NATSPublisher(url: server.url) }
            try await retrying {
                try await publisher.ensureStream("BENCH", subjects: ["bench.events"])
                try await publisher.ensureStream("DEAD", subjects: ["bench.dead"])
            }
            publishing = try await clock.measure { try await publisher.publish("bench.events", events) }
            await publisher.shutdown()
        case .redis:
            source = IngestSource(kind: .redis, name: "bench", url: server.url, stream: "bench", deadLetter: "bench:dead")
            let publisher = try await RedisPublisher(url: server.url)
            publishing = try await clock.measure { try await publisher.publish("bench", events) }
            await publisher.shutdown()
        }
        source.batch = batch
        source.maxQueueDepth = self.events * 2

        let (store, config) = try await store(folder: folder)
        let service = IngestService(sources: [source], store: store, api: RestAPI(config: config, store: store))
        let before = E2EBench.Usage.read(getpid())
        let start = clock.now
        let running = Task { try await service.run() }
        while try await store.stats().lanes.values.reduce(0, { $0 + $1.pending }) < self.events {
            try await Task.sleep(for: .milliseconds(5))
            guard clock.now - start < .seconds(600) else { throw ValidationError("ingest did not finish in 10 minutes") }
        }
        let ingesting = clock.now - start
        let used = E2EBench.Usage.read(getpid()) - before
        running.cancel()
        _ = await running.result
        try await store.close()
        let n = Double(self.events)
        return (n / publishing.seconds, n / ingesting.seconds, used.cpuSeconds * 1_000_000 / n)
    }

}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

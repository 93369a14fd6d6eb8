import Foundation
import PushdConfig
import Synchronization

/// A Redis Streams consumer group on Debian's hiredis: `XREADGROUP` in batches, `XACK` after the
/// commit, this consumer's own pending entries read first after every (re)connect, and entries a
/// crashed consumer left pending longer than `claim_idle_seconds` taken over with `XAUTOCLAIM`. A
/// new group starts at the stream's first entry. The event is the entry's `event` field.
final class RedisConsumer: BrokerConsumer, @unchecked Sendable {
    let source: IngestSource
    /// This process's name in the group.
    let name: String
    private let thread = ClientThread()
    /// Used on `thread` only (the unchecked Sendable above rests on it).
    private var connection: RedisConnection?
    /// Read this consumer's pending entries (id 0) before new ones (`>`).
    private var ownPendingFirst = true
    /// When the last `XAUTOCLAIM` ran, and where its scan goes on.
    private var lastClaim = ContinuousClock.now
    private var claimCursor = "0-0"
    private let connected = Atomic<Bool>(false)

    init(source: IngestSource) {
        self.source = source
        name = source.consumerName.isEmpty ? ProcessInfo.processInfo.hostName : source.consumerName
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }

    func connect() async throws {
        try await thread.run { try self.open() }
    }

    func fetch(max: Int, wait: Duration) async throws -> [BrokerMessage] {
        try await thread.run { try self.guarded { try self.fetchNow(max: max, waitMillis: wait.milliseconds) } }
    }

    func ack(_ messages: [BrokerMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await thread.run {
            try self.guarded {
                let reply = try self.live().command(["XACK", self.source.stream, self.source.consumer] + messages.map(\.handle))
                if case .error(let text) = reply { throw BrokerError("redis XACK: \(text)") }
            }
        }
    }

    func release(_ messages: [BrokerMessage]) async {
        // They stay pending on this consumer: read again from id 0 on the next fetch.
        _ = try? await thread.run { self.ownPendingFirst = true }
    }

    func deadLetter(_ message: BrokerMessage, code: Int, info: String) async throws {
        var arguments: [[UInt8]] = [Array("XADD".utf8), Array(source.deadLetter.utf8), Array("*".utf8), Array("event".utf8), message.data]
        let fields: [(String, String)] = [("code", String(code)), ("info", info), ("source", source.name), ("position", message.position)]
        for (field, value) in fields { arguments += [Array(field.utf8), Array(value.utf8)] }
        try await thread.run { [arguments] in
            try self.guarded {
                let reply = try self.live().command(arguments)
                if case .error(let text) = reply { throw BrokerError("redis XADD \(self.source.deadLetter): \(text)") }
            }
        }
    }

    func close() async {
        _ = try? await thread.run {
            self.connection = nil
            self.connected.store(false, ordering: .relaxed)
        }
    }

    func shutdown() async {
        await close()
        await thread.shutdown()
    }

    // MARK: On the client thread

    private func open() throws {
        connection = nil
        // A blocking read waits up to a second; the timeout leaves room for the reply.
        let connection = try RedisConnection(url: source.url, readTimeout: .seconds(10))
        let created = try connection.command(["XGROUP", "CREATE", source.stream, source.consumer, "0", "MKSTREAM"])
        if case .error(let text) = created, !text.hasPrefix("BUSYGROUP") { throw BrokerError("redis XGROUP CREATE: \(text)") }
        self.connection = connection
        ownPendingFirst = true
        connected.store(true, ordering: .relaxed)
    }

    private func live() throws -> RedisConnection {
        guard let connection else { throw BrokerError("not connected") }
        return connection
    }

    /// Runs `work`; a broken connection is dropped and reported as not connected.
    private func guarded<T>(_ work: () throws -> T) throws -> T {
        do {
            return try work()
        } catch {
            if connection?.isBroken ?? true {
                connection = nil
                connected.store(false, ordering: .relaxed)
            }
            throw error
        }
    }

    private func fetchNow(max: Int, waitMillis: Int64) throws -> [BrokerMessage] {
        let connection = try live()
        let count = String(Swift.max(max, 1))
        let idle = Duration.seconds(source.claimIdleSeconds)
        if ContinuousClock.now - lastClaim >= idle / 2 {
            let claimed = try claim(connection, count: count, idleMillis: idle.milliseconds)
            if !claimed.isEmpty { return claimed }
        }
        if ownPendingFirst {
            let pending = try read(connection, ["XREADGROUP", "GROUP", source.consumer, name, "COUNT", count, "STREAMS", source.stream, "0"])
            if !pending.isEmpty { return pending }
            ownPendingFirst = false
        }
        return try read(
            connection,
            ["XREADGROUP", "GROUP", source.consumer, name, "COUNT", count, "BLOCK", String(Swift.max(waitMillis, 1)), "STREAMS", source.stream, ">"]
        )
    }

    /// Entries other consumers left pending past the idle time, now this consumer's; one scan step.
    private func claim(_ connection: RedisConnection, count: String, idleMillis: Int64) throws -> [BrokerMessage] {
        let reply = try connection.command(["XAUTOCLAIM", source.stream, source.consumer, name, String(idleMillis), claimCursor, "COUNT", count])
        if case .error(let text) = reply { throw BrokerError("redis XAUTOCLAIM: \(text)") }
        guard let parts = reply.array, parts.count >= 2 else { throw BrokerError("redis XAUTOCLAIM: unexpected reply") }
        claimCursor = parts[0].text ?? "0-0"
        // A full pass ends at 0-0: wait for the next round.
        if claimCursor == "0-0" { lastClaim = ContinuousClock.now }
        return try entries(parts[1])
    }

    private func read(_ connection: RedisConnection, _ command: [String]) throws -> [BrokerMessage] {
        let reply = try connection.command(command)
        switch reply {
        case .null: return []
        case .error(let text): throw BrokerError("redis XREADGROUP: \(text)")
        default:
            // [[stream, [entries]]]
            guard let streams = reply.array else { throw BrokerError("redis XREADGROUP: unexpected reply") }
            return try streams.flatMap { stream -> [BrokerMessage] in
                guard let pair = stream.array, pair.count == 2 else { throw BrokerError("redis XREADGROUP: unexpected reply") }
                return try entries(pair[1])
            }
        }
    }

    /// `[id, [field, value, …]]` entries; one whose fields are gone (deleted from the stream while
    /// pending) is acknowledged here, it has nothing left to ingest.
    private func entries(_ value: RedisValue) throws -> [BrokerMessage] {
        guard let items = value.array else { throw BrokerError("redis: entries are not a list") }
        var messages: [BrokerMessage] = []
        var gone: [String] = []
        for item in items {
            guard let entry = item.array, entry.count == 2, let id = entry[0].text else { continue }
            guard let fields = entry[1].fields else {
                gone.append(id)
                continue
            }
            messages.append(BrokerMessage(position: id, handle: id, data: fields["event"] ?? []))
        }
        if !gone.isEmpty, let connection { _ = try connection.command(["XACK", source.stream, source.consumer] + gone) }
        return messages
    }
}

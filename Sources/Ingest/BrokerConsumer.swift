import Foundation
import NIOPosix
import PushdConfig

/// One event as a broker delivered it.
public struct BrokerMessage: Sendable, Equatable {
    /// Where the event sits in its stream (NATS: the stream sequence; Redis: the entry id): the same
    /// on every redelivery, so it derives the event's idempotency key.
    public var position: String
    /// What acknowledges it (NATS: the reply subject; Redis: the entry id).
    public var handle: String
    /// The event's bytes.
    public var data: [UInt8]

    public init(position: String, handle: String, data: [UInt8]) {
        self.position = position
        self.handle = handle
        self.data = data
    }
}

/// The ingest seam: a broker's consumer, at least once. An event is acknowledged only after pushd
/// committed it (``ack(_:)``); one not acknowledged comes back. A Kafka consumer would be a third
/// implementation: a consumer group's poll as `fetch`, the partition offsets committed as `ack`.
public protocol BrokerConsumer: Sendable {
    /// Connects and creates the durable consumer (group) when it does not exist; again after a failure.
    func connect() async throws
    /// Up to `max` events, waiting at most `wait` for the first; empty when none came.
    func fetch(max: Int, wait: Duration) async throws -> [BrokerMessage]
    /// Acknowledges committed events: the broker will not deliver them again.
    func ack(_ messages: [BrokerMessage]) async throws
    /// Hands events back undone: the broker delivers them again soon.
    func release(_ messages: [BrokerMessage]) async
    /// Writes a bad event to the source's dead-letter stream with the error; durable when it returns.
    func deadLetter(_ message: BrokerMessage, code: Int, info: String) async throws
    /// Whether the connection is up now.
    var isConnected: Bool { get }
    /// Drops the connection; `connect()` opens a new one.
    func close() async
    /// Closes for good: the connection and the client's thread.
    func shutdown() async
}

/// A broker client's failure: what the C client said.
public struct BrokerError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// The one thread a blocking C client is used from: its calls never block Swift's cooperative pool.
final class ClientThread: Sendable {
    private let pool = NIOThreadPool(numberOfThreads: 1)

    init() { pool.start() }

    /// Runs `work` on the thread.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(work)
    }

    func shutdown() async { try? await pool.shutdownGracefully() }
}

extension IngestSource {
    /// The consumer of this source's broker.
    public func makeConsumer() -> any BrokerConsumer {
        switch kind {
        case .nats: NATSConsumer(source: self)
        case .redis: RedisConsumer(source: self)
        }
    }
}

import Foundation

/// One broker pushd consumes offline-message events from (`ingest:` in the file, a list).
public struct IngestSource: Sendable, Equatable {
    /// The broker.
    public enum Kind: String, Sendable, CaseIterable {
        /// NATS JetStream: a durable pull consumer on a stream.
        case nats
        /// Redis Streams: a consumer group on a stream key.
        case redis
    }

    public var kind: Kind
    /// Names the source in metrics, logs, `/readyz`, event keys and `PUSHD_INGEST_<NAME>_URL`;
    /// `<kind><index>` unless the file names it.
    public var name: String
    /// `nats://[user:pass@]host:port` or `redis://[:pass@]host:port[/db]`; credentials best come
    /// from `PUSHD_INGEST_<NAME>_URL`.
    public var url: String
    /// The JetStream stream's name, or the Redis stream's key.
    public var stream: String
    /// NATS: the subject the consumer filters on (`<stream>.>` style); empty for the stream's all.
    public var subject: String = ""
    /// The durable consumer's name (NATS), the consumer group's (Redis).
    public var consumer: String = "pushd"
    /// Redis: this process's name in the group (its pending entries are its own); the host name
    /// unless set. A restart under the same name reads its own pending entries first.
    public var consumerName: String = ""
    /// Where a bad event goes with its error: a subject a JetStream stream captures (NATS), a
    /// stream key (Redis).
    public var deadLetter: String
    /// Events read per fetch, committed together.
    public var batch: Int = 1_024
    /// Events of this app only; nil: each event names its `SdkAppID`.
    public var sdkAppID: UInt64?
    /// Ingest pauses while pushd's queue holds more pending jobs than this.
    public var maxQueueDepth: Int = 200_000
    /// NATS: how long the broker waits for an ack before it redelivers.
    public var ackWaitSeconds: Int = 30
    /// Redis: a pending entry idle this long (its consumer crashed) is claimed by another.
    public var claimIdleSeconds: Int = 60

    public init(kind: Kind, name: String, url: String, stream: String, deadLetter: String) {
        self.kind = kind
        self.name = name
        self.url = url
        self.stream = stream
        self.deadLetter = deadLetter
    }

    /// The environment variable whose value replaces `url`.
    public var urlVariable: String {
        "PUSHD_INGEST_" + String(name.uppercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "_" })
            + "_URL"
    }

    /// The broker's address without credentials, for logs and `/readyz`.
    public var safeURL: String {
        guard var parts = URLComponents(string: url) else { return "(unparsable URL)" }
        parts.user = nil
        parts.password = nil
        return parts.string ?? "(unparsable URL)"
    }

    /// Whether `url` has this kind's scheme and a host.
    public var hasValidURL: Bool {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), let host = parts.host, !host.isEmpty else {
            return false
        }
        switch kind {
        case .nats: return ["nats", "tls"].contains(scheme)
        case .redis: return scheme == "redis"
        }
    }
}

extension IngestSource {
    /// A stream, subject, consumer or key name: 1 to 255 printable ASCII characters, no space.
    public static func isName(_ text: String) -> Bool {
        (1...255).contains(text.utf8.count) && text.utf8.allSatisfy { (0x21...0x7e).contains($0) }
    }
}

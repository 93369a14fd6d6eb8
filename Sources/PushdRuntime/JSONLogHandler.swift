import Foundation
import Logging

/// A swift-log handler writing one JSON object a line (`log.format: json`): `timestamp` (UTC,
/// milliseconds), `level`, `label`, `message`, `source`, and the metadata (the job, app, vendor and
/// device the dispatcher attaches) as top-level keys. Metadata whose key names a secret is written
/// as `"[redacted]"`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// `write` receives each line with its newline; by default standard error, one write a line.
    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let given = event.metadata { merged.merge(given) { $1 } }
        var object: [String: Any] = [:]
        for (key, value) in merged { object[key] = Self.isSecret(key) ? "[redacted]" : Self.json(value) }
        object["timestamp"] = Self.timestamp(Date())
        object["level"] = event.level.rawValue
        object["label"] = label
        object["message"] = event.message.description
        object["source"] = event.source
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// Keys whose values are never written.
    static func isSecret(_ key: String) -> Bool {
        let key = key.lowercased()
        return ["secret", "password", "authorization", "usersig", "private_key"].contains { key.contains($0) }
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// Writes a line to standard error in one call, so concurrent lines do not interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }
}

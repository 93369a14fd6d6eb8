import Synchronization

/// A value a config reload replaces while readers keep going: each read sees the whole old value or
/// the whole new one.
public final class Reloadable<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    public init(_ value: Value) {
        self.value = Mutex(value)
    }

    /// The value now.
    public var current: Value { value.withLock { $0 } }

    public func replace(_ new: Value) {
        value.withLock { $0 = new }
    }
}

extension PushdConfig {
    /// The settings that differ in `other` and that only a restart applies (the listener, the
    /// store, the dispatcher's workers, the limits, logging, tracing): a reload logs them.
    public func restartOnlyChanges(in other: PushdConfig) -> [String] {
        var changed: [String] = []
        if listen != other.listen { changed.append("listen") }
        if storage != other.storage { changed.append("storage") }
        if dispatcher != other.dispatcher { changed.append("dispatcher") }
        if limits != other.limits { changed.append("limits") }
        if log != other.log { changed.append("log") }
        if tracing != other.tracing { changed.append("tracing") }
        return changed
    }
}

/// What `/readyz` says of the config: which reload is running and how the last attempt went.
public struct ReloadStatus: Sendable, Equatable, Encodable {
    /// 1 for the config `serve` started with, one more per reload applied.
    public var generation: Int
    public var lastReload: Attempt?

    /// One reload attempt.
    public struct Attempt: Sendable, Equatable, Encodable {
        /// `ok` or `refused`.
        public var result: String
        /// RFC 3339, UTC.
        public var at: String
        /// Why it was refused (one line per problem), or the settings that need a restart.
        public var problems: [String]

        public init(result: String, at: String, problems: [String]) {
            self.result = result
            self.at = at
            self.problems = problems
        }
    }

    public init(generation: Int = 1, lastReload: Attempt? = nil) {
        self.generation = generation
        self.lastReload = lastReload
    }

    enum CodingKeys: String, CodingKey {
        case generation
        case lastReload = "last_reload"
    }
}

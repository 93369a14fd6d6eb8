/// Retry delays: exponential with full jitter, the vendor's `Retry-After` when it gave one.
public struct Backoff: Sendable {
    public var baseMillis: Int64
    public var maxMillis: Int64

    public init(baseMillis: Int64, maxMillis: Int64) {
        self.baseMillis = baseMillis
        self.maxMillis = maxMillis
    }

    /// The delay before attempt `attempt + 1` (`attempt` ≥ 1 failed rounds), `unit` in [0, 1) the jitter.
    public func delayMillis(attempt: Int, retryAfterSeconds: Int?, unit: Double) -> Int64 {
        if let retryAfter = retryAfterSeconds, retryAfter > 0 { return min(maxMillis, Int64(retryAfter).secondsToMillis) }
        let exponent = min(max(attempt.subtractingSaturating(1), 0), 30)
        let ceiling = min(maxMillis, baseMillis << exponent)
        // Half fixed, half jitter: never immediately, never all at once.
        return ceiling / 2 + Int64(Double(ceiling / 2) * unit)
    }
}

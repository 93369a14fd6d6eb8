import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time in milliseconds since 1970, injectable for anything time-based: JWT `iat`,
/// OAuth token expiry, vendor timestamps, token invalidation times.
public protocol EpochClock: Sendable {
    func nowMillis() -> Int64
}

extension EpochClock {
    /// Seconds since 1970.
    public func nowSeconds() -> Int64 { nowMillis() / 1000 }
}

/// The system's wall clock.
public struct SystemEpochClock: EpochClock {
    public init() {}

    public func nowMillis() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    public var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// The duration in seconds, as a floating-point number.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

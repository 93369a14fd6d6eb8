import PushCore
import PushdConfig
import Synchronization

/// A token bucket: `rate` sends per second, at most `burst` at once. Pure: time comes in.
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var updatedMillis: Int64

    /// `rate` and `burst` come from the config: anything not finite and positive is read as one
    /// push a second, a burst of one.
    public init(rate: Double, burst: Double? = nil, nowMillis: Int64) {
        let rate = rate.isFinite && rate > 0 ? rate : 1
        self.rate = rate
        let burst = burst.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } ?? rate
        self.burst = max(1, burst)
        tokens = self.burst
        updatedMillis = nowMillis
    }

    /// Takes one token; the milliseconds to wait before sending (0: send now). The token is spoken
    /// for either way, so concurrent callers queue up behind each other.
    public mutating func take(nowMillis: Int64) -> Int64 {
        let elapsed = Double(max(0, nowMillis - updatedMillis)) / 1000
        tokens = min(burst, tokens + elapsed * rate)
        updatedMillis = max(updatedMillis, nowMillis)
        tokens -= 1
        // A tiny rate would make the wait overflow an Int64: an hour is as long as anyone waits.
        return tokens >= 0 ? 0 : Int64(min((-tokens / rate * 1000).rounded(.up), 3_600_000))
    }
}

/// The send gates of every app and vendor, shared by all workers: a token bucket where a rate is
/// configured, and a pause set by a vendor's 429/`Retry-After` or a configuration alarm.
public final class VendorThrottle: Sendable {
    public struct Key: Hashable, Sendable {
        public var app: UInt64
        public var vendor: Vendor

        public init(app: UInt64, vendor: Vendor) {
            self.app = app
            self.vendor = vendor
        }
    }

    private struct State {
        var buckets: [Key: TokenBucket] = [:]
        var pausedUntil: [Key: Int64] = [:]
        var alarms: [Key: Alarm] = [:]
    }

    /// A pause for a configuration the vendor refused: why, and until when.
    public struct Alarm: Sendable, Equatable {
        public var reason: String
        public var untilMillis: Int64
    }

    private let state: Mutex<State>
    private let clock: any EpochClock

    /// Pushes per second and burst per app and vendor; absent or 0 is unlimited.
    public typealias Rates = [Key: (rate: Double, burst: Double?)]

    public init(rates: Rates, clock: any EpochClock) {
        self.clock = clock
        state = Mutex(State())
        update(rates: rates, resetting: [])
    }

    /// The rates of each app's vendors in a config.
    public static func rates(_ config: PushdConfig) -> Rates {
        var rates: Rates = [:]
        for app in config.apps {
            for (vendor, fields) in app.vendors { rates[Key(app: app.sdkAppID, vendor: vendor)] = (fields.rate.perSecond, fields.rate.burst) }
        }
        return rates
    }

    /// A config reload: buckets whose rate or burst changed start full at the new rate, the others
    /// keep their tokens; `resetting` (vendors given new credentials or settings) lose their pauses
    /// and alarms, so a corrected key is tried at once.
    public func update(rates: Rates, resetting: Set<Key>) {
        let now = clock.nowMillis()
        state.withLock { s in
            var buckets: [Key: TokenBucket] = [:]
            for (key, r) in rates where r.rate.isFinite && r.rate > 0 {
                let fresh = TokenBucket(rate: r.rate, burst: r.burst, nowMillis: now)
                if let old = s.buckets[key], old.rate == fresh.rate, old.burst == fresh.burst { buckets[key] = old } else { buckets[key] = fresh }
            }
            s.buckets = buckets
            for key in resetting {
                s.pausedUntil[key] = nil
                s.alarms[key] = nil
            }
        }
    }

    /// When the key is paused, the time it resumes.
    public func pausedUntil(_ key: Key) -> Int64? {
        let now = clock.nowMillis()
        return state.withLock { s in s.pausedUntil[key].flatMap { $0 > now ? $0 : nil } }
    }

    /// Pauses the vendor for the app until `untilMillis` (a later pause wins). True when this call
    /// started the pause, so the caller logs it once.
    /// `alarm`: the vendor refused the app's configuration, for that reason (``alarms()``).
    @discardableResult
    public func pause(_ key: Key, untilMillis: Int64, alarm: String? = nil) -> Bool {
        let now = clock.nowMillis()
        return state.withLock { s in
            if let alarm { s.alarms[key] = Alarm(reason: alarm, untilMillis: max(untilMillis, s.alarms[key]?.untilMillis ?? 0)) }
            let current = s.pausedUntil[key] ?? 0
            guard untilMillis > current else { return false }
            s.pausedUntil[key] = untilMillis
            return current <= now
        }
    }

    /// The configuration alarms whose pause has not ended.
    public func alarms() -> [Key: Alarm] {
        let now = clock.nowMillis()
        return state.withLock { s in
            s.alarms = s.alarms.filter { $0.value.untilMillis > now }
            return s.alarms
        }
    }

    /// Milliseconds the caller must wait before its send, for the bucket; 0 to send now.
    public func reserve(_ key: Key) -> Int64 {
        let now = clock.nowMillis()
        return state.withLock { s in s.buckets[key]?.take(nowMillis: now) ?? 0 }
    }
}

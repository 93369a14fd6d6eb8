import PushCore
import Synchronization

/// A clock that moves only when told to, for tests.
public final class ManualEpochClock: EpochClock {
    private let millis: Mutex<Int64>

    public init(millis: Int64 = 1_763_600_000_000) {
        self.millis = Mutex(millis)
    }

    public func nowMillis() -> Int64 { millis.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(seconds: Int64) {
        millis.withLock { $0 += seconds * 1000 }
    }

    /// Moves the clock forward by milliseconds.
    public func advance(millis delta: Int64) {
        millis.withLock { $0 += delta }
    }
}

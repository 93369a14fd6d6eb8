import Testing

/// Waits (real time) until `condition` holds, checking every `interval`; records an issue naming
/// `what` and throws when `timeout` passes first. The timeout only bounds a hang: tests wait for
/// an explicit condition, never for an amount of time.
public func eventually(
    _ what: String, timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    Issue.record("timed out after \(timeout) waiting for: \(what)")
    throw CancellationError()
}

/// `work`'s result, tried up to `attempts` times `interval` apart (a server that answers a moment
/// after its port opens, as JetStream does); the last failure is thrown.
public func retrying<T>(attempts: Int = 50, every interval: Duration = .milliseconds(100), _ work: () async throws -> T) async throws -> T {
    var attempt = 1
    while true {
        do {
            return try await work()
        } catch where attempt < attempts {
            attempt += 1
            try await Task.sleep(for: interval)
        }
    }
}

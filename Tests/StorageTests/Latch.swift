import Synchronization

/// Holds callers of `wait()` until `open()`; once open, `wait()` returns at once.
final class Latch: Sendable {
    private let state = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { s in
                if !s.open { s.waiter = continuation }
                return s.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        state.withLock { s in
            s.open = true
            defer { s.waiter = nil }
            return s.waiter
        }?.resume()
    }
}

import Dispatch
import Synchronization

/// Runs async work from a synchronous command and waits for its result. The root command stays
/// synchronous so valgrind-based tooling can run the binary (it cannot follow the dispatch-based
/// async main).
@discardableResult
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task {
        do {
            let value = try await body()
            box.result.withLock { $0 = .success(value) }
        } catch {
            box.result.withLock { $0 = .failure(error) }
        }
        done.signal()
    }
    done.wait()
    return try box.result.withLock { $0! }.get()
}

/// The result of a task, read by the thread that waited for it.
final class ResultBox<T: Sendable>: Sendable {
    let result = Mutex<Result<T, any Error>?>(nil)
}

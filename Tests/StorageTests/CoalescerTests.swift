import Synchronization
import Testing

@testable import Storage

/// Group commit's batching: who shares a batch, and who sees an error.
@Suite("Coalescer", .timeLimit(.minutes(1)))
struct CoalescerTests {
    struct Refused: Error, Equatable {}

    /// Records every batch; holds the first one until `open` so that calls pile up behind it.
    final class Recorder: Sendable {
        let batches = Mutex<[[Int]]>([])
        let latch = Latch()

        func run(_ inputs: [Int]) async throws -> [Int] {
            let first = batches.withLock { batches in
                batches.append(inputs)
                return batches.count == 1
            }
            if first { await latch.wait() }
            if inputs.count > 1, inputs.contains(13) { throw Refused() }
            guard inputs != [13] else { throw Refused() }
            return inputs.map { $0 * 2 }
        }

        func open() { latch.open() }

        var recorded: [[Int]] { batches.withLock { $0 } }
    }

    /// Submits `first`, then `rest` once `first` is running, and releases the batch when all of `rest` wait.
    func pileUp(_ coalescer: Coalescer<Int, Int>, _ recorder: Recorder, first: Int, rest: [Int]) async -> [Int: Result<Int, Refused>] {
        await withTaskGroup(of: (Int, Result<Int, Refused>).self) { group in
            func submit(_ input: Int) {
                group.addTask {
                    do { return (input, .success(try await coalescer.submit(input))) } catch { return (input, .failure(Refused())) }
                }
            }
            submit(first)
            while recorder.recorded.isEmpty { await Task.yield() }
            for input in rest { submit(input) }
            while coalescer.pendingCount < rest.count { await Task.yield() }
            recorder.open()
            var results: [Int: Result<Int, Refused>] = [:]
            for await (input, result) in group { results[input] = result }
            return results
        }
    }

    @Test("calls made while a batch runs share the next one, and each gets its own output")
    func sharing() async {
        let recorder = Recorder()
        let coalescer = Coalescer<Int, Int>(maxWeight: 100) { try await recorder.run($0) }
        let results = await pileUp(coalescer, recorder, first: 0, rest: Array(1...10))
        #expect(recorder.recorded.count == 2)
        #expect(recorder.recorded.first == [0])
        #expect(recorder.recorded.last?.sorted() == Array(1...10))
        for input in 0...10 { #expect(results[input] == .success(input * 2)) }
    }

    @Test("a failed batch runs again call by call: only the call that fails sees the error")
    func isolation() async {
        let recorder = Recorder()
        let coalescer = Coalescer<Int, Int>(maxWeight: 100) { try await recorder.run($0) }
        let results = await pileUp(coalescer, recorder, first: 0, rest: [11, 12, 13, 14])
        #expect(results[13] == .failure(Refused()))
        for input in [0, 11, 12, 14] { #expect(results[input] == .success(input * 2)) }
        #expect(recorder.recorded.count == 2 + 4, "the shared batch, then each of its calls alone")
        #expect(Set(recorder.recorded.suffix(4)) == [[11], [12], [13], [14]])
    }

    @Test("a batch stops at the weight limit; a call heavier than the limit runs alone")
    func weight() async {
        let recorder = Recorder()
        let coalescer = Coalescer<Int, Int>(maxWeight: 10, weight: { $0 }) { try await recorder.run($0) }
        // Piled up in this order: 4, 4, 4, 20 (one at a time, so the order is known).
        let results = await withTaskGroup(of: (Int, Int?).self) { group in
            group.addTask { (1, try? await coalescer.submit(1)) }
            while recorder.recorded.isEmpty { await Task.yield() }
            for (index, input) in [4, 4, 4, 20].enumerated() {
                group.addTask { (input, try? await coalescer.submit(input)) }
                while coalescer.pendingCount < index + 1 { await Task.yield() }
            }
            recorder.open()
            var outputs: [Int?] = []
            for await (_, output) in group { outputs.append(output) }
            return outputs
        }
        #expect(results.count == 5 && results.allSatisfy { $0 != nil })
        #expect(recorder.recorded == [[1], [4, 4], [4], [20]])
    }

    @Test("with a concurrency of 3, three batches run at once and no more")
    func concurrency() async throws {
        let running = Mutex<(now: Int, peak: Int)>((0, 0))
        let coalescer = Coalescer<Int, Int>(maxWeight: 1, concurrency: 3) { inputs in
            running.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
            // Each batch waits until three run together (or the peak shows they never will).
            while running.withLock({ $0.peak }) < 3 { try await Task.sleep(for: .milliseconds(1)) }
            try await Task.sleep(for: .milliseconds(5))
            running.withLock { $0.now -= 1 }
            return inputs
        }
        let outputs = try await withThrowingTaskGroup(of: Int.self) { group in
            for input in 0..<12 { group.addTask { try await coalescer.submit(input) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outputs.sorted() == Array(0..<12))
        #expect(running.withLock { $0.peak } == 3)
    }

    /// Issue 24: the write queue was unbounded; under overload memory grew instead of callers
    /// hearing "busy".
    @Test("past maxPending waiting calls a call fails at once with StoreBusy; the waiting ones still run")
    func bounded() async {
        let recorder = Recorder()
        let coalescer = Coalescer<Int, Int>(maxWeight: 100, maxPending: 3) { try await recorder.run($0) }
        let results = await withTaskGroup(of: (Int, Result<Int, StoreBusy>?).self) { group in
            group.addTask { (0, try? .success(await coalescer.submit(0))) }
            while recorder.recorded.isEmpty { await Task.yield() }
            for input in 1...3 { group.addTask { (input, try? .success(await coalescer.submit(input))) } }
            while coalescer.pendingCount < 3 { await Task.yield() }
            // The fourth waiting call is refused without waiting for the batch.
            do {
                _ = try await coalescer.submit(4)
                Issue.record("a call past maxPending was queued")
            } catch {
                #expect(error is StoreBusy)
            }
            recorder.open()
            var results: [Int: Result<Int, StoreBusy>?] = [:]
            for await (input, result) in group { results[input] = result }
            return results
        }
        for input in 0...3 { #expect(results[input] == .some(.success(input * 2))) }
        #expect(recorder.recorded.flatMap { $0 }.sorted() == [0, 1, 2, 3])
    }
}

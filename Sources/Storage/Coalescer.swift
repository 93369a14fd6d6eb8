import Synchronization

/// Runs the calls of concurrent callers together: what arrives while one batch runs goes into
/// the next, and each caller gets its own output. Used for group commit (the messages of many
/// requests in one transaction) and for the reads before them (one read for many requests), so
/// a busy server pays one transaction and one thread hop per batch instead of per request.
///
/// A caller that finds fewer than `concurrency` batches running starts a task that runs batches
/// until nothing is pending; an idle coalescer adds one task hop. With a concurrency above one
/// (a database with concurrent writers), batches overlap and each takes what is pending when it
/// starts. When a batch fails, its inputs run again one by one, so an error only reaches the
/// caller whose input caused it.
public final class Coalescer<Input: Sendable, Output: Sendable>: Sendable {
    /// Runs a batch; returns one output per input, in order.
    public typealias Run = @Sendable ([Input]) async throws -> [Output]

    struct Call {
        var input: Input
        var continuation: CheckedContinuation<Output, any Error>
    }

    struct State {
        var pending: [Call] = []
        var running = 0
    }

    let run: Run
    let weight: @Sendable (Input) -> Int
    let maxWeight: Int
    let concurrency: Int
    let maxPending: Int
    private let state = Mutex(State())

    /// A batch holds inputs up to `maxWeight` in total (by `weight`); a heavier input runs alone.
    /// At most `concurrency` batches run at once. At most `maxPending` calls wait: past that a call
    /// fails at once with `StoreBusy` instead of queueing memory the store cannot work off.
    public init(
        maxWeight: Int, concurrency: Int = 1, maxPending: Int = .max, weight: @escaping @Sendable (Input) -> Int = { _ in 1 },
        run: @escaping Run
    ) {
        self.run = run
        self.weight = weight
        self.maxWeight = maxWeight
        self.concurrency = max(concurrency, 1)
        self.maxPending = max(0, maxPending)
    }

    /// The output of `input`, once the batch that carried it has run.
    public func submit(_ input: Input) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool? in
                guard state.pending.count < maxPending else { return nil }
                state.pending.append(Call(input: input, continuation: continuation))
                guard state.running < concurrency else { return false }
                state.running += 1
                return true
            }
            switch start {
            case nil: continuation.resume(throwing: StoreBusy(waiting: maxPending))
            case true?: Task { await self.drain() }
            case false?: break
            }
        }
    }

    /// Calls waiting for the next batch.
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Runs batches until nothing is pending, then stops counting as running, under the same lock.
    func drain() async {
        while let batch = next() {
            await execute(batch)
        }
    }

    /// The oldest pending calls, up to `maxWeight`; nil (and one runner fewer) when there are none.
    func next() -> [Call]? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.running -= 1
                return nil
            }
            var total = 0
            let count = state.pending.prefix { call in
                defer { total += weight(call.input) }
                return total == 0 || total + weight(call.input) <= maxWeight
            }.count
            defer { state.pending.removeFirst(count) }
            return Array(state.pending.prefix(count))
        }
    }

    func execute(_ batch: [Call]) async {
        do {
            let outputs = try await run(batch.map(\.input))
            guard outputs.count == batch.count else { throw StoreError("a batch of \(batch.count) gave \(outputs.count) results") }
            for (call, output) in zip(batch, outputs) { call.continuation.resume(returning: output) }
        } catch where batch.count > 1 {
            for call in batch { await execute([call]) }
        } catch {
            batch[0].continuation.resume(throwing: error)
        }
    }
}

/// The store calls of sending a message, coalesced across concurrent requests: the reads before
/// it (`sendFacts`) and the write of the message with its jobs (`storeMessages`, group commit).
public struct SendCoalescer: Sendable {
    public typealias Entry = (message: NewMessage, jobs: [NewJob])

    let reads: Coalescer<SendLookup, SendFacts>
    let writes: Coalescer<[Entry], [StoredMessage]>
    let lookedUp: Coalescer<LookedUpSend, LookedUpSend.Result>

    /// Requests that may wait for a read or a write at once, by default: about a second of the
    /// store's pace, so an overload answers "busy" instead of growing memory and latency.
    public static let defaultMaxPending = 10_000

    /// Batches of looked-up sends in flight at least, whatever the store's writers.
    static let lookedUpBatches = 4

    /// One read holds up to `maxLookups` requests' lookups; one transaction up to `maxMessages`
    /// messages or batch recipients (a single larger request is written whole).
    /// Reads and writes each run up to `store.concurrentWriters` batches at once, and each keeps at
    /// most `maxPending` requests waiting (`StoreBusy` beyond).
    public init(store: any MessageStore, maxLookups: Int = 256, maxMessages: Int = 10_000, maxPending: Int = Self.defaultMaxPending) {
        let concurrency = store.concurrentWriters
        reads = Coalescer(maxWeight: maxLookups, concurrency: concurrency, maxPending: maxPending) { lookups in try await store.sendFacts(lookups) }
        // A batch message weighs as much as its recipients.
        writes = Coalescer(
            maxWeight: maxMessages, concurrency: concurrency, maxPending: maxPending,
            weight: { $0.reduce(0) { $0 + max(1, $1.message.recipients.count) } }
        ) { batches in
            var results = try await store.storeMessages(batches.flatMap { $0 })[...]
            return batches.map { entries in
                defer { results = results.dropFirst(entries.count) }
                return Array(results.prefix(entries.count))
            }
        }
        // Even on SQLite's one writer, several batches at once: the writer runs the queued ones
        // back to back (`WriteQueue`) instead of idling while a finished batch's callers resume
        // and the next batch is handed over (about 0.8 ms a batch, measured; issue 26).
        lookedUp = Coalescer(maxWeight: maxLookups, concurrency: max(concurrency, Self.lookedUpBatches), maxPending: maxPending) { sends in
            try await store.storeMessages(lookingUp: sends)
        }
    }

    /// As `MessageStore.storeMessages(lookingUp:)` for one send, in a transaction that may carry
    /// other requests' sends; returns once it has committed.
    public func store(_ send: LookedUpSend) async throws -> LookedUpSend.Result {
        try await lookedUp.submit(send)
    }

    public func facts(_ lookup: SendLookup) async throws -> SendFacts {
        try await reads.submit(lookup)
    }

    /// As `PushStore.storeMessages`, in a transaction that may carry other requests' messages;
    /// returns once it has committed.
    public func storeMessages(_ entries: [Entry]) async throws -> [StoredMessage] {
        entries.isEmpty ? [] : try await writes.submit(entries)
    }

    public func storeMessage(_ message: NewMessage, jobs: [NewJob]) async throws -> StoredMessage {
        try await storeMessages([(message, jobs)])[0]
    }
}

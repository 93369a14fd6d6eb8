import Synchronization
import Testing

@testable import Queue

/// The SQLite store's write gate: one writer inside, urgent callers before background ones.
@Suite("WriteGate", .timeLimit(.minutes(1)))
struct WriteGateTests {
    static func waitUntil(_ gate: WriteGate, has n: Int) async {
        while gate.waiting < n { await Task.yield() }
    }

    /// Who passed, in order, and how many were inside at once.
    final class Callers: Sendable {
        let gate = WriteGate()
        let latch = Latch()
        let order = Mutex<[String]>([])
        let inside = Mutex((now: 0, most: 0))

        func pass(_ name: String, _ priority: WriteGate.Priority, hold: Bool = false) async throws {
            try await gate.pass(priority) {
                inside.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                if hold { await latch.wait() }
                order.withLock { $0.append(name) }
                inside.withLock { $0.now -= 1 }
            }
        }
    }

    @Test("An urgent caller passes background callers that queued before it")
    func urgentFirst() async throws {
        let callers = Callers()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await callers.pass("holder", .background, hold: true) }
            while callers.inside.withLock({ $0.now }) == 0 { await Task.yield() }
            group.addTask { try await callers.pass("campaign page", .background) }
            await Self.waitUntil(callers.gate, has: 1)
            group.addTask { try await callers.pass("campaign completion", .background) }
            await Self.waitUntil(callers.gate, has: 2)
            group.addTask { try await callers.pass("chat enqueue", .urgent) }
            await Self.waitUntil(callers.gate, has: 3)
            group.addTask { try await callers.pass("chat claim", .urgent) }
            await Self.waitUntil(callers.gate, has: 4)
            callers.latch.open()
            try await group.waitForAll()
        }
        #expect(callers.order.withLock { $0 } == ["holder", "chat enqueue", "chat claim", "campaign page", "campaign completion"])
        #expect(callers.inside.withLock { $0.most } == 1)
        #expect(callers.gate.waiting == 0)
    }

    @Test("Urgent callers that keep the gate busy still let a background caller through after a run")
    func noStarvation() async throws {
        let callers = Callers()
        let urgent = WriteGate.urgentRun + 4
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await callers.pass("holder", .urgent, hold: true) }
            while callers.inside.withLock({ $0.now }) == 0 { await Task.yield() }
            group.addTask { try await callers.pass("campaign completion", .background) }
            await Self.waitUntil(callers.gate, has: 1)
            for i in 0..<urgent {
                group.addTask { try await callers.pass("chat \(i)", .urgent) }
                await Self.waitUntil(callers.gate, has: 2 + i)
            }
            callers.latch.open()
            try await group.waitForAll()
        }
        let order = callers.order.withLock { $0 }
        // The holder, then a run of urgent passes, then the background caller, then the rest.
        #expect(order.firstIndex(of: "campaign completion") == 1 + WriteGate.urgentRun)
        #expect(order.filter { $0.hasPrefix("chat") } == (0..<urgent).map { "chat \($0)" })
    }

    @Test("An error inside frees the gate for the next caller")
    func errorFrees() async throws {
        struct Refused: Error {}
        let gate = WriteGate()
        await #expect(throws: Refused.self) { try await gate.pass(.urgent) { throw Refused() } }
        let value = try await gate.pass(.background) { 7 }
        #expect(value == 7)
    }
}


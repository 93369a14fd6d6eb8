import Foundation
import GRDB
import Synchronization
import Testing

@testable import Storage

/// The SQLite store's write queue: one transaction at a time on the writer, urgent ones first.
@Suite("WriteQueue", .timeLimit(.minutes(1)))
struct WriteQueueTests {
    /// A write queue over a fresh database file with one table, `log(name)`, that every
    /// transaction appends to; the table's order is the order the writer ran them in.
    final class Writer: Sendable {
        let queue: WriteQueue
        let pool: DatabasePool
        /// Holds the writer inside the first transaction until signalled.
        let hold = DispatchSemaphore(value: 0)
        let holding = Atomic<Bool>(false)

        init(maxWaiting: Int = 50_000) throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-wq-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            pool = try DatabasePool(path: folder.appendingPathComponent("w.sqlite").path)
            try pool.write { try $0.execute(sql: "CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)") }
            queue = WriteQueue(pool: pool, checkpoints: CheckpointPolicy(), maxWaiting: maxWaiting)
        }

        func log(_ name: String, _ priority: WriteQueue.Priority, hold: Bool = false) async throws {
            try await queue.write(priority) { db in
                try db.execute(sql: "INSERT INTO log (name) VALUES (?)", arguments: [name])
                if hold {
                    self.holding.store(true, ordering: .releasing)
                    self.hold.wait()
                }
            }
        }

        /// Starts a transaction that keeps the writer busy until `release()`.
        func occupy(_ group: inout ThrowingTaskGroup<Void, any Error>, priority: WriteQueue.Priority) async {
            group.addTask { try await self.log("holder", priority, hold: true) }
            while !holding.load(ordering: .acquiring) { await Task.yield() }
        }

        func release() { hold.signal() }

        /// Queues a transaction and waits until the queue holds `waiting` transactions.
        func queue(_ group: inout ThrowingTaskGroup<Void, any Error>, _ name: String, _ priority: WriteQueue.Priority, waiting: Int) async {
            group.addTask { try await self.log(name, priority) }
            while queue.waiting < waiting { await Task.yield() }
        }

        var order: [String] {
            get throws { try pool.read { try String.fetchAll($0, sql: "SELECT name FROM log ORDER BY seq") } }
        }
    }

    @Test("An urgent transaction runs before background ones queued ahead of it")
    func urgentFirst() async throws {
        let writer = try Writer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            await writer.occupy(&group, priority: .background)
            await writer.queue(&group, "campaign page", .background, waiting: 1)
            await writer.queue(&group, "campaign completion", .background, waiting: 2)
            await writer.queue(&group, "chat enqueue", .urgent, waiting: 3)
            await writer.queue(&group, "chat claim", .urgent, waiting: 4)
            writer.release()
            try await group.waitForAll()
        }
        #expect(try writer.order == ["holder", "chat enqueue", "chat claim", "campaign page", "campaign completion"])
        #expect(writer.queue.waiting == 0)
    }

    @Test("Urgent transactions that keep coming still let a background one run after a run of them")
    func noStarvation() async throws {
        let writer = try Writer()
        let urgent = WriteQueue.urgentRun + 4
        try await withThrowingTaskGroup(of: Void.self) { group in
            await writer.occupy(&group, priority: .urgent)
            await writer.queue(&group, "campaign completion", .background, waiting: 1)
            for i in 0..<urgent {
                await writer.queue(&group, "chat \(i)", .urgent, waiting: 2 + i)
            }
            writer.release()
            try await group.waitForAll()
        }
        let order = try writer.order
        #expect(order.firstIndex(of: "campaign completion") == 1 + WriteQueue.urgentRun)
        #expect(order.filter { $0.hasPrefix("chat") } == (0..<urgent).map { "chat \($0)" })
    }

    @Test("A transaction that throws is rolled back, its caller gets the error, and the next one runs")
    func errorRollsBack() async throws {
        struct Refused: Error {}
        let writer = try Writer()
        await #expect(throws: Refused.self) {
            try await writer.queue.write(.urgent) { db in
                try db.execute(sql: "INSERT INTO log (name) VALUES ('half')")
                throw Refused()
            }
        }
        let count = try await writer.queue.write(.background) { db -> Int in
            try db.execute(sql: "INSERT INTO log (name) VALUES ('after')")
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM log")!
        }
        #expect(count == 1)
        #expect(try writer.order == ["after"])
    }

    @Test("Many concurrent callers each get their own transaction's result")
    func concurrentResults() async throws {
        let writer = try Writer()
        let results = try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
            for i in 0..<200 {
                group.addTask {
                    let id = try await writer.queue.write(i.isMultiple(of: 3) ? .background : .urgent) { db -> Int64 in
                        try db.execute(sql: "INSERT INTO log (name) VALUES (?)", arguments: ["w\(i)"])
                        return db.lastInsertedRowID
                    }
                    return (i, id)
                }
            }
            return try await group.reduce(into: [Int: Int64]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 200)
        let names = try await writer.pool.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT seq, name FROM log").map { ($0["seq"] as Int64, $0["name"] as String) })
        }
        for (i, id) in results { #expect(names[id] == "w\(i)") }
    }

    @Test("past maxWaiting queued transactions a write fails at once with StoreBusy and writes nothing")
    func bounded() async throws {
        let writer = try Writer(maxWaiting: 0)
        await #expect(throws: StoreBusy.self) { try await writer.log("refused", .urgent) }
        #expect(try await writer.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM log") } == 0)
        let open = try Writer(maxWaiting: 1)
        try await open.log("accepted", .background)
        #expect(try await open.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM log") } == 1)
    }
}

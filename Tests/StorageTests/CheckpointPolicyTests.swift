import Foundation
import GRDB
import Testing

@testable import Storage

/// The SQLite writer's checkpoints: the log is copied back between transactions while chat is idle,
/// and never grows past its bounds.
@Suite("CheckpointPolicy", .timeLimit(.minutes(1)))
struct CheckpointPolicyTests {
    /// A fresh database file with the policy's hook on every connection and one table of blobs,
    /// each row about a page.
    struct Database {
        let pool: DatabasePool
        let path: String

        init(_ policy: CheckpointPolicy) throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-cp-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            path = folder.appendingPathComponent("c.sqlite").path
            var configuration = Configuration()
            configuration.prepareDatabase { policy.install(on: $0) }
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { try $0.execute(sql: "CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
        }

        static func insert(_ db: GRDB.Database) throws {
            try db.execute(sql: "INSERT INTO blobs (body) VALUES (zeroblob(4000))")
        }

        /// Frames the log file holds room for (SQLite reuses the file from its start after a
        /// complete checkpoint, so its size is the largest the log has been).
        var logFrames: Int {
            get throws {
                let size = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0
                return size / (4096 + 24)
            }
        }
    }

    @Test("Past the forced bound the committing transaction checkpoints, whatever waits")
    func forcedBound() throws {
        let database = try Database(CheckpointPolicy(threshold: 10, eager: 40, forced: 100))
        for _ in 0..<600 { try database.pool.write(Database.insert) }
        // Without any checkpoint the log would hold every commit's pages, well over 600 frames.
        #expect(try database.logFrames < 130)
        #expect(try database.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM blobs") } == 600)
    }

    @Test("A checkpoint is due past the threshold only when no urgent write waits or ran lately")
    func dueInChatGaps() throws {
        let policy = CheckpointPolicy(threshold: 10, eager: 40, forced: 1_000_000, quiet: .milliseconds(3))
        let database = try Database(policy)
        try database.pool.write(Database.insert)
        #expect(!policy.due(urgentWaiting: false, sinceUrgent: nil))
        for _ in 0..<10 { try database.pool.write(Database.insert) }
        #expect(!policy.due(urgentWaiting: true, sinceUrgent: nil))
        #expect(!policy.due(urgentWaiting: false, sinceUrgent: .milliseconds(1)))
        #expect(policy.due(urgentWaiting: false, sinceUrgent: .milliseconds(3)))
        #expect(policy.due(urgentWaiting: false, sinceUrgent: nil))
        for _ in 0..<30 { try database.pool.write(Database.insert) }
        #expect(policy.due(urgentWaiting: false, sinceUrgent: .zero))
        #expect(!policy.due(urgentWaiting: true, sinceUrgent: .seconds(1)))
        try database.pool.writeWithoutTransaction { policy.checkpoint($0) }
        #expect(!policy.due(urgentWaiting: false, sinceUrgent: nil))
    }

    @Test("Background writes through the write queue keep the log near the threshold")
    func queueCheckpoints() async throws {
        let policy = CheckpointPolicy(threshold: 10, eager: 40, forced: 1_000_000, quiet: .zero)
        let database = try Database(policy)
        let queue = WriteQueue(pool: database.pool, checkpoints: policy)
        for _ in 0..<600 { try await queue.write(.background, Database.insert) }
        // The forced bound is out of reach here: only the queue's checkpoints keep the log small.
        #expect(try database.logFrames < 40)
        #expect(try await database.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM blobs") } == 600)
    }
}

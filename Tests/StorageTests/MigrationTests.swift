import Foundation
import GRDB
import Messaging
import PushCore
import Testing

@testable import Storage

/// A database written by an older pushd opens under the current schema with its data intact.
@Suite("SQLite migrations")
struct MigrationTests {
    @Test("a v8 batch message (recipients with a conversation index) is found in roaming after v9")
    func batchRecipientsSurviveV9() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-mig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("pushd.sqlite").path
        let old = try DatabaseQueue(path: path)
        try SQLiteStore.migrator(upTo: 8).migrate(old)
        try await old.write { db in
            try db.execute(
                sql: """
                    INSERT INTO messages (app, msg_key, from_account, to_account, group_id, msg_seq, msg_random, msg_time, body, dedupe, created_at, expires_at)
                    VALUES (1400000000, 'b1', 'ops', '', '', 3, 7, 1000, x'7b7d', 'd', 0, 0)
                    """
            )
            for user in ["bob", "carol"] {
                try db.execute(
                    sql: "INSERT INTO message_recipients (message_id, to_account, app, from_account, msg_time) VALUES (?, ?, 1400000000, 'ops', 1000)",
                    arguments: [1, user]
                )
            }
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        let carol = try await store.conversation(sdkAppID: 1_400_000_000, between: "carol", and: "ops", minTime: 0, maxTime: 9_999, before: nil, limit: 5)
        #expect(carol.map(\.msgKey) == ["b1"] && carol.first?.toAccount == "carol")
        #expect(Set(try await store.messageRecipients(sdkAppID: 1_400_000_000, msgKey: "b1")) == ["bob", "carol"])
        #expect(try await store.conversation(sdkAppID: 1_400_000_000, between: "dave", and: "ops", minTime: 0, maxTime: 9_999, before: nil, limit: 5).isEmpty)
        try await store.close()
        try? FileManager.default.removeItem(at: folder)
    }
}

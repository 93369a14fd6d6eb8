import Foundation
import GRDB
import PushCore

extension SQLiteStore {
    // MARK: Callback events

    public func enqueueCallbackEvents(_ events: [NewCallbackEvent]) async throws {
        guard !events.isEmpty else { return }
        let now = clock.nowMillis()
        try await write(.background) { db in try Self.insert(events, db: db, now: now) }
    }

    /// Writes events inside the caller's transaction.
    static func insert(_ events: [NewCallbackEvent], db: Database, now: Int64) throws {
        guard !events.isEmpty else { return }
        let insert = try db.cachedStatement(
            sql: "INSERT INTO callback_events (app, command, body, available_at, created_at) VALUES (?, ?, ?, ?, ?)"
        )
        for event in events {
            try insert.execute(arguments: [Int64(clamping: event.sdkAppID), event.command, event.body, now, now])
        }
    }

    public func claimCallbackEvents(limit: Int, leaseMillis: Int64) async throws -> [ClaimedCallbackEvent] {
        let now = clock.nowMillis()
        // A read first: an idle sender polls without taking the single writer from pushes.
        let due = try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM callback_events WHERE available_at <= ?)", arguments: [now]) ?? false
        }
        guard due, limit > 0 else { return [] }
        return try await write(.background) { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    UPDATE callback_events SET available_at = ?
                    WHERE id IN (SELECT id FROM callback_events WHERE available_at <= ? ORDER BY id LIMIT ?)
                    RETURNING id, app, command, body, attempts, created_at
                    """,
                arguments: [now.addingSaturating(leaseMillis), now, limit]
            )
            return rows.map { row in
                ClaimedCallbackEvent(
                    id: row["id"], sdkAppID: UInt64(clamping: row["app"] as Int64), command: row["command"], body: row["body"],
                    attempts: row["attempts"], createdAtMillis: row["created_at"]
                )
            }.sorted { $0.id < $1.id }
        }
    }

    public func deleteCallbackEvents(ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await write(.background) { db in
            try db.execute(sql: "DELETE FROM callback_events WHERE id IN (SELECT value FROM json_each(?))", arguments: [Self.idList(ids)])
        }
    }

    public func retryCallbackEvents(ids: [Int64], notBeforeMillis: Int64) async throws {
        guard !ids.isEmpty else { return }
        try await write(.background) { db in
            try db.execute(
                sql: "UPDATE callback_events SET available_at = ?, attempts = attempts + 1 WHERE id IN (SELECT value FROM json_each(?))",
                arguments: [notBeforeMillis, Self.idList(ids)]
            )
        }
    }

    /// Row ids as one JSON array, bound once for `json_each`.
    static func idList(_ ids: [Int64]) -> String {
        "[" + ids.map(String.init).joined(separator: ",") + "]"
    }

    public func callbackBacklog() async throws -> (events: Int, oldestMillis: Int64?) {
        try await pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT count(*) AS n, min(created_at) AS oldest FROM callback_events")
            return (row?["n"] ?? 0, row?["oldest"])
        }
    }
}

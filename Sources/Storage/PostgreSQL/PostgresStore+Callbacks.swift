import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import PostgresNIO
import PushCore

extension PostgresStore {
    // MARK: Callback events

    public func enqueueCallbackEvents(_ events: [NewCallbackEvent]) async throws {
        guard !events.isEmpty else { return }
        let now = clock.nowMillis()
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            try await Self.insert(events, connection: connection, now: now, logger: logger)
        }
    }

    /// Writes events inside the caller's transaction.
    static func insert(_ events: [NewCallbackEvent], connection: PostgresConnection, now: Int64, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO callback_events (app, command, body, available_at, created_at)
            SELECT a, c, b, \(now), \(now)
            FROM unnest(\(events.map { Int64(clamping: $0.sdkAppID) })::bigint[], \(events.map(\.command))::text[],
                        \(events.map { ByteBuffer(data: $0.body) })::bytea[]) WITH ORDINALITY AS x(a, c, b, n)
            ORDER BY n
            """,
            logger: logger
        )
    }

    public func claimCallbackEvents(limit: Int, leaseMillis: Int64) async throws -> [ClaimedCallbackEvent] {
        guard limit > 0 else { return [] }
        let now = clock.nowMillis()
        let rows = try await client.query(
            """
            UPDATE callback_events SET available_at = \(now.addingSaturating(leaseMillis))
            WHERE id IN (SELECT id FROM callback_events WHERE available_at <= \(now) ORDER BY id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
            RETURNING id, app, command, body, attempts, created_at
            """,
            logger: logger
        )
        var events: [ClaimedCallbackEvent] = []
        for try await (id, app, command, body, attempts, created) in rows.decode((Int64, Int64, String, ByteBuffer, Int64, Int64).self) {
            events.append(
                ClaimedCallbackEvent(
                    id: id, sdkAppID: UInt64(clamping: app), command: command, body: Data(buffer: body), attempts: Int(clamping: attempts),
                    createdAtMillis: created
                )
            )
        }
        return events.sorted { $0.id < $1.id }
    }

    public func deleteCallbackEvents(ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await client.query("DELETE FROM callback_events WHERE id = ANY(\(ids)::bigint[])", logger: logger)
    }

    public func retryCallbackEvents(ids: [Int64], notBeforeMillis: Int64) async throws {
        guard !ids.isEmpty else { return }
        try await client.query(
            "UPDATE callback_events SET available_at = \(notBeforeMillis), attempts = attempts + 1 WHERE id = ANY(\(ids)::bigint[])",
            logger: logger
        )
    }

    public func callbackBacklog() async throws -> (events: Int, oldestMillis: Int64?) {
        let rows = try await client.query("SELECT count(*), min(created_at) FROM callback_events", logger: logger)
        for try await (n, oldest) in rows.decode((Int64, Int64?).self) { return (Int(clamping: n), oldest) }
        return (0, nil)
    }
}

import Foundation
import Logging
import Messaging
import NIOCore
import NIOFoundationCompat
import PostgresNIO
import PushCore

/// The shared store: several pushd processes on one PostgreSQL database. Workers claim with
/// `FOR UPDATE SKIP LOCKED`, so no two claim the same job, and idle workers wake on
/// `LISTEN pushd_jobs`, which every enqueue notifies.
public final class PostgresStore: PushStore {
    static let channel = "pushd_jobs"

    private let client: PostgresClient
    private let clock: any EpochClock
    private let logger: Logger
    private let signal = JobSignal()
    private let background: Task<Void, Never>

    /// Connects to `url` (`postgres://user:password@host:port/database`) and runs the migrations.
    public init(url: String, clock: any EpochClock = SystemEpochClock(), logger: Logger = Logger(label: "pushd.postgres")) async throws {
        let configuration = try Self.configuration(url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let signal = self.signal
        background = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                group.addTask { await Self.listen(client: client, signal: signal, logger: logger) }
                await group.next()
                group.cancelAll()
            }
        }
        self.client = client
        self.clock = clock
        self.logger = logger
        do {
            try await migrate()
        } catch {
            background.cancel()
            throw error
        }
    }

    /// Client settings from a `postgres://` URL; `?sslmode=require` asks for TLS.
    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host
        else { throw StoreError("storage.url must look like postgres://user:password@host:5432/database, got \(url)") }
        let tls: PostgresClient.Configuration.TLS =
            components.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } == true
            ? .require(.makeClientConfiguration()) : .disable
        let database = String(components.path.drop { $0 == "/" })
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? nil : database, tls: tls
        )
        configuration.options.maximumConnections = 16
        return configuration
    }

    /// Forwards notifications to the local signal, reconnecting while the store lives.
    static func listen(client: PostgresClient, signal: JobSignal, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        for try await _ in notifications { signal.notify() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("LISTEN \(channel) failed, retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Creates the tables once; concurrent starts serialise on an advisory lock.
    private func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7726001)", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS pushd_schema (version BIGINT NOT NULL)", logger: logger)
            var version: Int64 = 0
            for try await v in try await connection.query("SELECT max(version) FROM pushd_schema", logger: logger).decode(Int64?.self) {
                version = v ?? 0
            }
            guard version < 1 else { return }
            for statement in Schema.sql(.postgres) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query("INSERT INTO pushd_schema (version) VALUES (1)", logger: logger)
        }
    }

    public func enqueue(_ jobs: [NewJob]) async throws -> [Bool] {
        guard !jobs.isEmpty else { return [] }
        let now = clock.nowMillis()
        let apps = jobs.map { Int64($0.sdkAppID) }
        let keys = jobs.map(\.idempotencyKey)
        let lanes = jobs.map { Int64($0.lane.rawValue) }
        let users = jobs.map(\.userID)
        let payloads = jobs.map { ByteBuffer(data: $0.payload) }
        let devices = jobs.map { Schema.encodeDevices($0.deviceIDs) ?? "" }
        let available = jobs.map { $0.notBeforeMillis ?? now }
        let logger = self.logger
        let inserted = try await client.withTransaction(logger: logger) { connection -> Set<Int> in
            var inserted = Set<Int>()
            let rows = try await connection.query(
                """
                INSERT INTO jobs (app, idempotency_key, lane, user_id, payload, devices, available_at, enqueued_at)
                SELECT a, k, l, u, p, NULLIF(d, ''), t, \(now)
                FROM unnest(\(apps)::bigint[], \(keys)::text[], \(lanes)::bigint[], \(users)::text[], \(payloads)::bytea[],
                            \(devices)::text[], \(available)::bigint[]) WITH ORDINALITY AS j(a, k, l, u, p, d, t, n)
                ORDER BY n
                ON CONFLICT (app, idempotency_key) DO NOTHING
                RETURNING app, idempotency_key
                """,
                logger: logger
            )
            var returned = Set<String>()
            for try await (app, key) in rows.decode((Int64, String).self) { returned.insert("\(app)\u{0}\(key)") }
            var badges: [String: (app: Int64, user: String, count: Int64)] = [:]
            for (i, job) in jobs.enumerated() where returned.remove("\(apps[i])\u{0}\(job.idempotencyKey)") != nil {
                inserted.insert(i)
                if job.countsForBadge { badges["\(apps[i])\u{0}\(job.userID)", default: (apps[i], job.userID, 0)].count += 1 }
            }
            for (_, b) in badges {
                try await connection.query(
                    "UPDATE devices SET badge = badge + \(b.count) WHERE app = \(b.app) AND user_id = \(b.user)", logger: logger
                )
            }
            if !inserted.isEmpty { try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger) }
            return inserted
        }
        return jobs.indices.map { inserted.contains($0) }
    }

    public func claim(limit: Int, leaseMillis: Int64) async throws -> [ClaimedJob] {
        let now = clock.nowMillis()
        var claimed: [ClaimedJob] = []
        for lane in Lane.allCases where claimed.count < limit {
            let rows = try await client.query(
                """
                UPDATE jobs SET available_at = \(now + leaseMillis), claim = claim + 1
                WHERE id IN (SELECT id FROM jobs WHERE lane = \(Int64(lane.rawValue)) AND available_at <= \(now) AND done_at IS NULL
                             ORDER BY available_at LIMIT \(Int64(limit - claimed.count)) FOR UPDATE SKIP LOCKED)
                RETURNING id, claim, app, idempotency_key, lane, user_id, payload, devices, attempts, enqueued_at, available_at
                """,
                logger: logger
            )
            var batch: [ClaimedJob] = []
            for try await row in rows {
                let r = row.makeRandomAccess()
                batch.append(
                    ClaimedJob(
                        id: try r["id"].decode(Int64.self), claim: try r["claim"].decode(Int64.self),
                        sdkAppID: UInt64(try r["app"].decode(Int64.self)), idempotencyKey: try r["idempotency_key"].decode(String.self),
                        lane: Lane(rawValue: Int(try r["lane"].decode(Int64.self))) ?? .chat, userID: try r["user_id"].decode(String.self),
                        payload: Data(buffer: try r["payload"].decode(ByteBuffer.self)),
                        deviceIDs: Schema.decodeDevices(try r["devices"].decode(String?.self)),
                        attempts: Int(try r["attempts"].decode(Int64.self)), enqueuedAtMillis: try r["enqueued_at"].decode(Int64.self),
                        leaseUntilMillis: try r["available_at"].decode(Int64.self)
                    )
                )
            }
            claimed += batch.sorted { $0.id < $1.id }
        }
        return claimed
    }

    public func complete(_ completions: [JobCompletion]) async throws {
        guard !completions.isEmpty else { return }
        let now = clock.nowMillis()
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            var requeued = false
            for completion in completions {
                let job = completion.job
                let app = Int64(job.sdkAppID)
                let f = Schema.Finish(completion, now: now)
                let doneAt: Int64? = f.done ? now : nil
                var changed = 0
                for try await _ in try await connection.query(
                    """
                    UPDATE jobs SET devices = \(f.devices), attempts = attempts + \(Int64(f.attemptsDelta)), available_at = \(f.availableAt),
                      last_error = \(f.lastError), done_at = \(doneAt), payload = CASE WHEN \(f.done) THEN ''::bytea ELSE payload END
                    WHERE id = \(job.id) AND claim = \(job.claim) AND done_at IS NULL RETURNING id
                    """,
                    logger: logger
                ) { changed += 1 }
                guard changed > 0 else { continue }
                requeued = requeued || !f.done
                for r in completion.records {
                    try await connection.query(
                        """
                        INSERT INTO push_records (app, job_key, user_id, device_id, vendor, outcome, reason, vendor_message_id, attempts, at)
                        VALUES (\(app), \(job.idempotencyKey), \(job.userID), \(r.deviceID), \(r.vendor), \(r.outcome.rawValue), \(r.reason),
                                \(r.vendorMessageID), \(Int64(r.attempts)), \(r.atMillis))
                        """,
                        logger: logger
                    )
                }
                for i in completion.invalidations {
                    try await connection.query(
                        """
                        UPDATE devices SET invalidated_at = \(i.atMillis)
                        WHERE app = \(app) AND user_id = \(job.userID) AND device_id = \(i.deviceID) AND token = \(i.token)
                          AND registered_at <= \(i.atMillis) AND invalidated_at IS NULL
                        """,
                        logger: logger
                    )
                }
                for d in completion.deadDevices {
                    try await connection.query(
                        """
                        INSERT INTO dead_letters (app, job_id, idempotency_key, lane, user_id, payload, device_id, vendor, token, last_error, attempts, created_at)
                        VALUES (\(app), \(job.id), \(job.idempotencyKey), \(Int64(job.lane.rawValue)), \(job.userID), \(ByteBuffer(data: job.payload)),
                                \(d.deviceID), \(d.vendor), \(d.token), \(d.error), \(Int64(Schema.attempts(completion))), \(now))
                        """,
                        logger: logger
                    )
                }
            }
            if requeued { try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger) }
        }
    }

    public func waitForJobs(timeout: Duration) async {
        await signal.wait(timeout: timeout)
    }

    public func stats() async throws -> QueueStats {
        let now = clock.nowMillis()
        var lanes: [Lane: QueueStats.LaneStats] = [:]
        for lane in Lane.allCases { lanes[lane] = .init(pending: 0, ready: 0, oldestReadyAgeMillis: 0) }
        let rows = try await client.query(
            """
            SELECT lane, count(*), count(*) FILTER (WHERE available_at <= \(now)), min(available_at) FILTER (WHERE available_at <= \(now))
            FROM jobs WHERE done_at IS NULL GROUP BY lane
            """,
            logger: logger
        )
        for try await (lane, pending, ready, oldest) in rows.decode((Int64, Int64, Int64, Int64?).self) {
            guard let lane = Lane(rawValue: Int(lane)) else { continue }
            lanes[lane] = .init(pending: Int(pending), ready: Int(ready), oldestReadyAgeMillis: oldest.map { max(0, now - $0) } ?? 0)
        }
        var dead = 0
        for try await n in try await client.query("SELECT count(*) FROM dead_letters", logger: logger).decode(Int64.self) { dead = Int(n) }
        return QueueStats(lanes: lanes, deadLetters: dead)
    }

    public func purgeFinished(olderThanMillis: Int64) async throws {
        let cutoff = clock.nowMillis() - olderThanMillis
        try await client.query("DELETE FROM jobs WHERE done_at IS NOT NULL AND done_at < \(cutoff)", logger: logger)
        try await client.query("DELETE FROM push_records WHERE at < \(cutoff)", logger: logger)
    }

    public func upsertDevices(_ devices: [Device]) async throws {
        for chunk in stride(from: 0, to: devices.count, by: 5_000).map({ devices[$0..<min($0 + 5_000, devices.count)] }) {
            let apps = chunk.map { Int64($0.sdkAppID) }, users = chunk.map(\.userID), ids = chunk.map(\.deviceID)
            let vendors = chunk.map(\.vendor.rawValue), tokens = chunk.map(\.token), locales = chunk.map { $0.locale?.rawValue ?? "" }
            let sandboxes = chunk.map { Int64($0.sandbox ? 1 : 0) }, states = chunk.map(\.state.rawValue), badges = chunk.map { Int64($0.badge) }
            let registered = chunk.map(\.registeredAtMillis), changed = chunk.map(\.stateChangedAtMillis)
            let invalidated = chunk.map { $0.invalidatedAtMillis ?? -1 }
            try await client.query(
                """
                INSERT INTO devices (app, user_id, device_id, vendor, token, locale, sandbox, state, badge, registered_at, state_changed_at, invalidated_at)
                SELECT a, u, d, v, t, NULLIF(l, ''), s, st, b, r, c, NULLIF(i, -1)
                FROM unnest(\(apps)::bigint[], \(users)::text[], \(ids)::text[], \(vendors)::text[], \(tokens)::text[], \(locales)::text[],
                            \(sandboxes)::bigint[], \(states)::text[], \(badges)::bigint[], \(registered)::bigint[], \(changed)::bigint[],
                            \(invalidated)::bigint[]) AS x(a, u, d, v, t, l, s, st, b, r, c, i)
                ON CONFLICT (app, user_id, device_id) DO UPDATE SET
                  vendor = excluded.vendor, token = excluded.token, locale = excluded.locale, sandbox = excluded.sandbox,
                  state = excluded.state, badge = excluded.badge, registered_at = excluded.registered_at,
                  state_changed_at = excluded.state_changed_at, invalidated_at = excluded.invalidated_at
                """,
                logger: logger
            )
        }
    }

    public func setDeviceState(sdkAppID: UInt64, userID: String, deviceID: String, state: DeviceState, unread: Int?) async throws -> Bool {
        let now = clock.nowMillis()
        let badge: Int64? = state == .online ? 0 : unread.map(Int64.init)
        var changed = 0
        for try await _ in try await client.query(
            """
            UPDATE devices SET state = \(state.rawValue), state_changed_at = \(now), badge = coalesce(\(badge), badge)
            WHERE app = \(Int64(sdkAppID)) AND user_id = \(userID) AND device_id = \(deviceID) RETURNING 1
            """,
            logger: logger
        ) { changed += 1 }
        return changed > 0
    }

    public func devices(sdkAppID: UInt64, userIDs: [String]) async throws -> [Device] {
        guard !userIDs.isEmpty else { return [] }
        let rows = try await client.query(
            """
            SELECT app, user_id, device_id, vendor, token, locale, sandbox, state, badge, registered_at, state_changed_at, invalidated_at
            FROM devices WHERE app = \(Int64(sdkAppID)) AND user_id = ANY(\(userIDs)) ORDER BY user_id, device_id
            """,
            logger: logger
        )
        var devices: [Device] = []
        for try await (app, user, device, vendor, token, locale, sandbox, state, badge, registered, changed, invalidated) in rows.decode(
            (Int64, String, String, String, String, String?, Int64, String, Int64, Int64, Int64, Int64?).self
        ) {
            if let d = Device.fromColumns(
                app: app, userID: user, deviceID: device, vendor: vendor, token: token, locale: locale, sandbox: sandbox, state: state,
                badge: badge, registeredAt: registered, stateChangedAt: changed, invalidatedAt: invalidated
            ) { devices.append(d) }
        }
        return devices
    }

    public func jobStatus(sdkAppID: UInt64, idempotencyKey: String) async throws -> JobStatus? {
        let rows = try await client.query(
            """
            SELECT attempts, claim, available_at, done_at, last_error, devices FROM jobs
            WHERE app = \(Int64(sdkAppID)) AND idempotency_key = \(idempotencyKey)
            """,
            logger: logger
        )
        for try await (attempts, claims, available, done, error, devices) in rows.decode((Int64, Int64, Int64, Int64?, String?, String?).self) {
            return JobStatus(
                attempts: Int(attempts), claims: Int(claims), availableAtMillis: available, finishedAtMillis: done, lastError: error,
                deviceIDs: Schema.decodeDevices(devices)
            )
        }
        return nil
    }

    public func pushRecords(sdkAppID: UInt64, idempotencyKey: String) async throws -> [PushRecord] {
        let rows = try await client.query(
            """
            SELECT device_id, vendor, outcome, reason, vendor_message_id, attempts, at FROM push_records
            WHERE app = \(Int64(sdkAppID)) AND job_key = \(idempotencyKey) ORDER BY id
            """,
            logger: logger
        )
        var records: [PushRecord] = []
        for try await (device, vendor, outcome, reason, messageID, attempts, at) in rows.decode(
            (String, String, String, String?, String?, Int64, Int64).self
        ) {
            records.append(
                PushRecord(
                    deviceID: device, vendor: vendor, outcome: PushRecord.Outcome(rawValue: outcome) ?? .failed, reason: reason,
                    vendorMessageID: messageID, attempts: Int(attempts), atMillis: at
                )
            )
        }
        return records
    }

    public func deadLetters(afterID: Int64, limit: Int) async throws -> [DeadLetter] {
        try await fetchDeadLetters(ids: nil, afterID: afterID, limit: limit)
    }

    private func fetchDeadLetters(ids: [Int64]?, afterID: Int64, limit: Int) async throws -> [DeadLetter] {
        let all = ids == nil
        let rows = try await client.query(
            """
            SELECT id, job_id, app, idempotency_key, lane, user_id, payload, device_id, vendor, token, last_error, attempts, created_at
            FROM dead_letters WHERE id > \(afterID) AND (\(all) OR id = ANY(\(ids ?? []))) ORDER BY id LIMIT \(Int64(limit))
            """,
            logger: logger
        )
        var letters: [DeadLetter] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            letters.append(
                DeadLetter(
                    id: try r["id"].decode(Int64.self), jobID: try r["job_id"].decode(Int64.self),
                    sdkAppID: UInt64(try r["app"].decode(Int64.self)), idempotencyKey: try r["idempotency_key"].decode(String.self),
                    lane: Lane(rawValue: Int(try r["lane"].decode(Int64.self))) ?? .chat, userID: try r["user_id"].decode(String.self),
                    payload: Data(buffer: try r["payload"].decode(ByteBuffer.self)), deviceID: try r["device_id"].decode(String.self),
                    vendor: try r["vendor"].decode(String.self), token: try r["token"].decode(String.self),
                    lastError: try r["last_error"].decode(String.self), attempts: Int(try r["attempts"].decode(Int64.self)),
                    createdAtMillis: try r["created_at"].decode(Int64.self)
                )
            )
        }
        return letters
    }

    public func replayDeadLetters(ids: [Int64]?) async throws -> Int {
        let letters = try await fetchDeadLetters(ids: ids, afterID: 0, limit: Int(Int32.max))
        guard !letters.isEmpty else { return 0 }
        _ = try await enqueue(letters.map(Schema.replayJob))
        return try await purgeDeadLetters(ids: letters.map(\.id))
    }

    public func purgeDeadLetters(ids: [Int64]?) async throws -> Int {
        let all = ids == nil
        var deleted = 0
        for try await _ in try await client.query(
            "DELETE FROM dead_letters WHERE \(all) OR id = ANY(\(ids ?? [])) RETURNING id", logger: logger
        ) { deleted += 1 }
        return deleted
    }

    public func healthCheck() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    public func close() async throws {
        background.cancel()
        _ = await background.value
    }
}

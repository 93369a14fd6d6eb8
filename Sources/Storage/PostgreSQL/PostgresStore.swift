import Foundation
import Logging
import Messaging
import NIOCore
import NIOFoundationCompat
import NIOSSL
import PostgresNIO
import PushCore

/// The shared store: several pushd processes on one PostgreSQL database. Workers claim with
/// `FOR UPDATE SKIP LOCKED`, so no two claim the same job, and idle workers wake on
/// `LISTEN pushd_jobs`, which every enqueue notifies.
public final class PostgresStore: PushStore {
    static let channel = "pushd_jobs"

    let client: PostgresClient
    let clock: any EpochClock
    let logger: Logger
    let signal = JobSignal()
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

    /// Client settings from a `postgres://` URL. `sslmode` means what it means in libpq: `disable`
    /// (plain), `prefer` (the default: TLS when the server offers it, unverified), `require` (TLS,
    /// unverified), `verify-ca` (TLS, the chain checked against `sslrootcert` or the system roots),
    /// `verify-full` (also the host name). Errors never show the password.
    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host
        else { throw StoreError("storage.url must look like postgres://user:password@host:5432/database, got \(redacted(url))") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let tls = try tls(sslmode: query["sslmode"] ?? "prefer", rootCertificate: query["sslrootcert"])
        let database = String(components.path.drop { $0 == "/" })
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? nil : database, tls: tls
        )
        configuration.options.maximumConnections = 16
        return configuration
    }

    /// libpq's `sslmode` as postgres-nio's TLS setting.
    static func tls(sslmode: String, rootCertificate: String?) throws -> PostgresClient.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate, !rootCertificate.isEmpty { tls.trustRoots = .file(rootCertificate) }
        switch sslmode {
        case "disable": return .disable
        case "prefer", "allow":
            tls.certificateVerification = .none
            return .prefer(tls)
        case "require":
            tls.certificateVerification = .none
            return .require(tls)
        case "verify-ca":
            tls.certificateVerification = .noHostnameVerification
            return .require(tls)
        case "verify-full":
            tls.certificateVerification = .fullVerification
            return .require(tls)
        default:
            throw StoreError("storage.url: sslmode must be disable, allow, prefer, require, verify-ca or verify-full, got \(sslmode)")
        }
    }

    /// The URL with its password replaced by `***`, for errors and logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else {
            // Not parsable as a URL: hide whatever sits between "://user:" and "@".
            return url.replacingOccurrences(of: #"(://[^:/@]*:)[^@]*@"#, with: "$1***@", options: .regularExpression)
        }
        components.password = "***"
        return components.string ?? "postgres://***"
    }

    /// Creates an empty database `name` on the server of `serverURL` (through its `postgres`
    /// database) and returns its URL: a fresh store for tests and benchmarks.
    public static func createDatabase(_ name: String, serverURL: String) async throws -> String {
        var configuration = try Self.configuration(serverURL)
        configuration.database = "postgres"
        let client = PostgresClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })\""))
        }
        guard var components = URLComponents(string: serverURL) else { throw StoreError("bad URL \(redacted(serverURL))") }
        components.path = "/" + name
        return components.string ?? serverURL
    }

    /// Forwards notifications to the local signal, reconnecting while the store lives.
    static func listen(client: PostgresClient, signal: JobSignal, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        signal.listening.store(true, ordering: .relaxed)
                        defer { signal.listening.store(false, ordering: .relaxed) }
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
            for (index, statements) in Schema.migrations(.postgres).enumerated() where Int64(index + 1) > version {
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO pushd_schema (version) VALUES (\(Int64(index + 1)))", logger: logger)
            }
        }
    }

    /// A quarter of the connection pool: enough batches in flight to keep both the server's cores
    /// and the round trips busy, and connections left for the dispatcher.
    public var concurrentWriters: Int { 4 }

    public func enqueue(_ jobs: [NewJob]) async throws -> [Bool] {
        guard !jobs.isEmpty else { return [] }
        let now = clock.nowMillis()
        let logger = self.logger
        let handoff = signal.taker(for: jobs, now: now)
        let inserted = try await client.withTransaction(logger: logger) { connection in
            try await Self.insert(jobs, handingTo: handoff, connection: connection, now: now, logger: logger)
        }
        handoff?.deliver(inserted.handed)
        return inserted.inserted
    }

    /// Inserts jobs inside the caller's transaction (the listeners are notified at commit), the
    /// first chat jobs due now claimed for `handoff`, and reads the devices of their users there too.
    static func insert(
        _ jobs: [NewJob], handingTo handoff: JobHandoff?, connection: PostgresConnection, now: Int64, logger: Logger
    ) async throws -> InsertedJobs {
        let inserting = ClaimedInsert(jobs, now: now, handingTo: handoff)
        let ids = try await insertRows(inserting, connection: connection, logger: logger)
        var handed = HandedJobs(jobs: inserting.claimed(ids: ids))
        for (app, jobs) in Dictionary(grouping: handed.jobs, by: \.sdkAppID) {
            let query = devicesQuery(sdkAppID: app, userIDs: jobs.map(\.userID).exactSet.map(\.value))
            handed.devices += try await devices(try await connection.query(query, logger: logger))
        }
        return InsertedJobs(ids: ids, handed: handed, claimableLanes: inserting.claimableLanes(ids: ids))
    }

    /// Inserts jobs inside the caller's transaction; for each, its row id, nil when it was not new.
    /// The listeners are told at commit when a new job can be claimed now (not for jobs their
    /// enqueuer claimed, nor for jobs due later).
    static func insertRows(_ inserting: ClaimedInsert, connection: PostgresConnection, logger: Logger) async throws -> [Int64?] {
        let (jobs, now, claims) = (inserting.jobs, inserting.now, inserting.claims)
        guard !jobs.isEmpty else { return [] }
        let apps = jobs.map { Int64($0.sdkAppID) }
        let keys = jobs.map(\.idempotencyKey)
        let lanes = jobs.map { Int64($0.lane.rawValue) }
        let users = jobs.map(\.userID)
        let payloads = jobs.map { ByteBuffer(data: $0.payload) }
        let devices = jobs.map { Schema.encodeDevices($0.deviceIDs) ?? "" }
        let available = jobs.map { $0.notBeforeMillis ?? now }
        var inserted: [Int: Int64] = [:]
        let rows = try await connection.query(
            """
            INSERT INTO jobs (app, idempotency_key, lane, user_id, payload, devices, available_at, enqueued_at, claim, open_claims)
            SELECT a, k, l, u, p, NULLIF(d, ''), t, \(now), c, c
            FROM unnest(\(apps)::bigint[], \(keys)::text[], \(lanes)::bigint[], \(users)::text[], \(payloads)::bytea[],
                        \(devices)::text[], \(available)::bigint[], \(claims)::bigint[]) WITH ORDINALITY AS j(a, k, l, u, p, d, t, c, n)
            ORDER BY n
            ON CONFLICT (app, idempotency_key) DO NOTHING
            RETURNING id, app, idempotency_key
            """,
            logger: logger
        )
        var returned: [ExactString: Int64] = [:]
        for try await (id, app, key) in rows.decode((Int64, Int64, String).self) { returned[ExactString("\(app)\u{0}\(key)")] = id }
        var badges: [ExactString: (app: Int64, user: String, count: Int64)] = [:]
        var unread: [ExactString: (app: Int64, user: String, peer: String, count: Int64)] = [:]
        for (i, job) in jobs.enumerated() {
            guard let id = returned.removeValue(forKey: ExactString("\(apps[i])\u{0}\(job.idempotencyKey)")) else { continue }
            inserted[i] = id
            if job.countsForBadge { badges[ExactString("\(apps[i])\u{0}\(job.userID)"), default: (apps[i], job.userID, 0)].count += 1 }
            if let peer = job.unreadPeer {
                unread[ExactString("\(apps[i])\u{0}\(job.userID)\u{0}\(peer)"), default: (apps[i], job.userID, peer, 0)].count += 1
            }
        }
        if !unread.isEmpty {
            // In key order, so two transactions raising the same counts lock them in one order.
            let u = unread.sorted { $0.key.value.utf8.lexicographicallyPrecedes($1.key.value.utf8) }.map(\.value)
            let max = String(Badge.maxValue)
            try await connection.query(
                """
                INSERT INTO unread (app, user_id, peer, count, last_at)
                SELECT a, u, p, LEAST(n, \(unescaped: max)), \(now)
                FROM unnest(\(u.map(\.app))::bigint[], \(u.map(\.user))::text[], \(u.map(\.peer))::text[], \(u.map(\.count))::bigint[])
                  WITH ORDINALITY AS x(a, u, p, n, o)
                ORDER BY o
                ON CONFLICT (app, user_id, peer) DO UPDATE
                SET count = LEAST(unread.count + excluded.count, \(unescaped: max)), last_at = GREATEST(unread.last_at, excluded.last_at)
                """,
                logger: logger
            )
        }
        if !badges.isEmpty {
            let b = Array(badges.values)
            // Saturating: a badge stored before the API bounded Unread cannot fail the batch.
            let max = String(Badge.maxValue)
            // The rows are locked in one order (app, user, device) before they are updated: two
            // transactions raising overlapping badges otherwise lock in hash-join order and
            // deadlock (found by bench api: PostgreSQL aborted one after its 1 s deadlock_timeout).
            try await connection.query(
                """
                WITH locked AS (
                  SELECT d.app, d.user_id, d.device_id, x.n
                  FROM devices AS d JOIN unnest(\(b.map(\.app))::bigint[], \(b.map(\.user))::text[], \(b.map(\.count))::bigint[]) AS x(a, u, n)
                    ON d.app = x.a AND d.user_id = x.u
                  ORDER BY d.app, d.user_id, d.device_id FOR UPDATE OF d
                )
                UPDATE devices AS d SET badge = LEAST(LEAST(d.badge, \(unescaped: max)) + LEAST(l.n, \(unescaped: max)), \(unescaped: max)) FROM locked AS l
                WHERE d.app = l.app AND d.user_id = l.user_id AND d.device_id = l.device_id
                """,
                logger: logger
            )
        }
        let ids = jobs.indices.map { inserted[$0] }
        if !inserting.claimableLanes(ids: ids).isEmpty { try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger) }
        return ids
    }

    public func storeMessage(_ m: NewMessage, jobs: [NewJob]) async throws -> StoredMessage {
        try await storeMessages([(m, jobs)])[0]
    }

    public func storeMessages(_ messages: [(message: NewMessage, jobs: [NewJob])]) async throws -> [StoredMessage] {
        let now = clock.nowMillis()
        let logger = self.logger
        let handoff = signal.taker(for: messages.flatMap(\.jobs), now: now)
        let (results, inserted) = try await client.withTransaction(logger: logger) { connection -> ([StoredMessage], InsertedJobs) in
            // Senders of the same message serialise on its dedupe key; taken in key order, so two
            // batches cannot deadlock.
            let keys = Array(Set(messages.map(\.message.dedupeKey))).sorted()
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(\(keys)::text[]) AS x(k) ORDER BY k", logger: logger)
            // Group messages take a sequence number each; C2C copies (a batch) are checked and
            // written set-wise: one query for duplicates, one insert for the rest.
            var results: [StoredMessage] = []
            var jobs: [NewJob] = []
            if messages.contains(where: { !$0.message.groupID.isEmpty || !$0.message.recipients.isEmpty }) {
                for (m, messageJobs) in messages {
                    let result = try await Self.store(m, connection: connection, now: now, logger: logger)
                    if case .stored = result { jobs += messageJobs }
                    results.append(result)
                }
            } else {
                (results, jobs) = try await Self.storeC2C(messages, connection: connection, now: now, logger: logger)
            }
            return (results, try await Self.insert(jobs, handingTo: handoff, connection: connection, now: now, logger: logger))
        }
        handoff?.deliver(inserted.handed)
        return results
    }

    /// C2C copies inside the caller's transaction, set-wise; a key seen earlier (stored, or earlier
    /// in this batch) makes a duplicate of that first copy. Returns the jobs of the copies stored,
    /// for the caller to insert.
    static func storeC2C(
        _ messages: [(message: NewMessage, jobs: [NewJob])], connection: PostgresConnection, now: Int64, logger: Logger
    ) async throws -> (results: [StoredMessage], jobs: [NewJob]) {
        var first: [ExactString: StoredMessage] = [:]
        for (app, window) in Set(messages.map { Pair(app: Int64($0.message.sdkAppID), window: $0.message.dedupeWindowMillis) }).map({ ($0.app, $0.window) }) {
            let keys = messages.filter { Int64($0.message.sdkAppID) == app && $0.message.dedupeWindowMillis == window }.map(\.message.dedupeKey)
            for try await (dedupe, key, time, seq) in try await connection.query(
                """
                SELECT DISTINCT ON (dedupe) dedupe, msg_key, msg_time, msg_seq FROM messages
                WHERE app = \(app) AND dedupe = ANY(\(keys)) AND created_at >= \(now - window) ORDER BY dedupe, id
                """,
                logger: logger
            ).decode((String, String, Int64, Int64).self) {
                first[ExactString("\(app)\u{0}\(dedupe)")] = .duplicate(msgKey: key, msgTime: time, msgSeq: seq)
            }
        }
        var results: [StoredMessage] = []
        var fresh: [NewMessage] = []
        var jobs: [NewJob] = []
        for (m, messageJobs) in messages {
            let key = ExactString("\(m.sdkAppID)\u{0}\(m.dedupeKey)")
            if let earlier = first[key] {
                results.append(earlier)
                continue
            }
            first[key] = .duplicate(msgKey: m.msgKey, msgTime: m.msgTime, msgSeq: m.msgSeq)
            results.append(.stored(msgSeq: m.msgSeq))
            fresh.append(m)
            jobs += messageJobs
        }
        if !fresh.isEmpty {
            try await connection.query(
                """
                INSERT INTO messages (app, msg_key, from_account, to_account, group_id, msg_seq, msg_random, msg_time, body, dedupe, created_at, expires_at)
                SELECT a, k, f, t, '', s, r, m, b, d, \(now), e
                FROM unnest(\(fresh.map { Int64($0.sdkAppID) })::bigint[], \(fresh.map(\.msgKey))::text[], \(fresh.map(\.fromAccount))::text[],
                            \(fresh.map(\.toAccount))::text[], \(fresh.map(\.msgSeq))::bigint[], \(fresh.map(\.msgRandom))::bigint[],
                            \(fresh.map(\.msgTime))::bigint[], \(fresh.map { ByteBuffer(data: $0.body) })::bytea[], \(fresh.map(\.dedupeKey))::text[],
                            \(fresh.map(\.expiresAtMillis))::bigint[]) AS x(a, k, f, t, s, r, m, b, d, e)
                """,
                logger: logger
            )
        }
        return (results, jobs)
    }

    struct Pair: Hashable {
        var app: Int64
        var window: Int64
    }

    /// Stores one message inside the caller's transaction, unless it is a duplicate or its group is gone.
    static func store(_ m: NewMessage, connection: PostgresConnection, now: Int64, logger: Logger) async throws -> StoredMessage {
        let app = Int64(m.sdkAppID)
        for try await (key, time, seq) in try await connection.query(
            """
            SELECT msg_key, msg_time, msg_seq FROM messages
            WHERE app = \(app) AND dedupe = \(m.dedupeKey) AND created_at >= \(now - m.dedupeWindowMillis) LIMIT 1
            """,
            logger: logger
        ).decode((String, Int64, Int64).self) {
            return .duplicate(msgKey: key, msgTime: time, msgSeq: seq)
        }
        var seq = m.msgSeq
        if !m.groupID.isEmpty {
            var next: Int64?
            for try await value in try await connection.query(
                "UPDATE im_groups SET last_seq = last_seq + 1 WHERE app = \(app) AND group_id = \(m.groupID) RETURNING last_seq", logger: logger
            ).decode(Int64.self) { next = value }
            guard let next else { return .groupNotFound }
            seq = next
        }
        var id: Int64 = 0
        for try await value in try await connection.query(
            """
            INSERT INTO messages (app, msg_key, from_account, to_account, group_id, msg_seq, msg_random, msg_time, body, dedupe, created_at, expires_at)
            VALUES (\(app), \(m.msgKey), \(m.fromAccount), \(m.toAccount), \(m.groupID), \(seq), \(m.msgRandom), \(m.msgTime),
                    \(ByteBuffer(data: m.body)), \(m.dedupeKey), \(now), \(m.expiresAtMillis))
            RETURNING id
            """,
            logger: logger
        ).decode(Int64.self) { id = value }
        if !m.recipients.isEmpty {
            try await connection.query(
                """
                INSERT INTO message_recipients (message_id, to_account)
                SELECT \(id), t FROM unnest(\(m.recipients)::text[]) AS x(t) ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
        return .stored(msgSeq: seq)
    }

    public func claim(limit: Int, campaignLimit: Int, leaseMillis: Int64) async throws -> [ClaimedJob] {
        let now = clock.nowMillis()
        var claimed: [ClaimedJob] = []
        for lane in Lane.allCases where claimed.count < limit {
            let wanted = lane == .campaign ? min(limit - claimed.count, campaignLimit) : limit - claimed.count
            guard wanted > 0 else { continue }
            let rows = try await client.query(
                """
                UPDATE jobs SET available_at = \(now + leaseMillis), claim = claim + 1, open_claims = open_claims + 1
                WHERE id IN (SELECT id FROM jobs WHERE lane = \(Int64(lane.rawValue)) AND available_at <= \(now) AND done_at IS NULL
                             ORDER BY available_at LIMIT \(Int64(wanted)) FOR UPDATE SKIP LOCKED)
                RETURNING id, claim, app, idempotency_key, lane, user_id, payload, devices, attempts, enqueued_at, available_at, open_claims
                """,
                logger: logger
            )
            var batch: [ClaimedJob] = []
            for try await row in rows {
                let r = row.makeRandomAccess()
                batch.append(
                    ClaimedJob(
                        id: try r["id"].decode(Int64.self), claim: try r["claim"].decode(Int64.self),
                        sdkAppID: UInt64(clamping: try r["app"].decode(Int64.self)), idempotencyKey: try r["idempotency_key"].decode(String.self),
                        lane: Lane(rawValue: Int(try r["lane"].decode(Int64.self))) ?? .chat, userID: try r["user_id"].decode(String.self),
                        payload: Data(buffer: try r["payload"].decode(ByteBuffer.self)),
                        deviceIDs: Schema.decodeDevices(try r["devices"].decode(String?.self)),
                        attempts: Int(try r["attempts"].decode(Int64.self)), enqueuedAtMillis: try r["enqueued_at"].decode(Int64.self),
                        leaseUntilMillis: try r["available_at"].decode(Int64.self),
                        openClaims: Int(clamping: try r["open_claims"].decode(Int64.self))
                    )
                )
            }
            claimed += batch.sorted { $0.id < $1.id }
        }
        return claimed
    }

    public func extendLeases(_ jobs: [ClaimedJob], leaseMillis: Int64) async throws {
        guard !jobs.isEmpty else { return }
        let until = clock.nowMillis().addingSaturating(leaseMillis)
        try await client.query(
            """
            UPDATE jobs AS j SET available_at = \(until) FROM unnest(\(jobs.map(\.id))::bigint[], \(jobs.map(\.claim))::bigint[]) AS u(id, claim)
            WHERE j.id = u.id AND j.claim = u.claim AND j.done_at IS NULL
            """,
            logger: logger
        )
    }

    /// One round trip per kind of change, whatever the batch size: every array is bound once and
    /// expanded with `unnest`. `''` and -1 stand for NULL in the arrays.
    public func complete(_ completions: [JobCompletion]) async throws {
        guard !completions.isEmpty else { return }
        let now = clock.nowMillis()
        let logger = self.logger
        let finishes = completions.map { Schema.Finish($0, now: now) }
        let ids = completions.map(\.job.id), claims = completions.map(\.job.claim)
        let devices = finishes.map { $0.devices ?? "" }, deltas = finishes.map { Int64($0.attemptsDelta) }
        let available = finishes.map(\.availableAt), errors = finishes.map { $0.lastError ?? "" }, done = finishes.map(\.done)
        try await client.withTransaction(logger: logger) { connection in
            var kept = Set<Int64>()
            let rows = try await connection.query(
                """
                UPDATE jobs AS j SET devices = NULLIF(u.devices, ''), attempts = j.attempts + u.delta, available_at = u.available, open_claims = 0,
                  last_error = NULLIF(u.err, ''), done_at = CASE WHEN u.done THEN \(now)::bigint END,
                  payload = CASE WHEN u.done THEN ''::bytea ELSE j.payload END
                FROM unnest(\(ids)::bigint[], \(claims)::bigint[], \(devices)::text[], \(deltas)::bigint[], \(available)::bigint[],
                            \(errors)::text[], \(done)::boolean[]) AS u(id, claim, devices, delta, available, err, done)
                WHERE j.id = u.id AND j.claim = u.claim AND j.done_at IS NULL
                RETURNING j.id
                """,
                logger: logger
            )
            for try await id in rows.decode(Int64.self) { kept.insert(id) }
            // A completion whose lease was lost writes nothing more: the job's new owner will.
            let live = completions.filter { kept.contains($0.job.id) }
            let records = live.flatMap { c in c.records.map { (c.job, $0) } }
            if !records.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO push_records (app, job_key, user_id, device_id, vendor, outcome, reason, vendor_message_id, attempts, at)
                    SELECT a, k, u, d, v, o, NULLIF(r, ''), NULLIF(m, ''), n, t
                    FROM unnest(\(records.map { Int64($0.0.sdkAppID) })::bigint[], \(records.map(\.0.idempotencyKey))::text[],
                                \(records.map(\.0.userID))::text[], \(records.map(\.1.deviceID))::text[], \(records.map(\.1.vendor))::text[],
                                \(records.map(\.1.outcome.rawValue))::text[], \(records.map { $0.1.reason ?? "" })::text[],
                                \(records.map { $0.1.vendorMessageID ?? "" })::text[], \(records.map { Int64($0.1.attempts) })::bigint[],
                                \(records.map(\.1.atMillis))::bigint[]) AS x(a, k, u, d, v, o, r, m, n, t)
                    """,
                    logger: logger
                )
            }
            let invalidations = live.flatMap { c in c.invalidations.map { (c.job, $0) } }
            if !invalidations.isEmpty {
                try await connection.query(
                    """
                    UPDATE devices AS d SET invalidated_at = x.t
                    FROM unnest(\(invalidations.map { Int64($0.0.sdkAppID) })::bigint[], \(invalidations.map(\.0.userID))::text[],
                                \(invalidations.map(\.1.deviceID))::text[], \(invalidations.map(\.1.token))::text[],
                                \(invalidations.map(\.1.atMillis))::bigint[]) AS x(a, u, dev, tok, t)
                    WHERE d.app = x.a AND d.user_id = x.u AND d.device_id = x.dev AND d.token = x.tok
                      AND d.registered_at <= x.t AND d.invalidated_at IS NULL
                    """,
                    logger: logger
                )
            }
            let dead = live.flatMap { c in c.deadDevices.map { (c, $0) } }
            if !dead.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO dead_letters (app, job_id, idempotency_key, lane, user_id, payload, device_id, vendor, token, last_error, attempts, created_at)
                    SELECT a, j, k, l, u, p, d, v, t, e, n, \(now)
                    FROM unnest(\(dead.map { Int64($0.0.job.sdkAppID) })::bigint[], \(dead.map(\.0.job.id))::bigint[],
                                \(dead.map(\.0.job.idempotencyKey))::text[], \(dead.map { Int64($0.0.job.lane.rawValue) })::bigint[],
                                \(dead.map(\.0.job.userID))::text[], \(dead.map { ByteBuffer(data: $0.0.job.payload) })::bytea[],
                                \(dead.map(\.1.deviceID))::text[], \(dead.map(\.1.vendor))::text[], \(dead.map(\.1.token))::text[],
                                \(dead.map(\.1.error))::text[], \(dead.map { Int64(Schema.attempts($0.0)) })::bigint[])
                      AS x(a, j, k, l, u, p, d, v, t, e, n)
                    """,
                    logger: logger
                )
            }
            try await Self.insert(live.flatMap(\.events), connection: connection, now: now, logger: logger)
            try await Self.tally(CampaignTally(live), connection: connection, now: now, logger: logger)
            if live.contains(where: { $0.retry != nil }) {
                try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
            }
        }
    }

    /// Whether enqueues on other handles and processes wake this handle's waiters now: false until
    /// LISTEN is established and while it reconnects (waiters then fall back to their timeout).
    public var isListening: Bool { signal.listening.load(ordering: .relaxed) }

    public var waitingWorkers: Int { signal.waiting }

    public func waitForJobs(timeout: Duration, campaign: Bool, taking limit: Int, leaseMillis: Int64) async -> HandedJobs {
        // Notifications do not say the lane: every one wakes every waiter.
        await signal.wait(timeout: timeout, takes: limit, leaseMillis: leaseMillis)
    }

    public func stats() async throws -> QueueStats {
        let now = clock.nowMillis()
        let rows = try await client.query(
            """
            SELECT app, lane, count(*), count(*) FILTER (WHERE available_at <= \(now)), min(available_at) FILTER (WHERE available_at <= \(now))
            FROM jobs WHERE done_at IS NULL GROUP BY app, lane
            """,
            logger: logger
        )
        var counted: [QueueStats.Row] = []
        for try await (app, lane, pending, ready, oldest) in rows.decode((Int64, Int64, Int64, Int64, Int64?).self) {
            counted.append(QueueStats.Row(app: app, lane: lane, pending: pending, ready: ready, oldestReady: oldest))
        }
        var dead = 0
        for try await n in try await client.query("SELECT count(*) FROM dead_letters", logger: logger).decode(Int64.self) { dead = Int(n) }
        return QueueStats(rows: counted, deadLetters: dead, now: now)
    }

    public func purgeFinished(olderThanMillis: Int64) async throws {
        let cutoff = clock.nowMillis() - olderThanMillis
        try await client.query("DELETE FROM jobs WHERE done_at IS NOT NULL AND done_at < \(cutoff)", logger: logger)
        try await client.query("DELETE FROM push_records WHERE at < \(cutoff)", logger: logger)
        try await client.query("DELETE FROM messages WHERE created_at < \(clock.nowMillis() - Schema.roamingMillis)", logger: logger)
        try await client.query(PostgresQuery(unsafeSQL: Schema.purgeRecipients), logger: logger)
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

    public func trimDevices(sdkAppID: UInt64, userID: String, keeping: Int) async throws -> [String] {
        let app = Int64(sdkAppID)
        var deleted: [String] = []
        for try await id in try await client.query(
            """
            DELETE FROM devices WHERE app = \(app) AND user_id = \(userID) AND device_id NOT IN (
              SELECT device_id FROM devices WHERE app = \(app) AND user_id = \(userID) ORDER BY registered_at DESC, device_id DESC
              LIMIT \(Int64(max(0, keeping))))
            RETURNING device_id
            """,
            logger: logger
        ).decode(String.self) { deleted.append(id) }
        return deleted
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

    public func markRead(sdkAppID: UInt64, userID: String, peer: String, readAtMillis: Int64) async throws -> Int {
        let app = Int64(sdkAppID)
        return try await client.withTransaction(logger: logger) { connection in
            var found: (count: Int64, lastAt: Int64)?
            for try await row in try await connection.query(
                "SELECT count, last_at FROM unread WHERE app = \(app) AND user_id = \(userID) AND peer = \(peer) FOR UPDATE", logger: logger
            ).decode((Int64, Int64).self) { found = (row.0, row.1) }
            guard let found, found.count > 0, found.lastAt <= readAtMillis else { return 0 }
            try await connection.query("UPDATE unread SET count = 0 WHERE app = \(app) AND user_id = \(userID) AND peer = \(peer)", logger: logger)
            try await connection.query(
                """
                WITH locked AS (
                  SELECT device_id FROM devices WHERE app = \(app) AND user_id = \(userID) ORDER BY device_id FOR UPDATE
                )
                UPDATE devices AS d SET badge = GREATEST(d.badge - \(found.count), 0) FROM locked AS l
                WHERE d.app = \(app) AND d.user_id = \(userID) AND d.device_id = l.device_id
                """,
                logger: logger
            )
            return Int(clamping: found.count)
        }
    }

    public func unreadCounts(sdkAppID: UInt64, userID: String, peers: [String]?) async throws -> [ExactString: Int] {
        let app = Int64(sdkAppID)
        let rows =
            if let peers {
                try await client.query(
                    "SELECT peer, count FROM unread WHERE app = \(app) AND user_id = \(userID) AND peer = ANY(\(peers)::text[])", logger: logger
                )
            } else {
                try await client.query("SELECT peer, count FROM unread WHERE app = \(app) AND user_id = \(userID)", logger: logger)
            }
        var counts: [ExactString: Int] = [:]
        for try await (peer, count) in rows.decode((String, Int64).self) { counts[ExactString(peer)] = Int(clamping: count) }
        return counts
    }

    public func deleteDevice(sdkAppID: UInt64, userID: String, deviceID: String) async throws -> Bool {
        var deleted = 0
        for try await _ in try await client.query(
            "DELETE FROM devices WHERE app = \(Int64(sdkAppID)) AND user_id = \(userID) AND device_id = \(deviceID) RETURNING 1", logger: logger
        ) { deleted += 1 }
        return deleted > 0
    }

    public func devices(sdkAppID: UInt64, userIDs: [String]) async throws -> [Device] {
        guard !userIDs.isEmpty else { return [] }
        return try await Self.devices(try await client.query(Self.devicesQuery(sdkAppID: sdkAppID, userIDs: userIDs), logger: logger))
    }

    static func devicesQuery(sdkAppID: UInt64, userIDs: [String]) -> PostgresQuery {
        """
        SELECT app, user_id, device_id, vendor, token, locale, sandbox, state, badge, registered_at, state_changed_at, invalidated_at
        FROM devices WHERE app = \(Int64(sdkAppID)) AND user_id = ANY(\(userIDs)) ORDER BY user_id, device_id
        """
    }

    static func devices(_ rows: PostgresRowSequence) async throws -> [Device] {
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
            SELECT attempts, claim, available_at, done_at, last_error, devices, payload FROM jobs
            WHERE app = \(Int64(sdkAppID)) AND idempotency_key = \(idempotencyKey)
            """,
            logger: logger
        )
        for try await (attempts, claims, available, done, error, devices, payload) in rows.decode(
            (Int64, Int64, Int64, Int64?, String?, String?, ByteBuffer?).self
        ) {
            return JobStatus(
                attempts: Int(attempts), claims: Int(claims), availableAtMillis: available, finishedAtMillis: done, lastError: error,
                deviceIDs: Schema.decodeDevices(devices), payload: payload.map { Data(buffer: $0) } ?? Data()
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

    public func pushRecords(sdkAppID: UInt64, userID: String, limit: Int) async throws -> [KeyedPushRecord] {
        let rows = try await client.query(
            """
            SELECT job_key, device_id, vendor, outcome, reason, vendor_message_id, attempts, at FROM push_records
            WHERE app = \(Int64(sdkAppID)) AND user_id = \(userID) ORDER BY id DESC LIMIT \(Int64(max(0, limit)))
            """,
            logger: logger
        )
        var records: [KeyedPushRecord] = []
        for try await (key, device, vendor, outcome, reason, messageID, attempts, at) in rows.decode(
            (String, String, String, String, String?, String?, Int64, Int64).self
        ) {
            records.append(
                KeyedPushRecord(
                    jobKey: key,
                    record: PushRecord(
                        deviceID: device, vendor: vendor, outcome: PushRecord.Outcome(rawValue: outcome) ?? .failed, reason: reason,
                        vendorMessageID: messageID, attempts: Int(attempts), atMillis: at
                    )
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
                    sdkAppID: UInt64(clamping: try r["app"].decode(Int64.self)), idempotencyKey: try r["idempotency_key"].decode(String.self),
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

    public func purgeDeadLetters(olderThanMillis: Int64) async throws -> Int {
        let cutoff = clock.nowMillis().subtractingSaturating(olderThanMillis)
        var deleted = 0
        for try await _ in try await client.query("DELETE FROM dead_letters WHERE created_at < \(cutoff) RETURNING id", logger: logger) {
            deleted += 1
        }
        return deleted
    }

    public func withdraw(_ w: Withdrawal) async throws -> WithdrawResult {
        let now = clock.nowMillis()
        let app = Int64(w.sdkAppID)
        let ref = w.reference
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection -> WithdrawResult in
            func first<T: PostgresDecodable>(_ query: PostgresQuery, _ type: T.Type) async throws -> T? {
                for try await value in try await connection.query(query, logger: logger).decode(T.self) { return value }
                return nil
            }
            func withdrawnBefore() async throws -> WithdrawResult {
                try await first("SELECT 1::bigint FROM withdrawn WHERE app = \(app) AND ref = \(ref)", Int64.self) == nil ? .notFound : .alreadyWithdrawn
            }
            let msgKey: String
            var recipients: [String] = []
            switch w.target {
            case .c2c(let key, let from, let to):
                if let direct = try await first(
                    """
                    SELECT id FROM messages WHERE app = \(app) AND msg_key = \(key) AND to_account = \(to) AND from_account = \(from) AND group_id = ''
                    FOR UPDATE
                    """,
                    Int64.self
                ) {
                    try await connection.query("DELETE FROM messages WHERE id = \(direct)", logger: logger)
                } else if let batch = try await first(
                    """
                    SELECT m.id FROM messages m JOIN message_recipients r ON r.message_id = m.id AND r.to_account = \(to)
                    WHERE m.app = \(app) AND m.msg_key = \(key) AND m.to_account = '' AND m.from_account = \(from) AND m.group_id = ''
                    FOR UPDATE OF r
                    """,
                    Int64.self
                ) {
                    try await connection.query("DELETE FROM message_recipients WHERE message_id = \(batch) AND to_account = \(to)", logger: logger)
                } else {
                    return try await withdrawnBefore()
                }
                msgKey = key
                recipients = [to]
            case .group(let group, let seq):
                var found: (id: Int64, key: String)?
                for try await row in try await connection.query(
                    "SELECT id, msg_key FROM messages WHERE app = \(app) AND group_id = \(group) AND msg_seq = \(seq) FOR UPDATE", logger: logger
                ).decode((Int64, String).self) { found = (row.0, row.1) }
                guard let (id, key) = found else { return try await withdrawnBefore() }
                try await connection.query("DELETE FROM messages WHERE id = \(id)", logger: logger)
                msgKey = key
                for try await user in try await connection.query(
                    "SELECT user_id FROM group_members WHERE app = \(app) AND group_id = \(group) ORDER BY user_id COLLATE \"C\"", logger: logger
                ).decode(String.self) { recipients.append(user) }
            }
            try await connection.query("INSERT INTO withdrawn (app, ref, at) VALUES (\(app), \(ref), \(now)) ON CONFLICT DO NOTHING", logger: logger)
            // As in SQLite: a pending job is finished, a missing one is inserted finished, so a
            // fan-out that has not reached the recipient finds its key taken.
            let keys = recipients.map { "\(msgKey):\($0)" }
            var finished = Set<String>()
            for try await key in try await connection.query(
                "SELECT idempotency_key FROM jobs WHERE app = \(app) AND idempotency_key = ANY(\(keys)::text[]) AND done_at IS NOT NULL", logger: logger
            ).decode(String.self) { finished.insert(key) }
            let open = zip(keys, recipients).filter { !finished.contains($0.0) }
            if !open.isEmpty {
                let reason = Withdrawal.reason
                try await connection.query(
                    """
                    INSERT INTO jobs (app, idempotency_key, lane, user_id, payload, available_at, enqueued_at, done_at, last_error)
                    SELECT \(app), k, 0, u, ''::bytea, \(now), \(now), \(now), \(reason)
                    FROM unnest(\(open.map(\.0))::text[], \(open.map(\.1))::text[]) AS x(k, u)
                    ON CONFLICT (app, idempotency_key) DO UPDATE SET
                      done_at = excluded.done_at, last_error = excluded.last_error, payload = ''::bytea, claim = jobs.claim + 1
                    """,
                    logger: logger
                )
                try await connection.query(
                    """
                    INSERT INTO push_records (app, job_key, user_id, device_id, vendor, outcome, reason, vendor_message_id, attempts, at)
                    SELECT \(app), k, u, '', '', \(PushRecord.Outcome.skipped.rawValue), \(reason), NULL, 0, \(now)
                    FROM unnest(\(open.map(\.0))::text[], \(open.map(\.1))::text[]) AS x(k, u)
                    """,
                    logger: logger
                )
            }
            // Pushes already delivered (a finished job, or devices done before a retry) are revoked.
            if w.revocationJob != nil {
                var delivered: [(key: String, device: String)] = []
                for try await (key, device) in try await connection.query(
                    """
                    SELECT job_key, device_id FROM push_records
                    WHERE app = \(app) AND job_key = ANY(\(keys)::text[]) AND outcome = \(PushRecord.Outcome.delivered.rawValue) AND device_id <> ''
                    ORDER BY id
                    """,
                    logger: logger
                ).decode((String, String).self) { delivered.append((key, device)) }
                let users = Dictionary(zip(keys, recipients).map { ($0, $1) }, uniquingKeysWith: { a, _ in a })
                let revocations = w.revocations(delivered, users: users)
                if !revocations.isEmpty { _ = try await Self.insert(revocations, handingTo: nil, connection: connection, now: now, logger: logger) }
            }
            return .withdrawn(msgKey: msgKey, cancelled: open.map(\.1), sent: recipients.filter { finished.contains("\(msgKey):\($0)") })
        }
    }

    public func messageRecipients(sdkAppID: UInt64, msgKey: String) async throws -> [String] {
        var recipients: [String] = []
        for try await to in try await client.query(
            """
            SELECT to_account FROM messages WHERE app = \(Int64(sdkAppID)) AND msg_key = \(msgKey) AND group_id = '' AND to_account <> ''
            UNION SELECT g.user_id FROM messages m JOIN group_members g ON g.app = m.app AND g.group_id = m.group_id
            WHERE m.app = \(Int64(sdkAppID)) AND m.msg_key = \(msgKey) AND m.group_id <> ''
            UNION SELECT r.to_account FROM messages m JOIN message_recipients r ON r.message_id = m.id
            WHERE m.app = \(Int64(sdkAppID)) AND m.msg_key = \(msgKey) AND m.group_id = '' AND m.to_account = ''
            """,
            logger: logger
        ).decode(String.self) { recipients.append(to) }
        return recipients
    }

    public func conversation(
        sdkAppID: UInt64, between a: String, and b: String, minTime: Int64, maxTime: Int64, before: String?, limit: Int
    ) async throws -> [MessageRow] {
        let app = Int64(sdkAppID)
        var cursor = (time: Int64.max, id: Int64.max)
        if let before {
            var found = false
            for try await (time, id) in try await client.query(
                "SELECT msg_time, id FROM messages WHERE app = \(app) AND msg_key = \(before) ORDER BY id LIMIT 1", logger: logger
            ).decode((Int64, Int64).self) {
                cursor = (time, id)
                found = true
            }
            if !found { return [] }
        }
        var rows: [MessageRow] = []
        var binds = PostgresBindings()
        for value in [app, a, b, minTime, maxTime, cursor.time, cursor.id, Int64(limit)] as [any PostgresEncodable & Sendable] {
            try binds.append(value)
        }
        for try await (id, key, from, to, seq, random, time, body) in try await client.query(
            PostgresQuery(unsafeSQL: Schema.conversationPage { "$\($0)" }, binds: binds),
            logger: logger
        ).decode((Int64, String, String, String, Int64, Int64, Int64, ByteBuffer).self) {
            rows.append(
                MessageRow(id: id, msgKey: key, fromAccount: from, toAccount: to, msgSeq: seq, msgRandom: random, msgTime: time, body: Data(buffer: body))
            )
        }
        return rows
    }

    public func importAccounts(sdkAppID: UInt64, _ accounts: [(userID: String, profile: [String: String])]) async throws {
        let now = clock.nowMillis()
        let app = Int64(sdkAppID)
        let users = accounts.map(\.userID)
        let items = accounts.flatMap { a in a.profile.map { (a.userID, $0.key, $0.value) } }
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO accounts (app, user_id, created_at) SELECT \(app), u, \(now) FROM unnest(\(users)::text[]) AS x(u)
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
            if !items.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO profile_items (app, user_id, tag, value)
                    SELECT \(app), u, t, v FROM unnest(\(items.map(\.0))::text[], \(items.map(\.1))::text[], \(items.map(\.2))::text[]) AS x(u, t, v)
                    ON CONFLICT (app, user_id, tag) DO UPDATE SET value = excluded.value
                    """,
                    logger: logger
                )
            }
        }
    }

    public func deleteAccounts(sdkAppID: UInt64, userIDs: [String]) async throws -> Set<String> {
        let app = Int64(sdkAppID)
        return try await client.withTransaction(logger: logger) { connection in
            var deleted = Set<String>()
            for try await user in try await connection.query(
                "DELETE FROM accounts WHERE app = \(app) AND user_id = ANY(\(userIDs)) RETURNING user_id", logger: logger
            ).decode(String.self) { deleted.insert(user) }
            try await connection.query("DELETE FROM profile_items WHERE app = \(app) AND user_id = ANY(\(userIDs))", logger: logger)
            for table in ["devices", "group_members", "receive_opts", "user_tags", "user_attrs"] {
                try await connection.query("DELETE FROM \(unescaped: table) WHERE app = \(app) AND user_id = ANY(\(userIDs))", logger: logger)
            }
            return deleted
        }
    }

    public func importedAccounts(sdkAppID: UInt64, userIDs: [String]) async throws -> Set<ExactString> {
        var found = Set<ExactString>()
        for try await user in try await client.query(
            "SELECT user_id FROM accounts WHERE app = \(Int64(sdkAppID)) AND user_id = ANY(\(userIDs))", logger: logger
        ).decode(String.self) { found.insert(ExactString(user)) }
        return found
    }

    public func profiles(sdkAppID: UInt64, userIDs: [String]) async throws -> Profiles {
        try await sendFacts([SendLookup(sdkAppID: sdkAppID, accounts: userIDs, recipients: [], conversation: "")])[0].profiles
    }

    // MARK: Groups and receive options

    public func createGroup(_ group: Group, members: [GroupMember]) async throws -> Bool {
        let now = clock.nowMillis()
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            var created = false
            for try await _ in try await connection.query(
                """
                INSERT INTO im_groups (app, group_id, type, name, owner, created_at)
                VALUES (\(Int64(group.sdkAppID)), \(group.groupID), \(group.type.rawValue), \(group.name), \(group.owner), \(now))
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                logger: logger
            ) { created = true }
            guard created else { return false }
            _ = try await Self.insertMembers(members, app: group.sdkAppID, groupID: group.groupID, connection: connection, now: now, logger: logger)
            return true
        }
    }

    /// Inserts members not already in the group; the ones inserted.
    static func insertMembers(
        _ members: [GroupMember], app: UInt64, groupID: String, connection: PostgresConnection, now: Int64, logger: Logger
    ) async throws -> Set<String> {
        guard !members.isEmpty else { return [] }
        var added = Set<String>()
        for try await user in try await connection.query(
            """
            INSERT INTO group_members (app, group_id, user_id, role, msg_flag, name_card, joined_at)
            SELECT \(Int64(app)), \(groupID), u, r, f, c, \(now)
            FROM unnest(\(members.map(\.userID))::text[], \(members.map(\.role))::text[], \(members.map(\.msgFlag.rawValue))::text[],
                        \(members.map(\.nameCard))::text[]) AS x(u, r, f, c)
            ON CONFLICT DO NOTHING RETURNING user_id
            """,
            logger: logger
        ).decode(String.self) { added.insert(user) }
        return added
    }

    public func group(sdkAppID: UInt64, groupID: String) async throws -> (group: Group, members: [GroupMember])? {
        let app = Int64(sdkAppID)
        var group: Group?
        for try await (type, name, owner) in try await client.query(
            "SELECT type, name, owner FROM im_groups WHERE app = \(app) AND group_id = \(groupID)", logger: logger
        ).decode((String, String, String).self) {
            group = GroupType(rawValue: type).map { Group(sdkAppID: sdkAppID, groupID: groupID, type: $0, name: name, owner: owner) }
        }
        guard let group else { return nil }
        var members: [GroupMember] = []
        for try await (user, role, flag, card, muted) in try await client.query(
            """
            SELECT user_id, role, msg_flag, name_card, muted_until FROM group_members WHERE app = \(app) AND group_id = \(groupID)
            ORDER BY joined_at, user_id
            """,
            logger: logger
        ).decode((String, String, String, String, Int64).self) {
            members.append(
                GroupMember(userID: user, role: role, msgFlag: MsgFlag(rawValue: flag) ?? .acceptAndNotify, nameCard: card, mutedUntilMillis: muted)
            )
        }
        return (group, members)
    }

    public func addGroupMembers(sdkAppID: UInt64, groupID: String, _ members: [GroupMember]) async throws -> Set<String> {
        let now = clock.nowMillis()
        let logger = self.logger
        return try await client.withConnection { connection in
            try await Self.insertMembers(members, app: sdkAppID, groupID: groupID, connection: connection, now: now, logger: logger)
        }
    }

    public func deleteGroupMembers(sdkAppID: UInt64, groupID: String, userIDs: [String]) async throws -> Set<String> {
        var deleted = Set<String>()
        for try await user in try await client.query(
            "DELETE FROM group_members WHERE app = \(Int64(sdkAppID)) AND group_id = \(groupID) AND user_id = ANY(\(userIDs)) RETURNING user_id",
            logger: logger
        ).decode(String.self) { deleted.insert(user) }
        return deleted
    }

    public func updateGroupMember(sdkAppID: UInt64, groupID: String, _ member: GroupMember) async throws -> Bool {
        try await exists(
            """
            UPDATE group_members SET role = \(member.role), msg_flag = \(member.msgFlag.rawValue), name_card = \(member.nameCard)
            WHERE app = \(Int64(sdkAppID)) AND group_id = \(groupID) AND user_id = \(member.userID) RETURNING 1
            """
        )
    }

    public func renameGroup(sdkAppID: UInt64, groupID: String, name: String) async throws -> Bool {
        try await exists("UPDATE im_groups SET name = \(name) WHERE app = \(Int64(sdkAppID)) AND group_id = \(groupID) RETURNING 1")
    }

    public func muteGroupMembers(sdkAppID: UInt64, groupID: String, userIDs: [String], untilMillis: Int64) async throws -> Set<String> {
        guard !userIDs.isEmpty else { return [] }
        var muted = Set<String>()
        for try await user in try await client.query(
            """
            UPDATE group_members SET muted_until = \(untilMillis)
            WHERE app = \(Int64(sdkAppID)) AND group_id = \(groupID) AND user_id = ANY(\(userIDs)::text[]) RETURNING user_id
            """,
            logger: logger
        ).decode(String.self) { muted.insert(user) }
        return muted
    }

    public func joinedGroups(sdkAppID: UInt64, userID: String) async throws -> [String] {
        var ids: [String] = []
        for try await id in try await client.query(
            "SELECT group_id FROM group_members WHERE app = \(Int64(sdkAppID)) AND user_id = \(userID) ORDER BY group_id COLLATE \"C\"", logger: logger
        ).decode(String.self) { ids.append(id) }
        return ids
    }

    public func groupPage(sdkAppID: UInt64, offset: Int, limit: Int) async throws -> (groupIDs: [String], total: Int) {
        let app = Int64(sdkAppID)
        var ids: [String] = []
        for try await id in try await client.query(
            """
            SELECT group_id FROM im_groups WHERE app = \(app) ORDER BY group_id COLLATE "C"
            LIMIT \(Int64(max(0, limit))) OFFSET \(Int64(max(0, offset)))
            """,
            logger: logger
        ).decode(String.self) { ids.append(id) }
        var total: Int64 = 0
        for try await n in try await client.query("SELECT count(*) FROM im_groups WHERE app = \(app)", logger: logger).decode(Int64.self) { total = n }
        return (ids, Int(clamping: total))
    }

    public func changeGroupOwner(sdkAppID: UInt64, groupID: String, to userID: String) async throws -> Bool {
        let app = Int64(sdkAppID)
        return try await client.withTransaction(logger: logger) { connection in
            var member = false
            for try await _ in try await connection.query(
                "SELECT 1 FROM group_members WHERE app = \(app) AND group_id = \(groupID) AND user_id = \(userID) FOR UPDATE", logger: logger
            ) { member = true }
            guard member else { return false }
            try await connection.query(
                "UPDATE group_members SET role = 'Member' WHERE app = \(app) AND group_id = \(groupID) AND role = 'Owner'", logger: logger
            )
            try await connection.query(
                "UPDATE group_members SET role = 'Owner' WHERE app = \(app) AND group_id = \(groupID) AND user_id = \(userID)", logger: logger
            )
            var changed = false
            for try await _ in try await connection.query(
                "UPDATE im_groups SET owner = \(userID) WHERE app = \(app) AND group_id = \(groupID) RETURNING 1", logger: logger
            ) { changed = true }
            return changed
        }
    }

    public func destroyGroup(sdkAppID: UInt64, groupID: String) async throws -> Bool {
        try await client.query("DELETE FROM group_members WHERE app = \(Int64(sdkAppID)) AND group_id = \(groupID)", logger: logger)
        return try await exists("DELETE FROM im_groups WHERE app = \(Int64(sdkAppID)) AND group_id = \(groupID) RETURNING 1")
    }

    /// Whether a statement returned a row.
    private func exists(_ query: PostgresQuery) async throws -> Bool {
        var found = false
        for try await _ in try await client.query(query, logger: logger) { found = true }
        return found
    }

    public func setReceiveOption(sdkAppID: UInt64, userID: String, conversation: String, muted: Bool) async throws {
        try await client.query(
            """
            INSERT INTO receive_opts (app, user_id, conversation, muted) VALUES (\(Int64(sdkAppID)), \(userID), \(conversation), \(Int64(muted ? 1 : 0)))
            ON CONFLICT (app, user_id, conversation) DO UPDATE SET muted = excluded.muted
            """,
            logger: logger
        )
    }

    public func setDoNotDisturb(sdkAppID: UInt64, userID: String, _ window: DoNotDisturb?) async throws {
        try await client.query(
            """
            INSERT INTO receive_opts (app, user_id, conversation, dnd_start, dnd_duration)
            VALUES (\(Int64(sdkAppID)), \(userID), '', \(window?.start ?? 0), \(window?.duration ?? 0))
            ON CONFLICT (app, user_id, conversation) DO UPDATE SET dnd_start = excluded.dnd_start, dnd_duration = excluded.dnd_duration
            """,
            logger: logger
        )
    }

    public func receiveSettings(sdkAppID: UInt64, userIDs: [String], conversation: String) async throws -> [ExactString: ReceiveSettings] {
        try await sendFacts([SendLookup(sdkAppID: sdkAppID, accounts: [], recipients: userIDs, conversation: conversation)])[0].settings
    }

    /// Two queries for any number of lookups: every (lookup, account) and every (lookup, recipient)
    /// pair is bound as arrays and joined with `unnest`.
    public func sendFacts(_ lookups: [SendLookup]) async throws -> [SendFacts] {
        var facts = [SendFacts](repeating: SendFacts(profiles: [:], settings: [:]), count: lookups.count)
        let accounts = lookups.enumerated().flatMap { i, l in l.accounts.map { (n: Int64(i), app: Int64(l.sdkAppID), user: $0) } }
        if !accounts.isEmpty {
            for try await (n, user, tag, value) in try await client.query(
                """
                SELECT x.n, a.user_id, p.tag, p.value
                FROM unnest(\(accounts.map(\.n))::bigint[], \(accounts.map(\.app))::bigint[], \(accounts.map(\.user))::text[]) AS x(n, a, u)
                JOIN accounts a ON a.app = x.a AND a.user_id = x.u
                LEFT JOIN profile_items p ON p.app = a.app AND p.user_id = a.user_id
                """,
                logger: logger
            ).decode((Int64, String, String?, String?).self) {
                SendFacts.merge(into: &facts[Int(n)].profiles, user: user, tag: tag, value: value)
            }
        }
        let recipients = lookups.enumerated().flatMap { i, l in
            l.recipients.map { (n: Int64(i), app: Int64(l.sdkAppID), user: $0, conversation: l.conversation) }
        }
        if !recipients.isEmpty {
            for try await (n, user, conv, muted, start, duration) in try await client.query(
                """
                SELECT x.n, r.user_id, r.conversation, r.muted, r.dnd_start, r.dnd_duration
                FROM unnest(\(recipients.map(\.n))::bigint[], \(recipients.map(\.app))::bigint[], \(recipients.map(\.user))::text[],
                            \(recipients.map(\.conversation))::text[]) AS x(n, a, u, c)
                JOIN receive_opts r ON r.app = x.a AND r.user_id = x.u AND r.conversation IN ('', x.c)
                """,
                logger: logger
            ).decode((Int64, String, String, Int64, Int64, Int64).self) {
                ReceiveSettings.merge(into: &facts[Int(n)].settings, user: user, conversation: conv, muted: muted, start: start, duration: duration)
            }
        }
        return facts
    }

    public func healthCheck() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    public func close() async throws {
        background.cancel()
        _ = await background.value
    }
}

import Foundation
import GRDB
import Messaging
import PushCore
import Synchronization

/// The embedded store: one SQLite file in WAL mode through GRDB. Several workers of one process
/// share it; writes are serialised by SQLite, so every write here is one short transaction.
public final class SQLiteStore: PushStore {
    let pool: DatabasePool
    let clock: any EpochClock
    let signal = JobSignal()
    let writes: WriteQueue
    /// Whether the last claim that looked at the campaign lane found ready jobs there.
    let campaignReady = Atomic<Bool>(false)

    /// Opens (creating when needed) the database at `path` and runs the migrations.
    public init(path: String, clock: any EpochClock = SystemEpochClock()) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let checkpoints = CheckpointPolicy()
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync: a commit survives a process crash; a power loss may lose the last
            // commits, never corrupt the file.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            checkpoints.install(on: db)
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        writes = WriteQueue(pool: pool, checkpoints: checkpoints)
        self.clock = clock
        try Self.migrator().migrate(pool)
    }

    /// The schema's versions as GRDB migrations named `v1`, `v2`, …, up to `version` (all by default).
    static func migrator(upTo version: Int = .max) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (index, statements) in Schema.migrations(.sqlite).prefix(version).enumerated() {
            migrator.registerMigration("v\(index + 1)") { db in
                for statement in statements { try db.execute(sql: statement) }
            }
        }
        return migrator
    }

    /// SQLite serialises writes: one batch at a time, as large as what waits.
    public var concurrentWriters: Int { 1 }

    /// One write transaction, queued by priority: urgent work passes every background
    /// transaction that waits.
    func write<T: Sendable>(_ priority: WriteQueue.Priority = .urgent, _ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writes.write(priority, updates)
    }

    public func enqueue(_ jobs: [NewJob]) async throws -> [Bool] {
        let now = clock.nowMillis()
        let handoff = signal.taker(for: jobs, now: now)
        let inserted = try await write { db in try Self.insert(jobs, handingTo: handoff, db: db, now: now) }
        hand(inserted, to: handoff)
        return inserted.inserted
    }

    /// Inserts jobs inside the caller's transaction, the first chat jobs due now claimed for
    /// `handoff`, and reads the devices of their users there too.
    static func insert(_ jobs: [NewJob], handingTo handoff: JobHandoff?, db: Database, now: Int64) throws -> InsertedJobs {
        let inserting = ClaimedInsert(jobs, now: now, handingTo: handoff)
        let ids = try insertRows(inserting, db: db)
        var handed = HandedJobs(jobs: inserting.claimed(ids: ids))
        for (app, jobs) in Dictionary(grouping: handed.jobs, by: \.sdkAppID) {
            handed.devices += try devices(sdkAppID: app, userIDs: jobs.map(\.userID).exactSet.map(\.value), db: db)
        }
        return InsertedJobs(ids: ids, handed: handed, claimableLanes: inserting.claimableLanes(ids: ids))
    }

    /// After the commit: hands the jobs claimed for a waiting worker to it and wakes the others
    /// for the rest.
    func hand(_ inserted: InsertedJobs, to handoff: JobHandoff?) {
        handoff?.deliver(inserted.handed)
        if !inserted.claimableLanes.isEmpty { signal.notify(campaignOnly: !inserted.claimableLanes.contains(.chat)) }
    }

    /// Inserts jobs inside the caller's transaction, claimed as `inserting` says; for each, its
    /// row id, nil when it was not new.
    static func insertRows(_ inserting: ClaimedInsert, db: Database) throws -> [Int64?] {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO jobs (app, idempotency_key, lane, user_id, payload, devices, available_at, enqueued_at, claim, open_claims)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app, idempotency_key) DO NOTHING
                """
        )
        let badge = try db.cachedStatement(sql: "UPDATE devices SET badge = min(min(badge, \(Badge.maxValue)) + 1, \(Badge.maxValue)) WHERE app = ? AND user_id = ?")
        let unread = try db.cachedStatement(
            sql: """
                INSERT INTO unread (app, user_id, peer, count, last_at) VALUES (?, ?, ?, 1, ?)
                ON CONFLICT (app, user_id, peer) DO UPDATE SET count = min(count + 1, \(Badge.maxValue)), last_at = max(last_at, excluded.last_at)
                """
        )
        let now = inserting.now
        return try zip(inserting.jobs, inserting.claims).map { job, claim -> Int64? in
            try insert.execute(arguments: [
                Int64(job.sdkAppID), job.idempotencyKey, job.lane.rawValue, job.userID, job.payload,
                Schema.encodeDevices(job.deviceIDs), job.notBeforeMillis ?? now, now, claim, claim,
            ])
            guard db.changesCount > 0 else { return nil }
            let id = db.lastInsertedRowID
            if job.countsForBadge { try badge.execute(arguments: [Int64(job.sdkAppID), job.userID]) }
            if let peer = job.unreadPeer { try unread.execute(arguments: [Int64(job.sdkAppID), job.userID, peer, now]) }
            return id
        }
    }

    public func storeMessage(_ m: NewMessage, jobs: [NewJob]) async throws -> StoredMessage {
        try await storeMessages([(m, jobs)])[0]
    }

    public func storeMessages(_ messages: [(message: NewMessage, jobs: [NewJob])]) async throws -> [StoredMessage] {
        try await storeEach(messages) { entry, db, now in
            let stored = try Self.store(entry.message, db: db, now: now)
            guard case .stored = stored else { return (stored, []) }
            return (stored, entry.jobs)
        }
    }

    /// The lookups, the builds and the writes in one write transaction: the facts are as fresh as
    /// the write, and a send crosses one queue instead of a read's and then a write's.
    public func storeMessages(lookingUp sends: [LookedUpSend]) async throws -> [LookedUpSend.Result] {
        try await storeEach(sends) { send, db, now in
            let facts = try Self.facts(send.lookup, db: db)
            guard let entry = try send.build(facts) else { return (LookedUpSend.Result(facts: facts, stored: nil), []) }
            let stored = try Self.store(entry.message, db: db, now: now)
            guard case .stored = stored else { return (LookedUpSend.Result(facts: facts, stored: stored), []) }
            return (LookedUpSend.Result(facts: facts, stored: stored), entry.jobs)
        }
    }

    /// Stores `items` in one write transaction, `each` storing one and giving its result and the
    /// jobs to queue for it (none for a duplicate), then queues those jobs, handed to a waiting
    /// worker when one waits.
    private func storeEach<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ each: @escaping @Sendable (Item, Database, Int64) throws -> (Result, [NewJob])
    ) async throws -> [Result] {
        let now = clock.nowMillis()
        let (results, inserted, handoff) = try await write { [signal] db -> ([Result], InsertedJobs, JobHandoff?) in
            var jobs: [NewJob] = []
            let results = try items.map { item -> Result in
                let (result, itemJobs) = try each(item, db, now)
                jobs += itemJobs
                return result
            }
            let handoff = signal.taker(for: jobs, now: now)
            return (results, try Self.insert(jobs, handingTo: handoff, db: db, now: now), handoff)
        }
        hand(inserted, to: handoff)
        return results
    }

    /// Stores one message inside the caller's transaction, unless it is a duplicate or its group is gone.
    static func store(_ m: NewMessage, db: Database, now: Int64) throws -> StoredMessage {
        let duplicate = try db.cachedStatement(sql: "SELECT msg_key, msg_time, msg_seq FROM messages WHERE app = ? AND dedupe = ? AND created_at >= ? LIMIT 1")
        if let row = try Row.fetchOne(duplicate, arguments: [Int64(m.sdkAppID), m.dedupeKey, now - m.dedupeWindowMillis]) {
            return .duplicate(msgKey: row["msg_key"], msgTime: row["msg_time"], msgSeq: row["msg_seq"])
        }
        var seq = m.msgSeq
        if !m.groupID.isEmpty {
            guard let next = try Int64.fetchOne(
                db, sql: "UPDATE im_groups SET last_seq = last_seq + 1 WHERE app = ? AND group_id = ? RETURNING last_seq",
                arguments: [Int64(m.sdkAppID), m.groupID]
            ) else { return .groupNotFound }
            seq = next
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO messages (app, msg_key, from_account, to_account, group_id, msg_seq, msg_random, msg_time, body, dedupe, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            Int64(m.sdkAppID), m.msgKey, m.fromAccount, m.toAccount, m.groupID, seq, m.msgRandom, m.msgTime, m.body, m.dedupeKey, now,
            m.expiresAtMillis,
        ])
        if !m.recipients.isEmpty {
            let id = db.lastInsertedRowID
            // One statement for the whole list: SQLite walks it, not a bind and step per recipient.
            try db.cachedStatement(
                sql: """
                    INSERT INTO message_recipients (message_id, to_account)
                    SELECT ?, value FROM json_each(?) WHERE true ON CONFLICT DO NOTHING
                    """
            ).execute(arguments: [id, Schema.jsonArray(m.recipients)])
        }
        return .stored(msgSeq: seq)
    }

    public func claim(limit: Int, campaignLimit: Int, leaseMillis: Int64) async throws -> [ClaimedJob] {
        let now = clock.nowMillis()
        // While a campaign is sending, a claim that may take its jobs waits behind chat writes;
        // otherwise (a chat-only claim, no campaign) it is as urgent as the writes it serves.
        let priority: WriteQueue.Priority = campaignLimit > 0 && campaignReady.load(ordering: .relaxed) ? .background : .urgent
        return try await write(priority) { db in
            var claimed: [ClaimedJob] = []
            for lane in Lane.allCases where claimed.count < limit {
                let wanted = lane == .campaign ? min(limit - claimed.count, campaignLimit) : limit - claimed.count
                guard wanted > 0 else { continue }
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        UPDATE jobs SET available_at = ?, claim = claim + 1, open_claims = open_claims + 1
                        WHERE id IN (SELECT id FROM jobs WHERE lane = ? AND available_at <= ? AND done_at IS NULL
                                     ORDER BY available_at LIMIT ?)
                        RETURNING id, claim, app, idempotency_key, lane, user_id, payload, devices, attempts, enqueued_at, available_at,
                          open_claims
                        """,
                    arguments: [now + leaseMillis, lane.rawValue, now, wanted]
                )
                if lane == .campaign { self.campaignReady.store(!rows.isEmpty, ordering: .relaxed) }
                claimed += rows.map(Self.claimedJob).sorted { $0.id < $1.id }
            }
            return claimed
        }
    }

    /// A claimed job from the columns `claim` returns, by position (see `devices`).
    static func claimedJob(_ row: Row) -> ClaimedJob {
        ClaimedJob(
            id: row[0], claim: row[1], sdkAppID: UInt64(clamping: row[2] as Int64), idempotencyKey: row[3], lane: Lane(rawValue: row[4]) ?? .chat,
            userID: row[5], payload: row[6], deviceIDs: Schema.decodeDevices(row[7]), attempts: row[8], enqueuedAtMillis: row[9],
            leaseUntilMillis: row[10], openClaims: row[11]
        )
    }

    public func complete(_ completions: [JobCompletion]) async throws {
        guard !completions.isEmpty else { return }
        let now = clock.nowMillis()
        // Campaign outcomes can wait; a chat job's may be a retry that should go out again soon.
        let priority: WriteQueue.Priority = completions.allSatisfy { $0.job.lane == .campaign } ? .background : .urgent
        let requeued = try await write(priority) { db -> (any: Bool, chat: Bool) in
            let finish = try db.cachedStatement(
                sql: """
                    UPDATE jobs SET devices = ?, attempts = attempts + ?, available_at = ?, last_error = ?, open_claims = 0,
                      done_at = CASE WHEN ? THEN ? END, payload = CASE WHEN ? THEN x'' ELSE payload END
                    WHERE id = ? AND claim = ? AND done_at IS NULL
                    """
            )
            let record = try db.cachedStatement(
                sql: """
                    INSERT INTO push_records (app, job_key, user_id, device_id, vendor, outcome, reason, vendor_message_id, attempts, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            let invalidate = try db.cachedStatement(
                sql: """
                    UPDATE devices SET invalidated_at = ?
                    WHERE app = ? AND user_id = ? AND device_id = ? AND token = ? AND registered_at <= ? AND invalidated_at IS NULL
                    """
            )
            let dead = try db.cachedStatement(
                sql: """
                    INSERT INTO dead_letters (app, job_id, idempotency_key, lane, user_id, payload, device_id, vendor, token, last_error, attempts, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            var requeued = (any: false, chat: false)
            var live: [JobCompletion] = []
            for completion in completions {
                let job = completion.job
                let app = Int64(job.sdkAppID)
                let f = Schema.Finish(completion, now: now)
                try finish.execute(arguments: [
                    f.devices, f.attemptsDelta, f.availableAt, f.lastError, f.done, now, f.done, job.id, job.claim,
                ])
                // Lease lost: the job is someone else's now; they will record its outcome.
                guard db.changesCount > 0 else { continue }
                if !f.done { requeued = (true, requeued.chat || job.lane != .campaign) }
                live.append(completion)
                try Self.insert(completion.events, db: db, now: now)
                for r in completion.records {
                    try record.execute(arguments: [
                        app, job.idempotencyKey, job.userID, r.deviceID, r.vendor, r.outcome.rawValue, r.reason, r.vendorMessageID,
                        r.attempts, r.atMillis,
                    ])
                }
                for i in completion.invalidations {
                    try invalidate.execute(arguments: [i.atMillis, app, job.userID, i.deviceID, i.token, i.atMillis])
                }
                for d in completion.deadDevices {
                    try dead.execute(arguments: [
                        app, job.id, job.idempotencyKey, job.lane.rawValue, job.userID, job.payload, d.deviceID, d.vendor, d.token,
                        d.error, Schema.attempts(completion), now,
                    ])
                }
            }
            try Self.tally(CampaignTally(live), db: db, now: now)
            return requeued
        }
        if requeued.any { signal.notify(campaignOnly: !requeued.chat) }
    }

    public func extendLeases(_ jobs: [ClaimedJob], leaseMillis: Int64) async throws {
        guard !jobs.isEmpty else { return }
        let until = clock.nowMillis().addingSaturating(leaseMillis)
        try await write(.urgent) { db in
            let extend = try db.cachedStatement(sql: "UPDATE jobs SET available_at = ? WHERE id = ? AND claim = ? AND done_at IS NULL")
            for job in jobs { try extend.execute(arguments: [until, job.id, job.claim]) }
        }
    }

    public var waitingWorkers: Int { signal.waiting }

    public func waitForJobs(timeout: Duration, campaign: Bool, taking limit: Int, leaseMillis: Int64) async -> HandedJobs {
        await signal.wait(timeout: timeout, campaign: campaign, takes: limit, leaseMillis: leaseMillis)
    }

    public func stats() async throws -> QueueStats {
        let now = clock.nowMillis()
        return try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT app, lane, count(*) AS pending, sum(available_at <= ?1) AS ready, min(CASE WHEN available_at <= ?1 THEN available_at END) AS oldest
                    FROM jobs WHERE done_at IS NULL GROUP BY app, lane
                    """,
                arguments: [now]
            ).map { row in
                QueueStats.Row(app: row["app"], lane: row["lane"], pending: row["pending"], ready: row["ready"] ?? 0, oldestReady: row["oldest"])
            }
            let dead = try Int.fetchOne(db, sql: "SELECT count(*) FROM dead_letters") ?? 0
            return QueueStats(rows: rows, deadLetters: dead, now: now)
        }
    }

    public func purgeFinished(olderThanMillis: Int64) async throws {
        let now = clock.nowMillis()
        let cutoff = now - olderThanMillis
        try await write { db in
            try db.execute(sql: "DELETE FROM jobs WHERE done_at IS NOT NULL AND done_at < ?", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM push_records WHERE at < ?", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM messages WHERE created_at < ?", arguments: [now - Schema.roamingMillis])
            try db.execute(sql: Schema.purgeRecipients)
        }
    }

    public func upsertDevices(_ devices: [Device]) async throws {
        try await write { db in
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO devices (app, user_id, device_id, vendor, token, locale, sandbox, state, badge, registered_at, state_changed_at, invalidated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (app, user_id, device_id) DO UPDATE SET
                      vendor = excluded.vendor, token = excluded.token, locale = excluded.locale, sandbox = excluded.sandbox,
                      state = excluded.state, badge = excluded.badge, registered_at = excluded.registered_at,
                      state_changed_at = excluded.state_changed_at, invalidated_at = excluded.invalidated_at
                    """
            )
            for d in devices {
                try upsert.execute(arguments: [
                    Int64(d.sdkAppID), d.userID, d.deviceID, d.vendor.rawValue, d.token, d.locale?.rawValue, d.sandbox ? 1 : 0,
                    d.state.rawValue, d.badge, d.registeredAtMillis, d.stateChangedAtMillis, d.invalidatedAtMillis,
                ])
            }
        }
    }

    public func trimDevices(sdkAppID: UInt64, userID: String, keeping: Int) async throws -> [String] {
        try await write { db in
            try String.fetchAll(
                db,
                sql: """
                    DELETE FROM devices WHERE app = ?1 AND user_id = ?2 AND device_id NOT IN (
                      SELECT device_id FROM devices WHERE app = ?1 AND user_id = ?2 ORDER BY registered_at DESC, device_id DESC LIMIT ?3)
                    RETURNING device_id
                    """,
                arguments: [Int64(sdkAppID), userID, max(0, keeping)]
            )
        }
    }

    public func setDeviceState(sdkAppID: UInt64, userID: String, deviceID: String, state: DeviceState, unread: Int?) async throws -> Bool {
        let now = clock.nowMillis()
        return try await write { db in
            // Foreground resets the count (push-rules.md 5.4); a background report sets the base.
            let badge: Int? = state == .online ? 0 : unread
            try db.execute(
                sql: "UPDATE devices SET state = ?, state_changed_at = ?, badge = coalesce(?, badge) WHERE app = ? AND user_id = ? AND device_id = ?",
                arguments: [state.rawValue, now, badge, Int64(sdkAppID), userID, deviceID]
            )
            return db.changesCount > 0
        }
    }

    public func markRead(sdkAppID: UInt64, userID: String, peer: String, readAtMillis: Int64) async throws -> Int {
        try await write { db in
            let key: StatementArguments = [Int64(sdkAppID), userID, peer]
            guard let row = try Row.fetchOne(db, sql: "SELECT count, last_at FROM unread WHERE app = ? AND user_id = ? AND peer = ?", arguments: key)
            else { return 0 }
            let (count, lastAt): (Int, Int64) = (row[0], row[1])
            guard count > 0, lastAt <= readAtMillis else { return 0 }
            try db.execute(sql: "UPDATE unread SET count = 0 WHERE app = ? AND user_id = ? AND peer = ?", arguments: key)
            try db.execute(
                sql: "UPDATE devices SET badge = max(badge - ?, 0) WHERE app = ? AND user_id = ?", arguments: [count, Int64(sdkAppID), userID]
            )
            return count
        }
    }

    public func unreadCounts(sdkAppID: UInt64, userID: String, peers: [String]?) async throws -> [ExactString: Int] {
        try await pool.read { db in
            var sql = "SELECT peer, count FROM unread WHERE app = ? AND user_id = ?"
            var arguments: StatementArguments = [Int64(sdkAppID), userID]
            if let peers {
                guard !peers.isEmpty else { return [:] }
                sql += " AND peer IN (" + Array(repeating: "?", count: peers.count).joined(separator: ", ") + ")"
                arguments += StatementArguments(peers)
            }
            var counts: [ExactString: Int] = [:]
            for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                let (peer, count): (String, Int) = (row[0], row[1])
                counts[ExactString(peer)] = count
            }
            return counts
        }
    }

    public func deleteDevice(sdkAppID: UInt64, userID: String, deviceID: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM devices WHERE app = ? AND user_id = ? AND device_id = ?", arguments: [Int64(sdkAppID), userID, deviceID]
            )
            return db.changesCount > 0
        }
    }

    public func devices(sdkAppID: UInt64, userIDs: [String]) async throws -> [Device] {
        guard !userIDs.isEmpty else { return [] }
        return try await pool.read { db in try Self.devices(sdkAppID: sdkAppID, userIDs: userIDs, db: db) }
    }

    static func devices(sdkAppID: UInt64, userIDs: [String], db: Database) throws -> [Device] {
        let select = """
            SELECT app, user_id, device_id, vendor, token, locale, sandbox, state, badge, registered_at, state_changed_at, invalidated_at
            FROM devices WHERE app = ? AND user_id IN
            """
        // Columns by position, in the order selected: GRDB finds a column by name with a
        // case-insensitive search per access, and every push reads its devices.
        var devices: [Device] = []
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: inList(select, userIDs) + " ORDER BY user_id, device_id"), arguments: args(sdkAppID, userIDs)
        )
        while let row = try rows.next() {
            let device = Device.fromColumns(
                app: row[0], userID: row[1], deviceID: row[2], vendor: row[3], token: row[4], locale: row[5], sandbox: row[6], state: row[7],
                badge: row[8], registeredAt: row[9], stateChangedAt: row[10], invalidatedAt: row[11]
            )
            if let device { devices.append(device) }
        }
        return devices
    }

    public func jobStatus(sdkAppID: UInt64, idempotencyKey: String) async throws -> JobStatus? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT attempts, claim, available_at, done_at, last_error, devices, payload FROM jobs WHERE app = ? AND idempotency_key = ?",
                arguments: [Int64(sdkAppID), idempotencyKey]
            ).map { row in
                JobStatus(
                    attempts: row["attempts"], claims: row["claim"], availableAtMillis: row["available_at"], finishedAtMillis: row["done_at"],
                    lastError: row["last_error"], deviceIDs: Schema.decodeDevices(row["devices"]), payload: row["payload"] ?? Data()
                )
            }
        }
    }

    public func pushRecords(sdkAppID: UInt64, idempotencyKey: String) async throws -> [PushRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT device_id, vendor, outcome, reason, vendor_message_id, attempts, at FROM push_records
                    WHERE app = ? AND job_key = ? ORDER BY id
                    """,
                arguments: [Int64(sdkAppID), idempotencyKey]
            ).map { row in
                PushRecord(
                    deviceID: row["device_id"], vendor: row["vendor"], outcome: PushRecord.Outcome(rawValue: row["outcome"]) ?? .failed,
                    reason: row["reason"], vendorMessageID: row["vendor_message_id"], attempts: row["attempts"], atMillis: row["at"]
                )
            }
        }
    }

    public func pushRecords(sdkAppID: UInt64, userID: String, limit: Int) async throws -> [KeyedPushRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT job_key, device_id, vendor, outcome, reason, vendor_message_id, attempts, at FROM push_records
                    WHERE app = ? AND user_id = ? ORDER BY id DESC LIMIT ?
                    """,
                arguments: [Int64(sdkAppID), userID, max(0, limit)]
            ).map { row in
                KeyedPushRecord(
                    jobKey: row["job_key"],
                    record: PushRecord(
                        deviceID: row["device_id"], vendor: row["vendor"], outcome: PushRecord.Outcome(rawValue: row["outcome"]) ?? .failed,
                        reason: row["reason"], vendorMessageID: row["vendor_message_id"], attempts: row["attempts"], atMillis: row["at"]
                    )
                )
            }
        }
    }

    public func deadLetters(afterID: Int64, limit: Int) async throws -> [DeadLetter] {
        try await pool.read { db in
            try Self.fetchDeadLetters(db, where: "id > ? ORDER BY id LIMIT ?", arguments: [afterID, limit])
        }
    }

    static func fetchDeadLetters(_ db: Database, where clause: String, arguments: StatementArguments) throws -> [DeadLetter] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT id, job_id, app, idempotency_key, lane, user_id, payload, device_id, vendor, token, last_error, attempts, created_at
                FROM dead_letters WHERE \(clause)
                """,
            arguments: arguments
        ).map { row in
            DeadLetter(
                id: row["id"], jobID: row["job_id"], sdkAppID: UInt64(clamping: row["app"] as Int64), idempotencyKey: row["idempotency_key"],
                lane: Lane(rawValue: row["lane"]) ?? .chat, userID: row["user_id"], payload: row["payload"], deviceID: row["device_id"],
                vendor: row["vendor"], token: row["token"], lastError: row["last_error"], attempts: row["attempts"],
                createdAtMillis: row["created_at"]
            )
        }
    }

    /// `id IN (…)` for the given ids, or every row.
    static func idFilter(_ ids: [Int64]?) -> (String, StatementArguments) {
        guard let ids else { return ("1 = 1", []) }
        if ids.isEmpty { return ("1 = 0", []) }
        return ("id IN (\(Array(repeating: "?", count: ids.count).joined(separator: ",")))", StatementArguments(ids))
    }

    public func replayDeadLetters(ids: [Int64]?) async throws -> Int {
        let (filter, arguments) = Self.idFilter(ids)
        let letters = try await pool.read { db in try Self.fetchDeadLetters(db, where: filter + " ORDER BY id", arguments: arguments) }
        guard !letters.isEmpty else { return 0 }
        _ = try await enqueue(letters.map(Schema.replayJob))
        return try await purgeDeadLetters(ids: letters.map(\.id))
    }

    public func purgeDeadLetters(ids: [Int64]?) async throws -> Int {
        let (filter, arguments) = Self.idFilter(ids)
        return try await write { db in
            try db.execute(sql: "DELETE FROM dead_letters WHERE \(filter)", arguments: arguments)
            return db.changesCount
        }
    }

    public func purgeDeadLetters(olderThanMillis: Int64) async throws -> Int {
        let cutoff = clock.nowMillis().subtractingSaturating(olderThanMillis)
        return try await write(.background) { db in
            try db.execute(sql: "DELETE FROM dead_letters WHERE created_at < ?", arguments: [cutoff])
            return db.changesCount
        }
    }

    public func withdraw(_ w: Withdrawal) async throws -> WithdrawResult {
        let now = clock.nowMillis()
        let app = Int64(w.sdkAppID)
        let (result, inserted) = try await write { db -> (WithdrawResult, InsertedJobs?) in
            let msgKey: String
            let recipients: [String]
            switch w.target {
            case .c2c(let key, let from, let to):
                let direct = try Int64.fetchOne(
                    db, sql: "SELECT id FROM messages WHERE app = ? AND msg_key = ? AND to_account = ? AND from_account = ? AND group_id = ''",
                    arguments: [app, key, to, from]
                )
                if let direct {
                    try db.execute(sql: "DELETE FROM messages WHERE id = ?", arguments: [direct])
                } else if let batch = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT m.id FROM messages m JOIN message_recipients r ON r.message_id = m.id AND r.to_account = ?
                        WHERE m.app = ? AND m.msg_key = ? AND m.to_account = '' AND m.from_account = ? AND m.group_id = ''
                        """,
                    arguments: [to, app, key, from]
                ) {
                    try db.execute(sql: "DELETE FROM message_recipients WHERE message_id = ? AND to_account = ?", arguments: [batch, to])
                } else {
                    return (try Self.withdrawnBefore(w, db: db), nil)
                }
                (msgKey, recipients) = (key, [to])
            case .group(let group, let seq):
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT id, msg_key FROM messages WHERE app = ? AND group_id = ? AND msg_seq = ?", arguments: [app, group, seq]
                ) else { return (try Self.withdrawnBefore(w, db: db), nil) }
                try db.execute(sql: "DELETE FROM messages WHERE id = ?", arguments: [row[0] as Int64])
                msgKey = row[1]
                recipients = try String.fetchAll(
                    db, sql: "SELECT user_id FROM group_members WHERE app = ? AND group_id = ? ORDER BY user_id", arguments: [app, group]
                )
            }
            try db.execute(sql: "INSERT INTO withdrawn (app, ref, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", arguments: [app, w.reference, now])
            // A finished job keeps its key: a pending one is finished here, a missing one is
            // inserted finished, so the fan-out that would enqueue it finds the key taken.
            let done = try db.cachedStatement(sql: "SELECT done_at IS NOT NULL FROM jobs WHERE app = ? AND idempotency_key = ?")
            let cancel = try db.cachedStatement(
                sql: """
                    INSERT INTO jobs (app, idempotency_key, lane, user_id, payload, available_at, enqueued_at, done_at, last_error)
                    VALUES (?, ?, 0, ?, x'', ?, ?, ?, ?)
                    ON CONFLICT (app, idempotency_key) DO UPDATE SET
                      done_at = excluded.done_at, last_error = excluded.last_error, payload = x'', claim = jobs.claim + 1
                    """
            )
            let record = try db.cachedStatement(
                sql: """
                    INSERT INTO push_records (app, job_key, user_id, device_id, vendor, outcome, reason, vendor_message_id, attempts, at)
                    VALUES (?, ?, ?, '', '', ?, ?, NULL, 0, ?)
                    """
            )
            var (cancelled, sent): ([String], [String]) = ([], [])
            for user in recipients {
                let key = "\(msgKey):\(user)"
                if try Bool.fetchOne(done, arguments: [app, key]) == true {
                    sent.append(user)
                    continue
                }
                try cancel.execute(arguments: [app, key, user, now, now, now, Withdrawal.reason])
                try record.execute(arguments: [app, key, user, PushRecord.Outcome.skipped.rawValue, Withdrawal.reason, now])
                cancelled.append(user)
            }
            // Pushes already delivered (a finished job, or devices done before a retry) are revoked.
            let keys = Dictionary(recipients.map { ("\(msgKey):\($0)", $0) }, uniquingKeysWith: { a, _ in a })
            var revocations: [NewJob] = []
            if w.revocationJob != nil {
                let delivered = try db.cachedStatement(
                    sql: "SELECT device_id FROM push_records WHERE app = ? AND job_key = ? AND outcome = ? AND device_id <> '' ORDER BY id"
                )
                var pairs: [(key: String, device: String)] = []
                for key in keys.keys {
                    for device in try String.fetchAll(delivered, arguments: [app, key, PushRecord.Outcome.delivered.rawValue]) { pairs.append((key, device)) }
                }
                revocations = w.revocations(pairs, users: keys)
            }
            let inserted = revocations.isEmpty ? nil : try Self.insert(revocations, handingTo: nil, db: db, now: now)
            return (.withdrawn(msgKey: msgKey, cancelled: cancelled, sent: sent), inserted)
        }
        if let inserted { hand(inserted, to: nil) }
        return result
    }

    static func withdrawnBefore(_ w: Withdrawal, db: Database) throws -> WithdrawResult {
        let known = try Int.fetchOne(db, sql: "SELECT 1 FROM withdrawn WHERE app = ? AND ref = ?", arguments: [Int64(w.sdkAppID), w.reference])
        return known == nil ? .notFound : .alreadyWithdrawn
    }

    public func messageRecipients(sdkAppID: UInt64, msgKey: String) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT to_account FROM messages WHERE app = ? AND msg_key = ? AND group_id = '' AND to_account <> ''
                    UNION SELECT g.user_id FROM messages m JOIN group_members g ON g.app = m.app AND g.group_id = m.group_id
                    WHERE m.app = ? AND m.msg_key = ? AND m.group_id <> ''
                    UNION SELECT r.to_account FROM messages m JOIN message_recipients r ON r.message_id = m.id
                    WHERE m.app = ? AND m.msg_key = ? AND m.group_id = '' AND m.to_account = ''
                    """,
                arguments: [Int64(sdkAppID), msgKey, Int64(sdkAppID), msgKey, Int64(sdkAppID), msgKey]
            )
        }
    }

    public func conversation(
        sdkAppID: UInt64, between a: String, and b: String, minTime: Int64, maxTime: Int64, before: String?, limit: Int
    ) async throws -> [MessageRow] {
        try await pool.read { db in
            var cursor = (time: Int64.max, id: Int64.max)
            if let before {
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT msg_time, id FROM messages WHERE app = ? AND msg_key = ? ORDER BY id LIMIT 1", arguments: [Int64(sdkAppID), before]
                ) else { return [] }
                cursor = (row["msg_time"], row["id"])
            }
            return try Row.fetchAll(
                db.cachedStatement(sql: Schema.conversationPage { "?\($0)" }),
                arguments: [Int64(sdkAppID), a, b, minTime, maxTime, cursor.time, cursor.id, limit]
            ).map { row in
                MessageRow(
                    id: row["id"], msgKey: row["msg_key"], fromAccount: row["from_account"], toAccount: row["to_account"],
                    msgSeq: row["msg_seq"], msgRandom: row["msg_random"], msgTime: row["msg_time"], body: row["body"]
                )
            }
        }
    }

    public func importAccounts(sdkAppID: UInt64, _ accounts: [(userID: String, profile: [String: String])]) async throws {
        let now = clock.nowMillis()
        try await write { db in
            let account = try db.cachedStatement(sql: "INSERT INTO accounts (app, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            let item = try db.cachedStatement(
                sql: "INSERT INTO profile_items (app, user_id, tag, value) VALUES (?, ?, ?, ?) ON CONFLICT (app, user_id, tag) DO UPDATE SET value = excluded.value"
            )
            for a in accounts {
                try account.execute(arguments: [Int64(sdkAppID), a.userID, now])
                for (tag, value) in a.profile { try item.execute(arguments: [Int64(sdkAppID), a.userID, tag, value]) }
            }
        }
    }

    public func deleteAccounts(sdkAppID: UInt64, userIDs: [String]) async throws -> Set<String> {
        try await write { db in
            var deleted = Set<String>()
            for user in userIDs {
                try db.execute(sql: "DELETE FROM accounts WHERE app = ? AND user_id = ?", arguments: [Int64(sdkAppID), user])
                if db.changesCount > 0 { deleted.insert(user) }
                try db.execute(sql: "DELETE FROM profile_items WHERE app = ? AND user_id = ?", arguments: [Int64(sdkAppID), user])
                try db.execute(sql: "DELETE FROM devices WHERE app = ? AND user_id = ?", arguments: [Int64(sdkAppID), user])
                try db.execute(sql: "DELETE FROM group_members WHERE app = ? AND user_id = ?", arguments: [Int64(sdkAppID), user])
                try db.execute(sql: "DELETE FROM receive_opts WHERE app = ? AND user_id = ?", arguments: [Int64(sdkAppID), user])
                try db.execute(sql: "DELETE FROM user_tags WHERE app = ? AND user_id = ?", arguments: [Int64(sdkAppID), user])
                try db.execute(sql: "DELETE FROM user_attrs WHERE app = ? AND user_id = ?", arguments: [Int64(sdkAppID), user])
            }
            return deleted
        }
    }

    public func importedAccounts(sdkAppID: UInt64, userIDs: [String]) async throws -> Set<ExactString> {
        guard !userIDs.isEmpty else { return [] }
        return try await pool.read { db in
            var arguments: StatementArguments = [Int64(sdkAppID)]
            arguments += StatementArguments(userIDs)
            let marks = Array(repeating: "?", count: userIDs.count).joined(separator: ",")
            return try String.fetchAll(db, sql: "SELECT user_id FROM accounts WHERE app = ? AND user_id IN (\(marks))", arguments: arguments).exactSet
        }
    }

    public func profiles(sdkAppID: UInt64, userIDs: [String]) async throws -> Profiles {
        guard !userIDs.isEmpty else { return [:] }
        return try await pool.read { db in try Self.profiles(db, sdkAppID: sdkAppID, userIDs: userIDs) }
    }

    /// One query: every imported account, with its items when it has any.
    static func profiles(_ db: Database, sdkAppID: UInt64, userIDs: [String]) throws -> Profiles {
        guard !userIDs.isEmpty else { return [:] }
        let statement = try db.cachedStatement(
            sql: inList(
                "SELECT a.user_id, p.tag, p.value FROM accounts a LEFT JOIN profile_items p ON p.app = a.app AND p.user_id = a.user_id WHERE a.app = ? AND a.user_id IN",
                userIDs
            )
        )
        var result: Profiles = [:]
        let rows = try Row.fetchCursor(statement, arguments: args(sdkAppID, userIDs))
        while let row = try rows.next() {
            SendFacts.merge(into: &result, user: row[0], tag: row[1], value: row[2])
        }
        return result
    }

    /// Every lookup in one read transaction.
    public func sendFacts(_ lookups: [SendLookup]) async throws -> [SendFacts] {
        try await pool.read { db in try lookups.map { try Self.facts($0, db: db) } }
    }

    static func facts(_ l: SendLookup, db: Database) throws -> SendFacts {
        SendFacts(
            profiles: try profiles(db, sdkAppID: l.sdkAppID, userIDs: l.accounts),
            settings: try receiveSettings(db, sdkAppID: l.sdkAppID, userIDs: l.recipients, conversation: l.conversation)
        )
    }

    // MARK: Groups and receive options

    public func createGroup(_ group: Group, members: [GroupMember]) async throws -> Bool {
        let now = clock.nowMillis()
        return try await write { db in
            try db.execute(
                sql: "INSERT INTO im_groups (app, group_id, type, name, owner, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                arguments: [Int64(group.sdkAppID), group.groupID, group.type.rawValue, group.name, group.owner, now]
            )
            guard db.changesCount > 0 else { return false }
            _ = try Self.insertMembers(members, app: group.sdkAppID, groupID: group.groupID, db: db, now: now)
            return true
        }
    }

    /// Inserts members not already in the group; the ones inserted.
    static func insertMembers(_ members: [GroupMember], app: UInt64, groupID: String, db: Database, now: Int64) throws -> Set<String> {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO group_members (app, group_id, user_id, role, msg_flag, name_card, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """
        )
        var added = Set<String>()
        for m in members {
            try insert.execute(arguments: [Int64(app), groupID, m.userID, m.role, m.msgFlag.rawValue, m.nameCard, now])
            if db.changesCount > 0 { added.insert(m.userID) }
        }
        return added
    }

    public func group(sdkAppID: UInt64, groupID: String) async throws -> (group: Group, members: [GroupMember])? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT type, name, owner FROM im_groups WHERE app = ? AND group_id = ?", arguments: [Int64(sdkAppID), groupID]
            ), let type = GroupType(rawValue: row["type"]) else { return nil }
            let members = try Row.fetchAll(
                db,
                sql: """
                    SELECT user_id, role, msg_flag, name_card, muted_until FROM group_members WHERE app = ? AND group_id = ?
                    ORDER BY joined_at, user_id
                    """,
                arguments: [Int64(sdkAppID), groupID]
            ).map { r in
                GroupMember(
                    userID: r["user_id"], role: r["role"], msgFlag: MsgFlag(rawValue: r["msg_flag"]) ?? .acceptAndNotify, nameCard: r["name_card"],
                    mutedUntilMillis: r["muted_until"]
                )
            }
            return (Group(sdkAppID: sdkAppID, groupID: groupID, type: type, name: row["name"], owner: row["owner"]), members)
        }
    }

    public func addGroupMembers(sdkAppID: UInt64, groupID: String, _ members: [GroupMember]) async throws -> Set<String> {
        let now = clock.nowMillis()
        return try await write { db in try Self.insertMembers(members, app: sdkAppID, groupID: groupID, db: db, now: now) }
    }

    public func deleteGroupMembers(sdkAppID: UInt64, groupID: String, userIDs: [String]) async throws -> Set<String> {
        try await write { db in
            var deleted = Set<String>()
            for user in userIDs {
                try db.execute(
                    sql: "DELETE FROM group_members WHERE app = ? AND group_id = ? AND user_id = ?", arguments: [Int64(sdkAppID), groupID, user]
                )
                if db.changesCount > 0 { deleted.insert(user) }
            }
            return deleted
        }
    }

    public func updateGroupMember(sdkAppID: UInt64, groupID: String, _ member: GroupMember) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE group_members SET role = ?, msg_flag = ?, name_card = ? WHERE app = ? AND group_id = ? AND user_id = ?",
                arguments: [member.role, member.msgFlag.rawValue, member.nameCard, Int64(sdkAppID), groupID, member.userID]
            )
            return db.changesCount > 0
        }
    }

    public func renameGroup(sdkAppID: UInt64, groupID: String, name: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE im_groups SET name = ? WHERE app = ? AND group_id = ?", arguments: [name, Int64(sdkAppID), groupID])
            return db.changesCount > 0
        }
    }

    public func muteGroupMembers(sdkAppID: UInt64, groupID: String, userIDs: [String], untilMillis: Int64) async throws -> Set<String> {
        try await write { db in
            var muted = Set<String>()
            for user in userIDs {
                try db.execute(
                    sql: "UPDATE group_members SET muted_until = ? WHERE app = ? AND group_id = ? AND user_id = ?",
                    arguments: [untilMillis, Int64(sdkAppID), groupID, user]
                )
                if db.changesCount > 0 { muted.insert(user) }
            }
            return muted
        }
    }

    public func joinedGroups(sdkAppID: UInt64, userID: String) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT group_id FROM group_members WHERE app = ? AND user_id = ? ORDER BY group_id", arguments: [Int64(sdkAppID), userID]
            )
        }
    }

    public func groupPage(sdkAppID: UInt64, offset: Int, limit: Int) async throws -> (groupIDs: [String], total: Int) {
        try await pool.read { db in
            let ids = try String.fetchAll(
                db, sql: "SELECT group_id FROM im_groups WHERE app = ? ORDER BY group_id LIMIT ? OFFSET ?",
                arguments: [Int64(sdkAppID), max(0, limit), max(0, offset)]
            )
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM im_groups WHERE app = ?", arguments: [Int64(sdkAppID)]) ?? 0
            return (ids, total)
        }
    }

    public func changeGroupOwner(sdkAppID: UInt64, groupID: String, to userID: String) async throws -> Bool {
        try await write { db in
            let key: StatementArguments = [Int64(sdkAppID), groupID]
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM group_members WHERE app = ? AND group_id = ? AND user_id = ?", arguments: key + [userID]) != nil
            else { return false }
            try db.execute(sql: "UPDATE group_members SET role = 'Member' WHERE app = ? AND group_id = ? AND role = 'Owner'", arguments: key)
            try db.execute(sql: "UPDATE group_members SET role = 'Owner' WHERE app = ? AND group_id = ? AND user_id = ?", arguments: key + [userID])
            try db.execute(sql: "UPDATE im_groups SET owner = ? WHERE app = ? AND group_id = ?", arguments: [userID] + key)
            return db.changesCount > 0
        }
    }

    public func destroyGroup(sdkAppID: UInt64, groupID: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM im_groups WHERE app = ? AND group_id = ?", arguments: [Int64(sdkAppID), groupID])
            let existed = db.changesCount > 0
            try db.execute(sql: "DELETE FROM group_members WHERE app = ? AND group_id = ?", arguments: [Int64(sdkAppID), groupID])
            return existed
        }
    }

    public func setReceiveOption(sdkAppID: UInt64, userID: String, conversation: String, muted: Bool) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO receive_opts (app, user_id, conversation, muted) VALUES (?, ?, ?, ?)
                    ON CONFLICT (app, user_id, conversation) DO UPDATE SET muted = excluded.muted
                    """,
                arguments: [Int64(sdkAppID), userID, conversation, muted ? 1 : 0]
            )
        }
    }

    public func setDoNotDisturb(sdkAppID: UInt64, userID: String, _ window: DoNotDisturb?) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO receive_opts (app, user_id, conversation, dnd_start, dnd_duration) VALUES (?, ?, '', ?, ?)
                    ON CONFLICT (app, user_id, conversation) DO UPDATE SET dnd_start = excluded.dnd_start, dnd_duration = excluded.dnd_duration
                    """,
                arguments: [Int64(sdkAppID), userID, window?.start ?? 0, window?.duration ?? 0]
            )
        }
    }

    public func receiveSettings(sdkAppID: UInt64, userIDs: [String], conversation: String) async throws -> [ExactString: ReceiveSettings] {
        guard !userIDs.isEmpty else { return [:] }
        return try await pool.read { db in try Self.receiveSettings(db, sdkAppID: sdkAppID, userIDs: userIDs, conversation: conversation) }
    }

    static func receiveSettings(_ db: Database, sdkAppID: UInt64, userIDs: [String], conversation: String) throws -> [ExactString: ReceiveSettings] {
        guard !userIDs.isEmpty else { return [:] }
        var arguments: StatementArguments = [Int64(sdkAppID), conversation]
        arguments += listArguments(userIDs)
        let statement = try db.cachedStatement(
            sql: inList("SELECT user_id, conversation, muted, dnd_start, dnd_duration FROM receive_opts WHERE app = ? AND conversation IN ('', ?) AND user_id IN", userIDs)
        )
        var settings: [ExactString: ReceiveSettings] = [:]
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            ReceiveSettings.merge(into: &settings, user: row[0], conversation: row[1], muted: row[2], start: row[3], duration: row[4])
        }
        return settings
    }

    public func healthCheck() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func close() async throws {
        try pool.close()
    }
}


import Foundation
import GRDB

extension SQLiteStore {
    // MARK: Attributes and tags

    public func setAttributeNames(sdkAppID: UInt64, _ names: [String: String]) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM attr_names WHERE app = ?", arguments: [Int64(sdkAppID)])
            for (slot, name) in names {
                try db.execute(sql: "INSERT INTO attr_names (app, slot, name) VALUES (?, ?, ?)", arguments: [Int64(sdkAppID), slot, name])
            }
        }
    }

    public func attributeNames(sdkAppID: UInt64) async throws -> [String: String] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT slot, name FROM attr_names WHERE app = ?", arguments: [Int64(sdkAppID)])
                .reduce(into: [:]) { $0[$1["slot"] as String] = $1["name"] as String }
        }
    }

    public func setAttributes(sdkAppID: UInt64, _ values: [(userID: String, attrs: [String: String])]) async throws {
        try await write { db in
            let upsert = try db.cachedStatement(
                sql: "INSERT INTO user_attrs (app, user_id, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (app, user_id, name) DO UPDATE SET value = excluded.value"
            )
            for (user, attrs) in values {
                for (name, value) in attrs { try upsert.execute(arguments: [Int64(sdkAppID), user, name, value]) }
            }
        }
    }

    public func attributes(sdkAppID: UInt64, userIDs: [String]) async throws -> [String: [String: String]] {
        try await pool.read { db in
            var result = Dictionary(uniqueKeysWithValues: userIDs.map { ($0, [String: String]()) })
            for row in try Row.fetchAll(db, sql: Self.inList("SELECT user_id, name, value FROM user_attrs WHERE app = ? AND user_id IN", userIDs), arguments: Self.args(sdkAppID, userIDs)) {
                result[row["user_id"] as String, default: [:]][row["name"] as String] = row["value"] as String
            }
            return result
        }
    }

    public func removeAttributes(sdkAppID: UInt64, _ names: [(userID: String, names: [String])]) async throws {
        try await write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM user_attrs WHERE app = ? AND user_id = ? AND name = ?")
            for (user, list) in names {
                for name in list { try delete.execute(arguments: [Int64(sdkAppID), user, name]) }
            }
        }
    }

    public func addTags(sdkAppID: UInt64, _ tags: [(userID: String, tags: [String])], maxPerUser: Int) async throws -> [String] {
        do {
            return try await addTagsOrRollBack(sdkAppID: sdkAppID, tags, maxPerUser: maxPerUser)
        } catch let refused as RollbackWith<[String]> {
            return refused.value
        }
    }

    private func addTagsOrRollBack(sdkAppID: UInt64, _ tags: [(userID: String, tags: [String])], maxPerUser: Int) async throws -> [String] {
        try await write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO user_tags (app, user_id, tag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            let count = try db.cachedStatement(sql: "SELECT count(*) FROM user_tags WHERE app = ? AND user_id = ?")
            var over: [String] = []
            for (user, list) in tags {
                for tag in list { try insert.execute(arguments: [Int64(sdkAppID), user, tag]) }
                if try Int.fetchOne(count, arguments: [Int64(sdkAppID), user]) ?? 0 > maxPerUser { over.append(user) }
            }
            // All or nothing: a refused request leaves every user as it was.
            if !over.isEmpty { throw RollbackWith(over) }
            return over
        }
    }

    public func tags(sdkAppID: UInt64, userIDs: [String]) async throws -> [String: [String]] {
        try await pool.read { db in
            var result = Dictionary(uniqueKeysWithValues: userIDs.map { ($0, [String]()) })
            for row in try Row.fetchAll(db, sql: Self.inList("SELECT user_id, tag FROM user_tags WHERE app = ? AND user_id IN", userIDs) + " ORDER BY user_id, tag", arguments: Self.args(sdkAppID, userIDs)) {
                result[row["user_id"] as String, default: []].append(row["tag"])
            }
            return result
        }
    }

    public func removeTags(sdkAppID: UInt64, _ tags: [(userID: String, tags: [String])]) async throws {
        try await write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM user_tags WHERE app = ? AND user_id = ? AND tag = ?")
            for (user, list) in tags {
                for tag in list { try delete.execute(arguments: [Int64(sdkAppID), user, tag]) }
            }
        }
    }

    public func removeAllTags(sdkAppID: UInt64, userIDs: [String]) async throws {
        try await write { db in
            try db.execute(sql: Self.inList("DELETE FROM user_tags WHERE app = ? AND user_id IN", userIDs), arguments: Self.args(sdkAppID, userIDs))
        }
    }

    // MARK: Audience

    public func audienceTermPage(sdkAppID: UInt64, term: AudienceTerm?, after: String, limit: Int) async throws -> [String] {
        try await pool.read { db in
            switch term {
            case nil:
                return try String.fetchAll(
                    db, sql: "SELECT user_id FROM accounts WHERE app = ? AND user_id > ? ORDER BY user_id LIMIT ?",
                    arguments: [Int64(sdkAppID), after, limit]
                )
            case .tag(let tag):
                return try String.fetchAll(
                    db, sql: "SELECT user_id FROM user_tags WHERE app = ? AND tag = ? AND user_id > ? ORDER BY user_id LIMIT ?",
                    arguments: [Int64(sdkAppID), tag, after, limit]
                )
            case .attr(let name, let value):
                return try String.fetchAll(
                    db, sql: "SELECT user_id FROM user_attrs WHERE app = ? AND name = ? AND value = ? AND user_id > ? ORDER BY user_id LIMIT ?",
                    arguments: [Int64(sdkAppID), name, value, after, limit]
                )
            }
        }
    }

    public func audienceMembers(sdkAppID: UInt64, term: AudienceTerm, among userIDs: [String]) async throws -> Set<String> {
        guard !userIDs.isEmpty else { return [] }
        return try await pool.read { db in
            // A long list is one JSON array (`inList`), so no chunking under SQLite's variable limit.
            switch term {
            case .tag(let tag):
                var arguments: StatementArguments = [Int64(sdkAppID), tag]
                arguments += Self.listArguments(userIDs)
                let sql = Self.inList("SELECT user_id FROM user_tags WHERE app = ? AND tag = ? AND user_id IN", userIDs)
                return Set(try String.fetchAll(db.cachedStatement(sql: sql), arguments: arguments))
            case .attr(let name, let value):
                var arguments: StatementArguments = [Int64(sdkAppID), name, value]
                arguments += Self.listArguments(userIDs)
                let sql = Self.inList("SELECT user_id FROM user_attrs WHERE app = ? AND name = ? AND value = ? AND user_id IN", userIDs)
                return Set(try String.fetchAll(db.cachedStatement(sql: sql), arguments: arguments))
            }
        }
    }

    // MARK: Campaigns

    public func createCampaign(_ c: NewCampaign, quota: CampaignQuota) async throws -> CampaignAdmission {
        let now = clock.nowMillis()
        let app = Int64(c.sdkAppID)
        return try await write { db in
            if let task = try String.fetchOne(
                db, sql: "SELECT task_id FROM campaigns WHERE app = ? AND msg_random = ? AND created_at >= ? LIMIT 1",
                arguments: [app, c.msgRandom, now - quota.dedupeWindowMillis]
            ) {
                return .duplicate(taskID: task)
            }
            if let last = try Int64.fetchOne(db, sql: "SELECT max(created_at) FROM campaigns WHERE app = ?", arguments: [app]),
                now - last <= quota.minIntervalMillis
            {
                return .tooFrequent
            }
            let today = try Int.fetchOne(db, sql: "SELECT count(*) FROM campaigns WHERE app = ? AND created_at > ?", arguments: [app, now - 86_400_000]) ?? 0
            if today >= quota.perDay { return .quotaExceeded }
            try db.execute(
                sql: """
                    INSERT INTO campaigns (app, task_id, msg_random, state, audience, template, counts_badge, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [app, c.taskID, c.msgRandom, CampaignState.running.rawValue, try CampaignRow.encode(c.audience), c.template, c.countsForBadge, now]
            )
            return .created
        }
    }

    public func campaign(sdkAppID: UInt64, taskID: String) async throws -> CampaignStatus? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(CampaignRow.statusColumns) FROM campaigns WHERE app = ? AND task_id = ?", arguments: [Int64(sdkAppID), taskID]) else {
                return nil
            }
            return try Self.status(row, db: db)
        }
    }

    public func campaigns(sdkAppID: UInt64, fromMillis: Int64, toMillis: Int64, limit: Int) async throws -> [CampaignStatus] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(CampaignRow.statusColumns) FROM campaigns WHERE app = ? AND created_at >= ? AND created_at < ? ORDER BY created_at LIMIT ?",
                arguments: [Int64(sdkAppID), fromMillis, toMillis, limit]
            ).map { try Self.status($0, db: db) }
        }
    }

    static func status(_ row: Row, db: Database) throws -> CampaignStatus {
        var status = CampaignRow.status(
            app: row["app"], taskID: row["task_id"], state: row["state"], audienceSize: row["audience_size"], users: row["users"],
            noDevice: row["no_device"], devices: row["devices"], jobs: row["jobs"], jobsDone: row["jobs_done"], jobsCancelled: row["jobs_cancelled"],
            createdAt: row["created_at"], walkedAt: row["walked_at"], finishedAt: row["finished_at"]
        )
        for r in try Row.fetchAll(db, sql: "SELECT outcome, reason, n FROM campaign_counts WHERE app = ? AND task_id = ?", arguments: [row["app"] as Int64, status.taskID]) {
            status.outcomes[.init(r["outcome"], r["reason"]), default: 0] += r["n"] as Int
        }
        return status
    }

    public func cancelCampaign(sdkAppID: UInt64, taskID: String) async throws -> Bool {
        let now = clock.nowMillis()
        let app = Int64(sdkAppID)
        return try await write { db in
            try db.execute(
                sql: "UPDATE campaigns SET state = ?, finished_at = ? WHERE app = ? AND task_id = ? AND state IN (?, ?)",
                arguments: [CampaignState.cancelled.rawValue, now, app, taskID, CampaignState.running.rawValue, CampaignState.sending.rawValue]
            )
            guard db.changesCount > 0 else { return false }
            let range = CampaignKeys.keyRange(taskID: taskID)
            try db.execute(
                sql: """
                    UPDATE jobs SET done_at = ?, payload = x'', last_error = 'Cancelled'
                    WHERE app = ? AND idempotency_key >= ? AND idempotency_key < ? AND lane = ? AND done_at IS NULL
                    """,
                arguments: [now, app, range.lower, range.upper, Lane.campaign.rawValue]
            )
            try db.execute(sql: "UPDATE campaigns SET jobs_cancelled = ? WHERE app = ? AND task_id = ?", arguments: [db.changesCount, app, taskID])
            return true
        }
    }

    public func leaseCampaign(leaseMillis: Int64) async throws -> CampaignWalk? {
        let now = clock.nowMillis()
        return try await write(.background) { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    UPDATE campaigns SET lease_until = ?
                    WHERE rowid = (SELECT rowid FROM campaigns WHERE state = ? AND lease_until <= ? ORDER BY created_at LIMIT 1)
                    RETURNING \(CampaignRow.walkColumns)
                    """,
                arguments: [now + leaseMillis, CampaignState.running.rawValue, now]
            ) else { return nil }
            return try Self.walk(row)
        }
    }

    static func walk(_ row: Row) throws -> CampaignWalk {
        CampaignWalk(
            sdkAppID: UInt64(clamping: row["app"] as Int64), taskID: row["task_id"], audience: try CampaignRow.decode(row["audience"]), template: row["template"],
            countsForBadge: row["counts_badge"], cursor: row["cursor"], audienceSize: row["audience_size"],
            backlog: (row["jobs"] as Int) - (row["jobs_done"] as Int), leaseUntilMillis: row["lease_until"]
        )
    }

    public func setAudienceSize(_ walk: CampaignWalk, size: Int) async throws {
        try await write(.background) { db in
            try db.execute(
                sql: "UPDATE campaigns SET audience_size = ? WHERE app = ? AND task_id = ? AND lease_until = ?",
                arguments: [size, Int64(walk.sdkAppID), walk.taskID, walk.leaseUntilMillis]
            )
        }
    }

    public func advanceCampaign(
        _ walk: CampaignWalk, cursor: String, users: Int, usersWithoutDevice: Int, devices: Int, jobs: [NewJob], last: Bool,
        leaseMillis: Int64, claimMillis: Int64?
    ) async throws -> CampaignStep? {
        let now = clock.nowMillis()
        let app = Int64(walk.sdkAppID)
        let inserting = ClaimedInsert(jobs, now: now, claimMillis: claimMillis)
        let next = try await write(.background) { db -> CampaignStep? in
            // Only the walker holding the lease, on a campaign still running, may write.
            guard try Bool.fetchOne(
                db, sql: "SELECT 1 FROM campaigns WHERE app = ? AND task_id = ? AND state = ? AND lease_until = ? AND cursor = ?",
                arguments: [app, walk.taskID, CampaignState.running.rawValue, walk.leaseUntilMillis, walk.cursor]
            ) != nil else { return nil }
            let ids = try Self.insertRows(inserting, db: db)
            let enqueued = ids.filter { $0 != nil }.count
            let row = try Row.fetchOne(
                db,
                sql: """
                    UPDATE campaigns SET cursor = ?, users = users + ?, no_device = no_device + ?, devices = devices + ?, jobs = jobs + ?,
                      lease_until = ?, state = CASE WHEN ? THEN ? ELSE state END, walked_at = CASE WHEN ? THEN ? END
                    WHERE app = ? AND task_id = ?
                    RETURNING \(CampaignRow.walkColumns)
                    """,
                arguments: [
                    cursor, users, usersWithoutDevice, devices, enqueued, now + leaseMillis, last, CampaignState.sending.rawValue, last, now,
                    app, walk.taskID,
                ]
            )
            guard let row else { return nil }
            let next = try Self.walk(row)
            if CampaignProgress.isFinished(last ? .sending : .running, backlog: next.backlog) {
                try Self.finishCampaign(db, app: app, taskID: walk.taskID, now: now)
            }
            return CampaignStep(walk: next, claimed: inserting.claimed(ids: ids))
        }
        // Jobs enqueued claimed are the walker's: no worker is woken for them.
        if !jobs.isEmpty, claimMillis == nil {
            campaignReady.store(true, ordering: .relaxed)
            signal.notify(campaignOnly: true)
        }
        return next
    }

    /// Folds finished campaign jobs and their device outcomes into the campaigns' counts, inside
    /// the completing transaction; a campaign whose last push finished is Finished.
    static func tally(_ tally: CampaignTally, db: Database, now: Int64) throws {
        guard !tally.isEmpty else { return }
        for (key, n) in tally.jobsDone {
            let row = try Row.fetchOne(
                db, sql: "UPDATE campaigns SET jobs_done = jobs_done + ? WHERE app = ? AND task_id = ? RETURNING state, jobs - jobs_done AS backlog",
                arguments: [n, Int64(key.app), key.taskID]
            )
            guard let row, let state = CampaignState(rawValue: row["state"]) else { continue }
            if CampaignProgress.isFinished(state, backlog: row["backlog"]) {
                try finishCampaign(db, app: Int64(key.app), taskID: key.taskID, now: now)
            }
        }
        let count = try db.cachedStatement(
            sql: """
                INSERT INTO campaign_counts (app, task_id, outcome, reason, n)
                SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM campaigns WHERE app = ?1 AND task_id = ?2)
                ON CONFLICT (app, task_id, outcome, reason) DO UPDATE SET n = n + excluded.n
                """
        )
        for r in tally.rows { try count.execute(arguments: [r.app, r.task, r.outcome, r.reason, r.n]) }
    }

    /// Finishes a sending campaign (`CampaignProgress`).
    static func finishCampaign(_ db: Database, app: Int64, taskID: String, now: Int64) throws {
        try db.execute(sql: CampaignProgress.finish { "?\($0)" }, arguments: [now, app, taskID])
        guard db.changesCount > 0 else { return }
        try insert([CallbackCommand.campaignFinished(app: app, taskID: taskID, nowMillis: now)], db: db, now: now)
    }

    // MARK: Helpers

    /// Lists of up to this many ids are bound as placeholders; longer ones as one JSON array.
    static let placeholderListLimit = 8

    /// `prefix (…)` for an `IN` list of `ids`: a few placeholders, or `json_each` over one JSON array
    /// for a longer list. Any length is then one of a handful of cached statements, and 500 ids
    /// are one bound value instead of 500. Bind `listArguments(ids)` for it.
    static func inList(_ prefix: String, _ ids: [String]) -> String {
        guard ids.count <= placeholderListLimit else { return prefix + " (SELECT value FROM json_each(?))" }
        return prefix + " (" + Array(repeating: "?", count: max(ids.count, 1)).joined(separator: ",") + ")"
    }

    /// The values `inList(_:ids)` binds.
    static func listArguments(_ ids: [String]) -> StatementArguments {
        ids.count > placeholderListLimit ? [Schema.jsonArray(ids)] : StatementArguments(ids.isEmpty ? [""] : ids)
    }

    static func args(_ app: UInt64, _ ids: [String]) -> StatementArguments {
        var arguments: StatementArguments = [Int64(app)]
        arguments += listArguments(ids)
        return arguments
    }
}

/// Thrown inside a write to roll it back and hand a value out.
struct RollbackWith<Value: Sendable>: Error {
    var value: Value

    init(_ value: Value) { self.value = value }
}

import Foundation
import NIOCore
import NIOFoundationCompat
import PostgresNIO

extension PostgresStore {
    // MARK: Attributes and tags

    public func setAttributeNames(sdkAppID: UInt64, _ names: [String: String]) async throws {
        let app = Int64(sdkAppID)
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("DELETE FROM attr_names WHERE app = \(app)", logger: logger)
            try await connection.query(
                "INSERT INTO attr_names (app, slot, name) SELECT \(app), s, n FROM unnest(\(Array(names.keys))::text[], \(Array(names.values))::text[]) AS x(s, n)",
                logger: logger
            )
        }
    }

    public func attributeNames(sdkAppID: UInt64) async throws -> [String: String] {
        var names: [String: String] = [:]
        for try await (slot, name) in try await client.query("SELECT slot, name FROM attr_names WHERE app = \(Int64(sdkAppID))", logger: logger)
            .decode((String, String).self)
        { names[slot] = name }
        return names
    }

    public func setAttributes(sdkAppID: UInt64, _ values: [(userID: String, attrs: [String: String])]) async throws {
        let rows = values.flatMap { v in v.attrs.map { (v.userID, $0.key, $0.value) } }
        guard !rows.isEmpty else { return }
        try await client.query(
            """
            INSERT INTO user_attrs (app, user_id, name, value)
            SELECT \(Int64(sdkAppID)), u, n, v FROM unnest(\(rows.map(\.0))::text[], \(rows.map(\.1))::text[], \(rows.map(\.2))::text[]) AS x(u, n, v)
            ON CONFLICT (app, user_id, name) DO UPDATE SET value = excluded.value
            """,
            logger: logger
        )
    }

    public func attributes(sdkAppID: UInt64, userIDs: [String]) async throws -> [String: [String: String]] {
        var result = Dictionary(uniqueKeysWithValues: userIDs.map { ($0, [String: String]()) })
        for try await (user, name, value) in try await client.query(
            "SELECT user_id, name, value FROM user_attrs WHERE app = \(Int64(sdkAppID)) AND user_id = ANY(\(userIDs))", logger: logger
        ).decode((String, String, String).self) { result[user, default: [:]][name] = value }
        return result
    }

    public func removeAttributes(sdkAppID: UInt64, _ names: [(userID: String, names: [String])]) async throws {
        let rows = names.flatMap { n in n.names.map { (n.userID, $0) } }
        guard !rows.isEmpty else { return }
        try await client.query(
            """
            DELETE FROM user_attrs a USING unnest(\(rows.map(\.0))::text[], \(rows.map(\.1))::text[]) AS x(u, n)
            WHERE a.app = \(Int64(sdkAppID)) AND a.user_id = x.u AND a.name = x.n
            """,
            logger: logger
        )
    }

    public func addTags(sdkAppID: UInt64, _ tags: [(userID: String, tags: [String])], maxPerUser: Int) async throws -> [String] {
        let app = Int64(sdkAppID)
        let rows = tags.flatMap { t in t.tags.map { (t.userID, $0) } }
        let users = tags.map(\.userID)
        let logger = self.logger
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO user_tags (app, user_id, tag) SELECT \(app), u, t FROM unnest(\(rows.map(\.0))::text[], \(rows.map(\.1))::text[]) AS x(u, t)
                    ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
                var over: [String] = []
                for try await user in try await connection.query(
                    """
                    SELECT user_id FROM user_tags WHERE app = \(app) AND user_id = ANY(\(users))
                    GROUP BY user_id HAVING count(*) > \(Int64(maxPerUser))
                    """,
                    logger: logger
                ).decode(String.self) { over.append(user) }
                // All or nothing: a refused request leaves every user as it was.
                if !over.isEmpty { throw RollbackWith(over) }
                return over
            }
        } catch let error as PostgresTransactionError {
            guard let refused = error.closureError as? RollbackWith<[String]> else { throw error }
            return refused.value
        }
    }

    public func tags(sdkAppID: UInt64, userIDs: [String]) async throws -> [String: [String]] {
        var result = Dictionary(uniqueKeysWithValues: userIDs.map { ($0, [String]()) })
        for try await (user, tag) in try await client.query(
            "SELECT user_id, tag FROM user_tags WHERE app = \(Int64(sdkAppID)) AND user_id = ANY(\(userIDs)) ORDER BY user_id, tag", logger: logger
        ).decode((String, String).self) { result[user, default: []].append(tag) }
        return result
    }

    public func removeTags(sdkAppID: UInt64, _ tags: [(userID: String, tags: [String])]) async throws {
        let rows = tags.flatMap { t in t.tags.map { (t.userID, $0) } }
        guard !rows.isEmpty else { return }
        try await client.query(
            """
            DELETE FROM user_tags a USING unnest(\(rows.map(\.0))::text[], \(rows.map(\.1))::text[]) AS x(u, t)
            WHERE a.app = \(Int64(sdkAppID)) AND a.user_id = x.u AND a.tag = x.t
            """,
            logger: logger
        )
    }

    public func removeAllTags(sdkAppID: UInt64, userIDs: [String]) async throws {
        try await client.query("DELETE FROM user_tags WHERE app = \(Int64(sdkAppID)) AND user_id = ANY(\(userIDs))", logger: logger)
    }

    // MARK: Audience

    public func audienceTermPage(sdkAppID: UInt64, term: AudienceTerm?, after: String, limit: Int) async throws -> [String] {
        let app = Int64(sdkAppID), limit = Int64(limit)
        let query: PostgresQuery
        switch term {
        case nil:
            query = "SELECT user_id FROM accounts WHERE app = \(app) AND user_id > \(after) ORDER BY user_id LIMIT \(limit)"
        case .tag(let tag):
            query = "SELECT user_id FROM user_tags WHERE app = \(app) AND tag = \(tag) AND user_id > \(after) ORDER BY user_id LIMIT \(limit)"
        case .attr(let name, let value):
            query = """
                SELECT user_id FROM user_attrs WHERE app = \(app) AND name = \(name) AND value = \(value) AND user_id > \(after)
                ORDER BY user_id LIMIT \(limit)
                """
        }
        var users: [String] = []
        for try await user in try await client.query(query, logger: logger).decode(String.self) { users.append(user) }
        return users
    }

    public func audienceMembers(sdkAppID: UInt64, term: AudienceTerm, among userIDs: [String]) async throws -> Set<String> {
        guard !userIDs.isEmpty else { return [] }
        let app = Int64(sdkAppID)
        let query: PostgresQuery
        switch term {
        case .tag(let tag):
            query = "SELECT user_id FROM user_tags WHERE app = \(app) AND tag = \(tag) AND user_id = ANY(\(userIDs))"
        case .attr(let name, let value):
            query = "SELECT user_id FROM user_attrs WHERE app = \(app) AND name = \(name) AND value = \(value) AND user_id = ANY(\(userIDs))"
        }
        var found = Set<String>()
        for try await user in try await client.query(query, logger: logger).decode(String.self) { found.insert(user) }
        return found
    }

    // MARK: Campaigns

    public func createCampaign(_ c: NewCampaign, quota: CampaignQuota) async throws -> CampaignAdmission {
        let now = clock.nowMillis()
        let app = Int64(c.sdkAppID)
        let logger = self.logger
        let audience = try CampaignRow.encode(c.audience)
        return try await client.withTransaction(logger: logger) { connection in
            // Serialises concurrent creations of one app across processes.
            try await connection.query("SELECT pg_advisory_xact_lock(7726002, \(Int32(truncatingIfNeeded: app)))", logger: logger)
            for try await task in try await connection.query(
                "SELECT task_id FROM campaigns WHERE app = \(app) AND msg_random = \(c.msgRandom) AND created_at >= \(now - quota.dedupeWindowMillis) LIMIT 1",
                logger: logger
            ).decode(String.self) { return .duplicate(taskID: task) }
            for try await (last, today) in try await connection.query(
                "SELECT max(created_at), count(*) FILTER (WHERE created_at > \(now - 86_400_000)) FROM campaigns WHERE app = \(app)", logger: logger
            ).decode((Int64?, Int64).self) {
                if let last, now - last <= quota.minIntervalMillis { return .tooFrequent }
                if today >= quota.perDay { return .quotaExceeded }
            }
            try await connection.query(
                """
                INSERT INTO campaigns (app, task_id, msg_random, state, audience, template, counts_badge, created_at)
                VALUES (\(app), \(c.taskID), \(c.msgRandom), \(CampaignState.running.rawValue), \(audience), \(ByteBuffer(data: c.template)),
                        \(Int64(c.countsForBadge ? 1 : 0)), \(now))
                """,
                logger: logger
            )
            return .created
        }
    }

    public func campaign(sdkAppID: UInt64, taskID: String) async throws -> CampaignStatus? {
        try await statuses(
            "SELECT \(unescaped: CampaignRow.statusColumns) FROM campaigns WHERE app = \(Int64(sdkAppID)) AND task_id = \(taskID)"
        ).first
    }

    public func campaigns(sdkAppID: UInt64, fromMillis: Int64, toMillis: Int64, limit: Int) async throws -> [CampaignStatus] {
        try await statuses(
            """
            SELECT \(unescaped: CampaignRow.statusColumns) FROM campaigns
            WHERE app = \(Int64(sdkAppID)) AND created_at >= \(fromMillis) AND created_at < \(toMillis) ORDER BY created_at LIMIT \(Int64(limit))
            """
        )
    }

    private func statuses(_ query: PostgresQuery) async throws -> [CampaignStatus] {
        var statuses: [CampaignStatus] = []
        for try await row in try await client.query(query, logger: logger) {
            let r = row.makeRandomAccess()
            statuses.append(
                CampaignRow.status(
                    app: try r["app"].decode(Int64.self), taskID: try r["task_id"].decode(String.self), state: try r["state"].decode(String.self),
                    audienceSize: try r["audience_size"].decode(Int64?.self), users: try r["users"].decode(Int64.self),
                    noDevice: try r["no_device"].decode(Int64.self), devices: try r["devices"].decode(Int64.self), jobs: try r["jobs"].decode(Int64.self),
                    jobsDone: try r["jobs_done"].decode(Int64.self), jobsCancelled: try r["jobs_cancelled"].decode(Int64.self),
                    createdAt: try r["created_at"].decode(Int64.self), walkedAt: try r["walked_at"].decode(Int64?.self),
                    finishedAt: try r["finished_at"].decode(Int64?.self)
                )
            )
        }
        for index in statuses.indices {
            for try await (outcome, reason, n) in try await client.query(
                "SELECT outcome, reason, n FROM campaign_counts WHERE app = \(Int64(statuses[index].sdkAppID)) AND task_id = \(statuses[index].taskID)",
                logger: logger
            ).decode((String, String, Int64).self) { statuses[index].outcomes[.init(outcome, reason), default: 0] += Int(n) }
        }
        return statuses
    }

    public func cancelCampaign(sdkAppID: UInt64, taskID: String) async throws -> Bool {
        let now = clock.nowMillis()
        let app = Int64(sdkAppID)
        let running = CampaignState.running.rawValue, sending = CampaignState.sending.rawValue
        var cancelled = false
        // One statement, jobs before the campaign row: the order in which completing workers lock
        // them, so a cancel never deadlocks with a completion. starts_with, not a range: the key
        // column sorts by the database's collation.
        for try await _ in try await client.query(
            """
            WITH dropped AS (
              UPDATE jobs SET done_at = \(now), payload = ''::bytea, last_error = 'Cancelled'
              WHERE app = \(app) AND starts_with(idempotency_key, \(CampaignKeys.keyRange(taskID: taskID).lower))
                AND lane = \(Int64(Lane.campaign.rawValue)) AND done_at IS NULL
                AND EXISTS (SELECT 1 FROM campaigns WHERE app = \(app) AND task_id = \(taskID) AND state IN (\(running), \(sending)))
              RETURNING 1
            )
            UPDATE campaigns SET state = \(CampaignState.cancelled.rawValue), finished_at = \(now), jobs_cancelled = (SELECT count(*) FROM dropped)
            WHERE app = \(app) AND task_id = \(taskID) AND state IN (\(running), \(sending))
            RETURNING 1
            """,
            logger: logger
        ) { cancelled = true }
        return cancelled
    }

    public func leaseCampaign(leaseMillis: Int64) async throws -> CampaignWalk? {
        let now = clock.nowMillis()
        return try await walks(
            """
            UPDATE campaigns SET lease_until = \(now + leaseMillis)
            WHERE (app, task_id) = (SELECT app, task_id FROM campaigns WHERE state = \(CampaignState.running.rawValue) AND lease_until <= \(now)
                                    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING \(unescaped: CampaignRow.walkColumns)
            """,
            on: nil
        ).first
    }

    private func walks(_ query: PostgresQuery, on connection: PostgresConnection?) async throws -> [CampaignWalk] {
        let rows: PostgresRowSequence
        if let connection {
            rows = try await connection.query(query, logger: logger)
        } else {
            rows = try await client.query(query, logger: logger)
        }
        var walks: [CampaignWalk] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            walks.append(
                CampaignWalk(
                    sdkAppID: UInt64(clamping: try r["app"].decode(Int64.self)), taskID: try r["task_id"].decode(String.self),
                    audience: try CampaignRow.decode(try r["audience"].decode(String.self)),
                    template: Data(buffer: try r["template"].decode(ByteBuffer.self)), countsForBadge: try r["counts_badge"].decode(Int64.self) != 0,
                    cursor: try r["cursor"].decode(String.self), audienceSize: try r["audience_size"].decode(Int64?.self).map(Int.init),
                    backlog: Int(try r["jobs"].decode(Int64.self) - r["jobs_done"].decode(Int64.self)),
                    leaseUntilMillis: try r["lease_until"].decode(Int64.self)
                )
            )
        }
        return walks
    }

    public func setAudienceSize(_ walk: CampaignWalk, size: Int) async throws {
        try await client.query(
            """
            UPDATE campaigns SET audience_size = \(Int64(size))
            WHERE app = \(Int64(walk.sdkAppID)) AND task_id = \(walk.taskID) AND lease_until = \(walk.leaseUntilMillis)
            """,
            logger: logger
        )
    }

    public func advanceCampaign(
        _ walk: CampaignWalk, cursor: String, users: Int, usersWithoutDevice: Int, devices: Int, jobs: [NewJob], last: Bool,
        leaseMillis: Int64, claimMillis: Int64?
    ) async throws -> CampaignStep? {
        let now = clock.nowMillis()
        let app = Int64(walk.sdkAppID)
        let logger = self.logger
        let inserting = ClaimedInsert(jobs, now: now, claimMillis: claimMillis)
        return try await client.withTransaction(logger: logger) { connection -> CampaignStep? in
            // Only the walker holding the lease, on a campaign still running, may write.
            var held = false
            for try await _ in try await connection.query(
                """
                SELECT 1 FROM campaigns WHERE app = \(app) AND task_id = \(walk.taskID) AND state = \(CampaignState.running.rawValue)
                  AND lease_until = \(walk.leaseUntilMillis) AND cursor = \(walk.cursor) FOR UPDATE
                """,
                logger: logger
            ) { held = true }
            guard held else { return nil }
            let ids = try await Self.insertRows(inserting, connection: connection, logger: logger)
            let enqueued = Int64(ids.filter { $0 != nil }.count)
            let sending = CampaignState.sending.rawValue
            let next = try await self.walks(
                """
                UPDATE campaigns SET cursor = \(cursor), users = users + \(Int64(users)), no_device = no_device + \(Int64(usersWithoutDevice)),
                  devices = devices + \(Int64(devices)), jobs = jobs + \(enqueued), lease_until = \(now + leaseMillis),
                  state = CASE WHEN \(last) THEN \(sending) ELSE state END, walked_at = CASE WHEN \(last) THEN \(now)::bigint END
                WHERE app = \(app) AND task_id = \(walk.taskID)
                RETURNING \(unescaped: CampaignRow.walkColumns)
                """,
                on: connection
            ).first
            guard let next else { return nil }
            if CampaignProgress.isFinished(last ? .sending : .running, backlog: next.backlog) {
                try await Self.finishCampaign(connection, app: app, taskID: walk.taskID, now: now, logger: logger)
            }
            return CampaignStep(walk: next, claimed: inserting.claimed(ids: ids))
        }
    }

    /// Finishes a sending campaign (`CampaignProgress`).
    static func finishCampaign(_ connection: PostgresConnection, app: Int64, taskID: String, now: Int64, logger: Logger) async throws {
        var binds = PostgresBindings()
        binds.append(now)
        binds.append(app)
        binds.append(taskID)
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: CampaignProgress.finish { "$\($0)" } + " RETURNING task_id", binds: binds), logger: logger
        )
        var finished = false
        for try await _ in rows { finished = true }
        guard finished else { return }
        try await insert([CallbackCommand.campaignFinished(app: app, taskID: taskID, nowMillis: now)], connection: connection, now: now, logger: logger)
    }

    /// Folds finished campaign jobs and their device outcomes into the campaigns' counts, inside
    /// the completing transaction; a campaign whose last push finished is Finished.
    static func tally(_ tally: CampaignTally, connection: PostgresConnection, now: Int64, logger: Logger) async throws {
        guard !tally.isEmpty else { return }
        // One campaign row at a time, in a fixed order: concurrent completions never deadlock.
        for (key, n) in tally.jobsDone.sorted(by: { ($0.key.app, $0.key.taskID) < ($1.key.app, $1.key.taskID) }) {
            let app = Int64(key.app)
            let rows = try await connection.query(
                "UPDATE campaigns SET jobs_done = jobs_done + \(Int64(n)) WHERE app = \(app) AND task_id = \(key.taskID) RETURNING state, jobs - jobs_done",
                logger: logger
            )
            // Read to the end before the next statement on this connection.
            var finished = false
            for try await (state, backlog) in rows.decode((String, Int64).self) {
                finished = CampaignState(rawValue: state).map { CampaignProgress.isFinished($0, backlog: Int(clamping: backlog)) } ?? false
            }
            if finished { try await finishCampaign(connection, app: app, taskID: key.taskID, now: now, logger: logger) }
        }
        let rows = tally.rows
        if !rows.isEmpty {
            try await connection.query(
                """
                INSERT INTO campaign_counts (app, task_id, outcome, reason, n)
                SELECT x.a, x.t, x.o, x.r, x.n
                FROM unnest(\(rows.map(\.app))::bigint[], \(rows.map(\.task))::text[], \(rows.map(\.outcome))::text[], \(rows.map(\.reason))::text[],
                            \(rows.map(\.n))::bigint[]) AS x(a, t, o, r, n)
                WHERE EXISTS (SELECT 1 FROM campaigns c WHERE c.app = x.a AND c.task_id = x.t)
                ORDER BY x.a, x.t, x.o, x.r
                ON CONFLICT (app, task_id, outcome, reason) DO UPDATE SET n = campaign_counts.n + excluded.n
                """,
                logger: logger
            )
        }
    }
}

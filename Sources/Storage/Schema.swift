import Foundation
import Messaging
import PushCore

/// The tables both backends create; column types differ, names and meaning do not.
///
/// - `jobs`: one row per push job. `available_at` is when it may be claimed: `not_before` while it
///   waits, the lease expiry while a worker holds it. `claim` counts claims so a late finish from an
///   expired lease is ignored. Finished jobs keep their row (and so their idempotency key) until
///   purged, with the payload emptied.
/// - `devices`, `push_records`, `dead_letters`: as their names say.
enum Schema {
    /// Column types per dialect.
    struct Types {
        let int: String
        let blob: String
        let serial: String

        init(_ dialect: Dialect) {
            int = dialect == .sqlite ? "INTEGER" : "BIGINT"
            blob = dialect == .sqlite ? "BLOB" : "BYTEA"
            serial = dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"
        }
    }

    /// Every version's statements, oldest first; a store records how many it has run.
    static func migrations(_ dialect: Dialect) -> [[String]] {
        [sql(dialect), v2(dialect), v3(dialect), v4(dialect), v5(dialect), v6(dialect), v7(dialect), v8(dialect), v9(dialect), v10(dialect)]
    }

    static func sql(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE jobs (
              id \(t.serial),
              app \(t.int) NOT NULL,
              idempotency_key TEXT NOT NULL,
              lane \(t.int) NOT NULL,
              user_id TEXT NOT NULL,
              payload \(t.blob) NOT NULL,
              devices TEXT,
              attempts \(t.int) NOT NULL DEFAULT 0,
              claim \(t.int) NOT NULL DEFAULT 0,
              available_at \(t.int) NOT NULL,
              enqueued_at \(t.int) NOT NULL,
              done_at \(t.int),
              last_error TEXT,
              UNIQUE (app, idempotency_key)
            )
            """,
            "CREATE INDEX jobs_ready ON jobs (lane, available_at) WHERE done_at IS NULL",
            "CREATE INDEX jobs_done ON jobs (done_at) WHERE done_at IS NOT NULL",
            """
            CREATE TABLE devices (
              app \(t.int) NOT NULL,
              user_id TEXT NOT NULL,
              device_id TEXT NOT NULL,
              vendor TEXT NOT NULL,
              token TEXT NOT NULL,
              locale TEXT,
              sandbox \(t.int) NOT NULL DEFAULT 0,
              state TEXT NOT NULL,
              badge \(t.int) NOT NULL DEFAULT 0,
              registered_at \(t.int) NOT NULL,
              state_changed_at \(t.int) NOT NULL,
              invalidated_at \(t.int),
              PRIMARY KEY (app, user_id, device_id)
            )
            """,
            """
            CREATE TABLE push_records (
              id \(t.serial),
              app \(t.int) NOT NULL,
              job_key TEXT NOT NULL,
              user_id TEXT NOT NULL,
              device_id TEXT NOT NULL,
              vendor TEXT NOT NULL,
              outcome TEXT NOT NULL,
              reason TEXT,
              vendor_message_id TEXT,
              attempts \(t.int) NOT NULL,
              at \(t.int) NOT NULL
            )
            """,
            "CREATE INDEX push_records_key ON push_records (app, job_key)",
            "CREATE INDEX push_records_at ON push_records (at)",
            """
            CREATE TABLE dead_letters (
              id \(t.serial),
              app \(t.int) NOT NULL,
              job_id \(t.int) NOT NULL,
              idempotency_key TEXT NOT NULL,
              lane \(t.int) NOT NULL,
              user_id TEXT NOT NULL,
              payload \(t.blob) NOT NULL,
              device_id TEXT NOT NULL,
              vendor TEXT NOT NULL,
              token TEXT NOT NULL,
              last_error TEXT NOT NULL,
              attempts \(t.int) NOT NULL,
              created_at \(t.int) NOT NULL
            )
            """,
        ]
    }

    /// Version 2: accounts and their profile items.
    static func v2(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE accounts (
              app \(t.int) NOT NULL,
              user_id TEXT NOT NULL,
              created_at \(t.int) NOT NULL,
              PRIMARY KEY (app, user_id)
            )
            """,
            """
            CREATE TABLE profile_items (
              app \(t.int) NOT NULL,
              user_id TEXT NOT NULL,
              tag TEXT NOT NULL,
              value TEXT NOT NULL,
              PRIMARY KEY (app, user_id, tag)
            )
            """,
        ]
    }

    /// Version 3: messages.
    static func v3(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE messages (
              id \(t.serial),
              app \(t.int) NOT NULL,
              msg_key TEXT NOT NULL,
              from_account TEXT NOT NULL,
              to_account TEXT NOT NULL,
              group_id TEXT NOT NULL,
              msg_seq \(t.int) NOT NULL,
              msg_random \(t.int) NOT NULL,
              msg_time \(t.int) NOT NULL,
              body \(t.blob) NOT NULL,
              dedupe TEXT NOT NULL,
              created_at \(t.int) NOT NULL,
              expires_at \(t.int) NOT NULL,
              UNIQUE (app, msg_key, to_account)
            )
            """,
            "CREATE INDEX messages_dedupe ON messages (app, dedupe, created_at)",
            "CREATE INDEX messages_expiry ON messages (expires_at)",
        ]
    }

    /// Version 4: groups with their members and message sequence, receive options.
    static func v4(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE im_groups (
              app \(t.int) NOT NULL,
              group_id TEXT NOT NULL,
              type TEXT NOT NULL,
              name TEXT NOT NULL,
              owner TEXT NOT NULL,
              last_seq \(t.int) NOT NULL DEFAULT 0,
              created_at \(t.int) NOT NULL,
              PRIMARY KEY (app, group_id)
            )
            """,
            """
            CREATE TABLE group_members (
              app \(t.int) NOT NULL,
              group_id TEXT NOT NULL,
              user_id TEXT NOT NULL,
              role TEXT NOT NULL,
              msg_flag TEXT NOT NULL,
              name_card TEXT NOT NULL,
              joined_at \(t.int) NOT NULL,
              PRIMARY KEY (app, group_id, user_id)
            )
            """,
            "CREATE INDEX group_members_user ON group_members (app, user_id)",
            // conversation '' holds the user-wide do-not-disturb window.
            """
            CREATE TABLE receive_opts (
              app \(t.int) NOT NULL,
              user_id TEXT NOT NULL,
              conversation TEXT NOT NULL,
              muted \(t.int) NOT NULL DEFAULT 0,
              dnd_start \(t.int) NOT NULL DEFAULT 0,
              dnd_duration \(t.int) NOT NULL DEFAULT 0,
              PRIMARY KEY (app, user_id, conversation)
            )
            """,
        ]
    }

    /// Version 5: attribute names, user attributes and tags (indexed for selection), campaigns and
    /// their outcome counts. Selection keys sort by bytes on both backends (`COLLATE "C"`), as the
    /// audience walk merges pages in that order.
    static func v5(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        let key = dialect == .sqlite ? "TEXT" : "TEXT COLLATE \"C\""
        return [
            """
            CREATE TABLE attr_names (
              app \(t.int) NOT NULL,
              slot TEXT NOT NULL,
              name TEXT NOT NULL,
              PRIMARY KEY (app, slot)
            )
            """,
            """
            CREATE TABLE user_attrs (
              app \(t.int) NOT NULL,
              user_id \(key) NOT NULL,
              name \(key) NOT NULL,
              value \(key) NOT NULL,
              PRIMARY KEY (app, user_id, name)
            )
            """,
            "CREATE INDEX user_attrs_value ON user_attrs (app, name, value, user_id)",
            """
            CREATE TABLE user_tags (
              app \(t.int) NOT NULL,
              user_id \(key) NOT NULL,
              tag \(key) NOT NULL,
              PRIMARY KEY (app, user_id, tag)
            )
            """,
            "CREATE INDEX user_tags_tag ON user_tags (app, tag, user_id)",
            """
            CREATE TABLE campaigns (
              app \(t.int) NOT NULL,
              task_id TEXT NOT NULL,
              msg_random \(t.int) NOT NULL,
              state TEXT NOT NULL,
              audience TEXT NOT NULL,
              template \(t.blob) NOT NULL,
              counts_badge \(t.int) NOT NULL,
              audience_size \(t.int),
              cursor \(key) NOT NULL DEFAULT '',
              users \(t.int) NOT NULL DEFAULT 0,
              no_device \(t.int) NOT NULL DEFAULT 0,
              devices \(t.int) NOT NULL DEFAULT 0,
              jobs \(t.int) NOT NULL DEFAULT 0,
              jobs_done \(t.int) NOT NULL DEFAULT 0,
              jobs_cancelled \(t.int) NOT NULL DEFAULT 0,
              lease_until \(t.int) NOT NULL DEFAULT 0,
              created_at \(t.int) NOT NULL,
              walked_at \(t.int),
              finished_at \(t.int),
              PRIMARY KEY (app, task_id)
            )
            """,
            "CREATE INDEX campaigns_random ON campaigns (app, msg_random, created_at)",
            "CREATE INDEX campaigns_created ON campaigns (app, created_at)",
            """
            CREATE TABLE campaign_counts (
              app \(t.int) NOT NULL,
              task_id TEXT NOT NULL,
              outcome TEXT NOT NULL,
              reason TEXT NOT NULL,
              n \(t.int) NOT NULL,
              PRIMARY KEY (app, task_id, outcome, reason)
            )
            """,
        ]
    }

    /// Version 6: roaming (`admin_getroammsg`) finds a conversation's messages through an index
    /// instead of reading every message of the app.
    static func v6(_ dialect: Dialect) -> [String] {
        ["CREATE INDEX messages_conversation ON messages (app, from_account, to_account, msg_time)"]
    }

    /// Version 7: a batch message is stored once; its recipients are listed here, in message order
    /// (the purge drops a prefix) and by conversation (roaming).
    static func v7(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE message_recipients (
              message_id \(t.int) NOT NULL,
              to_account TEXT NOT NULL,
              app \(t.int) NOT NULL,
              from_account TEXT NOT NULL,
              msg_time \(t.int) NOT NULL,
              PRIMARY KEY (message_id, to_account)
            )\(dialect == .sqlite ? " WITHOUT ROWID" : "")
            """,
            "CREATE INDEX message_recipients_conversation ON message_recipients (app, from_account, to_account, msg_time)",
        ]
    }

    /// Version 8: `messages_expiry` goes; no query reads it (the purge goes by `created_at`), and
    /// every stored message paid an index entry for it.
    static func v8(_ dialect: Dialect) -> [String] {
        ["DROP INDEX IF EXISTS messages_expiry"]
    }

    /// Version 9: a batch recipient is one short row in message order and nothing else. Roaming finds
    /// a sender's batch messages in time order through `messages_conversation` (a batch row has no
    /// `to_account` and no `group_id`) and probes each for the peer. The per-recipient conversation
    /// index it replaces put a batch's 500 entries on 500 leaf pages: most of a batch's write.
    static func v9(_ dialect: Dialect) -> [String] {
        [
            "DROP INDEX IF EXISTS message_recipients_conversation",
            "ALTER TABLE message_recipients DROP COLUMN app",
            "ALTER TABLE message_recipients DROP COLUMN from_account",
            "ALTER TABLE message_recipients DROP COLUMN msg_time",
            "DROP INDEX IF EXISTS messages_conversation",
            "CREATE INDEX messages_conversation ON messages (app, from_account, to_account, group_id, msg_time)",
        ]
    }

    /// Version 10: `open_claims`, the claims of a job since it last finished a round. A job whose
    /// worker dies before finishing (a crash, a kill, a lost lease) is claimed again with it one
    /// higher; past `max_attempts` the dispatcher dead-letters it instead of sending it again, so one
    /// poison job cannot crash-loop the daemon.
    static func v10(_ dialect: Dialect) -> [String] {
        ["ALTER TABLE jobs ADD COLUMN open_claims \(Types(dialect).int) NOT NULL DEFAULT 0"]
    }

    /// One page of the C2C conversation between `?2` and `?3` (app `?1`), newest first: messages in
    /// `?4 ... ?5` older than the cursor `(?6 time, ?7 id)`, at most `?8`. Each of the four parts
    /// (either direction, single or batch) reads one index range in the page's order, so the merge
    /// stops at the limit; a batch part probes each of the sender's batches for the peer.
    /// `placeholder(n)` spells parameter n in the dialect.
    static func conversationPage(_ placeholder: (Int) -> String) -> String {
        let p = (1...8).map(placeholder)
        func part(from: String, to: String, batch: Bool) -> String {
            let window = "msg_time BETWEEN \(p[3]) AND \(p[4]) AND (msg_time, id) < (\(p[5]), \(p[6]))"
            guard batch else {
                return """
                    SELECT id, msg_key, from_account, to_account, msg_seq, msg_random, msg_time, body FROM messages
                    WHERE app = \(p[0]) AND from_account = \(from) AND to_account = \(to) AND group_id = '' AND \(window)
                    """
            }
            return """
                SELECT id, msg_key, from_account, \(to), msg_seq, msg_random, msg_time, body FROM messages m
                WHERE app = \(p[0]) AND from_account = \(from) AND to_account = '' AND group_id = '' AND \(window)
                  AND EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id AND r.to_account = \(to))
                """
        }
        let parts = [(p[1], p[2], false), (p[2], p[1], false), (p[1], p[2], true), (p[2], p[1], true)]
        return parts.map { part(from: $0.0, to: $0.1, batch: $0.2) }.joined(separator: "\nUNION ALL\n")
            + "\nORDER BY msg_time DESC, id DESC LIMIT \(p[7])"
    }

    /// Drops the recipients of purged batch messages (those below the oldest message kept).
    static let purgeRecipients = """
        DELETE FROM message_recipients WHERE message_id < coalesce((SELECT min(id) FROM messages), 9223372036854775807)
        """

    /// Stored messages are kept for roaming this long after they were sent, whatever their
    /// offline lifetime (`MsgLifeTime` is at most as long).
    static let roamingMillis: Int64 = 7 * 24 * 3600 * 1000

    enum Dialect { case sqlite, postgres }

    /// The `devices` column of a job: a JSON array of device ids, or NULL for every device.
    static func encodeDevices(_ ids: [String]?) -> String? {
        ids.map(jsonArray)
    }

    /// A JSON array of strings, as `json_each` and `decodeDevices` read it.
    static func jsonArray(_ strings: [String]) -> String {
        var writer = JSONWriter(capacity: strings.reduce(2) { $0 + $1.utf8.count + 3 })
        writer.beginArray()
        for string in strings { writer.string(string) }
        writer.endArray()
        return String(decoding: writer.finish(), as: UTF8.self)
    }

    static func decodeDevices(_ text: String?) -> [String]? {
        guard let text, let ids = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else { return nil }
        return ids
    }

    /// The job that replays a dead letter: its device only, attempts from zero, under a key of its
    /// own (so it is not taken for a duplicate, and replaying the same letter twice is a no-op).
    static func replayJob(_ letter: DeadLetter) -> NewJob {
        NewJob(
            sdkAppID: letter.sdkAppID, idempotencyKey: "\(letter.idempotencyKey)#replay-\(letter.id)", lane: letter.lane,
            userID: letter.userID, payload: letter.payload, deviceIDs: [letter.deviceID]
        )
    }

    /// How far a completion moves a job: the retry's values or the finished state.
    struct Finish {
        var devices: String?
        var attemptsDelta: Int
        var availableAt: Int64
        var lastError: String?
        var done: Bool

        init(_ completion: JobCompletion, now: Int64) {
            if let retry = completion.retry {
                devices = encodeDevices(retry.deviceIDs)
                attemptsDelta = retry.countsAsAttempt ? 1 : 0
                availableAt = retry.notBeforeMillis
                lastError = retry.lastError
                done = false
            } else {
                devices = nil
                attemptsDelta = 0
                availableAt = now
                lastError = nil
                done = true
            }
        }
    }

    /// The attempt count recorded for a completion's dead letters and records.
    static func attempts(_ completion: JobCompletion) -> Int {
        completion.job.attempts + 1
    }
}

extension Device {
    /// A device read from a row's columns.
    static func fromColumns(
        app: Int64, userID: String, deviceID: String, vendor: String, token: String, locale: String?, sandbox: Int64,
        state: String, badge: Int64, registeredAt: Int64, stateChangedAt: Int64, invalidatedAt: Int64?
    ) -> Device? {
        guard let vendor = Vendor(rawValue: vendor), let state = DeviceState(rawValue: state) else { return nil }
        return Device(
            sdkAppID: UInt64(app), userID: userID, deviceID: deviceID, vendor: vendor, token: token,
            locale: locale.flatMap(PushLocale.init(rawValue:)), sandbox: sandbox != 0, state: state, badge: Int(badge),
            registeredAtMillis: registeredAt, stateChangedAtMillis: stateChangedAt, invalidatedAtMillis: invalidatedAt
        )
    }
}

extension ReceiveSettings {
    /// Folds one `receive_opts` row into the settings of its user.
    static func merge(into settings: inout [ExactString: ReceiveSettings], user: String, conversation: String, muted: Int64, start: Int64, duration: Int64) {
        let user = ExactString(user)
        var s = settings[user] ?? ReceiveSettings()
        if conversation.isEmpty {
            s.doNotDisturb = duration > 0 ? DoNotDisturb(start: start, duration: duration) : nil
        } else {
            s.muted = muted != 0
        }
        settings[user] = s
    }
}

extension SendFacts {
    /// Folds one row of an accounts-left-join-profile_items query into the profiles: an item, or
    /// (no tag) an imported account without items.
    static func merge(into profiles: inout Profiles, user: String, tag: String?, value: String?) {
        let user = ExactString(user)
        if let tag, let value {
            profiles[user, default: [:]][tag] = value
        } else if profiles[user] == nil {
            profiles[user] = [:]
        }
    }
}

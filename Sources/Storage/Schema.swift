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
        [sql(dialect), v2(dialect), v3(dialect), v4(dialect), v5(dialect), v6(dialect), v7(dialect), v8(dialect), v9(dialect), v10(dialect), v11(dialect), v12(dialect), v13(dialect), v14(dialect)]
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

    /// Version 11: `unread`, a user's unread count per C2C peer (`get_c2c_unread_msg_num`), raised
    /// with the badge when a counted job is enqueued and cleared by a read mark
    /// (`admin_set_msg_read`), which lowers the badge by as much. `last_at` is when the newest
    /// counted message arrived. SQLite keeps it `WITHOUT ROWID`, one B-tree instead of a table and
    /// its key index. Every counted C2C push writes a row: expanding a batch fan-out costs about 20 %
    /// more (docs/benchmarks.md).
    static func v11(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE unread (
              app \(t.int) NOT NULL,
              user_id TEXT NOT NULL,
              peer TEXT NOT NULL,
              count \(t.int) NOT NULL,
              last_at \(t.int) NOT NULL,
              PRIMARY KEY (app, user_id, peer)
            )\(dialect == .sqlite ? " WITHOUT ROWID" : "")
            """
        ]
    }

    /// Version 12: `muted_until` (milliseconds), until when a member may not send to the group
    /// (`forbid_send_msg`); 0 when they may.
    static func v12(_ dialect: Dialect) -> [String] {
        ["ALTER TABLE group_members ADD COLUMN muted_until \(Types(dialect).int) NOT NULL DEFAULT 0"]
    }

    /// Version 13: `withdrawn`, the messages withdrawn (`admin_msgwithdraw`, `group_msg_recall`),
    /// by `Withdrawal.reference`, so a second withdrawal is told apart from a message that never was.
    static func v13(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE withdrawn (
              app \(t.int) NOT NULL,
              ref TEXT NOT NULL,
              at \(t.int) NOT NULL,
              PRIMARY KEY (app, ref)
            )
            """,
            "CREATE INDEX messages_group_seq ON messages (app, group_id, msg_seq) WHERE group_id <> ''",
        ]
    }

    /// Version 14: events for the IM servers (`callback_events`), written in the transaction that
    /// decides them and deleted once their endpoint accepted them. `available_at` is when the
    /// event may next be claimed: now, after a failed POST's backoff, or the end of a sender's lease.
    static func v14(_ dialect: Dialect) -> [String] {
        let t = Types(dialect)
        return [
            """
            CREATE TABLE callback_events (
              id \(t.serial),
              app \(t.int) NOT NULL,
              command TEXT NOT NULL,
              body \(t.blob) NOT NULL,
              attempts \(t.int) NOT NULL DEFAULT 0,
              available_at \(t.int) NOT NULL,
              created_at \(t.int) NOT NULL
            )
            """,
            "CREATE INDEX callback_events_ready ON callback_events (available_at)",
        ]
    }

    enum Dialect { case sqlite, postgres }
}

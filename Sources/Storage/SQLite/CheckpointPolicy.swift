import GRDB
import GRDBSQLite
import Synchronization

/// When the writer copies SQLite's write-ahead log back into the database file.
///
/// SQLite's automatic checkpoint runs inside whichever commit takes the log past 1,000 pages; during
/// a campaign that is often a chat enqueue, which then waits for the checkpoint's two syncs. Here the
/// connection's own automatic checkpoint is replaced by a hook that only counts the log's pages, and
/// the write queue checkpoints between transactions when no urgent write waits and none has run for
/// `quiet`, so that the syncs fall into chat's gaps. Two bounds keep the log from growing without
/// end: past `eager` pages it checkpoints whenever no urgent write waits, and past `forced` pages the
/// commit that crosses it checkpoints as SQLite's default would.
final class CheckpointPolicy: Sendable {
    /// Log pages after which a quiet moment is used for a checkpoint (SQLite's default threshold).
    let threshold: Int
    /// Log pages after which a checkpoint is taken whenever no urgent transaction waits.
    let eager: Int
    /// Log pages after which the committing transaction checkpoints, whatever waits.
    let forced: Int
    /// Time without urgent writes that counts as a quiet moment.
    let quiet: Duration

    private let pages = Atomic<Int>(0)

    init(threshold: Int = 1_000, eager: Int = 4_000, forced: Int = 10_000, quiet: Duration = .milliseconds(3)) {
        self.threshold = threshold
        self.eager = eager
        self.forced = forced
        self.quiet = quiet
    }

    /// Installs the page-counting hook on a connection, in place of SQLite's automatic checkpoint.
    /// The policy must outlive every commit on the connection (the write queue that owns it runs them).
    func install(on db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, name, count in
            guard let context else { return SQLITE_OK }
            let policy = Unmanaged<CheckpointPolicy>.fromOpaque(context).takeUnretainedValue()
            let pages = Int(count)
            policy.pages.store(pages, ordering: .relaxed)
            if pages >= policy.forced {
                sqlite3_wal_checkpoint(connection, name)
                policy.pages.store(0, ordering: .relaxed)
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Whether to checkpoint now, between transactions: `urgentWaiting` when an urgent transaction
    /// is queued, `sinceUrgent` the time since the last urgent one ended (nil: none yet).
    func due(urgentWaiting: Bool, sinceUrgent: Duration?) -> Bool {
        guard !urgentWaiting else { return false }
        let pages = pages.load(ordering: .relaxed)
        if pages >= eager { return true }
        guard pages >= threshold else { return false }
        return sinceUrgent.map { $0 >= quiet } ?? true
    }

    /// A passive checkpoint on the writer; failures (a reader holding old pages) leave the rest for
    /// the next one.
    func checkpoint(_ db: Database) {
        _ = try? db.checkpoint(.passive)
        pages.store(0, ordering: .relaxed)
    }
}

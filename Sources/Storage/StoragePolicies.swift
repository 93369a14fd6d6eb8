import Foundation
import Messaging
import PushCore

/// Rules both dialects apply the same way: the conversation page, the retention of messages and
/// their recipients, replaying a dead letter, what a completion does to a job.
extension Schema {
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

/// A campaign's life after it is created, one rule for both dialects: `running` while its walker
/// selects users, `sending` once the last page is enqueued, `finished` when a sending campaign has
/// no job left to finish. The stores write the counts, read back the state and the backlog, and
/// finish the campaign when this says so, in the same transaction.
enum CampaignProgress {
    /// Whether a campaign in `state` with `backlog` jobs not yet done is finished.
    static func isFinished(_ state: CampaignState, backlog: Int) -> Bool {
        state == .sending && backlog <= 0
    }

    /// Finishes a sending campaign: `?1` now, `?2` app, `?3` task. `placeholder(n)` spells
    /// parameter n in the dialect.
    static func finish(_ placeholder: (Int) -> String) -> String {
        """
        UPDATE campaigns SET state = '\(CampaignState.finished.rawValue)', finished_at = \(placeholder(1))
        WHERE app = \(placeholder(2)) AND task_id = \(placeholder(3)) AND state = '\(CampaignState.sending.rawValue)'
        """
    }
}

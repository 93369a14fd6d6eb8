import Foundation
import Messaging
import PushCore

/// Priority lanes: every ready chat job is claimed before any campaign job, whatever the backlog.
public enum Lane: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case chat = 0
    case campaign = 1

    public var description: String { self == .chat ? "chat" : "campaign" }

    public init?(name: String) {
        switch name.lowercased() {
        case "chat": self = .chat
        case "campaign": self = .campaign
        default: return nil
        }
    }
}

/// A push job to enqueue: one message for one recipient.
public struct NewJob: Sendable, Equatable {
    public var sdkAppID: UInt64
    /// Re-enqueueing a key the queue already holds (pending or finished within the retention) is a no-op.
    public var idempotencyKey: String
    public var lane: Lane
    public var userID: String
    /// The job as the dispatcher reads it (JSON); opaque to the queue.
    public var payload: Data
    /// Limit the job to these devices of the user (a replayed dead letter); nil for all of them.
    public var deviceIDs: [String]?
    /// When the job becomes claimable, in milliseconds; nil for now.
    public var notBeforeMillis: Int64?
    /// The message counts towards the unread badge: raise the badge of the user's devices once, at
    /// enqueue, so a retried push carries the same absolute value (push-rules.md section 5.3).
    public var countsForBadge: Bool
    /// The C2C peer whose conversation's unread count this job raises with the badge (a counted
    /// chat message from them); nil for group messages and pushes outside a conversation.
    public var unreadPeer: String?

    public init(
        sdkAppID: UInt64, idempotencyKey: String, lane: Lane = .chat, userID: String, payload: Data,
        deviceIDs: [String]? = nil, notBeforeMillis: Int64? = nil, countsForBadge: Bool = false, unreadPeer: String? = nil
    ) {
        self.sdkAppID = sdkAppID
        self.idempotencyKey = idempotencyKey
        self.lane = lane
        self.userID = userID
        self.payload = payload
        self.deviceIDs = deviceIDs
        self.notBeforeMillis = notBeforeMillis
        self.countsForBadge = countsForBadge
        self.unreadPeer = countsForBadge ? unreadPeer : nil
    }
}

extension NewJob {
    /// Whether the job may be claimed at `now`: it was not enqueued for later.
    func isDue(at now: Int64) -> Bool { (notBeforeMillis ?? now) <= now }
}

/// A job leased to one worker until `leaseUntilMillis`; only that claim may finish it.
public struct ClaimedJob: Sendable, Equatable {
    public var id: Int64
    /// Which claim of the job this is; a finish from an older claim (whose lease expired) is ignored.
    public var claim: Int64
    public var sdkAppID: UInt64
    public var idempotencyKey: String
    public var lane: Lane
    public var userID: String
    public var payload: Data
    public var deviceIDs: [String]?
    /// Failed delivery rounds before this claim.
    public var attempts: Int
    public var enqueuedAtMillis: Int64
    public var leaseUntilMillis: Int64
    /// Claims since the job last finished a round, this one included: more than one means earlier
    /// workers died holding it.
    public var openClaims: Int = 1
}

/// Jobs enqueued, some or all of them already claimed by whoever will send them: a campaign walker
/// sending its own steps, or a waiting worker picked by the enqueuer (`JobHandoff`). A claimed job
/// is inserted claimable from the end of its lease, so no one else takes it while it is held.
struct ClaimedInsert: Sendable {
    var jobs: [NewJob]
    var now: Int64
    var leaseUntil: Int64
    /// For each of `jobs`, whether it is inserted claimed.
    private var held: [Bool]

    /// Every job claimed for `claimMillis`; with nil, none (inserted as given, to be claimed).
    init(_ jobs: [NewJob], now: Int64, claimMillis: Int64?) {
        self.init(jobs, now: now, leaseMillis: claimMillis ?? 0, held: Array(repeating: claimMillis != nil, count: jobs.count))
    }

    /// The first jobs that can be handed over, up to the taker's limit, claimed for it; with no
    /// taker, none.
    init(_ jobs: [NewJob], now: Int64, handingTo taker: JobHandoff?) {
        var left = taker?.limit ?? 0
        let held = jobs.map { job -> Bool in
            guard left > 0, Self.canHandOver(job, now: now) else { return false }
            left -= 1
            return true
        }
        self.init(jobs, now: now, leaseMillis: taker?.leaseMillis ?? 0, held: held)
    }

    /// Only chat jobs due now go to a waiting worker: campaign jobs are the walker's or wait for
    /// the campaign's share of claims, and a job for later must not be sent early.
    static func canHandOver(_ job: NewJob, now: Int64) -> Bool { job.lane == .chat && job.isDue(at: now) }

    private init(_ jobs: [NewJob], now: Int64, leaseMillis: Int64, held: [Bool]) {
        self.now = now
        self.held = held
        leaseUntil = now + leaseMillis
        self.jobs = zip(jobs, held).map { job, held in
            var job = job
            if held { job.notBeforeMillis = now + leaseMillis }
            return job
        }
    }

    /// The lanes of the new jobs (`ids` from the insert, nil where not new) that anyone can claim
    /// now: the workers waiting for those lanes should be woken.
    func claimableLanes(ids: [Int64?]) -> Set<Lane> {
        var lanes = Set<Lane>()
        for (job, (id, held)) in zip(jobs, zip(ids, held)) where id != nil && !held && job.isDue(at: now) {
            lanes.insert(job.lane)
        }
        return lanes
    }

    /// The claim number each job is inserted with: 1 for a claimed one (its first claim), 0 for the others.
    var claims: [Int64] { held.map { $0 ? 1 : 0 } }

    /// The claimed jobs among those inserted (`ids` from the insert, nil where not new).
    func claimed(ids: [Int64?]) -> [ClaimedJob] {
        zip(jobs, zip(ids, held)).compactMap { job, inserted in
            guard let id = inserted.0, inserted.1 else { return nil }
            return ClaimedJob(
                id: id, claim: 1, sdkAppID: job.sdkAppID, idempotencyKey: job.idempotencyKey, lane: job.lane, userID: job.userID,
                payload: job.payload, deviceIDs: job.deviceIDs, attempts: 0, enqueuedAtMillis: now, leaseUntilMillis: leaseUntil
            )
        }
    }
}

/// What inserting jobs inside a transaction did, for the enqueuer to act on after the commit.
struct InsertedJobs: Sendable {
    /// For each job, its row id; nil when its key was known.
    var ids: [Int64?]
    /// What to hand to the waiting worker the jobs were claimed for.
    var handed: HandedJobs
    /// The lanes of new jobs anyone can claim now: their waiting workers are to be woken.
    var claimableLanes: Set<Lane>

    var inserted: [Bool] { ids.map { $0 != nil } }
}

/// Chat jobs an enqueuer inserted already claimed for a waiting worker, with the devices of
/// their users as the enqueuing transaction read them: the worker sends them without a claim or a
/// device read.
public struct HandedJobs: Sendable {
    public var jobs: [ClaimedJob]
    public var devices: [Device]
    /// The wait ended because its timeout passed, not because of a wake-up or a handoff.
    public var timedOut: Bool

    public init(jobs: [ClaimedJob] = [], devices: [Device] = [], timedOut: Bool = false) {
        self.jobs = jobs
        self.devices = devices
        self.timedOut = timedOut
    }

    mutating func append(_ other: HandedJobs) {
        jobs += other.jobs
        devices += other.devices
    }
}

/// What became of one device's push, kept per device for `pushd/get_push_records`.
public struct PushRecord: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case delivered = "Delivered"
        case tokenInvalid = "TokenInvalid"
        case failed = "Failed"
        case skipped = "Skipped"
        /// A delivered push the vendor took back (a withdrawn message).
        case revoked = "Revoked"
    }

    public var deviceID: String
    public var vendor: String
    public var outcome: Outcome
    public var reason: String?
    public var vendorMessageID: String?
    public var attempts: Int
    public var atMillis: Int64

    public init(
        deviceID: String, vendor: String, outcome: Outcome, reason: String? = nil, vendorMessageID: String? = nil,
        attempts: Int, atMillis: Int64
    ) {
        self.deviceID = deviceID
        self.vendor = vendor
        self.outcome = outcome
        self.reason = reason
        self.vendorMessageID = vendorMessageID
        self.attempts = attempts
        self.atMillis = atMillis
    }
}

/// A push that will not be retried, with everything needed to understand and replay it.
public struct DeadLetter: Sendable, Equatable {
    /// Assigned by the store.
    public var id: Int64
    public var jobID: Int64
    public var sdkAppID: UInt64
    public var idempotencyKey: String
    public var lane: Lane
    public var userID: String
    public var payload: Data
    public var deviceID: String
    public var vendor: String
    public var token: String
    public var lastError: String
    public var attempts: Int
    public var createdAtMillis: Int64
}

/// A device and token a vendor declared dead, at the vendor's time when it gave one.
public struct TokenInvalidation: Sendable, Equatable {
    public var deviceID: String
    public var token: String
    public var atMillis: Int64

    public init(deviceID: String, token: String, atMillis: Int64) {
        self.deviceID = deviceID
        self.token = token
        self.atMillis = atMillis
    }
}

/// How a claimed job ends this round. Applied atomically with the others of a batch.
public struct JobCompletion: Sendable {
    public var job: ClaimedJob
    public var records: [PushRecord]
    public var invalidations: [TokenInvalidation]
    /// Devices that failed for good: `(device, vendor, token, last error)`.
    public var deadDevices: [DeadDevice]
    /// Devices to try again; nil when the job is finished.
    public var retry: Retry?
    /// Events for the app's IM server, written with the outcome (nothing when the completion's
    /// claim is no longer current).
    public var events: [NewCallbackEvent] = []

    public struct DeadDevice: Sendable, Equatable {
        public var deviceID: String
        public var vendor: String
        public var token: String
        public var error: String

        public init(deviceID: String, vendor: String, token: String, error: String) {
            self.deviceID = deviceID
            self.vendor = vendor
            self.token = token
            self.error = error
        }
    }

    public struct Retry: Sendable, Equatable {
        public var deviceIDs: [String]?
        public var notBeforeMillis: Int64
        public var lastError: String
        /// False when the job is handed back unsent (shutdown): the round does not count.
        public var countsAsAttempt: Bool

        public init(deviceIDs: [String]?, notBeforeMillis: Int64, lastError: String, countsAsAttempt: Bool = true) {
            self.deviceIDs = deviceIDs
            self.notBeforeMillis = notBeforeMillis
            self.lastError = lastError
            self.countsAsAttempt = countsAsAttempt
        }
    }

    public init(
        job: ClaimedJob, records: [PushRecord] = [], invalidations: [TokenInvalidation] = [], deadDevices: [DeadDevice] = [],
        retry: Retry? = nil, events: [NewCallbackEvent] = []
    ) {
        self.job = job
        self.records = records
        self.invalidations = invalidations
        self.deadDevices = deadDevices
        self.retry = retry
        self.events = events
    }

    /// The job goes back to the queue untouched, claimable at once (a worker shutting down).
    public static func handBack(_ job: ClaimedJob, nowMillis: Int64) -> JobCompletion {
        JobCompletion(
            job: job,
            retry: .init(deviceIDs: job.deviceIDs, notBeforeMillis: nowMillis, lastError: "handed back at shutdown", countsAsAttempt: false)
        )
    }
}

/// Queue depth and age, for `/metrics` and benchmarks.
public struct QueueStats: Sendable, Equatable {
    public struct LaneStats: Sendable, Equatable {
        /// Jobs not finished (ready, waiting for a retry, or leased).
        public var pending: Int
        /// Jobs claimable now.
        public var ready: Int
        /// Age of the oldest ready job in milliseconds, 0 when none.
        public var oldestReadyAgeMillis: Int64

        public init(pending: Int, ready: Int, oldestReadyAgeMillis: Int64) {
            self.pending = pending
            self.ready = ready
            self.oldestReadyAgeMillis = oldestReadyAgeMillis
        }
    }

    public var lanes: [Lane: LaneStats]
    public var deadLetters: Int
    /// The same per app (SDKAppID): lanes without a pending job are absent.
    public var apps: [UInt64: [Lane: LaneStats]] = [:]

    public init(lanes: [Lane: LaneStats], deadLetters: Int, apps: [UInt64: [Lane: LaneStats]] = [:]) {
        self.lanes = lanes
        self.deadLetters = deadLetters
        self.apps = apps
    }

    /// One row of both stores' count, grouped by app and lane.
    struct Row {
        var app: Int64
        var lane: Int64
        var pending: Int64
        var ready: Int64
        /// When the oldest ready job became claimable; nil when none is ready.
        var oldestReady: Int64?
    }

    /// The stats of the rows counted at `now`: per app and lane, and the lanes' totals (every lane present).
    init(rows: [Row], deadLetters: Int, now: Int64) {
        var lanes = Dictionary(uniqueKeysWithValues: Lane.allCases.map { ($0, LaneStats(pending: 0, ready: 0, oldestReadyAgeMillis: 0)) })
        var apps: [UInt64: [Lane: LaneStats]] = [:]
        for row in rows {
            guard let lane = Lane(rawValue: Int(truncatingIfNeeded: row.lane)) else { continue }
            let age = row.oldestReady.map { max(0, now.subtractingSaturating($0)) } ?? 0
            let stats = LaneStats(pending: Int(clamping: row.pending), ready: Int(clamping: row.ready), oldestReadyAgeMillis: age)
            apps[UInt64(clamping: row.app), default: [:]][lane] = stats
            lanes[lane, default: stats].pending += stats.pending
            lanes[lane, default: stats].ready += stats.ready
            lanes[lane, default: stats].oldestReadyAgeMillis = max(lanes[lane]?.oldestReadyAgeMillis ?? 0, age)
        }
        self.init(lanes: lanes, deadLetters: deadLetters, apps: apps)
    }
}

/// Where one job stands.
public struct JobStatus: Sendable, Equatable {
    /// Failed delivery rounds so far.
    public var attempts: Int
    /// Claims so far (a claim whose lease expired counts too).
    public var claims: Int
    /// When it may next be claimed: its `not_before`, or its lease expiry while leased.
    public var availableAtMillis: Int64
    public var finishedAtMillis: Int64?
    public var lastError: String?
    /// The devices it is limited to.
    public var deviceIDs: [String]?
    /// The job as the dispatcher reads it (empty once purged).
    public var payload = Data()
}

/// A push record with the key of the job that wrote it (a user's recent pushes).
public struct KeyedPushRecord: Sendable, Equatable {
    public var jobKey: String
    public var record: PushRecord
}

/// A message accepted by the REST API, stored with its push jobs in one transaction.
public struct NewMessage: Sendable, Equatable {
    public var sdkAppID: UInt64
    public var msgKey: String
    public var fromAccount: String
    /// The recipient of a C2C message; empty for a group message and a batch.
    public var toAccount: String
    /// The recipients of a batch (`openim/batchsendmsg`): one stored message for all of them,
    /// each found by roaming; empty otherwise.
    public var recipients: [String]
    public var groupID: String
    public var msgSeq: Int64
    public var msgRandom: Int64
    /// Seconds since 1970, as answered to the sender.
    public var msgTime: Int64
    /// The request body as received.
    public var body: Data
    /// Equal keys within `dedupeWindowMillis` are one message (C2C: sender, MsgSeq, MsgRandom, CRC32).
    public var dedupeKey: String
    public var dedupeWindowMillis: Int64
    /// When the offline copy expires (`MsgLifeTime`), in milliseconds.
    public var expiresAtMillis: Int64

    public init(
        sdkAppID: UInt64, msgKey: String, fromAccount: String, toAccount: String, recipients: [String] = [], groupID: String = "",
        msgSeq: Int64, msgRandom: Int64,
        msgTime: Int64, body: Data, dedupeKey: String, dedupeWindowMillis: Int64, expiresAtMillis: Int64
    ) {
        self.sdkAppID = sdkAppID
        self.msgKey = msgKey
        self.fromAccount = fromAccount
        self.toAccount = toAccount
        self.recipients = recipients
        self.groupID = groupID
        self.msgSeq = msgSeq
        self.msgRandom = msgRandom
        self.msgTime = msgTime
        self.body = body
        self.dedupeKey = dedupeKey
        self.dedupeWindowMillis = dedupeWindowMillis
        self.expiresAtMillis = expiresAtMillis
    }
}

/// What storing a message did.
public enum StoredMessage: Sendable, Equatable {
    /// Stored with its jobs; a group message's sequence number was assigned here.
    case stored(msgSeq: Int64)
    /// A duplicate within the window: nothing written; the first copy's key, time and sequence.
    case duplicate(msgKey: String, msgTime: Int64, msgSeq: Int64)
    /// The message's group does not exist (any more): nothing written.
    case groupNotFound
}

/// A stored C2C message as the roaming query returns it.
public struct MessageRow: Sendable, Equatable {
    public var id: Int64
    public var msgKey: String
    public var fromAccount: String
    public var toAccount: String
    public var msgSeq: Int64
    public var msgRandom: Int64
    public var msgTime: Int64
    /// The request body it was sent with.
    public var body: Data
}

/// A message to withdraw: one recipient's copy of a C2C message (`admin_msgwithdraw`, a batch
/// message included) or a group message by its sequence (`group_msg_recall`).
public struct Withdrawal: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case c2c(msgKey: String, from: String, to: String)
        case group(groupID: String, msgSeq: Int64)
    }

    public var sdkAppID: UInt64
    public var target: Target
    /// The payload of the job that revokes a recipient's pushes already delivered (enqueued, in
    /// the same transaction, for the devices that got one); nil to revoke nothing.
    public var revocationJob: Data?

    public init(sdkAppID: UInt64, _ target: Target, revocationJob: Data? = nil) {
        self.sdkAppID = sdkAppID
        self.target = target
        self.revocationJob = revocationJob
    }

    /// The key of the job revoking what the job `key` delivered.
    public static func revocationKey(of key: String) -> String { key + revocationSuffix }

    /// The key of the job a revocation job's key names; nil when `key` is no revocation's.
    public static func revokedKey(_ key: String) -> String? {
        key.hasSuffix(revocationSuffix) ? String(key.dropLast(revocationSuffix.count)) : nil
    }

    static let revocationSuffix = "/revoke"

    /// The revocation jobs for the delivered pushes among `delivered` (a job key and a device
    /// that got its push), one per job key, limited to those devices.
    func revocations(_ delivered: [(key: String, device: String)], users: [String: String]) -> [NewJob] {
        guard let payload = revocationJob else { return [] }
        var devices: [String: [String]] = [:]
        for (key, device) in delivered { devices[key, default: []].append(device) }
        return devices.keys.sorted().compactMap { key in
            guard let user = users[key], let ids = devices[key] else { return nil }
            return NewJob(sdkAppID: sdkAppID, idempotencyKey: Self.revocationKey(of: key), userID: user, payload: payload, deviceIDs: ids)
        }
    }

    /// The key of the withdrawal in the `withdrawn` table: its parts, each after its length in
    /// bytes, so no two withdrawals share one whatever bytes the identifiers hold.
    var reference: String {
        func part(_ text: String) -> String { "\(text.utf8.count):\(text)" }
        return switch target {
        case .c2c(let key, let from, let to): "c2c|" + part(key) + part(from) + part(to)
        case .group(let group, let seq): "group|" + part(group) + String(seq)
        }
    }

    /// The reason the cancelled pushes are recorded with.
    public static let reason = "Withdrawn"
}

/// What a withdrawal did.
public enum WithdrawResult: Sendable, Equatable {
    /// No such message (Tencent's 20022).
    case notFound
    /// Withdrawn before (20023).
    case alreadyWithdrawn
    /// The message is gone from roaming. `cancelled` recipients had a push not sent yet, now never
    /// sent; `sent` recipients' pushes had been sent already.
    case withdrawn(msgKey: String, cancelled: [String], sent: [String])
}

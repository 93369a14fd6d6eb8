import Foundation
import PushCore

/// One condition on a user: a tag, or an attribute with a value.
public enum AudienceTerm: Hashable, Sendable, Codable {
    case tag(String)
    case attr(name: String, value: String)
}

/// Who a campaign reaches: users matching every `all` term and, when `any` is not empty, at least
/// one `any` term (`TagsAnd`/`TagsOr`, `AttrsAnd`/`AttrsOr`). Both empty: every imported user.
public struct Audience: Sendable, Equatable, Codable {
    public var all: [AudienceTerm]
    public var any: [AudienceTerm]

    public init(all: [AudienceTerm] = [], any: [AudienceTerm] = []) {
        self.all = all
        self.any = any
    }

    public static let everyone = Audience()

    public var isEveryone: Bool { all.isEmpty && any.isEmpty }
}

/// Where a campaign stands.
public enum CampaignState: String, Sendable, Codable {
    /// Selecting users and enqueueing their pushes.
    case running = "Running"
    /// Every push is enqueued; some are not finished yet.
    case sending = "Sending"
    case finished = "Finished"
    case cancelled = "Cancelled"

    public var isOver: Bool { self == .finished || self == .cancelled }
}

/// A campaign as the API creates it.
public struct NewCampaign: Sendable, Equatable {
    public var sdkAppID: UInt64
    public var taskID: String
    /// The caller's `MsgRandom`: a second campaign with the same value within the window is the same one.
    public var msgRandom: Int64
    public var audience: Audience
    /// The campaign's push job (`PushJobSpec` JSON, without a recipient), shared by every user's job.
    public var template: Data
    /// The pushes count towards the unread badge.
    public var countsForBadge: Bool

    public init(sdkAppID: UInt64, taskID: String, msgRandom: Int64, audience: Audience, template: Data, countsForBadge: Bool) {
        self.sdkAppID = sdkAppID
        self.taskID = taskID
        self.msgRandom = msgRandom
        self.audience = audience
        self.template = template
        self.countsForBadge = countsForBadge
    }
}

/// An app's campaign limits: `perDay` in any 24 hours, consecutive ones more than `minIntervalMillis` apart.
public struct CampaignQuota: Sendable, Equatable {
    public var perDay: Int
    public var minIntervalMillis: Int64
    /// A repeated `MsgRandom` within this window answers the first campaign's id.
    public var dedupeWindowMillis: Int64

    public init(perDay: Int = 100, minIntervalMillis: Int64 = 1_000, dedupeWindowMillis: Int64 = 7 * 24 * 3_600_000) {
        self.perDay = perDay
        self.minIntervalMillis = minIntervalMillis
        self.dedupeWindowMillis = dedupeWindowMillis
    }
}

/// What creating a campaign did.
public enum CampaignAdmission: Sendable, Equatable {
    case created
    /// Same `MsgRandom` within the window: nothing new; the first campaign's id.
    case duplicate(taskID: String)
    /// The previous campaign started `minIntervalMillis` or less ago.
    case tooFrequent
    /// `perDay` campaigns in the last 24 hours.
    case quotaExceeded
}

/// A campaign's progress and exact counts.
public struct CampaignStatus: Sendable, Equatable {
    public var sdkAppID: UInt64
    public var taskID: String
    public var state: CampaignState
    /// Users the condition selects, counted when the walk starts; nil before.
    public var audienceSize: Int?
    /// Users walked so far.
    public var users: Int
    /// Walked users without any registered device (no push enqueued for them).
    public var usersWithoutDevice: Int
    /// Devices of the walked users.
    public var devices: Int
    /// Push jobs (one per user with a device) enqueued and finished.
    public var jobs: Int
    public var jobsDone: Int
    /// Jobs dropped unsent by a cancel.
    public var jobsCancelled: Int
    /// Finished device pushes by outcome (`PushRecord.Outcome` raw value) and reason ("" when none).
    public var outcomes: [Outcome: Int]
    public var createdAtMillis: Int64
    /// When every push was enqueued.
    public var walkedAtMillis: Int64?
    public var finishedAtMillis: Int64?

    public struct Outcome: Hashable, Sendable {
        public var outcome: String
        public var reason: String

        public init(_ outcome: String, _ reason: String = "") {
            self.outcome = outcome
            self.reason = reason
        }
    }

    /// Device pushes with this outcome, whatever the reason.
    public func count(_ outcome: PushRecord.Outcome) -> Int {
        outcomes.reduce(0) { $0 + ($1.key.outcome == outcome.rawValue ? $1.value : 0) }
    }

    /// Counts of one outcome by reason.
    public func reasons(_ outcome: PushRecord.Outcome) -> [String: Int] {
        outcomes.reduce(into: [:]) { if $1.key.outcome == outcome.rawValue { $0[$1.key.reason, default: 0] += $1.value } }
    }

    /// The campaign's progress as `pushd/get_task` answers it and its finished callback reports
    /// it. Devices are counted as the walk reaches their users; users without any device are
    /// counted as skipped (`NoDevice`).
    public var summary: [(String, any Sendable)] {
        let delivered = count(.delivered), invalid = count(.tokenInvalid), failed = count(.failed)
        var skipped = reasons(.skipped)
        if usersWithoutDevice > 0 { skipped["NoDevice"] = usersWithoutDevice }
        return [
            ("TaskId", taskID), ("State", state.rawValue), ("Users", audienceSize ?? 0), ("UsersWalked", users),
            ("Total", devices), ("Sent", delivered + invalid + failed), ("Delivered", delivered), ("InvalidTokens", invalid),
            ("Failed", failed), ("FailedByReason", reasons(.failed)), ("Skipped", skipped.values.reduce(0, +)), ("SkippedByReason", skipped),
            ("Pending", max(0, jobs - jobsDone - jobsCancelled)), ("CancelledPushes", jobsCancelled),
            ("StartTime", createdAtMillis / 1000), ("SelectedTime", (walkedAtMillis ?? 0) / 1000), ("EndTime", (finishedAtMillis ?? 0) / 1000),
        ]
    }
}

/// A campaign leased to one walker: everything it needs to enqueue the next users.
public struct CampaignWalk: Sendable, Equatable {
    public var sdkAppID: UInt64
    public var taskID: String
    public var audience: Audience
    public var template: Data
    public var countsForBadge: Bool
    /// The last user walked ("" before the first).
    public var cursor: String
    public var audienceSize: Int?
    /// Enqueued pushes not finished yet.
    public var backlog: Int
    /// The lease this walker holds; a step with an older one writes nothing.
    public var leaseUntilMillis: Int64
}

/// Campaign names shared by both stores.
public enum CampaignKeys {
    /// The idempotency key of a campaign's push to one user: enqueueing it twice is a no-op, so a
    /// walker that lost its lease cannot send a batch twice.
    /// Like every push job, `<TaskId>:<UserID>`, which `pushd/get_push_records` reads.
    public static func jobKey(taskID: String, userID: String) -> String { "\(taskID):\(userID)" }

    /// The campaign of a campaign-lane job key (replayed dead letters keep the prefix).
    public static func taskID(jobKey: String) -> String? {
        guard let colon = jobKey.firstIndex(of: ":") else { return nil }
        return String(jobKey[..<colon])
    }

    /// The byte range `[lower, upper)` holding every job key of a campaign (";" follows ":").
    static func keyRange(taskID: String) -> (lower: String, upper: String) { (taskID + ":", taskID + ";") }
}

/// What a batch of completions adds to each campaign: finished jobs and device outcomes.
struct CampaignTally {
    struct Key: Hashable {
        var app: UInt64
        var taskID: String
    }

    var jobsDone: [Key: Int] = [:]
    var outcomes: [Key: [CampaignStatus.Outcome: Int]] = [:]

    init(_ completions: [JobCompletion]) {
        for c in completions where c.job.lane == .campaign {
            guard let task = CampaignKeys.taskID(jobKey: c.job.idempotencyKey) else { continue }
            let key = Key(app: c.job.sdkAppID, taskID: task)
            if c.retry == nil { jobsDone[key, default: 0] += 1 }
            for r in c.records { outcomes[key, default: [:]][.init(r.outcome.rawValue, r.reason ?? ""), default: 0] += 1 }
            // A job that could not be read at all dies without a device record.
            if c.records.isEmpty, c.deadDevices.contains(where: { $0.deviceID.isEmpty }) {
                outcomes[key, default: [:]][.init(PushRecord.Outcome.failed.rawValue, "BadJob"), default: 0] += 1
            }
        }
    }

    var isEmpty: Bool { jobsDone.isEmpty && outcomes.isEmpty }

    /// Flattened outcome rows: (app, task, outcome, reason, count).
    var rows: [(app: Int64, task: String, outcome: String, reason: String, n: Int64)] {
        outcomes.flatMap { key, counts in
            counts.map { (Int64(key.app), key.taskID, $0.key.outcome, $0.key.reason, Int64($0.value)) }
        }
    }
}

extension CampaignWalk {
    /// The push job of one user: the campaign's job as stored, keyed for the user.
    public func job(for userID: String) -> NewJob {
        NewJob(
            sdkAppID: sdkAppID, idempotencyKey: CampaignKeys.jobKey(taskID: taskID, userID: userID), lane: .campaign, userID: userID,
            payload: template, countsForBadge: countsForBadge
        )
    }
}

/// The `campaigns` row as both stores read and write it.
enum CampaignRow {
    static let statusColumns =
        "app, task_id, state, audience_size, users, no_device, devices, jobs, jobs_done, jobs_cancelled, created_at, walked_at, finished_at"
    static let walkColumns = "app, task_id, audience, template, counts_badge, cursor, audience_size, jobs, jobs_done, lease_until"

    static func encode(_ audience: Audience) throws -> String {
        String(decoding: try JSONEncoder().encode(audience), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> Audience {
        try JSONDecoder().decode(Audience.self, from: Data(text.utf8))
    }

    static func status(
        app: Int64, taskID: String, state: String, audienceSize: Int64?, users: Int64, noDevice: Int64, devices: Int64, jobs: Int64,
        jobsDone: Int64, jobsCancelled: Int64, createdAt: Int64, walkedAt: Int64?, finishedAt: Int64?
    ) -> CampaignStatus {
        CampaignStatus(
            sdkAppID: UInt64(clamping: app), taskID: taskID, state: CampaignState(rawValue: state) ?? .running, audienceSize: audienceSize.map(Int.init),
            users: Int(users), usersWithoutDevice: Int(noDevice), devices: Int(devices), jobs: Int(jobs), jobsDone: Int(jobsDone),
            jobsCancelled: Int(jobsCancelled), outcomes: [:], createdAtMillis: createdAt, walkedAtMillis: walkedAt, finishedAtMillis: finishedAt
        )
    }
}

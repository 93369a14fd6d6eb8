import Foundation
import Messaging
import PushCore

/// The job queue: enqueue, claim and complete under leases, dead letters, push records.
public protocol JobQueue: Sendable {
    /// Enqueues jobs in one transaction; for each, true when it was new (false: its key was known).
    @discardableResult
    func enqueue(_ jobs: [NewJob]) async throws -> [Bool]

    /// Leases up to `limit` ready jobs, every ready chat job before any campaign job, and at most
    /// `campaignLimit` campaign jobs.
    func claim(limit: Int, campaignLimit: Int, leaseMillis: Int64) async throws -> [ClaimedJob]

    /// Applies the outcomes of a batch in one transaction. A completion whose claim is no longer the
    /// job's current one (its lease expired and another worker took it) is ignored.
    func complete(_ completions: [JobCompletion]) async throws

    /// Pushes the leases of claimed jobs still in hand to `leaseMillis` from now (a heartbeat), so a
    /// slow batch is not claimed and sent again by another worker. A job whose claim is no longer
    /// current is left alone.
    func extendLeases(_ jobs: [ClaimedJob], leaseMillis: Int64) async throws

    /// Returns when jobs may have been enqueued (by this process or, for PostgreSQL, any other) or
    /// after `timeout`, whichever is first. With `campaign` false the caller cannot take campaign
    /// jobs, and jobs known to be campaign jobs only do not wake it.
    ///
    /// With `limit` above 0 the caller offers to take chat jobs: an enqueue in this process while it
    /// waits may insert up to `limit` of its chat jobs already claimed by the caller for
    /// `leaseMillis` and return them here with their users' devices, to be sent and completed as
    /// if claimed (no claim transaction, no device read, no wake-up). Otherwise, and when woken,
    /// it returns none.
    func waitForJobs(timeout: Duration, campaign: Bool, taking limit: Int, leaseMillis: Int64) async -> HandedJobs

    /// Callers waiting in `waitForJobs` on this handle now.
    var waitingWorkers: Int { get }

    /// Depth per lane, oldest ready job, dead letters.
    func stats() async throws -> QueueStats

    /// Deletes finished jobs (and their idempotency keys) and push records older than `olderThanMillis`.
    func purgeFinished(olderThanMillis: Int64) async throws

    /// Where a job stands, nil when the queue does not know its key (never enqueued, or purged).
    func jobStatus(sdkAppID: UInt64, idempotencyKey: String) async throws -> JobStatus?

    /// Push records of a job, in the order written.
    func pushRecords(sdkAppID: UInt64, idempotencyKey: String) async throws -> [PushRecord]

    /// The newest push records of a user's devices, newest first, with their jobs' keys.
    func pushRecords(sdkAppID: UInt64, userID: String, limit: Int) async throws -> [KeyedPushRecord]

    /// Dead letters, oldest first, with ids above `afterID`.
    func deadLetters(afterID: Int64, limit: Int) async throws -> [DeadLetter]

    /// Turns dead letters (all when `ids` is nil) back into jobs for their device; returns how many.
    @discardableResult
    func replayDeadLetters(ids: [Int64]?) async throws -> Int

    /// Deletes dead letters (all when `ids` is nil); returns how many.
    @discardableResult
    func purgeDeadLetters(ids: [Int64]?) async throws -> Int

    /// Deletes the dead letters that died more than `olderThanMillis` ago; returns how many.
    @discardableResult
    func purgeDeadLetters(olderThanMillis: Int64) async throws -> Int
}

/// The device table: registrations, presence state and badge base.
public protocol DeviceStore: Sendable {
    /// Registers devices or replaces them (token, state, badge, invalidation), in one transaction.
    func upsertDevices(_ devices: [Device]) async throws

    /// Deletes a user's devices beyond the `keeping` registered most recently (ties: the larger
    /// device id is newer); returns the ids deleted.
    func trimDevices(sdkAppID: UInt64, userID: String, keeping: Int) async throws -> [String]

    /// Sets a device's state; with `unread`, the badge base too. False when there is no such device.
    @discardableResult
    func setDeviceState(sdkAppID: UInt64, userID: String, deviceID: String, state: DeviceState, unread: Int?) async throws -> Bool

    /// Removes a device; false when there was none.
    @discardableResult
    func deleteDevice(sdkAppID: UInt64, userID: String, deviceID: String) async throws -> Bool

    /// The devices of these users.
    func devices(sdkAppID: UInt64, userIDs: [String]) async throws -> [Device]

    /// A read mark (`admin_set_msg_read`): when the newest counted message from `peer` arrived at or
    /// before `readAtMillis`, the conversation's unread count goes to 0 and the badge of each of the
    /// user's devices drops by as much (not below 0). Returns the count cleared; 0 when there was
    /// none, or when a message arrived after the mark (counts are kept per conversation, not per
    /// message, so such a mark leaves the count).
    func markRead(sdkAppID: UInt64, userID: String, peer: String, readAtMillis: Int64) async throws -> Int

    /// The user's unread counts per C2C peer: of `peers`, or of every peer with a count when nil.
    func unreadCounts(sdkAppID: UInt64, userID: String, peers: [String]?) async throws -> [ExactString: Int]
}

/// Stored messages (roaming) with their push jobs, written in one transaction, and what a send reads first.
public protocol MessageStore: Sendable {
    /// Withdraws a message in one transaction: it leaves roaming, and each recipient's push that is
    /// not sent yet never is (its job is finished as `Withdrawn`, or a finished placeholder takes its
    /// key so a fan-out that has not reached the recipient enqueues nothing). A push being sent at
    /// that moment is counted as sent.
    func withdraw(_ withdrawal: Withdrawal) async throws -> WithdrawResult

    /// Stores a message and enqueues its push jobs in one transaction, unless an equal dedupe key
    /// was stored within the message's window: then nothing is written. A group message
    /// (`groupID` set) takes the group's next sequence number, from 1; a C2C message keeps its own.
    func storeMessage(_ message: NewMessage, jobs: [NewJob]) async throws -> StoredMessage

    /// Stores several messages with their jobs in one transaction, each as `storeMessage` would.
    func storeMessages(_ messages: [(message: NewMessage, jobs: [NewJob])]) async throws -> [StoredMessage]

    /// The recipients of a stored message: one for C2C, the group's current members for a group message.
    func messageRecipients(sdkAppID: UInt64, msgKey: String) async throws -> [String]

    /// C2C messages between `a` and `b` (either direction) with `msg_time` in `minTime...maxTime`,
    /// newest first; with `before`, only those older than that message (`(msg_time, id)` order).
    func conversation(
        sdkAppID: UInt64, between a: String, and b: String, minTime: Int64, maxTime: Int64, before: String?, limit: Int
    ) async throws -> [MessageRow]

    /// How many write transactions make progress at once: batches of sends are run that many at a
    /// time (SQLite has one writer; PostgreSQL commits in parallel).
    var concurrentWriters: Int { get }

    /// Several sends' reads at once, one `SendFacts` per lookup, in order.
    func sendFacts(_ lookups: [SendLookup]) async throws -> [SendFacts]

    /// Sends whose message depends on what the store knows: each send's facts, and what was
    /// stored of what its `build` made of them (nil when `build` refused), in order. SQLite reads
    /// and writes in one transaction; by default the facts are read first, then the messages are
    /// stored as `storeMessages` does.
    func storeMessages(lookingUp sends: [LookedUpSend]) async throws -> [LookedUpSend.Result]
}

extension MessageStore {
    public func storeMessages(lookingUp sends: [LookedUpSend]) async throws -> [LookedUpSend.Result] {
        let facts = try await sendFacts(sends.map(\.lookup))
        let entries = try zip(sends, facts).map { send, facts in try send.build(facts) }
        var stored = try await storeMessages(entries.compactMap { $0 })[...]
        return zip(facts, entries).map { facts, entry in
            guard entry != nil else { return LookedUpSend.Result(facts: facts, stored: nil) }
            defer { stored = stored.dropFirst() }
            return LookedUpSend.Result(facts: facts, stored: stored.first)
        }
    }
}

/// A send whose message is made from what the store knows when it is written: `build` turns the
/// facts of `lookup` into the message and its jobs, or nil when the send is refused (the caller
/// answers from the facts).
public struct LookedUpSend: Sendable {
    public typealias Entry = (message: NewMessage, jobs: [NewJob])

    public var lookup: SendLookup
    public var build: @Sendable (SendFacts) throws -> Entry?

    public init(lookup: SendLookup, build: @escaping @Sendable (SendFacts) throws -> Entry?) {
        self.lookup = lookup
        self.build = build
    }

    public struct Result: Sendable {
        public var facts: SendFacts
        /// Nil when `build` refused the send.
        public var stored: StoredMessage?
    }
}

/// Accounts and profiles, groups and their members, receive options and do-not-disturb windows.
public protocol Directory: Sendable {
    /// Imports accounts (re-importing is harmless) and sets the given profile items of each.
    /// Profile values are JSON fragments (`"\"Alice\""`, `"1"`), kept as given.
    func importAccounts(sdkAppID: UInt64, _ accounts: [(userID: String, profile: [String: String])]) async throws

    /// Deletes accounts with their profiles and devices; the ones that existed.
    func deleteAccounts(sdkAppID: UInt64, userIDs: [String]) async throws -> Set<String>

    /// Which of these accounts are imported.
    func importedAccounts(sdkAppID: UInt64, userIDs: [String]) async throws -> Set<ExactString>

    /// Profile items (tag → JSON fragment) of these users; imported users without items map to [:].
    func profiles(sdkAppID: UInt64, userIDs: [String]) async throws -> Profiles

    /// Creates a group with its members; false when the id is taken.
    func createGroup(_ group: Group, members: [GroupMember]) async throws -> Bool

    /// A group and its members, nil when there is none.
    func group(sdkAppID: UInt64, groupID: String) async throws -> (group: Group, members: [GroupMember])?

    /// Adds members; the ones that were not members yet (existing members are left as they are).
    func addGroupMembers(sdkAppID: UInt64, groupID: String, _ members: [GroupMember]) async throws -> Set<String>

    /// Removes members; the ones that were members.
    func deleteGroupMembers(sdkAppID: UInt64, groupID: String, userIDs: [String]) async throws -> Set<String>

    /// Replaces a member's role, `MsgFlag` and name card; false when not a member.
    func updateGroupMember(sdkAppID: UInt64, groupID: String, _ member: GroupMember) async throws -> Bool

    /// Renames a group; false when there is none.
    func renameGroup(sdkAppID: UInt64, groupID: String, name: String) async throws -> Bool

    /// Deletes a group and its members; false when there was none.
    func destroyGroup(sdkAppID: UInt64, groupID: String) async throws -> Bool

    /// Forbids these members to send until `untilMillis` (0 lets them send again); the ones that
    /// are members.
    func muteGroupMembers(sdkAppID: UInt64, groupID: String, userIDs: [String], untilMillis: Int64) async throws -> Set<String>

    /// The ids of the groups a user is a member of, in id order.
    func joinedGroups(sdkAppID: UInt64, userID: String) async throws -> [String]

    /// Up to `limit` of the app's group ids from `offset`, in id order, and how many groups it has.
    func groupPage(sdkAppID: UInt64, offset: Int, limit: Int) async throws -> (groupIDs: [String], total: Int)

    /// Makes a member the group's owner, the former owner a plain member; false when the group
    /// does not exist or `userID` is not a member.
    func changeGroupOwner(sdkAppID: UInt64, groupID: String, to userID: String) async throws -> Bool

    /// Sets a user's receive option for one conversation (`ReceiveSettings.conversation`).
    func setReceiveOption(sdkAppID: UInt64, userID: String, conversation: String, muted: Bool) async throws

    /// Sets (nil: clears) a user's do-not-disturb window.
    func setDoNotDisturb(sdkAppID: UInt64, userID: String, _ window: DoNotDisturb?) async throws

    /// The receive option for `conversation` and the do-not-disturb window of each user that set
    /// either; users without settings are absent.
    func receiveSettings(sdkAppID: UInt64, userIDs: [String], conversation: String) async throws -> [ExactString: ReceiveSettings]
}

/// The durable state of pushd behind one seam, made of the protocols its callers need. SQLite
/// and PostgreSQL implement it with identical semantics (one contract suite runs every protocol on
/// both).
///
/// Every time comes from the store's clock, so leases, retries and the 7-day presence rule can be
/// tested with a manual clock.
public protocol PushStore: JobQueue, DeviceStore, MessageStore, Directory, CampaignStore, CallbackQueue {
    /// Throws when the database does not answer.
    func healthCheck() async throws

    /// Closes connections; the store is unusable afterwards.
    func close() async throws
}

extension JobQueue {
    /// Leases up to `limit` ready jobs, every ready chat job before any campaign job.
    public func claim(limit: Int, leaseMillis: Int64) async throws -> [ClaimedJob] {
        try await claim(limit: limit, campaignLimit: limit, leaseMillis: leaseMillis)
    }

    /// Returns when jobs may have been enqueued (true), or after `timeout` (false).
    @discardableResult
    public func waitForJobs(timeout: Duration) async -> Bool {
        await !waitForJobs(timeout: timeout, campaign: true, taking: 0, leaseMillis: 0).timedOut
    }

    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> Bool {
        try await enqueue([job])[0]
    }
}

extension DeviceStore {
    /// Registers a device or replaces its token; a new token clears an invalidation.
    public func upsertDevice(_ device: Device) async throws {
        try await upsertDevices([device])
    }
}

/// What sending a message reads before it writes: the profiles of the sender and the recipients
/// (whether they are imported, the sender's nickname), and the recipients' receive settings in
/// the message's conversation.
public struct SendLookup: Sendable {
    public var sdkAppID: UInt64
    /// Whose profiles: `SendFacts.profiles`.
    public var accounts: [String]
    /// Whose receive settings: `SendFacts.settings`.
    public var recipients: [String]
    public var conversation: String

    public init(sdkAppID: UInt64, accounts: [String], recipients: [String], conversation: String) {
        self.sdkAppID = sdkAppID
        self.accounts = accounts
        self.recipients = recipients
        self.conversation = conversation
    }
}

/// Profiles of users by their exact bytes: each imported account, with its profile items by tag.
public typealias Profiles = [ExactString: [String: String]]

/// The answer to a `SendLookup`, as `PushStore.profiles` and `PushStore.receiveSettings` give it.
public struct SendFacts: Sendable {
    public var profiles: Profiles
    public var settings: [ExactString: ReceiveSettings]

    public init(profiles: Profiles, settings: [ExactString: ReceiveSettings]) {
        self.profiles = profiles
        self.settings = settings
    }
}

/// The store has more work waiting than it takes on: retry later. The REST API answers it with
/// Tencent's retryable 90994.
public struct StoreBusy: Error, Equatable, CustomStringConvertible {
    public var waiting: Int

    public init(waiting: Int) {
        self.waiting = waiting
    }

    public var description: String { "store busy: \(waiting) requests already waiting" }
}

/// A failure of the store that is not the database's own error.
public struct StoreError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

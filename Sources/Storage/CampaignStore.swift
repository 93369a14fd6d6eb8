import Foundation

/// User tags and attributes, and campaigns as resumable jobs: the part of the store behind
/// `all_member_push/*` and `timpush/push`. Both backends implement it with the same semantics.
public protocol CampaignStore: Sendable {
    // MARK: Attributes and tags

    /// Replaces the app's attribute names (slot "0"…"9" → name).
    func setAttributeNames(sdkAppID: UInt64, _ names: [String: String]) async throws

    func attributeNames(sdkAppID: UInt64) async throws -> [String: String]

    /// Sets attribute values (name → value) of each user, in one transaction.
    func setAttributes(sdkAppID: UInt64, _ values: [(userID: String, attrs: [String: String])]) async throws

    /// Attribute values of these users; users without any map to [:].
    func attributes(sdkAppID: UInt64, userIDs: [String]) async throws -> [String: [String: String]]

    /// Removes the named attributes of each user.
    func removeAttributes(sdkAppID: UInt64, _ names: [(userID: String, names: [String])]) async throws

    /// Adds tags to each user in one transaction, unless a user would then hold more than
    /// `maxPerUser`: then nothing is written and those users are returned.
    func addTags(sdkAppID: UInt64, _ tags: [(userID: String, tags: [String])], maxPerUser: Int) async throws -> [String]

    /// Tags of these users, sorted; users without any map to [].
    func tags(sdkAppID: UInt64, userIDs: [String]) async throws -> [String: [String]]

    /// Removes the given tags of each user.
    func removeTags(sdkAppID: UInt64, _ tags: [(userID: String, tags: [String])]) async throws

    /// Removes every tag of these users.
    func removeAllTags(sdkAppID: UInt64, userIDs: [String]) async throws

    // MARK: Audience primitives (indexed; `Audience.page` combines them)

    /// Up to `limit` user ids above `after`, ascending: users holding `term`, or every imported
    /// account when `term` is nil.
    func audienceTermPage(sdkAppID: UInt64, term: AudienceTerm?, after: String, limit: Int) async throws -> [String]

    /// Which of `userIDs` hold `term`.
    func audienceMembers(sdkAppID: UInt64, term: AudienceTerm, among userIDs: [String]) async throws -> Set<String>

    // MARK: Campaigns

    /// Creates a campaign (state Running) unless `quota` or the `MsgRandom` window refuses it;
    /// the checks and the insert are one transaction.
    func createCampaign(_ campaign: NewCampaign, quota: CampaignQuota) async throws -> CampaignAdmission

    func campaign(sdkAppID: UInt64, taskID: String) async throws -> CampaignStatus?

    /// Campaigns created in `fromMillis..<toMillis`, oldest first, at most `limit`.
    func campaigns(sdkAppID: UInt64, fromMillis: Int64, toMillis: Int64, limit: Int) async throws -> [CampaignStatus]

    /// Cancels a campaign that is not over: no more users are walked and its unsent pushes are
    /// dropped. False when there is no such campaign or it is over.
    func cancelCampaign(sdkAppID: UInt64, taskID: String) async throws -> Bool

    /// Leases a Running campaign to this walker for `leaseMillis` (one whose lease is free), nil when none.
    func leaseCampaign(leaseMillis: Int64) async throws -> CampaignWalk?

    /// Records the audience size counted at the start of the walk.
    func setAudienceSize(_ walk: CampaignWalk, size: Int) async throws

    /// One step of a walk, in one transaction: enqueues `jobs`, moves the cursor to `cursor`, adds
    /// the counts, and when `last`, marks every push enqueued. Renews the lease. Nil (nothing
    /// written) when the campaign was cancelled or the lease lost; else the walk as it now stands.
    ///
    /// With `claimMillis`, the new jobs are enqueued already claimed by the caller for that long
    /// and returned: the walker hands them to its own senders, and no worker claims them unless
    /// the lease runs out (the walker's process died). Without it they wait to be claimed.
    func advanceCampaign(
        _ walk: CampaignWalk, cursor: String, users: Int, usersWithoutDevice: Int, devices: Int, jobs: [NewJob], last: Bool,
        leaseMillis: Int64, claimMillis: Int64?
    ) async throws -> CampaignStep?
}

/// A walk step's result: the walk as it now stands and the jobs it enqueued claimed.
public struct CampaignStep: Sendable {
    public var walk: CampaignWalk
    /// The step's new jobs, claimed by the walker (empty unless it asked for them).
    public var claimed: [ClaimedJob]
}

extension CampaignStore {
    /// A step whose jobs wait to be claimed; see `advanceCampaign(_:cursor:users:usersWithoutDevice:devices:jobs:last:leaseMillis:claimMillis:)`.
    public func advanceCampaign(
        _ walk: CampaignWalk, cursor: String, users: Int, usersWithoutDevice: Int, devices: Int, jobs: [NewJob], last: Bool,
        leaseMillis: Int64
    ) async throws -> CampaignWalk? {
        try await advanceCampaign(
            walk, cursor: cursor, users: users, usersWithoutDevice: usersWithoutDevice, devices: devices, jobs: jobs, last: last,
            leaseMillis: leaseMillis, claimMillis: nil
        )?.walk
    }

    /// The next users of `audience` after `cursor`, ascending: the matches and the cursor to resume
    /// from. `done` when nothing is left after it. Every query walks an index, never all users
    /// (except for everyone).
    public func audiencePage(sdkAppID: UInt64, _ audience: Audience, after cursor: String, limit: Int) async throws
        -> (users: [String], cursor: String, done: Bool)
    {
        if let driver = audience.all.first {
            // Walk the first AND term's index; filter the page by the other terms.
            let page = try await audienceTermPage(sdkAppID: sdkAppID, term: driver, after: cursor, limit: limit)
            var matches = Set(page)
            for term in audience.all.dropFirst() where !matches.isEmpty {
                matches = try await audienceMembers(sdkAppID: sdkAppID, term: term, among: Array(matches))
            }
            if !audience.any.isEmpty, !matches.isEmpty {
                var anyOf = Set<String>()
                for term in audience.any {
                    anyOf.formUnion(try await audienceMembers(sdkAppID: sdkAppID, term: term, among: Array(matches.subtracting(anyOf))))
                }
                matches = anyOf
            }
            return (page.filter(matches.contains), page.last ?? cursor, page.count < limit)
        }
        if audience.any.isEmpty {
            let page = try await audienceTermPage(sdkAppID: sdkAppID, term: nil, after: cursor, limit: limit)
            return (page, page.last ?? cursor, page.count < limit)
        }
        // OR only: merge the terms' index walks. Ids up to the smallest last id of a full page are
        // complete; beyond it a full page may be hiding more.
        var union = Set<String>()
        var horizon: String?
        for term in audience.any {
            let page = try await audienceTermPage(sdkAppID: sdkAppID, term: term, after: cursor, limit: limit)
            union.formUnion(page)
            if page.count == limit, let last = page.last, horizon.map({ Self.byteOrder(last, $0) }) ?? true { horizon = last }
        }
        let sorted = union.sorted(by: Self.byteOrder)
        guard let horizon else { return (sorted, sorted.last ?? cursor, true) }
        let complete = sorted.filter { !Self.byteOrder(horizon, $0) }
        return (complete, horizon, false)
    }

    /// The order of the stores' indexes (SQLite BINARY, PostgreSQL `COLLATE "C"`): UTF-8 bytes.
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// How many users `audience` selects (walked in pages of `page`).
    public func audienceSize(sdkAppID: UInt64, _ audience: Audience, page: Int = 20_000) async throws -> Int {
        var cursor = ""
        var count = 0
        while true {
            let step = try await audiencePage(sdkAppID: sdkAppID, audience, after: cursor, limit: page)
            count += step.users.count
            cursor = step.cursor
            if step.done { return count }
        }
    }
}

import Foundation
import PushCore
import PushJob
import Storage

/// Campaigns: `all_member_push/im_push` and `timpush/push` (all users, or those a tag or attribute
/// `Condition` selects), their progress (`pushd/get_task`, `timpush/all_member_push_statistics`)
/// and `pushd/cancel_task`. Creating one only records it: the dispatcher's walker selects the
/// users and enqueues their pushes on the campaign lane.
struct CampaignCommands: Sendable {
    let store: any CampaignStore & Directory
    let clock: any EpochClock

    /// `MsgLifeTime` is at most 7 days.
    static let maxLifetime = 604_800
    /// A campaign push still queued a day after the campaign started is not sent (without a
    /// `MsgLifeTime`): yesterday's marketing is noise. [ours]
    static let defaultPushLifetime = 86_400
    static let maxConditionTags = 10
    /// `all_member_push_statistics`: at most 5 tasks, a window of at most 30 days.
    static let maxStatisticsTasks = 5
    static let maxStatisticsWindow: Int64 = 30 * 86_400

    var commands: [String: RestAPI.Command] {
        [
            "all_member_push/im_push": .init(adminOnly: true, run: { try await push($0, $1, plugin: false) }),
            "timpush/push": .init(adminOnly: true, run: { try await push($0, $1, plugin: true) }),
            "pushd/get_task": .init(adminOnly: true, run: getTask),
            "pushd/cancel_task": .init(adminOnly: true, run: cancelTask),
            "timpush/all_member_push_statistics": .init(adminOnly: true, run: statistics),
        ]
    }

    // MARK: Creating

    /// `plugin`: `timpush/push`, whose `OnlineOnlyFlag: 1` makes a push that does not count as unread;
    /// the legacy `im_push` counts as unread when it has a `MsgLifeTime`.
    func push(_ caller: RestAPI.Caller, _ body: Data, plugin: Bool) async throws -> RestReply {
        let request = try RestAPI.decode(CampaignRequest.self, body)
        let app = caller.app
        let (random, from, lifetime) = (request.random, request.from, request.lifetime)
        var audience = request.audience
        let attrNames = Set(audience.all.compactMap(\.attrName) + audience.any.compactMap(\.attrName))
        if !attrNames.isEmpty {
            let defined = Set(try await store.attributeNames(sdkAppID: app.sdkAppID).values)
            for name in attrNames.sorted() {
                try RestAPI.require(defined.contains(name), "attribute \(name) is not defined (im_set_attr_name)", code: RestCode.badAttribute)
            }
        }
        audience.all = Self.unique(audience.all)
        audience.any = Self.unique(audience.any)
        guard app.campaignDailyQuota > 0 else { return .fail(RestCode.pushDisabled, "campaigns are not enabled for this app (campaign_daily_quota is 0)") }

        let now = clock.nowMillis()
        var nick: String?
        if let from {
            let profiles = try await store.profiles(sdkAppID: app.sdkAppID, userIDs: [from])
            if let refusal = MessageCommands.senderRefusal(from, profiles: profiles, caller: caller) { return refusal }
            nick = AccountCommands.nick(of: from, in: profiles)
        }
        // The vendors' expiry (apns-expiration, TTLs) matches the queue's.
        let pushLifetime = lifetime > 0 ? lifetime : Self.defaultPushLifetime
        let job = PushJobSpec(
            sdkAppID: app.sdkAppID, lane: .campaign, msgBody: request.content.body, offlinePushInfo: request.offlinePushInfo,
            msgLifeTime: pushLifetime, conversationType: "C2C", senderNick: nick, fromAccount: from, expiresAtMillis: now + Int64(pushLifetime) * 1000
        )
        let onlineOnly = plugin && request.onlineOnly
        let taskID = "\(app.sdkAppID)_\(random)_\(now / 1000)_\(UInt32.random(in: 1...UInt32.max))"
        let template = try JobTemplate(job: job, keyPrefix: taskID, countsForBadge: !onlineOnly && (plugin || lifetime > 0))
        let campaign = NewCampaign(
            sdkAppID: app.sdkAppID, taskID: taskID, msgRandom: random, audience: audience, template: template.payload,
            countsForBadge: template.countsForBadge
        )
        let quota = CampaignQuota(perDay: app.campaignDailyQuota, minIntervalMillis: Int64(app.campaignIntervalMillis))
        switch try await store.createCampaign(campaign, quota: quota) {
        case .created: return .ok([("TaskId", taskID)])
        case .duplicate(let first): return .ok([("TaskId", first)])
        case .tooFrequent:
            return .fail(RestCode.pushTooFrequent, "campaigns must be more than \(app.campaignIntervalMillis) ms apart")
        case .quotaExceeded:
            return .fail(RestCode.pushQuotaExceeded, "the app's \(app.campaignDailyQuota) campaigns in 24 hours are used up")
        }
    }

    static func unique(_ terms: [AudienceTerm]) -> [AudienceTerm] {
        var seen = Set<AudienceTerm>()
        return terms.filter { seen.insert($0).inserted }
    }

    // MARK: Progress

    struct TaskQuery: Decodable {
        var TaskId: String?
    }

    @Sendable func getTask(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let status = try await status(caller, body)
        return .ok(status.summary)
    }

    @Sendable func cancelTask(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let status = try await status(caller, body)
        guard try await store.cancelCampaign(sdkAppID: caller.app.sdkAppID, taskID: status.taskID) else {
            return .fail(RestCode.taskOver, "task \(status.taskID) is already \(status.state.rawValue)")
        }
        return .ok()
    }

    private func status(_ caller: RestAPI.Caller, _ body: Data) async throws -> CampaignStatus {
        guard let task = try RestAPI.decode(TaskQuery.self, body).TaskId, !task.isEmpty else {
            throw TencentError(code: RestCode.badJSON, message: "TaskId is required")
        }
        guard let status = try await store.campaign(sdkAppID: caller.app.sdkAppID, taskID: task) else {
            throw TencentError(code: RestCode.unknownTask, message: "no task \(task)")
        }
        return status
    }

    struct StatisticsQuery: Decodable {
        var StartTime: Int64?
        var EndTime: Int64?
        var TaskID: [String]?
    }

    /// Per task: devices targeted, sent, delivered (clicks are not reported by the vendors to
    /// pushd: 0). Named tasks, or every task started in the window.
    @Sendable func statistics(_ caller: RestAPI.Caller, _ body: Data) async throws -> RestReply {
        let q = try RestAPI.decode(StatisticsQuery.self, body)
        let app = caller.app.sdkAppID
        let tasks = q.TaskID ?? []
        try RestAPI.require(tasks.count <= Self.maxStatisticsTasks, "at most \(Self.maxStatisticsTasks) TaskID")
        try RestAPI.require(q.StartTime, in: RestAPI.secondsRange, field: "StartTime")
        try RestAPI.require(q.EndTime, in: RestAPI.secondsRange, field: "EndTime")
        let end = q.EndTime ?? clock.nowSeconds(), start = q.StartTime ?? end - Self.maxStatisticsWindow
        try RestAPI.require(start <= end && end - start <= Self.maxStatisticsWindow, "StartTime to EndTime must be a window of at most 30 days")
        var statuses: [CampaignStatus] = []
        if tasks.isEmpty {
            statuses = try await store.campaigns(sdkAppID: app, fromMillis: start * 1000, toMillis: (end + 1) * 1000, limit: 1000)
        } else {
            for task in tasks { if let s = try await store.campaign(sdkAppID: app, taskID: task) { statuses.append(s) } }
        }
        let results: [[String: any Sendable]] = statuses.map { s in
            let delivered = s.count(.delivered)
            return [
                "TaskID": s.taskID, "TotalCount": s.devices, "SentCount": delivered + s.count(.tokenInvalid) + s.count(.failed),
                "DeliveredCount": delivered, "ClickCount": 0, "State": s.state.rawValue,
            ]
        }
        return .ok([("Results", results)])
    }
}

extension AudienceTerm {
    var attrName: String? {
        if case .attr(let name, _) = self { return name }
        return nil
    }
}

import Foundation
import Logging
import Messaging
import Queue

/// Turns running campaigns into campaign-lane push jobs, a page of users at a time.
///
/// A step selects the next users after the campaign's cursor (through the tag and attribute
/// indexes), reads their devices, and in one transaction enqueues one job per user with a device
/// and moves the cursor: a crash repeats no finished step and skips none. The walker holds a
/// lease on the campaign, so several processes never walk the same one. It stays at most
/// `maxBacklog` unfinished pushes ahead of delivery, so a campaign moves at the pace its pushes
/// are delivered (slowed by vendor quotas and `Retry-After` like any push) and a large one never
/// fills the queue.
struct CampaignWalker: Sendable {
    var store: any PushStore
    var pageSize: Int
    var maxBacklog: Int
    var leaseMillis: Int64
    /// How long to wait when there is no campaign to walk, or its backlog is full.
    var idleInterval: Duration
    var backlogInterval: Duration
    var logger: Logger

    /// Walks campaigns until `stopping` or cancellation.
    func run(stopping: @escaping @Sendable () -> Bool) async {
        var failures = 0
        while !stopping(), !Task.isCancelled {
            do {
                if let walk = try await store.leaseCampaign(leaseMillis: leaseMillis) {
                    try await self.walk(walk, stopping: stopping)
                } else {
                    try? await Task.sleep(for: idleInterval)
                }
                failures = 0
            } catch {
                if Task.isCancelled || stopping() { return }
                failures += 1
                logger.error("campaign walker: store failure, backing off", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
            }
        }
    }

    /// Walks one leased campaign until it is fully enqueued, cancelled, or the walker stops.
    func walk(_ leased: CampaignWalk, stopping: @Sendable () -> Bool) async throws {
        var walk = leased
        let app = walk.sdkAppID
        if walk.audienceSize == nil {
            let size = try await store.audienceSize(sdkAppID: app, walk.audience)
            try await store.setAudienceSize(walk, size: size)
            walk.audienceSize = size
            logger.info("campaign started", metadata: ["app": "\(app)", "task": "\(walk.taskID)", "users": "\(size)"])
        }
        while !stopping(), !Task.isCancelled {
            if walk.backlog >= maxBacklog {
                try? await Task.sleep(for: backlogInterval)
                // A step without users renews the lease and reads the backlog again.
                guard let next = try await advance(walk, page: nil, devices: []) else { return }
                walk = next
                continue
            }
            let page = try await store.audiencePage(sdkAppID: app, walk.audience, after: walk.cursor, limit: pageSize)
            let devices = page.users.isEmpty ? [] : try await store.devices(sdkAppID: app, userIDs: page.users)
            guard let next = try await advance(walk, page: page, devices: devices) else { return }
            walk = next
            if page.done {
                logger.info("campaign enqueued", metadata: ["app": "\(app)", "task": "\(walk.taskID)"])
                return
            }
        }
    }

    private func advance(_ walk: CampaignWalk, page: (users: [String], cursor: String, done: Bool)?, devices: [Device]) async throws
        -> CampaignWalk?
    {
        let withDevice = Set(devices.map(\.userID))
        let users = page?.users ?? []
        let jobs = users.filter(withDevice.contains).map(walk.job(for:))
        let next = try await store.advanceCampaign(
            walk, cursor: page?.cursor ?? walk.cursor, users: users.count, usersWithoutDevice: users.count - jobs.count, devices: devices.count,
            jobs: jobs, last: page?.done ?? false, leaseMillis: leaseMillis
        )
        if next == nil { logger.info("campaign walk ended: cancelled or taken over", metadata: ["task": "\(walk.taskID)"]) }
        return next
    }
}

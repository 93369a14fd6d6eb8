import Foundation
import Gateways
import Logging
import Messaging
import PushCore
import PushJob
import Storage

/// Turns running campaigns into campaign-lane push jobs, a page of users at a time, and sends them.
///
/// A step selects the next users after the campaign's cursor (through the tag and attribute
/// indexes), reads their devices, and in one transaction enqueues one job per user with a device
/// and moves the cursor: a crash repeats no finished step and skips none. The jobs are enqueued
/// claimed by the walker, which hands them with the devices it read to its sender: no claim
/// transaction and no second device read per push. If the process dies, their claims run out and
/// the workers send them. The walker holds a lease on the campaign, so several processes never walk
/// the same one. It stays at most `sender.steps` steps and `maxBacklog` unfinished pushes (retries
/// included) ahead of delivery, so a campaign moves at the pace its pushes are delivered (slowed by
/// vendor quotas and `Retry-After` like any push) and a large one never fills the queue.
///
/// As any push (push-rules.md 1.3): the campaign's sender (`From_Account`) gets no job, and a user
/// in their do-not-disturb window gets a silent one, recorded as skipped (`DoNotDisturb`).
struct CampaignWalker: Sendable {
    var store: any PushStore
    var pageSize: Int
    var maxBacklog: Int
    var leaseMillis: Int64
    /// How long to wait when there is no campaign to walk, or its backlog is full.
    var idleInterval: Duration
    var backlogInterval: Duration
    /// What do-not-disturb windows are checked against.
    var clock: any EpochClock
    var logger: Logger
    /// Sends the jobs of each step.
    var sender: CampaignSender

    /// Walks campaigns until `stopping` or cancellation; returns once the steps being sent are
    /// finished.
    func run(stopping: @escaping @Sendable () -> Bool) async {
        let steps = AsyncSemaphore(permits: max(1, sender.steps))
        await withDiscardingTaskGroup { group in
            await walkAll(stopping: stopping) { [sender] jobs, devices in
                guard !jobs.isEmpty else { return }
                // Waits while `steps` steps are being sent: the walker runs ahead of delivery by
                // that much only.
                await steps.acquire()
                group.addTask(executorPreference: sender.executor) {
                    await sender.send(jobs, devices)
                    steps.release()
                }
            }
        }
    }

    private func walkAll(stopping: @Sendable () -> Bool, hand: Hand) async {
        var failures = 0
        while !stopping(), !Task.isCancelled {
            do {
                if let walk = try await store.leaseCampaign(leaseMillis: leaseMillis) {
                    try await self.walk(walk, stopping: stopping, hand: hand)
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

    /// Takes a step's claimed jobs and the devices read for them.
    typealias Hand = ([ClaimedJob], [Device]) async -> Void

    /// Walks one leased campaign until it is fully enqueued, cancelled, or the walker stops.
    func walk(_ leased: CampaignWalk, stopping: @Sendable () -> Bool, hand: Hand) async throws {
        var walk = leased
        let app = walk.sdkAppID
        let jobs = CampaignJobs(walk)
        if walk.audienceSize == nil {
            let size = try await store.audienceSize(sdkAppID: app, walk.audience)
            try await store.setAudienceSize(walk, size: size)
            walk.audienceSize = size
            logger.info("campaign started", metadata: ["app": "\(app)", "task": "\(walk.taskID)", "users": "\(size)"])
        }
        // The next page is read while the current one is written: a step costs the longer of the
        // two, not their sum.
        var prefetched: Page?
        while !stopping(), !Task.isCancelled {
            if walk.backlog >= maxBacklog {
                try? await Task.sleep(for: backlogInterval)
                // A step without users renews the lease and reads the backlog again.
                guard let next = try await advance(walk, page: nil, jobs: jobs) else { return }
                walk = next.walk
                continue
            }
            let page: Page
            if let prefetched {
                page = prefetched
            } else {
                page = try await read(walk.audience, of: app, after: walk.cursor, jobs: jobs)
            }
            let audience = walk.audience
            async let following = page.done ? nil : read(audience, of: app, after: page.cursor, jobs: jobs)
            guard let next = try await advance(walk, page: page, jobs: jobs) else { return }
            walk = next.walk
            await hand(next.claimed, page.devices)
            if page.done {
                logger.info("campaign enqueued", metadata: ["app": "\(app)", "task": "\(walk.taskID)"])
                return
            }
            prefetched = try await following
        }
    }

    /// A page of the audience, the devices of its users, and their receive settings.
    struct Page: Sendable {
        var users: [String]
        var cursor: String
        var done: Bool
        var devices: [Device]
        /// The users of `users` with at least one device: the only ones who get a job.
        var withDevice: Set<ExactString>
        var settings: [ExactString: ReceiveSettings]
    }

    private func read(_ audience: Audience, of app: UInt64, after cursor: String, jobs: CampaignJobs) async throws -> Page {
        let page = try await store.audiencePage(sdkAppID: app, audience, after: cursor, limit: pageSize)
        guard !page.users.isEmpty else {
            return Page(users: [], cursor: page.cursor, done: page.done, devices: [], withDevice: [], settings: [:])
        }
        let devices = try await store.devices(sdkAppID: app, userIDs: page.users)
        let withDevice = devices.map(\.userID).exactSet
        let settings =
            withDevice.isEmpty
            ? [:] : try await store.receiveSettings(sdkAppID: app, userIDs: withDevice.map(\.value), conversation: jobs.conversation)
        return Page(users: page.users, cursor: page.cursor, done: page.done, devices: devices, withDevice: withDevice, settings: settings)
    }

    private func advance(_ walk: CampaignWalk, page: Page?, jobs plan: CampaignJobs) async throws -> CampaignStep? {
        let devices = page?.devices ?? []
        let withDevice = page?.withDevice ?? []
        let users = page?.users ?? []
        let nowSeconds = clock.nowSeconds()
        let jobs = users.compactMap { user -> NewJob? in
            guard withDevice.contains(ExactString(user)) else { return nil }
            return plan.job(for: user, settings: page?.settings[ExactString(user)], nowSeconds: nowSeconds)
        }
        // The sender has a device but no job: not a user without a device.
        let withoutDevice = users.count - users.lazy.filter { withDevice.contains(ExactString($0)) }.count
        let next = try await store.advanceCampaign(
            walk, cursor: page?.cursor ?? walk.cursor, users: users.count, usersWithoutDevice: withoutDevice, devices: devices.count,
            jobs: jobs, last: page?.done ?? false, leaseMillis: leaseMillis, claimMillis: sender.claimMillis
        )
        if next == nil { logger.info("campaign walk ended: cancelled or taken over", metadata: ["task": "\(walk.taskID)"]) }
        return next
    }
}

/// A campaign's jobs: its template for everyone, a silent copy for users in their do-not-disturb
/// window, none for its sender.
struct CampaignJobs: Sendable {
    let walk: CampaignWalk
    let sender: String?
    /// The template marked silent (`DoNotDisturb`), encoded once per walk; nil when the stored
    /// template does not decode (its jobs then fail at dispatch as any malformed job does).
    let quiet: Data?
    /// Whose receive option applies: the conversation with the sender, when there is one.
    var conversation: String { sender.map(ReceiveSettings.conversation(peer:)) ?? "" }

    init(_ walk: CampaignWalk) {
        self.walk = walk
        var spec = try? PushJobSpec.decode(walk.template)
        sender = spec?.fromAccount.flatMap { $0.isEmpty ? nil : $0 }
        spec?.silent = "DoNotDisturb"
        quiet = try? spec?.encoded()
    }

    func job(for user: String, settings: ReceiveSettings?, nowSeconds: Int64) -> NewJob? {
        if let sender, sender.sameBytes(as: user) { return nil }
        var job = walk.job(for: user)
        if let quiet, settings?.doNotDisturb?.contains(nowSeconds: nowSeconds) == true { job.payload = quiet }
        return job
    }
}

/// The walker's own senders: a step's jobs are enqueued claimed and sent at once, without waiting
/// for a worker to claim them, with the devices the step read.
struct CampaignSender: Sendable {
    /// How long a step's jobs stay claimed: if the process dies, they are claimed again after it.
    var claimMillis: Int64
    /// Steps being sent at once; the walker waits for one to finish before it hands over another.
    var steps: Int
    /// Where the steps are sent (the campaign thread); the walker's own reads and writes do not
    /// queue behind the pushes of the steps it handed over.
    var executor: any TaskExecutor
    /// Sends the jobs and finishes them.
    var send: @Sendable (_ jobs: [ClaimedJob], _ devices: [Device]) async -> Void
}

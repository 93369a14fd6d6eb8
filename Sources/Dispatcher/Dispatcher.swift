import Foundation
import Gateways
import Logging
import Messaging
import PushCore
import PushJob
import PushdConfig
import Storage
import ServiceLifecycle
import Synchronization
import Tracing

/// The daemon's workers: claim a batch of jobs, expand them, send them through at most
/// `sendWindow` senders, and finish each job as its last send is done (group commit); repeat. A
/// job is finished only when its outcome is final (delivered, token invalid, dead letter) or it is
/// rescheduled; a crash leaves it leased until the lease runs out.
///
/// Graceful shutdown: no more claims; in-flight sends get `shutdownGrace`, then they are
/// cancelled and their jobs handed back to the queue unsent.
public final class Dispatcher: Service, Sendable {
    public struct Settings: Sendable {
        public var workers: Int
        public var chatWorkers: Int
        public var batchSize: Int
        public var leaseMillis: Int64
        public var shutdownGrace: Duration
        public var retentionMillis: Int64
        /// Dead letters are deleted this long after they died (`dead_letter_retention_hours`).
        public var deadLetterRetentionMillis: Int64
        /// How often queue gauges are refreshed and finished jobs purged.
        public var maintenanceInterval: Duration = .seconds(5)
        public var purgeInterval: Duration = .seconds(600)
        /// Longest idle wait between claims when no notification arrives.
        public var pollInterval: Duration = .milliseconds(500)
        /// Campaign walking: users per step, pushes ahead of delivery, the walker's lease.
        public var campaignPage: Int
        public var campaignBacklog: Int
        public var campaignInFlight: Int
        public var campaignLeaseMillis: Int64 = 15_000
        public var campaignIdleInterval: Duration = .seconds(1)
        /// Device sends one worker keeps going at once, across the jobs of its claim: the streams
        /// one vendor takes (`max_in_flight`), enough to keep its connections full without holding
        /// a task and a request for every device of a large claim. (Measured with `pushd-bench
        /// e2e`: 1× gave 44.6k pushes/s, 2× 43.2k, 4× 40.8k; docs/benchmarks.md.)
        public var sendWindow: Int
        /// Pushes of one content to many devices of a vendor that takes many tokens go out as one
        /// request (``MulticastPlan``); off, every device is a request of its own.
        public var multicast = true

        public init(_ d: PushdConfig.Dispatcher) {
            workers = d.workers
            chatWorkers = d.chatWorkers
            batchSize = d.batchSize
            leaseMillis = Int64(d.leaseSeconds) * 1000
            shutdownGrace = .seconds(d.shutdownGraceSeconds)
            retentionMillis = Int64(d.retentionHours) * 3_600_000
            deadLetterRetentionMillis = Int64(d.deadLetterRetentionHours) * 3_600_000
            campaignPage = d.campaignPage
            campaignBacklog = d.campaignBacklog
            campaignInFlight = d.campaignInFlight
            sendWindow = max(16, d.maxInFlight)
        }
    }

    let store: any PushStore
    let processor: JobProcessor
    private let settings: Settings
    let metrics: DispatcherMetrics
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    /// Campaign jobs that may be in hand at once, in units of `campaignInFlight`: enough work to
    /// keep the vendor stage full while others are being enqueued or claimed, and finished. It
    /// bounds the walker's steps and, separately, the workers' claims (retries, expired claims).
    static let campaignClaimDepth = 4
    /// Campaign jobs not claimed yet of `campaignClaimDepth × campaignInFlight`.
    private let campaignSlots: Mutex<Int>
    /// Most campaign jobs one claim takes: `campaignInFlight`, so several workers overlap
    /// claiming, sending and finishing them while the others stay free for chat.
    private let campaignClaim: Int
    /// Finishes the walker's steps: the completions of steps that finish while one finishing
    /// transaction waits or runs go into the next one together (group commit).
    private let stepCompletions: Coalescer<[JobCompletion], Void>
    /// Finishes the workers' jobs as each one's sends are done: the jobs that finish while one
    /// finishing transaction runs go into the next one together (group commit).
    private let completions: Coalescer<[JobCompletion], Void>

    public init(
        store: any PushStore, gateways: VendorGateways, config: PushdConfig, clock: any EpochClock = SystemEpochClock(),
        metrics: DispatcherMetrics = DispatcherMetrics(), logger: Logger = Logger(label: "pushd.dispatcher"),
        settings: Settings? = nil, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, tracer: (any Tracer)? = nil,
        sentRequests: SentRequests? = nil
    ) throws {
        let settings = settings ?? Settings(config.dispatcher)
        let d = config.dispatcher
        let inFlight = max(1, settings.campaignInFlight)
        processor = JobProcessor(
            apps: Reloadable(try AppPipeline.all(config)), gateways: gateways,
            throttle: VendorThrottle(rates: VendorThrottle.rates(config), clock: clock),
            backoff: Backoff(baseMillis: Int64(d.backoffBaseMillis), maxMillis: Int64(d.backoffMaxSeconds) * 1000), maxAttempts: d.maxAttempts,
            alarmPauseMillis: Int64(d.alarmPauseSeconds) * 1000, maxPauseMillis: Int64(d.maxVendorPauseSeconds) * 1000,
            maxThrottleWaitMillis: settings.leaseMillis / 4, clock: clock,
            metrics: metrics, logger: logger, random: random,
            campaignSends: AsyncSemaphore(permits: inFlight), tracer: tracer, sentRequests: sentRequests
        )
        campaignSlots = Mutex(Self.campaignClaimDepth * inFlight)
        campaignClaim = min(settings.batchSize, inFlight)
        stepCompletions = Self.groupCommit(store, maxJobs: 4 * max(1, settings.campaignPage))
        completions = Self.groupCommit(store, maxJobs: 4 * max(1, settings.batchSize))
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
    }

    /// Applies a reloaded config to delivery: each app's templates and rendering settings, its
    /// vendor clients (``VendorGateways/stage(_:)``) and rate limits. Everything is built first;
    /// when any of it fails nothing changes. Jobs prepared before the swap finish with what they
    /// were prepared with; an app the config no longer lists keeps its pipeline and clients, so its
    /// queued jobs still go out (the API refuses its new messages). The `dispatcher:` settings
    /// themselves need a restart.
    public func reload(_ config: PushdConfig) throws {
        var apps = processor.apps.current
        let fresh = try AppPipeline.all(config)
        let staged = try processor.gateways.stage(config)
        apps.merge(fresh) { _, new in new }
        processor.gateways.commit(staged)
        processor.throttle.update(rates: VendorThrottle.rates(config), resetting: staged.changed)
        processor.apps.replace(apps)
    }

    /// Finishes the completions submitted while one finishing transaction runs together in the
    /// next one, up to `maxJobs` jobs.
    static func groupCommit(_ store: any PushStore, maxJobs: Int) -> Coalescer<[JobCompletion], Void> {
        Coalescer(maxWeight: maxJobs, weight: { $0.count }) { batches in
            try await store.complete(batches.flatMap { $0 })
            return batches.map { _ in () }
        }
    }

    /// Runs until cancelled or, under a service group, until graceful shutdown has drained.
    public func run() async throws {
        let workers = Task { await self.runWorkers() }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await workers.value
            } onCancel: {
                workers.cancel()
            }
        } onGracefulShutdown: {
            self.stop(cancelling: workers)
        }
    }

    /// Stops claiming now; cancels in-flight sends after the grace period.
    func stop(cancelling workers: Task<Void, Never>) {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        logger.info("stopping: no more claims, in-flight sends have \(settings.shutdownGrace)")
        let grace = settings.shutdownGrace
        Task {
            try? await Task.sleep(for: grace)
            workers.cancel()
        }
    }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) }

    private func runWorkers() async {
        let campaignLane = LaneExecutor()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.maintain() }
            // The walker reads and writes on the shared executor; its steps are sent on the campaign thread.
            group.addTask { await self.walker(sendingOn: campaignLane).run { [self] in self.isStopping } }
            await withTaskGroup(of: Void.self) { workers in
                for index in 0..<(settings.workers + settings.chatWorkers) { workers.addTask { await self.work(index, campaignLane: campaignLane) } }
            }
            group.cancelAll()
        }
        await campaignLane.shutdown()
        logger.info("dispatcher stopped")
    }

    private func work(_ index: Int, campaignLane: LaneExecutor) async {
        var failures = 0
        while !isStopping, !Task.isCancelled {
            do {
                // Chat jobs always; campaign jobs only within the shared budget, and never by the
                // chat workers (after the others): one is always free to pass the campaign's claims.
                let slots = index >= settings.workers ? 0 : takeCampaignSlots(upTo: campaignClaim)
                var jobs: [ClaimedJob]
                var devices: [Device]?
                do {
                    jobs = try await store.claim(limit: settings.batchSize, campaignLimit: slots, leaseMillis: settings.leaseMillis)
                } catch {
                    returnCampaignSlots(slots)
                    throw error
                }
                let campaign = jobs.filter { $0.lane == .campaign }
                returnCampaignSlots(slots - campaign.count)
                defer { returnCampaignSlots(campaign.count) }
                failures = 0
                if jobs.isEmpty {
                    // Without campaign slots, campaign jobs are not this worker's to wake for; the
                    // worker that returns slots claims again itself. Chat jobs enqueued meanwhile
                    // may be handed over already claimed for this worker: sent at once, no claim.
                    let handed = await store.waitForJobs(
                        timeout: settings.pollInterval, campaign: slots > 0, taking: settings.batchSize, leaseMillis: settings.leaseMillis
                    )
                    if handed.jobs.isEmpty { continue }
                    (jobs, devices) = (handed.jobs, handed.devices)
                }
                // A chat job claimed with campaign jobs is finished as soon as it is sent, not when
                // the campaign batch is.
                // Campaign jobs run on their own thread (see `LaneExecutor`).
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if !campaign.isEmpty {
                        group.addTask(executorPreference: campaignLane) { try await self.processAndComplete(campaign) }
                    }
                    try await self.processAndComplete(jobs.filter { $0.lane != .campaign }, devices: devices)
                    try await group.waitForAll()
                }
            } catch {
                // Cancelled at shutdown: the leases of anything claimed run out; nothing to report.
                if Task.isCancelled || isStopping { break }
                // The store is failing: the leases will run out and the jobs come back.
                failures += 1
                logger.error("worker \(index): store failure, backing off", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
            }
        }
    }

    /// Sends `jobs` and finishes each as soon as its sends are done, by default through
    /// `completions`; the walker's steps go through `stepCompletions` instead.
    private func processAndComplete(
        _ jobs: [ClaimedJob], devices: [Device]? = nil, finish: (@Sendable ([JobCompletion]) async throws -> Void)? = nil
    ) async throws {
        guard !jobs.isEmpty else { return }
        let finish = finish ?? { [completions] in try await completions.submit($0) }
        try await withLeaseHeartbeat(jobs) { try await self.process(jobs, devices: devices, finish: finish) }
    }

    /// The campaign walker. It sends what it enqueues like a worker, with the devices it read, and
    /// keeps about as many pushes in hand as the workers may claim
    /// (`campaignClaimDepth × campaignInFlight`).
    private func walker(sendingOn lane: LaneExecutor) -> CampaignWalker {
        let perStep = max(1, settings.campaignPage)
        return CampaignWalker(
            store: store, pageSize: settings.campaignPage, maxBacklog: settings.campaignBacklog, leaseMillis: settings.campaignLeaseMillis,
            idleInterval: settings.campaignIdleInterval, backlogInterval: .milliseconds(50), clock: processor.clock, logger: logger,
            sender: CampaignSender(
                claimMillis: settings.leaseMillis, steps: max(2, Self.campaignClaimDepth * max(1, settings.campaignInFlight) / perStep),
                executor: lane
            ) { [self] jobs, devices in
                do {
                    try await processAndComplete(jobs, devices: devices) { [stepCompletions] in try await stepCompletions.submit($0) }
                } catch {
                    // Their claims run out and the workers send them.
                    logger.error("campaign step: store failure", metadata: ["error": "\(error)"])
                }
            }
        )
    }

    private func takeCampaignSlots(upTo wanted: Int) -> Int {
        campaignSlots.withLock { free in
            let taken = min(free, wanted)
            free -= taken
            return taken
        }
    }

    private func returnCampaignSlots(_ n: Int) {
        guard n > 0 else { return }
        campaignSlots.withLock { $0 += n }
    }

    /// Runs `work` while renewing the leases of `jobs` every third of a lease: however long a batch
    /// takes, its jobs stay this worker's, and no other worker sends them again. A worker that dies
    /// stops renewing, and its jobs come back when the last lease runs out.
    func withLeaseHeartbeat<T: Sendable>(_ jobs: [ClaimedJob], _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let heartbeat = Task { [store, logger, lease = settings.leaseMillis] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(max(1, lease / 3)))
                if Task.isCancelled { break }
                do {
                    try await store.extendLeases(jobs, leaseMillis: lease)
                } catch {
                    logger.warning("lease heartbeat failed", metadata: ["error": "\(error)", "jobs": "\(jobs.count)"])
                }
            }
        }
        defer { heartbeat.cancel() }
        return try await work()
    }

    /// A job claimed more than `max_attempts` times without its worker ever finishing a round
    /// (each claim died with its process, or lost its lease) is a poison job: it is dead-lettered
    /// instead of being sent again, so it cannot crash-loop the daemon or hold up the queue.
    static func isPoison(_ job: ClaimedJob, maxAttempts: Int) -> Bool { job.openClaims > maxAttempts }

    /// Sends a batch: fan-out jobs expanded first, devices fetched per app in one query (unless
    /// `known`: the devices of every job's user, read by the caller), then at most `sendWindow`
    /// device sends at once across the jobs, in claim order. Each job is handed to `finish` as soon
    /// as its last send is done, while the others' sends go on.
    func process(
        _ jobs: [ClaimedJob], devices known: [Device]? = nil, finish: @escaping @Sendable ([JobCompletion]) async throws -> Void
    ) async throws {
        var ready: [JobCompletion] = []
        var healthy: [ClaimedJob] = []
        for job in jobs {
            if Self.isPoison(job, maxAttempts: processor.maxAttempts) {
                ready.append(
                    processor.dead(job, reason: "Poison: claimed \(job.openClaims) times and never finished (max_attempts \(processor.maxAttempts))")
                )
            } else {
                healthy.append(job)
            }
        }
        let (fanOuts, jobs) = (healthy.filter(FanOut.isFanOut), healthy.filter { !FanOut.isFanOut($0) })
        ready += try await expand(fanOuts)
        // By bytes: canonically equivalent user IDs are different accounts with different devices.
        var devices: [UInt64: [ExactString: [Device]]] = [:]
        for (app, appJobs) in Dictionary(grouping: jobs, by: \.sdkAppID) {
            let found: [Device]
            if let known {
                found = known.filter { $0.sdkAppID == app }
            } else {
                found = try await store.devices(sdkAppID: app, userIDs: appJobs.map(\.userID).exactSet.map(\.value))
            }
            devices[app] = Dictionary(grouping: found, by: { ExactString($0.userID) })
        }
        let processor = self.processor
        var sending: [JobProcessor.PreparedJob] = []
        for job in jobs {
            switch processor.prepare(job, devices: devices[job.sdkAppID]?[ExactString(job.userID)] ?? []) {
            case .dead(let completion): ready.append(completion)
            case .ready(let job) where job.sends.isEmpty: ready.append(processor.finish(job, job.results))
            case .ready(let job): sending.append(job)
            }
        }
        let prepared = sending
        // Finishing is not cancelled by a shutdown: the outcomes are known and must be kept.
        @Sendable func finishing(_ done: [JobCompletion]) async throws {
            try await Task { try await finish(done) }.value
        }
        // `sendWindow` senders take the sends in claim order, one at a time (a multicast's
        // devices at once): a few long-lived tasks rather than one task per device. The sender
        // that makes a job's last send finishes the job.
        let plan = settings.multicast ? MulticastPlan(prepared, processor: processor) : MulticastPlan(jobs: prepared.count)
        let progress = Locked(SendProgress(results: prepared.map(\.results), left: prepared.map(\.sends.count), groups: plan.groups.count))
        let total = prepared.reduce(0) { $0 + $1.sends.count }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if !ready.isEmpty { group.addTask { [ready] in try await finishing(ready) } }
            for _ in 0..<min(settings.sendWindow, total) {
                group.addTask {
                    while let next = progress.withLock({ $0.take(prepared, plan) }) {
                        let done: [JobCompletion]
                        switch next {
                        case .alone(let index, let send):
                            let result = await processor.run(send, of: prepared[index])
                            done = progress.withLock { $0.record(result, of: index) }.map { [processor.finish(prepared[index], $0)] } ?? []
                        case .multicast(let g):
                            let members = plan.groups[g]
                            let recipients = members.map { JobProcessor.Recipient(device: prepared[$0.job].sends[$0.send].device, job: prepared[$0.job].job) }
                            let first = prepared[members[0].job]
                            let results = await processor.traced(first.sends[members[0].send].device.vendor, devices: members.count, under: first.span) {
                                await processor.multicast(plan.contents[g], to: recipients, through: plan.clients[g], app: first.app)
                            }
                            done = progress.withLock { progress in
                                zip(members, results).compactMap { member, result in
                                    progress.record(result, of: member.job).map { processor.finish(prepared[member.job], $0) }
                                }
                            }
                        }
                        if !done.isEmpty { try await finishing(done) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// A value behind a lock, shared by the senders of one claim.
    final class Locked<Value: Sendable>: Sendable {
        private let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
        func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
    }

    /// Which send comes next across a claim's jobs, and each job's results so far.
    struct SendProgress: Sendable {
        var results: [[JobProcessor.DeviceResult]]
        var left: [Int]
        /// Multicasts already taken by a sender.
        var taken: [Bool]
        var next = (job: 0, send: 0)

        init(results: [[JobProcessor.DeviceResult]], left: [Int], groups: Int) {
            self.results = results
            self.left = left
            taken = Array(repeating: false, count: groups)
        }

        enum Next: Sendable {
            /// A job's index and the send's.
            case alone(Int, Int)
            /// A multicast's index in the plan.
            case multicast(Int)
        }

        /// The next send in claim order, or the multicast it is the first untaken member of; nil
        /// when all are taken.
        mutating func take(_ prepared: [JobProcessor.PreparedJob], _ plan: MulticastPlan) -> Next? {
            while next.job < prepared.count {
                if next.send < prepared[next.job].sends.count {
                    let (job, send) = next
                    next.send += 1
                    guard let g = plan.group(job: job, send: send) else { return .alone(job, send) }
                    if taken[g] { continue }
                    taken[g] = true
                    return .multicast(g)
                }
                next = (next.job + 1, 0)
            }
            return nil
        }

        /// Records a send's result; the job's results when it was its last.
        mutating func record(_ result: JobProcessor.DeviceResult, of job: Int) -> [JobProcessor.DeviceResult]? {
            results[job].append(result)
            left[job] -= 1
            guard left[job] == 0 else { return nil }
            defer { results[job] = [] }
            return results[job]
        }
    }

    /// Expands fan-out jobs (`FanOut.expand`): finished once their recipients' jobs are queued.
    func expand(_ fanOuts: [ClaimedJob]) async throws -> [JobCompletion] {
        guard !fanOuts.isEmpty else { return [] }
        let refused = try await FanOut.expand(fanOuts, into: store).refused
        return fanOuts.map { job in refused[job.id].map { processor.dead(job, reason: "BadJob: \($0.message)") } ?? JobCompletion(job: job) }
    }

    /// Queue gauges every few seconds; finished jobs purged after the retention.
    private func maintain() async {
        let clock = ContinuousClock()
        var lastPurge: ContinuousClock.Instant?
        while !isStopping, !Task.isCancelled {
            try? await recordQueue()
            if lastPurge.map({ clock.now - $0 >= settings.purgeInterval }) ?? true {
                do {
                    try await store.purgeFinished(olderThanMillis: settings.retentionMillis)
                    let purged = try await store.purgeDeadLetters(olderThanMillis: settings.deadLetterRetentionMillis)
                    if purged > 0 { logger.info("dead letters past their retention purged", metadata: ["count": "\(purged)"]) }
                } catch {
                    logger.warning("purge of finished jobs failed", metadata: ["error": "\(error)"])
                }
                lastPurge = clock.now
            }
            try? await Task.sleep(for: settings.maintenanceInterval)
        }
    }
}

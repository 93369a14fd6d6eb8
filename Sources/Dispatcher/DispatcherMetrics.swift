import CoreMetrics
import Metrics
import PushCore
import Storage
import Synchronization

/// The dispatcher's metrics, made by an injected factory (Prometheus in `pushd serve`, a no-op in
/// tests) rather than the global bootstrap. Every metric of the send path is made once, up front,
/// for each vendor, outcome and lane, so a send only looks it up in an immutable dictionary.
public final class DispatcherMetrics: Sendable {
    /// The outcome labels of `pushd_sends_total`.
    static let outcomes = ["delivered", "token_invalid", "retry", "permanent", "config_alarm"]

    private let factory: any MetricsFactory
    /// `pushd_sends_total{app,vendor,outcome}`: apps come and go with reloads, so each app and
    /// vendor's counters (one per outcome) are made on its first send; a send then hashes only the
    /// app and vendor under the lock, and finds its outcome in an immutable table.
    private let sends = Mutex<[VendorThrottle.Key: [String: Counter]]>([:])
    private let durations: [Vendor: Timer]
    private let latency: [Lane: Timer]
    private let retries: [String: Counter]
    private let deadLetters: [String: Counter]
    private let invalidations: [Vendor: Counter]
    /// `pushd_queue_*{app,lane}`, made when an app first has a pending job; an app's lanes with
    /// none are recorded 0 rather than left at their last value.
    private let queueGauges = Mutex<[QueueKey: (pending: Gauge, ready: Gauge, oldest: Gauge)]>([:])
    private let deadLetterGauge: Gauge
    /// Skip reasons are open-ended; they are made on first use.
    private let skips = Mutex<[String: Counter]>([:])
    /// The last hour of sends per second, and the last failures, for the operator console; nil
    /// (without the console) keeps none and costs the sends nothing.
    public let history: DeliveryHistory?

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance, history: DeliveryHistory? = nil) {
        self.factory = factory
        self.history = history
        func byVendor<M>(_ make: (Vendor) -> M) -> [Vendor: M] {
            Dictionary(uniqueKeysWithValues: Vendor.allCases.map { ($0, make($0)) })
        }
        func byLane<M>(_ make: (Lane) -> M) -> [Lane: M] {
            Dictionary(uniqueKeysWithValues: Lane.allCases.map { ($0, make($0)) })
        }
        // Dead letters and retries also count job-level failures, under vendor "".
        let vendorNames = Vendor.allCases.map(\.rawValue) + [""]
        func byVendorName(_ label: String) -> [String: Counter] {
            Dictionary(uniqueKeysWithValues: vendorNames.map { ($0, Counter(label: label, dimensions: [("vendor", $0)], factory: factory)) })
        }
        durations = byVendor { Timer(label: "pushd_send_duration_seconds", dimensions: [("vendor", $0.rawValue)], factory: factory) }
        latency = byLane { Timer(label: "pushd_enqueue_to_send_seconds", dimensions: [("lane", $0.description)], factory: factory) }
        retries = byVendorName("pushd_retries_total")
        deadLetters = byVendorName("pushd_dead_letters_total")
        invalidations = byVendor { Counter(label: "pushd_invalidated_tokens_total", dimensions: [("vendor", $0.rawValue)], factory: factory) }
        deadLetterGauge = Gauge(label: "pushd_dead_letters", dimensions: [], factory: factory)
    }

    /// One send of an app to a vendor and what came of it (with the vendor's reason when it
    /// failed), with its duration.
    func sent(app: UInt64, vendor: Vendor, outcome: String, reason: String? = nil, nanoseconds: Int64) {
        history?.record(app: app, vendor: vendor, outcome: outcome, reason: reason)
        let counters = made(sends, VendorThrottle.Key(app: app, vendor: vendor)) {
            Dictionary(
                uniqueKeysWithValues: Self.outcomes.map {
                    ($0, Counter(label: "pushd_sends_total", dimensions: [("app", String(app)), ("vendor", vendor.rawValue), ("outcome", $0)], factory: factory))
                }
            )
        }
        counters[outcome]?.increment()
        durations[vendor]?.recordNanoseconds(nanoseconds)
    }

    /// The metric of `key` in `cache`, made on first use.
    private func made<Key: Hashable & Sendable, M: Sendable>(_ cache: borrowing Mutex<[Key: M]>, _ key: Key, _ make: () -> M) -> M {
        cache.withLock { cache in
            if let metric = cache[key] { return metric }
            let metric = make()
            cache[key] = metric
            return metric
        }
    }

    /// `pushd_vendor_paused{app,vendor}` (1 while `Retry-After` or an alarm pauses it) and
    /// `pushd_vendor_config_alarm{app,vendor}` (1 while the pause is a configuration alarm).
    private let vendorGauges = Mutex<[VendorThrottle.Key: (paused: Gauge, alarm: Gauge)]>([:])

    /// An app's campaigns that are not over.
    public struct CampaignProgress: Sendable, Equatable {
        public var running = 0
        public var jobs = 0
        public var jobsDone = 0
    }

    /// `pushd_campaigns_running{app}`, `pushd_campaign_jobs{app}` and `pushd_campaign_jobs_done{app}`:
    /// per app, not per campaign, so the series stay as many as the apps.
    private let campaignGauges = Mutex<[UInt64: (running: Gauge, jobs: Gauge, done: Gauge)]>([:])

    func record(campaigns: [UInt64: CampaignProgress]) {
        for (app, progress) in campaigns {
            let gauges = made(campaignGauges, app) {
                let dimensions = [("app", String(app))]
                return (
                    Gauge(label: "pushd_campaigns_running", dimensions: dimensions, factory: factory),
                    Gauge(label: "pushd_campaign_jobs", dimensions: dimensions, factory: factory),
                    Gauge(label: "pushd_campaign_jobs_done", dimensions: dimensions, factory: factory)
                )
            }
            gauges.running.record(progress.running)
            gauges.jobs.record(progress.jobs)
            gauges.done.record(progress.jobsDone)
        }
    }

    /// Each configured app's vendors: paused or not, by a configuration alarm or not.
    func record(vendors: [(key: VendorThrottle.Key, paused: Bool, alarm: Bool)]) {
        for state in vendors {
            let gauges = made(vendorGauges, state.key) {
                let dimensions = [("app", String(state.key.app)), ("vendor", state.key.vendor.rawValue)]
                return (
                    Gauge(label: "pushd_vendor_paused", dimensions: dimensions, factory: factory),
                    Gauge(label: "pushd_vendor_config_alarm", dimensions: dimensions, factory: factory)
                )
            }
            gauges.paused.record(state.paused ? 1 : 0)
            gauges.alarm.record(state.alarm ? 1 : 0)
        }
    }

    /// Time from enqueue to a final outcome for a device.
    func enqueueToSend(lane: Lane, nanoseconds: Int64) {
        latency[lane]?.recordNanoseconds(nanoseconds)
    }

    func retried(vendor: String) { retries[vendor]?.increment() }
    func deadLettered(vendor: String) { deadLetters[vendor]?.increment() }
    func invalidated(vendor: Vendor) { invalidations[vendor]?.increment() }

    func skipped(reason: String) {
        made(skips, reason) { Counter(label: "pushd_skipped_total", dimensions: [("reason", reason)], factory: factory) }.increment()
    }

    /// Queue depth per lane, age of the oldest ready job, dead letters.
    struct QueueKey: Hashable {
        var app: UInt64
        var lane: Lane
    }

    /// Sets the queue gauges of every app in `stats` or in `apps`.
    public func record(_ stats: QueueStats, apps: [UInt64] = []) {
        let none = QueueStats.LaneStats(pending: 0, ready: 0, oldestReadyAgeMillis: 0)
        queueGauges.withLock { gauges in
            for app in Set(stats.apps.keys).union(apps) {
                for lane in Lane.allCases where gauges[QueueKey(app: app, lane: lane)] == nil {
                    let dimensions = [("app", String(app)), ("lane", lane.description)]
                    gauges[QueueKey(app: app, lane: lane)] = (
                        Gauge(label: "pushd_queue_pending", dimensions: dimensions, factory: factory),
                        Gauge(label: "pushd_queue_ready", dimensions: dimensions, factory: factory),
                        Gauge(label: "pushd_queue_oldest_ready_age_seconds", dimensions: dimensions, factory: factory)
                    )
                }
            }
            for (key, gauge) in gauges {
                let s = stats.apps[key.app]?[key.lane] ?? none
                gauge.pending.record(s.pending)
                gauge.ready.record(s.ready)
                gauge.oldest.record(Double(s.oldestReadyAgeMillis) / 1000)
            }
        }
        deadLetterGauge.record(stats.deadLetters)
    }
}

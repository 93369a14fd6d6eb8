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
    private let sends: [Vendor: [String: Counter]]
    private let durations: [Vendor: Timer]
    private let latency: [Lane: Timer]
    private let retries: [String: Counter]
    private let deadLetters: [String: Counter]
    private let invalidations: [Vendor: Counter]
    private let queueGauges: [Lane: (pending: Gauge, ready: Gauge, oldest: Gauge)]
    private let deadLetterGauge: Gauge
    /// Skip reasons are open-ended; they are made on first use.
    private let skips = Mutex<[String: Counter]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
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
        sends = byVendor { vendor in
            Dictionary(
                uniqueKeysWithValues: Self.outcomes.map {
                    ($0, Counter(label: "pushd_sends_total", dimensions: [("vendor", vendor.rawValue), ("outcome", $0)], factory: factory))
                }
            )
        }
        durations = byVendor { Timer(label: "pushd_send_duration_seconds", dimensions: [("vendor", $0.rawValue)], factory: factory) }
        latency = byLane { Timer(label: "pushd_enqueue_to_send_seconds", dimensions: [("lane", $0.description)], factory: factory) }
        retries = byVendorName("pushd_retries_total")
        deadLetters = byVendorName("pushd_dead_letters_total")
        invalidations = byVendor { Counter(label: "pushd_invalidated_tokens_total", dimensions: [("vendor", $0.rawValue)], factory: factory) }
        queueGauges = byLane { lane in
            let dimensions = [("lane", lane.description)]
            return (
                Gauge(label: "pushd_queue_pending", dimensions: dimensions, factory: factory),
                Gauge(label: "pushd_queue_ready", dimensions: dimensions, factory: factory),
                Gauge(label: "pushd_queue_oldest_ready_age_seconds", dimensions: dimensions, factory: factory)
            )
        }
        deadLetterGauge = Gauge(label: "pushd_dead_letters", dimensions: [], factory: factory)
    }

    /// One send to a vendor and what came of it, with its duration.
    func sent(vendor: Vendor, outcome: String, nanoseconds: Int64) {
        sends[vendor]?[outcome]?.increment()
        durations[vendor]?.recordNanoseconds(nanoseconds)
    }

    /// Time from enqueue to a final outcome for a device.
    func enqueueToSend(lane: Lane, nanoseconds: Int64) {
        latency[lane]?.recordNanoseconds(nanoseconds)
    }

    func retried(vendor: String) { retries[vendor]?.increment() }
    func deadLettered(vendor: String) { deadLetters[vendor]?.increment() }
    func invalidated(vendor: Vendor) { invalidations[vendor]?.increment() }

    func skipped(reason: String) {
        skips.withLock { s in
            if let counter = s[reason] { return counter }
            let counter = Counter(label: "pushd_skipped_total", dimensions: [("reason", reason)], factory: factory)
            s[reason] = counter
            return counter
        }.increment()
    }

    /// Queue depth per lane, age of the oldest ready job, dead letters.
    public func record(_ stats: QueueStats) {
        for (lane, s) in stats.lanes {
            guard let gauges = queueGauges[lane] else { continue }
            gauges.pending.record(s.pending)
            gauges.ready.record(s.ready)
            gauges.oldest.record(Double(s.oldestReadyAgeMillis) / 1000)
        }
        deadLetterGauge.record(stats.deadLetters)
    }
}

import CoreMetrics
import Metrics
import PushCore
import Queue
import Synchronization

/// The dispatcher's metrics, made by an injected factory (Prometheus in `pushd serve`, a no-op in
/// tests) rather than the global bootstrap.
public final class DispatcherMetrics: Sendable {
    private let factory: any MetricsFactory
    /// Counters, timers and gauges by label and dimensions, made on first use.
    private let made = Mutex<[String: any Sendable]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    private func metric<M: Sendable>(_ label: String, _ dimensions: [(String, String)], _ make: (String, [(String, String)], any MetricsFactory) -> M) -> M {
        let key = "\(M.self)|" + label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return made.withLock { m in
            if let metric = m[key] as? M { return metric }
            let metric = make(label, dimensions, factory)
            m[key] = metric
            return metric
        }
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        metric(label, dimensions) { Counter(label: $0, dimensions: $1, factory: $2) }
    }

    private func timer(_ label: String, _ dimensions: [(String, String)]) -> Timer {
        metric(label, dimensions) { Timer(label: $0, dimensions: $1, factory: $2) }
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> Gauge {
        metric(label, dimensions) { Gauge(label: $0, dimensions: $1, factory: $2) }
    }

    /// One send to a vendor and what came of it, with its duration.
    func sent(vendor: Vendor, outcome: String, nanoseconds: Int64) {
        counter("pushd_sends_total", [("vendor", vendor.rawValue), ("outcome", outcome)]).increment()
        timer("pushd_send_duration_seconds", [("vendor", vendor.rawValue)]).recordNanoseconds(nanoseconds)
    }

    /// Time from enqueue to a final outcome for a device.
    func enqueueToSend(lane: Lane, nanoseconds: Int64) {
        timer("pushd_enqueue_to_send_seconds", [("lane", lane.description)]).recordNanoseconds(nanoseconds)
    }

    func retried(vendor: String) { counter("pushd_retries_total", [("vendor", vendor)]).increment() }
    func deadLettered(vendor: String) { counter("pushd_dead_letters_total", [("vendor", vendor)]).increment() }
    func invalidated(vendor: Vendor) { counter("pushd_invalidated_tokens_total", [("vendor", vendor.rawValue)]).increment() }
    func skipped(reason: String) { counter("pushd_skipped_total", [("reason", reason)]).increment() }

    /// Queue depth per lane, age of the oldest ready job, dead letters.
    public func record(_ stats: QueueStats) {
        for (lane, s) in stats.lanes {
            gauge("pushd_queue_pending", [("lane", lane.description)]).record(s.pending)
            gauge("pushd_queue_ready", [("lane", lane.description)]).record(s.ready)
            gauge("pushd_queue_oldest_ready_age_seconds", [("lane", lane.description)]).record(Double(s.oldestReadyAgeMillis) / 1000)
        }
        gauge("pushd_dead_letters", []).record(stats.deadLetters)
    }
}

import CoreMetrics
import Synchronization

/// `pushd_ingest_events_total{source,result}`, `pushd_ingest_connected{source}` and
/// `pushd_ingest_paused{source}` (1 while the queue is over the source's `max_queue_depth`).
public final class IngestMetrics: Sendable {
    /// What became of an event.
    public enum Result: String, Sendable {
        /// A push job, new to the queue.
        case enqueued
        /// A push job whose key the queue already held (a redelivery).
        case duplicate
        /// A REST command that succeeded (a redelivered send sends nothing twice).
        case command
        /// Written to the dead-letter stream with its error.
        case deadLettered = "dead_lettered"
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Counter]>([:])
    private let gauges = Mutex<[String: Gauge]>([:])

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    func count(_ source: String, _ result: Result, _ n: Int) {
        guard n > 0 else { return }
        let counter = counters.withLock { counters in
            let key = source + "|" + result.rawValue
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "pushd_ingest_events_total", dimensions: [("source", source), ("result", result.rawValue)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment(by: n)
    }

    func connected(_ source: String, _ up: Bool) { gauge("pushd_ingest_connected", source).record(up ? 1 : 0) }

    func paused(_ source: String, _ on: Bool) { gauge("pushd_ingest_paused", source).record(on ? 1 : 0) }

    private func gauge(_ label: String, _ source: String) -> Gauge {
        gauges.withLock { gauges in
            let key = label + "|" + source
            if let gauge = gauges[key] { return gauge }
            let gauge = Gauge(label: label, dimensions: [("source", source)], factory: factory)
            gauges[key] = gauge
            return gauge
        }
    }
}

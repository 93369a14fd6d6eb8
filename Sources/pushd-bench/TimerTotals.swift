import CoreMetrics
import Synchronization

/// A metrics factory that only adds up timers, by label: the benchmarks read where time went from
/// the same metrics `pushd serve` exports, without a Prometheus registry in the measured path.
final class TimerTotals: MetricsFactory, Sendable {
    struct Total: Sendable {
        var count: Int64 = 0
        var nanoseconds: Int64 = 0
    }

    private let totals = Mutex<[String: Total]>([:])

    /// The total of every timer named `label`, whatever its dimensions.
    func total(_ label: String) -> Total { totals.withLock { $0[label] ?? Total() } }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { Handler(label: label, totals: self) }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { NOOPMetricsHandler.instance }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { NOOPMetricsHandler.instance }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    fileprivate func add(_ label: String, _ nanoseconds: Int64) {
        totals.withLock { totals in
            totals[label, default: Total()].count += 1
            totals[label, default: Total()].nanoseconds &+= nanoseconds
        }
    }

    private final class Handler: TimerHandler, Sendable {
        let label: String
        let totals: TimerTotals

        init(label: String, totals: TimerTotals) {
            self.label = label
            self.totals = totals
        }

        func recordNanoseconds(_ duration: Int64) { totals.add(label, duration) }
    }
}

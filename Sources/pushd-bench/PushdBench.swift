import ArgumentParser
import Glibc

/// `pushd-bench`: pushd's benchmarks, a separate executable so the daemon carries none of their code.
/// The root command stays synchronous so valgrind can run it (`scripts/bench-allocations.sh`).
@main
struct PushdBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushd-bench", abstract: "Benchmarks, printed as tables with ratios against a reference run.",
        subcommands: [RenderBenchCommand.self, GatewayBenchCommand.self, DispatchBenchCommand.self, ApiBenchCommand.self, CampaignBenchCommand.self, E2EBenchCommand.self, MulticastBenchCommand.self, IngestBenchCommand.self]
    )
}

/// A text table for benchmark output.
struct BenchTable {
    var header: [String]
    var rows: [[String]] = []

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            "| " + zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: " | ") + " |"
        }
        let rule = "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

/// Runs `body` `iterations` times, `rounds` times over, and returns the best rate per second.
func measureRate(iterations: Int, rounds: Int, _ body: (Int) -> Int) -> (rate: Double, checksum: Int) {
    var best = 0.0
    var checksum = 0
    let clock = ContinuousClock()
    for _ in 0..<rounds {
        var sum = 0
        let elapsed = clock.measure {
            for i in 0..<iterations { sum &+= body(i) }
        }
        best = max(best, Double(iterations) / elapsed.seconds)
        checksum &+= sum
    }
    return (best, checksum)
}

func formatRate(_ rate: Double) -> String {
    rate >= 1_000_000 ? String(format: "%.2f M/s", rate / 1_000_000) : String(format: "%.0f k/s", rate / 1_000)
}

/// CPU seconds (user + system) used so far by this process, or by its waited-for children.
enum CPUTime {
    static func process() -> Double { seconds(RUSAGE_SELF.rawValue) }
    static func children() -> Double { seconds(RUSAGE_CHILDREN.rawValue) }

    private static func seconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(who, &usage)
        func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return value(usage.ru_utime) + value(usage.ru_stime)
    }
}

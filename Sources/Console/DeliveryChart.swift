import Dispatcher
import PushCore

/// The overview's chart, drawn on the server as SVG: sends per second over the last hour, one line
/// per vendor and outcome that had any, averaged over `bucketSeconds`; and the same as totals for
/// a table (the chart's text alternative).
struct DeliveryChart {
    static let width = 720.0
    static let height = 220.0
    static let margin = (left: 48.0, right: 12.0, top: 12.0, bottom: 28.0)
    static let palette = ["#1b7f3b", "#c0392b", "#2c6fbb", "#d68910", "#7d3c98", "#117a65", "#a04000", "#566573", "#b03a2e", "#1f618d"]

    struct Series {
        var vendor: Vendor
        var outcome: String
        var rates: [Double]
        var total: Int
    }

    let seconds: [DeliveryHistory.Second]
    let bucketSeconds: Int

    init(_ seconds: [DeliveryHistory.Second], bucketSeconds: Int = 10) {
        self.seconds = seconds
        self.bucketSeconds = max(1, bucketSeconds)
    }

    /// The series with at least one send, vendor then outcome order.
    var series: [Series] {
        var out: [Series] = []
        for vendor in Vendor.allCases {
            for (index, outcome) in DeliveryHistory.outcomes.enumerated() {
                let counts = seconds.map { $0.count(vendor, index) }
                let total = counts.reduce(0, +)
                guard total > 0 else { continue }
                let rates = stride(from: 0, to: counts.count, by: bucketSeconds).map { start in
                    let bucket = counts[start..<min(start + bucketSeconds, counts.count)]
                    return Double(bucket.reduce(0, +)) / Double(bucket.count)
                }
                out.append(Series(vendor: vendor, outcome: outcome, rates: rates, total: total))
            }
        }
        return out
    }

    /// The SVG element; every text in it is escaped (vendor and outcome names are fixed anyway).
    func svg() -> String {
        let series = self.series
        let peak = max(1.0, series.flatMap(\.rates).max() ?? 1)
        let top = Self.niceCeiling(peak)
        let m = Self.margin
        let plotW = Self.width - m.left - m.right, plotH = Self.height - m.top - m.bottom
        let points = max(1, series.first?.rates.count ?? (seconds.count / bucketSeconds))
        func x(_ i: Int) -> Double { m.left + plotW * Double(i) / Double(max(1, points - 1)) }
        func y(_ v: Double) -> Double { m.top + plotH * (1 - min(v, top) / top) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" role="img" \
            aria-labelledby="chart-title chart-desc" class="chart">
            <title id="chart-title">Sends per second by vendor and outcome, last hour</title>
            <desc id="chart-desc">\(series.isEmpty ? "No sends in the last hour." : "\(series.count) series; the table below gives the totals.")</desc>
            <rect x="\(m.left)" y="\(m.top)" width="\(plotW)" height="\(plotH)" fill="none" stroke="#bbb"/>

            """
        for step in 0...5 {
            let value = top * Double(step) / 5
            let yy = y(value)
            out += "<line x1=\"\(m.left)\" y1=\(q(yy)) x2=\"\(m.left + plotW)\" y2=\(q(yy)) stroke=\"#eee\"/>"
            out += "<text x=\"\(m.left - 6)\" y=\(q(yy + 4)) text-anchor=\"end\" font-size=\"11\">\(Self.label(value))</text>\n"
        }
        for (minutesAgo, anchor) in [(60, "start"), (30, "middle"), (0, "end")] {
            let xx = m.left + plotW * Double(60 - minutesAgo) / 60
            out += "<text x=\(q(xx)) y=\"\(Self.height - 8)\" text-anchor=\"\(anchor)\" font-size=\"11\">"
            out += minutesAgo == 0 ? "now" : "−\(minutesAgo) min"
            out += "</text>\n"
        }
        for (index, s) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let path = s.rates.enumerated().map { "\(Self.fixed(x($0.offset))),\(Self.fixed(y($0.element)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(path)\">"
            out += "<title>\(escape(s.vendor.rawValue)) \(escape(s.outcome))</title></polyline>\n"
        }
        out += "</svg>"
        return out
    }

    /// Legend entries: the series' colour, vendor, outcome and total.
    func legend() -> [[String: Any]] {
        series.enumerated().map { index, s in
            ["color": Self.palette[index % Self.palette.count], "vendor": s.vendor.rawValue, "outcome": s.outcome, "total": s.total]
        }
    }

    private func q(_ value: Double) -> String { "\"\(Self.fixed(value))\"" }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// One decimal place, without Foundation's formatter.
    static func fixed(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    static func label(_ value: Double) -> String {
        value >= 10 || value == value.rounded() ? String(Int(value.rounded())) : fixed(value)
    }

    /// 1, 2 or 5 times a power of ten, at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return value
    }
}

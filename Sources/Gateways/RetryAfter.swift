import Foundation

/// Reads a vendor's `Retry-After` header without trusting it: digits of any length, negative
/// numbers, fractions, HTTP dates in the past or far future all give a value in `0...maxSeconds`
/// or nil.
public enum RetryAfter {
    /// No vendor answer pauses anything longer than this, before the dispatcher's own cap.
    public static let maxSeconds = 86_400

    /// The seconds to wait, or nil when the header says nothing usable.
    public static func seconds(_ header: String, now: Date) -> Int? {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // More digits than an Int holds is still "a very long time".
            return Int(text).map { min($0, maxSeconds) } ?? maxSeconds
        }
        guard let date = httpDate(text) else { return nil }
        let delta = date.timeIntervalSince(now)
        guard delta.isFinite else { return nil }
        return delta <= 0 ? 0 : Int(min(delta.rounded(.up), Double(maxSeconds)))
    }

    /// IMF-fixdate, and the obsolete RFC 850 and asctime forms RFC 9110 says a recipient accepts.
    static func httpDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

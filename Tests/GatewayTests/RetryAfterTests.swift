import Foundation
import Gateways
import Testing

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; anything else is ignored.
@Suite("Retry-After parsing")
struct RetryAfterTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)  // Wed, 18 Nov 2026 11:06:40 GMT

    @Test("delay-seconds, clamped to a day; HTTP-dates in all three forms; garbage is nil")
    func parse() {
        let cases: [(String, Int?)] = [
            ("120", 120), (" 7 ", 7), ("0", 0), ("86400", 86_400), ("86401", 86_400),
            ("9300000000000000", 86_400), ("99999999999999999999999999", 86_400),
            ("-5", nil), ("1.5", nil), ("soon", nil), ("", nil), ("0x10", nil), ("١٢", nil),
            ("Wed, 18 Nov 2026 11:07:40 GMT", 60),  // IMF-fixdate, a minute on
            ("Wednesday, 18-Nov-26 11:08:40 GMT", 120),  // RFC 850
            ("Wed Nov 18 11:09:40 2026", 180),  // asctime
            ("Wed, 18 Nov 2026 09:00:00 GMT", 0),  // in the past: now
            ("Fri, 31 Dec 9999 23:59:59 GMT", 86_400),
        ]
        for (header, expected) in cases {
            #expect(RetryAfter.seconds(header, now: Self.now) == expected, "\(header)")
        }
    }
}

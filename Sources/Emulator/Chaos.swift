import Foundation
import HTTPTypes
import PushCore

/// Chaos mode: a share of send requests (and of access-token requests) is answered the way a
/// misbehaving gateway answers: a random status, a `Retry-After` that is huge, negative, not a
/// number or an HTTP date, a truncated or non-JSON body, an absurd `expires_in`, a reset stream or
/// a GOAWAY. Seeded, so a run can be replayed.
public struct Chaos: Sendable, Codable, Equatable {
    /// The share of requests (0 to 1) answered chaotically.
    public var share: Double
    public var seed: UInt64

    public init(share: Double, seed: UInt64) {
        self.share = share
        self.seed = seed
    }

    /// What one chaotic answer does.
    enum Move {
        /// Answer with this status, headers and raw body.
        case answer(status: Int, retryAfter: String?, body: Data)
        /// Reset the connection mid-stream.
        case reset
        /// GOAWAY, then answer normally.
        case goAway
    }

    static let statuses = [200, 200, 400, 401, 403, 404, 410, 413, 429, 429, 429, 500, 502, 503, 503, 504, 299, 418, 599]
    static let retryAfters: [String?] = [
        nil, "1", "0", "9300000000000000", "99999999999999999999999999", "-5", "soon", "1.5", "", " 2 ",
        "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
    ]
    static let bodies: [String] = [
        "", "{", #"{"reason":"Bad"#, "<html><body>502 Bad Gateway</body></html>", "null", "[1,2,3]", #""string""#, "\u{0}\u{1}\u{2}",
        #"{"reason": 7, "error": "x", "code": [], "result": {}}"#, #"{"code": "80000000", "msg": null, "requestId": 12}"#,
        #"{"error": {"code": "x", "status": 5, "details": "not an array"}}"#, #"{"result": 1e400}"#,
        String(repeating: "x", count: 200_000),
    ]

    /// A chaotic send answer.
    static func move(_ rng: inout SplitMix64) -> Move {
        switch rng.below(10) {
        case 0: return .reset
        case 1: return .goAway
        default:
            return .answer(
                status: statuses[rng.below(statuses.count)], retryAfter: retryAfters[rng.below(retryAfters.count)],
                body: Data(bodies[rng.below(bodies.count)].utf8)
            )
        }
    }

    /// An `expires_in` a token endpoint should never send.
    static func expiresIn(_ rng: inout SplitMix64) -> Any {
        let values: [Any] = [-1, 0, 1, Int64.max, Int64.min, 1e300, "3600", "never", NSNull(), 3600.5, [3600]]
        return values[rng.below(values.count)]
    }
}

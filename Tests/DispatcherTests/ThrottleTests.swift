import Dispatcher
import Foundation
import PushCore
import PushJob
import Testing
import TestSupport

@Suite("Rate limits, backoff and job decoding")
struct ThrottleTests {
    @Test("a token bucket sends its burst at once, then one per 1/rate; idle time refills up to the burst")
    func tokenBucket() {
        var bucket = TokenBucket(rate: 10, burst: 3, nowMillis: 0)
        #expect((0..<3).map { _ in bucket.take(nowMillis: 0) } == [0, 0, 0])
        #expect(bucket.take(nowMillis: 0) == 100)
        #expect(bucket.take(nowMillis: 0) == 200, "callers queue up behind each other")
        var idle = TokenBucket(rate: 10, burst: 3, nowMillis: 0)
        for _ in 0..<3 { _ = idle.take(nowMillis: 0) }
        #expect(idle.take(nowMillis: 10_000) == 0)
        #expect(idle.take(nowMillis: 10_000) == 0)
        #expect(idle.take(nowMillis: 10_000) == 0)
        #expect(idle.take(nowMillis: 10_000) == 100, "refill stops at the burst")
    }

    @Test("a throttle pause holds until its time; the first pause of a spell is reported once")
    func pause() {
        let clock = ManualEpochClock(millis: 1_000)
        let throttle = VendorThrottle(rates: [:], clock: clock)
        let key = VendorThrottle.Key(app: 1, vendor: .fcm)
        #expect(throttle.pausedUntil(key) == nil)
        #expect(throttle.pause(key, untilMillis: 5_000))
        #expect(!throttle.pause(key, untilMillis: 4_000), "an earlier end does not shorten the pause")
        #expect(!throttle.pause(key, untilMillis: 6_000), "extended, but already reported")
        #expect(throttle.pausedUntil(key) == 6_000)
        #expect(throttle.pausedUntil(.init(app: 2, vendor: .fcm)) == nil, "per app")
        #expect(throttle.reserve(key) == 0, "no rate configured: unlimited")
        clock.advance(millis: 5_000)
        #expect(throttle.pausedUntil(key) == nil)
        #expect(throttle.pause(key, untilMillis: 9_000), "a new spell is reported again")
    }

    @Test("backoff doubles per attempt with jitter, is capped, and Retry-After wins")
    func backoff() {
        // The rule (README, "What the queue guarantees"): before attempt n + 1 the delay is
        // c/2 + jitter × c/2 with c = min(backoff_max, backoff_base × 2^(n−1)): never immediate,
        // never all retries at once; a positive Retry-After wins, capped by backoff_max.
        // base 1 s, max 60 s: n = 1 → c = 1 s → 500 ms at jitter 0, 999 at 0.999; n = 3 → c = 4 s →
        // 2 s; n = 40 → c = 60 s (capped) → 60 s at jitter 1; Retry-After 30 s → 30 s; 3600 s → 60 s.
        let b = Backoff(baseMillis: 1_000, maxMillis: 60_000)
        #expect(b.delayMillis(attempt: 1, retryAfterSeconds: nil, unit: 0) == 500)
        #expect(b.delayMillis(attempt: 1, retryAfterSeconds: nil, unit: 0.999) == 999)
        #expect(b.delayMillis(attempt: 3, retryAfterSeconds: nil, unit: 0) == 2_000)
        #expect(b.delayMillis(attempt: 40, retryAfterSeconds: nil, unit: 1) == 60_000)
        #expect(b.delayMillis(attempt: 1, retryAfterSeconds: 30, unit: 0.5) == 30_000)
        #expect(b.delayMillis(attempt: 1, retryAfterSeconds: 3_600, unit: 0.5) == 60_000)
    }

    /// Issue 24: values from a config or a vendor that used to overflow Int64 arithmetic.
    @Test("a rate, a burst or a Retry-After from outside never overflows the throttle or the backoff")
    func extremeThrottleValues() {
        let b = Backoff(baseMillis: 1_000, maxMillis: 60_000)
        #expect(b.delayMillis(attempt: 1, retryAfterSeconds: 9_300_000_000_000_000, unit: 0.5) == 60_000)
        #expect(b.delayMillis(attempt: 1, retryAfterSeconds: .max, unit: 0.5) == 60_000)
        #expect(b.delayMillis(attempt: .max, retryAfterSeconds: nil, unit: 0.999) <= 60_000)
        #expect(b.delayMillis(attempt: .min, retryAfterSeconds: -5, unit: 0) == 500, "a negative Retry-After is no Retry-After")
        var tiny = TokenBucket(rate: 1e-300, burst: 1, nowMillis: 0)
        #expect(tiny.take(nowMillis: 0) == 0)
        #expect(tiny.take(nowMillis: 0) == 3_600_000, "an hour is the longest wait, not an overflow")
        for rate in [Double.nan, .infinity, -1, 0] {
            var odd = TokenBucket(rate: rate, burst: .nan, nowMillis: 0)
            #expect(odd.take(nowMillis: 0) == 0)
            #expect(odd.take(nowMillis: 0) == 1_000, "\(rate) is read as one a second")
        }
        let throttle = VendorThrottle(rates: [.init(app: 1, vendor: .fcm): (rate: .nan, burst: nil)], clock: ManualEpochClock())
        #expect(throttle.reserve(.init(app: 1, vendor: .fcm)) == 0, "a NaN rate configures no bucket")
    }

    @Test("a job names its fields when it is malformed")
    func jobDecoding() throws {
        let good = Data(#"{"SdkAppID": "1400000000", "To_Account": "bob", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#.utf8)
        let spec = try PushJobSpec.decode(good)
        #expect(spec.sdkAppID == 1_400_000_000 && spec.lane == .chat)
        let job = try spec.newJob(payload: good)
        #expect(job.idempotencyKey == (try spec.newJob(payload: good)).idempotencyKey, "a digest key is stable")
        #expect(job.countsForBadge)
        let cases: [(String, Int, String)] = [
            (#"{"SdkAppID": 1, "To_Account": "bob", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": 5}}]}"#, 90002, "Text"),
            (#"{"SdkAppID": 1, "To_Account": "", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#, 90002, "To_Account"),
            (#"{"SdkAppID": 1, "To_Account": "bob", "Lane": "bulk", "MsgBody": []}"#, 90002, "Lane"),
            (#"{"SdkAppID": 1, "To_Account": "bob""#, 90001, "JSON"),
        ]
        for (json, code, field) in cases {
            // An enqueued job needs its recipient: the queue entry is made from it.
            #expect(throws: TencentError.self) { try PushJobSpec.decode(Data(json.utf8)).newJob(payload: Data(json.utf8)) }
            do {
                _ = try PushJobSpec.decode(Data(json.utf8)).newJob(payload: Data(json.utf8))
            } catch {
                #expect(error.code == code, "\(json)")
                #expect(error.message.contains(field), "\(error.message)")
            }
        }
    }
}

import Dispatcher
import Emulator
import Foundation
import Messaging
import PushCore
import PushJob
import Storage
import ServiceLifecycle
import Testing
import TestSupport
import MetricsTestKit

@Suite("Dispatcher against the emulator")
struct DispatcherTests {
    @Test("a queued job reaches every vendor, with the push text and badge, and is recorded per device")
    func everyVendor() async throws {
        try await DispatchHarness.with { h in
            for (n, vendor) in Vendor.allCases.enumerated() { try await h.register("bob", "d-\(vendor.rawValue)", vendor, n: n + 1, badge: 2) }
            #expect(try await h.enqueue("m1", to: "bob", text: "see you at ten"))
            try await h.eventually("all eight delivered") { try await h.records("m1").count == 8 }
            let records = try await h.records("m1")
            #expect(records.allSatisfy { $0.outcome == .delivered && $0.attempts == 1 })
            #expect(Set(records.map(\.vendor)) == Set(Vendor.allCases.map(\.rawValue)))
            #expect(records.filter { $0.vendorMessageID?.isEmpty == false }.count >= 5, "vendors that return an id have it recorded")
            for vendor in Vendor.allCases {
                let sent = h.emulator.requests(vendor: vendor).filter { $0.status == 200 && !$0.path.contains("token") && !$0.path.contains("auth") }
                let bodies = sent.map { $0.body.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? $0.body }
                #expect(bodies.contains { $0.contains("see you at ten") }, "\(vendor.rawValue) got the text: \(bodies)")
            }
            let apns = try #require(h.emulator.requests(vendor: .apns).last)
            #expect(apns.body.contains("\"badge\":3"), "badge base 2 plus this counted message")
            #expect(apns.body.contains("Alice"), "nickname prefix")
            #expect(try await h.pending() == 0)
        }
    }

    /// Issue 28 section 6: `proxy` in the config reaches the vendor connections.
    @Test("proxy from the config: APNs goes through the global proxy, FCM (token request included) through its own")
    func configuredProxies() async throws {
        let global = try TinyProxy()
        let fcmOwn = try TinyProxy()
        defer {
            global.stop()
            fcmOwn.stop()
        }
        try await DispatchHarness.with(
            app: { $0.vendors[.fcm]?.fields["proxy"] = fcmOwn.url() }, global: { $0.proxy = global.url() }
        ) { h in
            try await h.register("bob", "iphone", .apns, n: 1)
            try await h.register("bob", "pixel", .fcm, n: 2)
            #expect(try await h.enqueue("m1", to: "bob"))
            try await h.eventually("both delivered") { try await h.records("m1").filter { $0.outcome == .delivered }.count == 2 }
            let origin = "127.0.0.1:\(h.running.port)"
            #expect(global.connectTargets().contains(origin))
            #expect(fcmOwn.connectTargets().contains(origin))
            // Each transport is one app and vendor: the FCM tunnels are the FCM proxy's alone.
            #expect(global.connectTargets().count <= 2 && fcmOwn.connectTargets().count <= 2)
            #expect(h.emulator.accessTokensIssued(vendor: .fcm) == 1)
        }
    }

    /// Issue 28 section 4: a reload changes channel IDs, credentials and rate limits in place.
    @Test("reload: the next Huawei push carries the new default channel ID; APNs keeps its connections; a bad key changes nothing; a removed app's queued job still goes out")
    func reload() async throws {
        let h = try await DispatchHarness(app: { $0.vendors[.huawei]?.fields["default_channel_id"] = "chat-v1" })
        let dispatcher = try h.makeDispatcher()
        let task = Task { try await dispatcher.run() }
        defer { task.cancel() }
        try await h.register("bob", "mate", .huawei, n: 1)
        for n in 1...4 { try await h.register("bob", "iphone-\(n)", .apns, n: n) }
        func deliver(_ key: String) async throws {
            #expect(try await h.enqueue(key, to: "bob"))
            try await h.eventually("\(key) delivered") { try await h.records(key).filter { $0.outcome == .delivered }.count == 5 }
        }
        func lastHuaweiBody() -> String { h.emulator.requests(vendor: .huawei).last { $0.path.hasSuffix("/messages:send") }?.body ?? "" }
        func apnsConnections() -> Set<Int> { Set(h.emulator.requests(vendor: .apns).compactMap(\.connection)) }

        try await deliver("m1")
        #expect(lastHuaweiBody().contains(#""channel_id":"chat-v1""#), "\(lastHuaweiBody())")
        let connections = apnsConnections()

        var changed = h.config
        changed.apps[0].vendors[.huawei]?.fields["default_channel_id"] = "chat-v2"
        try dispatcher.reload(changed)
        try await deliver("m2")
        #expect(lastHuaweiBody().contains(#""channel_id":"chat-v2""#), "\(lastHuaweiBody())")
        #expect(apnsConnections() == connections, "APNs' settings did not change: its connections stay")

        // A key file that does not load: refused as a whole, the running config stays.
        var broken = changed
        broken.apps[0].vendors[.huawei]?.fields["default_channel_id"] = "chat-v3"
        broken.apps[0].vendors[.fcm]?.fields["service_account_file"] = h.folder + "/missing.json"
        #expect(throws: (any Error).self) { try dispatcher.reload(broken) }
        try await deliver("m3")
        #expect(lastHuaweiBody().contains(#""channel_id":"chat-v2""#), "\(lastHuaweiBody())")

        // The app is gone from the file: its jobs already queued still go out.
        var removed = changed
        removed.apps = []
        try dispatcher.reload(removed)
        try await deliver("m4")
        #expect(try await h.store.stats().deadLetters == 0)
        task.cancel()
        _ = await task.result
        await h.shutdown()
    }

    @Test("only PushOnline devices with live tokens get the push; the others are recorded as skipped")
    func audience() async throws {
        try await DispatchHarness.with { h in
            try await h.register("bob", "bg", .apns, n: 1)
            try await h.register("bob", "fg", .apns, n: 2, state: .online)
            try await h.register("bob", "out", .apns, n: 3, state: .offline)
            try await h.register("bob", "old", .fcm, n: 4)
            h.clock.advance(seconds: 8 * 24 * 3600)
            try await h.register("bob", "fresh", .fcm, n: 5)
            try await h.enqueue("m1", to: "bob")
            try await h.eventually("five records") { try await h.records("m1").count == 5 }
            let byDevice = Dictionary(uniqueKeysWithValues: try await h.records("m1").map { ($0.deviceID, $0) })
            #expect(byDevice["fresh"]?.outcome == .delivered)
            #expect(byDevice["fg"]?.reason == "Online" && byDevice["out"]?.reason == "Offline")
            #expect(byDevice["old"]?.reason == "PushOnlineExpired", "PushOnline for over 7 days counts as Offline")
            #expect(byDevice["bg"]?.reason == "PushOnlineExpired")
            #expect(h.emulator.requests(vendor: .apns).isEmpty)
        }
    }

    @Test("no text, no push: a message-level skip sends nothing")
    func messageSkip() async throws {
        try await DispatchHarness.with { h in
            try await h.register("bob", "d1", .apns, n: 1)
            try await h.enqueue("m1", to: "bob", extra: #", "OfflinePushInfo": {"PushFlag": 1}"#)
            try await h.eventually("recorded") { try await h.records("m1").count == 1 }
            #expect(try await h.records("m1")[0].reason == "PushFlagOff")
            #expect(h.emulator.requests(vendor: .apns).isEmpty)
        }
    }

    @Test("an invalid token invalidates the device at the vendor's time, unless it re-registered since")
    func tokenInvalidation() async throws {
        try await DispatchHarness.with { h in
            let t0 = h.clock.nowMillis()
            let dead = try await h.register("bob", "dead", .apns, n: 1)
            h.emulator.setToken(dead.token, vendor: .apns, state: .unregistered(sinceMillis: t0 + 500))
            // Re-registered after the vendor's invalidation time: keeps its token.
            h.clock.advance(seconds: 1)
            let again = try await h.register("carol", "again", .apns, n: 2)
            h.emulator.setToken(again.token, vendor: .apns, state: .unregistered(sinceMillis: t0 + 500))
            let gone = try await h.register("bob", "gone", .fcm, n: 3)
            h.emulator.setToken(gone.token, vendor: .fcm, state: .unregistered(sinceMillis: t0))
            try await h.enqueue("m1", to: "bob")
            try await h.enqueue("m2", to: "carol")
            try await h.eventually("both jobs finished") { try await h.pending() == 0 }
            let bob = try await h.store.devices(sdkAppID: DispatchHarness.app, userIDs: ["bob", "carol"])
            let byID = Dictionary(uniqueKeysWithValues: bob.map { ($0.deviceID, $0) })
            #expect(byID["dead"]?.invalidatedAtMillis == t0 + 500, "APNs 410 timestamp")
            #expect(byID["gone"]?.invalidatedAtMillis != nil, "FCM UNREGISTERED")
            #expect(byID["again"]?.invalidatedAtMillis == nil)
            #expect(try await h.records("m1").allSatisfy { $0.outcome == .tokenInvalid })
            // An invalidated device gets nothing more.
            let before = h.emulator.requests(vendor: .apns).count
            try await h.enqueue("m3", to: "bob")
            try await h.eventually("m3 recorded") { try await h.records("m3").count == 2 }
            #expect(try await h.records("m3").allSatisfy { $0.reason == "TokenInvalidated" })
            #expect(h.emulator.requests(vendor: .apns).count == before)
        }
    }

    /// push-rules.md §2: element text is by the device's locale, the app's `default_locale` (zh in the
    /// demo config) when the device has none.
    @Test("2: a device without a locale gets the app's default locale's placeholders; an en device gets English")
    func defaultLocale() async throws {
        try await DispatchHarness.with { h in
            #expect(h.config.apps[0].defaultLocale == .zh)
            try await h.store.upsertDevice(
                Device(sdkAppID: DispatchHarness.app, userID: "bob", deviceID: "d1", vendor: .apns, token: DispatchHarness.token(.apns, 1), locale: nil,
                       registeredAtMillis: h.clock.nowMillis())
            )
            try await h.register("carol", "d2", .apns, n: 2)  // locale en
            let location = #", "MsgBody": [{"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "", "Latitude": 1, "Longitude": 2}}]"#
            for (key, user) in [("m1", "bob"), ("m2", "carol")] {
                let json = #"{"SdkAppID": \#(DispatchHarness.app), "To_Account": "\#(user)", "IdempotencyKey": "\#(key)""# + location + "}"
                let data = Data(json.utf8)
                try await h.store.enqueue(try PushJobSpec.decode(data).newJob(payload: data))
            }
            try await h.eventually("both delivered") { h.emulator.requests(vendor: .apns).count == 2 }
            let bodies = Dictionary(uniqueKeysWithValues: h.emulator.requests(vendor: .apns).map { ($0.path.hasSuffix(DispatchHarness.token(.apns, 1)) ? "bob" : "carol", $0.body) })
            #expect(bodies["bob"]?.contains("[位置]") == true, "\(bodies)")
            #expect(bodies["carol"]?.contains("[Location]") == true, "\(bodies)")
        }
    }

    /// push-rules.md §6: when `Ext` alone makes the APNs payload too large, the push is not sent and is
    /// recorded as a permanent failure `PayloadTooLarge`.
    @Test("6: an Ext that cannot fit APNs's 4096 bytes is recorded PayloadTooLarge and never sent")
    func payloadTooLarge() async throws {
        try await DispatchHarness.with { h in
            try await h.register("bob", "d1", .apns, n: 1)
            try await h.enqueue("big", to: "bob", extra: #", "OfflinePushInfo": {"Ext": "\#(String(repeating: "e", count: 5_000))"}"#)
            try await h.eventually("recorded") { try await !h.records("big").isEmpty }
            let record = try #require(try await h.records("big").first)
            #expect(record.outcome == .failed && record.reason == "PayloadTooLarge", "\(record)")
            #expect(h.emulator.requests(vendor: .apns).isEmpty, "nothing reached APNs")
        }
    }

    /// push-rules.md 5.3 and vendor-protocols.md 1.7, through the path that could break them: the
    /// dispatcher's retry after a failed send re-renders the push, so it must carry the same apns-id
    /// (APNs drops a duplicate by it) and the same absolute badge (a retry must not inflate it).
    @Test("a push retried after a 503 reaches APNs with the same apns-id and the same absolute badge")
    func retryKeepsIdAndBadge() async throws {
        try await DispatchHarness.with { h in
            try await h.register("bob", "d1", .apns, n: 1, badge: 4)
            h.emulator.addFault(Fault(vendor: .apns, remaining: 1, status: 503, reason: "ServiceUnavailable"))
            try await h.enqueue("m1", to: "bob")
            let due = try await h.waitRescheduled("m1", attempts: 1)
            h.clock.advance(millis: due - h.clock.nowMillis())
            try await h.eventually("the retry delivered") { try await h.records("m1").first?.outcome == .delivered }
            let sends = h.emulator.requests(vendor: .apns)
            #expect(sends.map(\.status) == [503, 200])
            let ids = sends.map { $0.headers["apns-id"] }
            #expect(ids[0] != nil && ids[0] == ids[1], "\(ids)")
            // Reported unread 4, plus this counted message: 5 on both attempts.
            #expect(sends.allSatisfy { $0.body.contains(#""badge":5"#) }, "\(sends.map(\.body))")
        }
    }

    @Test("retryable failures back off, then become a dead letter after max_attempts")
    func retriesThenDeadLetter() async throws {
        try await DispatchHarness.with(dispatcher: { $0.maxAttempts = 3; $0.backoffBaseMillis = 1000 }) { h in
            try await h.register("bob", "d1", .apns, n: 1)
            h.emulator.addFault(Fault(vendor: .apns, status: 503, reason: "ServiceUnavailable"))
            try await h.enqueue("m1", to: "bob")
            let t0 = h.clock.nowMillis()
            // Attempt 1 failed: the retry is due after base/2 + jitter(0.5) × base/2 = 750 ms.
            #expect(try await h.waitRescheduled("m1", attempts: 1) == t0 + 750)
            // An explicit signal, not a sleep: nothing is claimable before the backoff ends.
            #expect(try await h.store.claim(limit: 10, leaseMillis: 1).isEmpty, "nothing claimable before the backoff")
            h.clock.advance(millis: 749)
            #expect(try await h.store.claim(limit: 10, leaseMillis: 1).isEmpty, "nor 1 ms before it ends")
            #expect(h.emulator.requests(vendor: .apns).count == 1)
            h.clock.advance(millis: 1)
            try await h.eventually("second attempt") { h.emulator.requests(vendor: .apns).count == 2 }
            // Attempt 2 failed: 2 s ceiling → 1500 ms.
            #expect(try await h.waitRescheduled("m1", attempts: 2) == t0 + 750 + 1_500)
            h.clock.advance(millis: 1_500)
            try await h.eventually("third attempt") { h.emulator.requests(vendor: .apns).count == 3 }
            try await h.eventually("dead letter") { try await h.store.stats().deadLetters == 1 }
            let letter = try #require(try await h.store.deadLetters(afterID: 0, limit: 10).first)
            #expect(letter.deviceID == "d1" && letter.vendor == "apns" && letter.attempts == 3 && letter.userID == "bob")
            #expect(letter.token == DispatchHarness.token(.apns, 1))
            #expect(letter.lastError.contains("ServiceUnavailable"))
            #expect(try await h.pending() == 0)
            // Replay after the vendor recovers.
            h.emulator.clearFaults()
            try await h.store.replayDeadLetters(ids: nil)
            try await h.eventually("replayed and delivered") { h.emulator.requests(vendor: .apns).contains { $0.status == 200 } }
        }
    }

    /// Issue 24: gateways answering every way a misbehaving one can (random statuses, absurd
    /// Retry-After, truncated and non-JSON bodies, absurd expires_in, reset streams, GOAWAY) cannot
    /// crash the dispatcher or lose a job: each ends delivered, refused for good, or dead-lettered.
    @Test("chaos at every vendor: no crash, every job ends delivered, failed or dead-lettered, none lost")
    func chaos() async throws {
        try await DispatchHarness.with(dispatcher: {
            $0.maxAttempts = 4; $0.backoffBaseMillis = 200; $0.backoffMaxSeconds = 5; $0.maxVendorPauseSeconds = 5; $0.alarmPauseSeconds = 5
            $0.workers = 4
        }) { h in
            let perVendor = 30
            var keys: [String] = []
            for vendor in Vendor.allCases {
                for n in 0..<perVendor {
                    let user = "\(vendor.rawValue)-\(n)"
                    try await h.register(user, "d", vendor, n: n + 1)
                    keys.append("chaos-\(user)")
                }
            }
            h.emulator.setChaos(Chaos(share: 0.85, seed: 20_261_204))
            for vendor in Vendor.allCases {
                for n in 0..<perVendor { try await h.enqueue("chaos-\(vendor.rawValue)-\(n)", to: "\(vendor.rawValue)-\(n)") }
            }
            // Retry delays and pauses pass on the store's clock: ten seconds of it every 50 ms.
            let ticker = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(50))
                    h.clock.advance(seconds: 10)
                }
            }
            defer { ticker.cancel() }
            try await h.eventually("chaos answered a few hundred requests", timeout: .seconds(120)) {
                try await h.pending() == 0 || h.emulator.chaosAnswers >= 300
            }
            h.emulator.setChaos(nil)
            try await h.eventually("the queue drained", timeout: .seconds(120)) { try await h.pending() == 0 }
            let dead = Set(try await h.store.deadLetters(afterID: 0, limit: 10_000).map(\.idempotencyKey))
            var outcomes: [String: Int] = [:]
            var lost: [String] = []
            for key in keys {
                let final = try await h.records(key).last { $0.outcome != .skipped }
                if let final { outcomes[final.outcome.rawValue, default: 0] += 1 } else if dead.contains(key) { outcomes["DeadLetter", default: 0] += 1 } else { lost.append(key) }
            }
            print("gateway chaos: \(keys.count) jobs, \(h.emulator.chaosAnswers) chaotic answers, outcomes \(outcomes.sorted { $0.key < $1.key }), lost \(lost.count)")
            #expect(lost.isEmpty, "jobs with neither a final record nor a dead letter: \(lost.prefix(10))")
            #expect(h.emulator.chaosAnswers >= 100, "chaos was exercised")
        }
    }

    /// Issue 24: a job whose worker dies every time it holds it (here: claims whose leases run out,
    /// as after a crash or a kill) would be claimed for ever. Past `max_attempts` such claims it is a
    /// dead letter, and the queue flows around it.
    @Test("a job claimed max_attempts times without a finish is dead-lettered as poison; other jobs flow")
    func poisonJob() async throws {
        let h = try await DispatchHarness(dispatcher: { $0.maxAttempts = 3; $0.leaseSeconds = 30 })
        try await h.register("bob", "d1", .apns, n: 1)
        try await h.register("carol", "d2", .apns, n: 2)
        try await h.enqueue("poison", to: "bob")
        for round in 1...3 {
            let claimed = try await h.store.claim(limit: 1, leaseMillis: 30_000)
            #expect(claimed.map(\.openClaims) == [round], "each dead claim counts")
            h.clock.advance(seconds: 31)  // the worker died: its lease runs out
        }
        try await h.enqueue("healthy", to: "carol")
        let dispatcher = try h.makeDispatcher()
        let task = Task { try await dispatcher.run() }
        defer { task.cancel() }
        try await h.eventually("the healthy job delivered, the poison job dead") {
            let healthy = try await h.records("healthy")
            let dead = try await h.store.deadLetters(afterID: 0, limit: 10)
            return healthy.first?.outcome == .delivered && dead.contains { $0.idempotencyKey == "poison" }
        }
        let dead = try await h.store.deadLetters(afterID: 0, limit: 10)
        #expect(dead.count == 1 && dead[0].lastError.hasPrefix("Poison: claimed 4 times"), "\(dead)")
        #expect(h.emulator.requests(vendor: .apns).count == 1, "the poison job was never sent")
        task.cancel()
        _ = await task.result
        await h.shutdown()
    }

    /// Issue 24: with a 2 s lease under load, 2,900 of 3,000 pushes were sent twice: a batch slower
    /// than its lease was claimed again by another worker. The heartbeat keeps the lease.
    @Test("a batch slower than its lease keeps its jobs: the heartbeat renews the leases, nothing is sent twice")
    func leaseHeartbeat() async throws {
        try await DispatchHarness.with(dispatcher: { $0.leaseSeconds = 1; $0.workers = 4 }) { h in
            for n in 1...8 { try await h.register("u\(n)", "d\(n)", .apns, n: n) }
            h.emulator.addFault(Fault(vendor: .apns, latencyMillis: 2_500))
            for n in 1...8 { try await h.enqueue("m\(n)", to: "u\(n)") }
            // Pushes take 2.5 s of real time; the store's clock runs at real speed meanwhile, so
            // every lease of 1 s runs out twice over unless renewed.
            let ticker = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(100))
                    h.clock.advance(millis: 100)
                }
            }
            defer { ticker.cancel() }
            try await h.eventually("all delivered") {
                var delivered = 0
                for n in 1...8 where try await h.records("m\(n)").first?.outcome == .delivered { delivered += 1 }
                return delivered == 8
            }
            ticker.cancel()
            #expect(h.emulator.requests(vendor: .apns).count == 8, "each push sent once")
            for n in 1...8 { #expect(try await h.records("m\(n)").count == 1) }
        }
    }

    /// Issue 24: `Retry-After: 9300000000000000` overflowed `× 1000` and crashed the dispatcher; a
    /// smaller absurd value parked the vendor until restart. The pause is capped by
    /// `max_vendor_pause_seconds`, the retry delay by `backoff_max_seconds`.
    @Test("an absurd Retry-After neither crashes nor parks the vendor past max_vendor_pause_seconds")
    func absurdRetryAfter() async throws {
        try await DispatchHarness.with(dispatcher: { $0.maxVendorPauseSeconds = 600; $0.backoffMaxSeconds = 900 }) { h in
            try await h.register("bob", "d1", .fcm, n: 1)
            h.emulator.addFault(Fault(vendor: .fcm, remaining: 1, status: 429, reason: "QUOTA_EXCEEDED", retryAfter: 9_300_000_000_000_000))
            let t0 = h.clock.nowMillis()
            try await h.enqueue("m1", to: "bob")
            try await h.eventually("m1 rescheduled within backoff_max") {
                let status = try await h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "m1")
                return status?.availableAtMillis == t0 + 900_000 && status?.attempts == 0
            }
            // A job arriving during the pause waits for the pause's end, 600 s, not Retry-After's.
            try await h.register("carol", "d2", .fcm, n: 2)
            try await h.enqueue("m2", to: "carol")
            try await h.eventually("m2 waits for the capped pause") {
                try await h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "m2")?.availableAtMillis == t0 + 600_000
            }
            h.clock.advance(seconds: 900)
            try await h.eventually("both delivered after the capped waits") {
                let m1 = try await h.records("m1"), m2 = try await h.records("m2")
                return m1.first?.outcome == .delivered && m2.first?.outcome == .delivered
            }
        }
    }

    @Test("Retry-After is honoured, pauses the vendor for every job of the app, and uses up no attempt")
    func retryAfter() async throws {
        try await DispatchHarness.with { h in
            try await h.register("bob", "d1", .fcm, n: 1)
            try await h.register("carol", "d2", .fcm, n: 2)
            h.emulator.addFault(Fault(vendor: .fcm, remaining: 1, status: 429, reason: "QUOTA_EXCEEDED", retryAfter: 120))
            try await h.enqueue("m1", to: "bob")
            let t0 = h.clock.nowMillis()
            try await h.eventually("m1 waits for Retry-After, the paced round not counted") {
                let status = try await h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "m1")
                return status?.availableAtMillis == t0 + 120_000 && status?.attempts == 0 && status?.claims == 1
            }
            // carol's job arrives during the pause: it waits too, without touching the vendor, and
            // without counting an attempt (nothing was sent).
            try await h.enqueue("m2", to: "carol")
            try await h.eventually("m2 waits for the pause") {
                let status = try await h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "m2")
                return status?.availableAtMillis == t0 + 120_000 && status?.attempts == 0 && status?.claims == 1
            }
            let sends = { h.emulator.requests(vendor: .fcm).filter { $0.path.contains("messages:send") }.count }
            #expect(sends() == 1)
            h.clock.advance(seconds: 119)
            #expect(try await h.store.claim(limit: 10, leaseMillis: 1).isEmpty, "nothing claimable before Retry-After")
            #expect(sends() == 1, "not before Retry-After")
            h.clock.advance(seconds: 1)
            try await h.eventually("both delivered") {
                let m1 = try await h.records("m1"), m2 = try await h.records("m2")
                return m1.first?.outcome == .delivered && m2.first?.outcome == .delivered
            }
            #expect(try await h.records("m1")[0].attempts == 1, "the round the vendor paced did not count")
            #expect(try await h.records("m2")[0].attempts == 1, "the paused round did not count")
        }
    }

    @Test("a configuration alarm pauses the vendor for the app; other vendors go on")
    func configAlarm() async throws {
        try await DispatchHarness.with(dispatcher: { $0.alarmPauseSeconds = 60 }) { h in
            try await h.register("bob", "d1", .apns, n: 1)
            try await h.register("bob", "d2", .xiaomi, n: 2)
            h.emulator.addFault(Fault(vendor: .apns, status: 403, reason: "InvalidProviderToken"))
            try await h.enqueue("m1", to: "bob")
            try await h.eventually("xiaomi delivered") { try await h.records("m1").contains { $0.vendor == "xiaomi" && $0.outcome == .delivered } }
            try await h.enqueue("m2", to: "bob")
            try await h.eventually("m2 xiaomi delivered") { try await h.records("m2").contains { $0.vendor == "xiaomi" } }
            let apnsSends = h.emulator.requests(vendor: .apns).count
            #expect(apnsSends <= 2, "one refusal (and the one refresh-and-retry), then paused: \(apnsSends)")
            h.emulator.clearFaults()
            h.clock.advance(seconds: 60)
            try await h.eventually("apns resumes for both jobs") {
                let m1 = try await h.records("m1"), m2 = try await h.records("m2")
                return [m1, m2].allSatisfy { $0.contains { $0.vendor == "apns" && $0.outcome == .delivered } }
            }
        }
    }

    /// Issue 28 section 3: campaign progress per app in /metrics.
    @Test("campaign gauges: a campaign not over counts as running per app, with its planned and done jobs; a cancelled one does not")
    func campaignGauges() async throws {
        let h = try await DispatchHarness()
        let recorded = TestMetrics()
        let dispatcher = try h.makeDispatcher(metrics: DispatcherMetrics(factory: recorded))
        func gauge(_ name: String) throws -> Double? {
            try recorded.expectGauge(name, [("app", String(DispatchHarness.app))]).values.last
        }
        let template = Data(#"{"SdkAppID":\#(DispatchHarness.app),"Lane":"campaign","MsgBody":[]}"#.utf8)
        for (task, random) in [("t1", Int64(1)), ("t2", 2)] {
            h.clock.advance(seconds: 2)
            let created = try await h.store.createCampaign(
                NewCampaign(sdkAppID: DispatchHarness.app, taskID: task, msgRandom: random, audience: .everyone, template: template, countsForBadge: false),
                quota: CampaignQuota()
            )
            #expect(created == .created)
        }
        try await dispatcher.recordCampaignProgress()
        #expect(try gauge("pushd_campaigns_running") == 2 && gauge("pushd_campaign_jobs") == 0 && gauge("pushd_campaign_jobs_done") == 0)
        #expect(try await h.store.cancelCampaign(sdkAppID: DispatchHarness.app, taskID: "t1"))
        try await dispatcher.recordCampaignProgress()
        #expect(try gauge("pushd_campaigns_running") == 1)
        await h.shutdown()
    }

    /// Issue 28 section 3: queue depth carries the app.
    @Test("queue gauges per app and lane; an app whose queue emptied reads 0, not its last depth; a configured app without jobs reads 0")
    func queueGaugesPerApp() throws {
        let recorded = TestMetrics()
        let metrics = DispatcherMetrics(factory: recorded)
        let busy = QueueStats.LaneStats(pending: 7, ready: 5, oldestReadyAgeMillis: 1_500)
        metrics.record(QueueStats(lanes: [.chat: busy], deadLetters: 2, apps: [1: [.chat: busy], 2: [.campaign: busy]]))
        func gauge(_ name: String, _ app: Int, _ lane: String) throws -> Double? {
            try recorded.expectGauge(name, [("app", String(app)), ("lane", lane)]).values.last
        }
        #expect(try gauge("pushd_queue_pending", 1, "chat") == 7 && gauge("pushd_queue_ready", 1, "chat") == 5)
        #expect(try gauge("pushd_queue_oldest_ready_age_seconds", 1, "chat") == 1.5 && gauge("pushd_queue_pending", 1, "campaign") == 0)
        #expect(try gauge("pushd_queue_pending", 2, "campaign") == 7)
        metrics.record(QueueStats(lanes: [:], deadLetters: 0, apps: [2: [.campaign: busy]]), apps: [3])
        #expect(try gauge("pushd_queue_pending", 1, "chat") == 0 && gauge("pushd_queue_oldest_ready_age_seconds", 1, "chat") == 0)
        #expect(try gauge("pushd_queue_pending", 3, "chat") == 0, "a configured app without jobs has its series")
    }

    /// Issue 28, interface.md "Plain endpoints": `/readyz` is 503 with the reasons while every
    /// vendor of an app is paused by a configuration alarm.
    @Test("readiness: not ready while every vendor of an app is paused by a configuration alarm, with the reason; ready again when the pause ends")
    func readiness() async throws {
        struct Down: Error, CustomStringConvertible { var description: String { "unreachable" } }
        for vendors in [[Vendor.apns, .xiaomi], [.apns]] {
            let h = try await DispatchHarness(dispatcher: { $0.alarmPauseSeconds = 60 }, app: { $0.vendors = $0.vendors.filter { vendors.contains($0.key) } })
            let recorded = TestMetrics()
            let dispatcher = try h.makeDispatcher(metrics: DispatcherMetrics(factory: recorded))
            let task = Task { try await dispatcher.run() }
            #expect(dispatcher.readiness(storeError: nil) == Readiness(reasons: []))
            func vendorGauge(_ name: String, _ vendor: Vendor) throws -> Double? {
                dispatcher.recordVendorStates()
                return try recorded.expectGauge(name, [("app", String(DispatchHarness.app)), ("vendor", vendor.rawValue)]).values.last
            }
            #expect(try vendorGauge("pushd_vendor_config_alarm", .apns) == 0)
            #expect(dispatcher.readiness(storeError: Down()) == Readiness(reasons: ["store: unreachable"]))
            try await h.register("bob", "d1", .apns, n: 1)
            h.emulator.addFault(Fault(vendor: .apns, status: 403, reason: "InvalidProviderToken"))
            try await h.enqueue("m1", to: "bob")
            _ = try await h.waitRescheduled("m1", attempts: 1)
            // Issue 28 section 3: the vendor's state per app in /metrics.
            #expect(try vendorGauge("pushd_vendor_config_alarm", .apns) == 1 && vendorGauge("pushd_vendor_paused", .apns) == 1)
            let readiness = dispatcher.readiness(storeError: nil)
            if vendors.count > 1 {
                #expect(readiness.ready, "Xiaomi still delivers: \(readiness)")
            } else {
                #expect(!readiness.ready && readiness.reasons.count == 1, "\(readiness)")
                #expect(
                    readiness.reasons.first?.hasPrefix("app \(DispatchHarness.app): every vendor is paused by a configuration alarm: apns (InvalidProviderToken, until ") == true,
                    "\(readiness)"
                )
                h.emulator.clearFaults()
                h.clock.advance(seconds: 61)
                #expect(dispatcher.readiness(storeError: nil) == Readiness(reasons: []), "the pause is over")
            }
            task.cancel()
            _ = await task.result
            await h.shutdown()
        }
    }

    @Test("graceful shutdown: no new claims, in-flight sends finish or are handed back, nothing lost")
    func gracefulShutdown() async throws {
        let h = try await DispatchHarness()
        // The gateway would answer after a minute: only the 2 s grace period can end these sends.
        h.emulator.addFault(Fault(vendor: .apns, latencyMillis: 60_000))
        for i in 0..<40 {
            try await h.register("u\(i)", "d", .apns, n: i + 1)
            try await h.enqueue("m\(i)", to: "u\(i)")
        }
        let dispatcher = try h.makeDispatcher()
        let group = ServiceGroup(services: [dispatcher], gracefulShutdownSignals: [], cancellationSignals: [], logger: .init(label: "test"))
        let running = Task { try await group.run() }
        try await h.eventually("sends in flight at the gateway") { h.emulator.inFlight(.apns) > 0 }
        await group.triggerGracefulShutdown()
        try await running.value
        // Shutdown returned before any answer: the sends were cancelled when the grace ran out, and
        // every job is back in the queue, claimable now, with no attempt spent.
        let delivered = try await (0..<40).asyncReduce(0) { n, i in n + (try await h.records("m\(i)").isEmpty ? 0 : 1) }
        #expect(delivered == 0)
        let back = try await h.store.claim(limit: 100, leaseMillis: 1_000)
        #expect(back.count == 40, "nothing lost")
        #expect(back.allSatisfy { $0.attempts == 0 })
        #expect(h.emulator.requests(vendor: .apns).isEmpty, "no gateway answer was recorded")
        await h.shutdown()
    }
}

extension Sequence {
    func asyncReduce<R>(_ initial: R, _ next: (R, Element) async throws -> R) async rethrows -> R {
        var result = initial
        for element in self { result = try await next(result, element) }
        return result
    }
}

import API
import Dispatcher
import Emulator
import Foundation
import Messaging
import PushCore
import PushJob
import PushdConfig
import Storage
import Testing
import UserSig

/// Campaigns from the REST API through the walker and the dispatcher to the emulator.
@Suite("Campaigns end to end")
struct CampaignEndToEndTests {
    /// A few thousand users of every kind a campaign meets. User `i` is kind `i % 10`:
    /// 0 no device, 1 an APNs and an FCM device, 2 an APNs device `Online`, 3 an APNs token the
    /// vendor has unregistered, 4 to 9 one APNs device `PushOnline`. Users in even blocks of ten
    /// carry the tag "vip", so every kind is among them.
    struct Population {
        let users: [String]

        static func user(_ i: Int) -> String { String(format: "c%05d", i) }
        static func kind(_ i: Int) -> Int { i % 10 }
        static func isVIP(_ i: Int) -> Bool { (i / 10) % 2 == 0 }

        /// The tokens a campaign to `selected` must reach, per vendor.
        static func expectedTokens(_ selected: [Int]) -> (apns: Set<String>, fcm: Set<String>) {
            var apns = Set<String>(), fcm = Set<String>()
            for i in selected where ![0, 2, 3].contains(kind(i)) {
                apns.insert(DispatchHarness.token(.apns, 2 * i + 1))
                if kind(i) == 1 { fcm.insert(DispatchHarness.token(.fcm, 2 * i + 2)) }
            }
            return (apns, fcm)
        }

        static func make(_ h: DispatchHarness, count: Int, tagVIP: Bool = true) async throws -> Population {
            let users = (0..<count).map(user)
            let now = h.clock.nowMillis()
            try await h.store.importAccounts(sdkAppID: DispatchHarness.app, users.map { ($0, [:]) })
            var devices: [Device] = []
            for (i, user) in users.enumerated() {
                func device(_ id: String, _ vendor: Vendor, _ n: Int, _ state: DeviceState = .pushOnline) -> Device {
                    Device(
                        sdkAppID: DispatchHarness.app, userID: user, deviceID: id, vendor: vendor, token: DispatchHarness.token(vendor, n), locale: .en,
                        state: state, registeredAtMillis: now
                    )
                }
                switch kind(i) {
                case 0: break
                case 1: devices += [device("phone", .apns, 2 * i + 1), device("pad", .fcm, 2 * i + 2)]
                case 2: devices.append(device("phone", .apns, 2 * i + 1, .online))
                case 3:
                    devices.append(device("phone", .apns, 2 * i + 1))
                    h.emulator.setToken(DispatchHarness.token(.apns, 2 * i + 1), vendor: .apns, state: .unregistered(sinceMillis: now + 1))
                default: devices.append(device("phone", .apns, 2 * i + 1))
                }
            }
            try await h.store.upsertDevices(devices)
            if tagVIP {
                let vip = users.indices.filter(isVIP).map { (users[$0], ["vip"]) }
                for chunk in stride(from: 0, to: vip.count, by: 100) {
                    _ = try await h.store.addTags(sdkAppID: DispatchHarness.app, Array(vip[chunk..<min(chunk + 100, vip.count)]), maxPerUser: 100)
                }
            }
            return Population(users: users)
        }
    }

    /// The REST API without HTTP (its transport-free entry point), as the admin.
    struct Admin {
        let h: DispatchHarness
        let api: RestAPI

        init(_ h: DispatchHarness) {
            self.h = h
            api = RestAPI(config: h.config, store: h.store, clock: h.clock)
        }

        @discardableResult
        func call(_ command: String, _ body: String, expect code: Int = 0) async throws -> [String: Any] {
            let sig = UserSig.generate(
                sdkAppID: DispatchHarness.app, key: h.config.apps[0].secretKey, identifier: "administrator", expire: 86_400, time: h.clock.nowSeconds() - 10
            )
            let parts = command.split(separator: "/").map(String.init)
            let reply = await api.handle(
                service: parts[0], command: parts[1], query: ["sdkappid": "\(DispatchHarness.app)", "identifier": "administrator", "usersig": sig],
                body: Data(body.utf8)
            )
            let object = try JSONSerialization.jsonObject(with: reply.json) as? [String: Any] ?? [:]
            #expect(object["ErrorCode"] as? Int == code, "\(command): \(object)")
            return object
        }

        func campaign(_ condition: String = "", random: Int = Int.random(in: 1...1_000_000)) async throws -> String {
            let c = condition.isEmpty ? "" : #", "Condition": \#(condition)"#
            let reply = try await call(
                "timpush/push", #"{"MsgRandom": \#(random), "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}]\#(c)}"#
            )
            return try #require(reply["TaskId"] as? String)
        }

        func task(_ id: String) async throws -> [String: Any] {
            try await call("pushd/get_task", #"{"TaskId": "\#(id)"}"#)
        }

        func waitState(_ id: String, _ state: String, timeout: Duration = .seconds(90)) async throws -> [String: Any] {
            var last: [String: Any] = [:]
            try await h.eventually("task \(id) \(state)", timeout: timeout) {
                last = try await task(id)
                return last["State"] as? String == state
            }
            return last
        }
    }

    /// Pushes the emulator accepted, per token.
    static func delivered(_ h: DispatchHarness, _ vendor: Vendor) -> [String: Int] {
        h.emulator.requests(vendor: vendor).filter { $0.status == 200 }.reduce(into: [:]) { counts, request in
            let token: String
            if vendor == .apns {
                token = String(request.path.split(separator: "/").last ?? "")
            } else {
                let body = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
                token = (body?["message"] as? [String: Any])?["token"] as? String ?? ""
            }
            counts[token, default: 0] += 1
        }
    }

    static func small(_ d: inout PushdConfig.Dispatcher) {
        d.campaignPage = 64
        d.campaignBacklog = 300
    }

    /// Small campaign steps, `workers` workers claiming 16 jobs at a time.
    static func lane(workers: Int, inFlight: Int? = nil) -> (inout PushdConfig.Dispatcher) -> Void {
        { d in
            small(&d)
            d.workers = workers
            d.batchSize = 16
            if let inFlight { d.campaignInFlight = inFlight }
        }
    }

    /// `count` imported accounts named `prefix000`…, each with one `vendor` phone.
    static func accounts(_ h: DispatchHarness, _ prefix: String, _ count: Int, _ vendor: Vendor, tokens: Int) async throws -> [String] {
        let users = (0..<count).map { String(format: "\(prefix)%03d", $0) }
        try await h.store.importAccounts(sdkAppID: DispatchHarness.app, users.map { ($0, [:]) })
        for (n, user) in users.enumerated() { try await h.register(user, "phone", vendor, n: tokens + n) }
        return users
    }

    @Test("a tag campaign over HTTP reaches every PushOnline device of the tagged users once, with exact statistics")
    func tagCampaign() async throws {
        try await EndToEndTests.with(dispatcher: Self.small) { r in
            let h = r.h
            let population = try await Population.make(h, count: 2_000)
            let reply = try await r.call(
                "timpush/push", #"{"MsgRandom": 42, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}], "Condition": {"TagsAnd": ["vip"]}}"#
            )
            let task = try #require(reply["TaskId"] as? String)
            var status: [String: Any] = [:]
            try await h.eventually("campaign finished", timeout: .seconds(120)) {
                status = try await r.call("pushd/get_task", #"{"TaskId": "\#(task)"}"#)
                return status["State"] as? String == "Finished"
            }
            let selected = population.users.indices.filter(Population.isVIP)
            let expected = Population.expectedTokens(selected)
            let apns = Self.delivered(h, .apns), fcm = Self.delivered(h, .fcm)
            #expect(Set(apns.keys) == expected.apns && apns.values.allSatisfy { $0 == 1 }, "every selected APNs device once, nobody else")
            #expect(Set(fcm.keys) == expected.fcm && fcm.values.allSatisfy { $0 == 1 })
            let payload = r.apns(2 * selected.first { Population.kind($0) == 4 }! + 1).first
            #expect(EndToEndTests.body(payload) == "sale", "no sender, no prefix")
            let expiration = h.emulator.requests(vendor: .apns).first { $0.status == 200 }?.headers["apns-expiration"].flatMap { Int64($0) } ?? 0
            #expect(abs(expiration - (h.clock.nowSeconds() + 86_400)) < 300, "without MsgLifeTime a campaign push lives a day, at the vendor too")

            #expect(status["Users"] as? Int == 1_000 && status["UsersWalked"] as? Int == 1_000)
            #expect(status["Total"] as? Int == 1_000, "devices of the selected users")
            #expect(status["Delivered"] as? Int == expected.apns.count + expected.fcm.count)
            #expect(status["InvalidTokens"] as? Int == 100 && status["Failed"] as? Int == 0)
            #expect(status["Sent"] as? Int == 900)
            #expect(status["SkippedByReason"] as? [String: Int] == ["Online": 100, "NoDevice": 100] && status["Skipped"] as? Int == 200)
            #expect(status["Pending"] as? Int == 0 && (status["EndTime"] as? Int ?? 0) >= (status["StartTime"] as? Int ?? 0))

            let invalid = selected.first { Population.kind($0) == 3 }!
            let records = try await r.call("pushd/get_push_records", #"{"TaskId": "\#(task)", "UserID": "\#(Population.user(invalid))"}"#)
            #expect((records["Records"] as? [[String: Any]])?.map { $0["Outcome"] as? String } == ["TokenInvalid"])
            let devices = try await h.store.devices(sdkAppID: DispatchHarness.app, userIDs: [Population.user(invalid)])
            #expect(devices.first?.invalidatedAtMillis != nil, "the campaign's invalid tokens are cleaned up like any other")
            let stats = try await r.call("timpush/all_member_push_statistics", #"{"TaskID": ["\#(task)"]}"#)
            let item = (stats["Results"] as? [[String: Any]])?.first
            #expect(item?["TotalCount"] as? Int == 1_000 && item?["DeliveredCount"] as? Int == 800 && item?["SentCount"] as? Int == 900)
            // A repeated MsgRandom is the same campaign: nothing is pushed again.
            let again = try await r.call(
                "timpush/push", #"{"MsgRandom": 42, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}], "Condition": {"TagsAnd": ["vip"]}}"#
            )
            #expect(again["TaskId"] as? String == task)
        }
    }

    @Test("a crash in the middle of a campaign: the next dispatcher resumes; no batch is enqueued twice, none is skipped")
    func restart() async throws {
        let h = try await DispatchHarness(dispatcher: Self.small)
        defer { Task { await h.shutdown() } }
        let population = try await Population.make(h, count: 1_500, tagVIP: false)
        // 300 APNs and 100 FCM pushes go through, then the gateway holds every push: the crash
        // comes at a known point of the campaign, whatever the machine's speed.
        for vendor in [Vendor.apns, .fcm] {
            h.emulator.addFault(Fault(vendor: vendor, remaining: vendor == .apns ? 300 : 100))
            h.emulator.addFault(Fault(vendor: vendor, hold: true))
        }
        let admin = Admin(h)
        let task = try await admin.campaign()
        let first = Task { try await h.makeDispatcher().run() }
        try await h.eventually("the campaign held at the gateway after 300 APNs pushes") { h.emulator.held(.apns) > 0 }
        // Crash: no graceful stop. Leases of the walker and of jobs in flight run out.
        first.cancel()
        _ = await first.result
        let mid = try await admin.task(task)
        #expect(mid["State"] as? String == "Running" || mid["State"] as? String == "Sending")
        #expect((mid["Delivered"] as? Int ?? 0) <= 400 && (mid["UsersWalked"] as? Int ?? 0) < 1_500, "stopped mid-way, walk included")
        // The held pushes reach the vendor after all (their sender is gone): they may repeat.
        h.emulator.clearFaults()
        h.emulator.releaseHeld()
        h.clock.advance(seconds: 61)
        let second = Task { try await h.makeDispatcher().run() }
        let status = try await admin.waitState(task, "Finished")
        second.cancel()
        _ = await second.result

        let expected = Population.expectedTokens(Array(population.users.indices))
        let apns = Self.delivered(h, .apns), fcm = Self.delivered(h, .fcm)
        #expect(Set(apns.keys) == expected.apns && Set(fcm.keys) == expected.fcm, "none skipped")
        // A push in flight at the crash may reach the vendor again (same apns-id); a batch is never enqueued twice.
        let repeats = apns.values.reduce(0) { $0 + $1 - 1 } + fcm.values.reduce(0) { $0 + $1 - 1 }
        let d = h.config.dispatcher
        #expect(repeats <= d.campaignInFlight + d.workers * d.batchSize, "only pushes at the vendor at the crash may repeat: \(repeats)")
        #expect(status["Users"] as? Int == 1_500 && status["UsersWalked"] as? Int == 1_500)
        #expect(status["Delivered"] as? Int == expected.apns.count + expected.fcm.count, "every push counted exactly once")
        #expect(status["InvalidTokens"] as? Int == 150)
        let campaign = try #require(try await h.store.campaign(sdkAppID: DispatchHarness.app, taskID: task))
        #expect(campaign.jobs == 1_350 && campaign.jobsDone == 1_350, "one job per user with a device")
    }

    /// Issue 25: campaigns follow the push rules: no push to the sender, do-not-disturb applies.
    @Test("a campaign skips its sender; a user in a do-not-disturb window gets no push, recorded as skipped")
    func senderAndDoNotDisturb() async throws {
        try await DispatchHarness.with(dispatcher: Self.small) { h in
            let users = try await Self.accounts(h, "d", 5, .apns, tokens: 500)
            let now = h.clock.nowSeconds()
            try await h.store.setDoNotDisturb(sdkAppID: DispatchHarness.app, userID: users[1], DoNotDisturb(start: now - 60, duration: 3_600))
            let admin = Admin(h)
            let reply = try await admin.call(
                "timpush/push",
                #"{"MsgRandom": 77, "From_Account": "\#(users[0])", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}]}"#
            )
            let task = try #require(reply["TaskId"] as? String)
            _ = try await admin.waitState(task, "Finished")
            try await h.eventually("nothing pending") { try await h.pending() == 0 }
            let tokens = Set(Self.delivered(h, .apns).keys)
            #expect(tokens == Set((2..<5).map { DispatchHarness.token(.apns, 500 + $0) }), "only the three others")
            let quiet = try await admin.call("pushd/get_push_records", #"{"TaskId": "\#(task)", "UserID": "\#(users[1])"}"#)
            let records = quiet["Records"] as? [[String: Any]] ?? []
            #expect(records.map { $0["Reason"] as? String } == ["DoNotDisturb"], "\(quiet)")
        }
    }

    @Test("cancel: the walk stops, unsent pushes are dropped, nothing more reaches the vendor")
    func cancel() async throws {
        try await DispatchHarness.with(dispatcher: Self.small) { h in
            _ = try await Population.make(h, count: 1_500, tagVIP: false)
            // 100 APNs pushes go through, then the gateway holds every push until the cancel.
            h.emulator.addFault(Fault(vendor: .apns, remaining: 100))
            h.emulator.addFault(Fault(vendor: .apns, hold: true))
            h.emulator.addFault(Fault(vendor: .fcm, hold: true))
            let admin = Admin(h)
            let task = try await admin.campaign()
            try await h.eventually("some pushes sent, the rest held") { h.emulator.held(.apns) > 0 }
            try await admin.call("pushd/cancel_task", #"{"TaskId": "\#(task)"}"#)
            try await admin.call("pushd/cancel_task", #"{"TaskId": "\#(task)"}"#, expect: 90050)
            h.emulator.clearFaults()
            h.emulator.releaseHeld()
            // Sends already in flight at the cancel finish: every job finished, none held at the emulator.
            try await h.eventually("nothing pending, nothing in flight") { try await h.pending() == 0 && h.emulator.inFlight(.apns) == 0 }
            // Explicit signals instead of a quiet spell: nothing is left to claim, and the walk is over.
            #expect(try await h.store.claim(limit: 1_000, campaignLimit: 1_000, leaseMillis: 1).isEmpty, "nothing left to send")
            let status = try await admin.task(task)
            #expect(status["State"] as? String == "Cancelled")
            #expect((status["CancelledPushes"] as? Int ?? 0) > 0 && (status["UsersWalked"] as? Int ?? 0) < 1_500)
            let delivered = Self.delivered(h, .apns).count + Self.delivered(h, .fcm).count
            #expect(delivered >= status["Delivered"] as? Int ?? 0)
            // Only the pushes already in hand go out after the cancel: the walker's steps (about
            // four times campaign_in_flight) and the workers' claims.
            let d = h.config.dispatcher
            let inHand = 4 * d.campaignInFlight + d.campaignPage + d.workers * d.batchSize
            #expect(delivered - (status["Delivered"] as? Int ?? 0) <= inHand)
            #expect(delivered < 1_350, "the cancel stopped the campaign: \(delivered) of 1,350 delivered")
        }
    }

    @Test("chat pushes sent during a large campaign are delivered before the campaign's backlog")
    func chatFirst() async throws {
        try await DispatchHarness.with(dispatcher: Self.small) { h in
            _ = try await Population.make(h, count: 2_000)
            for n in 0..<10 { try await h.register("chat\(n)", "phone", .apns, n: 900_000 + n) }
            // The gateway holds the campaign's first campaign_in_flight APNs pushes: the campaign
            // cannot send more until they are answered, and the next APNs pushes pass.
            let inFlight = h.config.dispatcher.campaignInFlight
            h.emulator.addFault(Fault(vendor: .apns, remaining: inFlight, hold: true))
            let admin = Admin(h)
            let task = try await admin.campaign(#"{"TagsOr": ["vip"]}"#)
            var queued = 0
            try await h.eventually("the campaign backlog is full and its pushes held") {
                let c = try await h.store.campaign(sdkAppID: DispatchHarness.app, taskID: task)
                queued = (c?.jobs ?? 0) - (c?.jobsDone ?? 0)
                return queued >= 250 && h.emulator.held(.apns) == inFlight
            }
            for n in 0..<10 { try await h.enqueue("chat-\(n)", to: "chat\(n)") }
            try await h.eventually("chat pushes delivered") {
                (0..<10).allSatisfy { n in Self.delivered(h, .apns)[DispatchHarness.token(.apns, 900_000 + n)] == 1 }
            }
            let c = try #require(try await h.store.campaign(sdkAppID: DispatchHarness.app, taskID: task))
            #expect(c.jobs - c.jobsDone >= queued, "the chat pushes overtook all \(queued) queued campaign pushes")
            #expect(h.emulator.held(.apns) == inFlight, "no campaign push was answered meanwhile")
            h.emulator.releaseHeld()
            _ = try await admin.waitState(task, "Finished")
        }
    }

    @Test("a chat push claimed together with campaign pushes is finished when it is sent, not when they are")
    func chatInMixedBatch() async throws {
        // No chat-only worker: the one worker claims the chat push with campaign pushes. The
        // walker sends a campaign's fresh pushes itself; workers claim campaign jobs that are
        // queued (retries, a dead walker's), enqueued here directly.
        try await DispatchHarness.with(dispatcher: { d in Self.lane(workers: 1)(&d); d.chatWorkers = 0 }) { h in
            let users = try await Self.accounts(h, "slow", 40, .fcm, tokens: 700_000)
            try await h.register("chatter", "phone", .apns, n: 800_000)
            h.emulator.addFault(Fault(vendor: .fcm, hold: true))
            // In one transaction: the worker's first claim takes a full batch.
            let jobs = try users.map { user in
                let data = Data(
                    #"{"SdkAppID": \#(DispatchHarness.app), "To_Account": "\#(user)", "IdempotencyKey": "sale:\#(user)", "Lane": "campaign", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}]}"#.utf8
                )
                return try PushJobSpec.decode(data).newJob(payload: data)
            }
            #expect(try await h.store.enqueue(jobs) == Array(repeating: true, count: 40))
            // The only worker holds a first campaign batch at the gateway, which answers it only
            // once the chat push is queued.
            try await h.eventually("a first campaign batch at the gateway") { h.emulator.held(.fcm) == 16 }
            try await h.enqueue("mixed-chat", to: "chatter")
            #expect(h.emulator.releaseHeld(.fcm) == 16)
            var campaignPending = -1
            try await h.eventually("the chat push recorded") {
                guard try await !h.records("mixed-chat").isEmpty else { return false }
                campaignPending = try await h.store.stats().lanes[.campaign]?.pending ?? -1
                return true
            }
            // The chat push went out in the next claim with 15 campaign pushes, which are still held
            // at the gateway: only the first batch is finished.
            #expect(campaignPending == 24)
            h.emulator.clearFaults()
            try await h.eventually("the campaign pushes sent") {
                h.emulator.releaseHeld()
                return try await h.pending() == 0
            }
        }
    }

    @Test("at most campaign_in_flight campaign pushes are at the vendor at once, and they do run side by side")
    func inFlightBound() async throws {
        try await DispatchHarness.with(dispatcher: Self.lane(workers: 4, inFlight: 3)) { h in
            _ = try await Self.accounts(h, "bound", 60, .apns, tokens: 600_000)
            // The gateway answers only when the test releases what it holds: the campaign has every
            // chance to exceed its bound, and must fill it.
            h.emulator.addFault(Fault(vendor: .apns, hold: true))
            let admin = Admin(h)
            let task = try await admin.campaign()
            var released = 0
            while released < 60 {
                try await h.eventually("campaign_in_flight pushes at the gateway") { h.emulator.held(.apns) == min(3, 60 - released) }
                released += h.emulator.releaseHeld(.apns)
            }
            let done = try await admin.waitState(task, "Finished")
            #expect(done["Delivered"] as? Int == 60)
            #expect(h.emulator.peakInFlight(.apns) == 3)
        }
    }

    @Test("a vendor's 429 with Retry-After pauses the campaign for that vendor instead of failing its pushes")
    func pacing() async throws {
        try await DispatchHarness.with(dispatcher: { d in Self.small(&d); d.maxAttempts = 3 }) { h in
            let population = try await Population.make(h, count: 400, tagVIP: false)
            h.emulator.addFault(Fault(vendor: .apns, remaining: 60, status: 429, reason: "TooManyRequests", retryAfter: 2))
            let admin = Admin(h)
            let task = try await admin.campaign()
            // The store's clock is manual: move it on so paused pushes come due.
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    h.clock.advance(millis: 500)
                }
            }
            defer { ticker.cancel() }
            let status = try await admin.waitState(task, "Finished")
            #expect(h.emulator.requests(vendor: .apns).contains { $0.status == 429 }, "the vendor did push back")
            let expected = Population.expectedTokens(Array(population.users.indices))
            #expect(status["Failed"] as? Int == 0, "\(status)")
            #expect(status["Delivered"] as? Int == expected.apns.count + expected.fcm.count)
        }
    }
}

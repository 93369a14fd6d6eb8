import Callbacks
import Crypto
import Dispatcher
import Emulator
import Foundation
import Messaging
import PushCore
import PushdConfig
import Storage
import Testing
import TestSupport

/// Issue 28 section 5: events to the IM server, from the outcomes the dispatcher decides, through
/// the store's outbox, signed, to a real HTTP endpoint.
@Suite("Callbacks to the IM server")
struct CallbackTests {
    static let key = "callback-signing-key"

    /// A harness whose app sends its callbacks to `receiver`, with the dispatcher and a callback
    /// sender running.
    static func with(
        _ receiver: CallbackReceiver, events: Set<CallbackEventKind> = Set(CallbackEventKind.allCases),
        dispatcher configure: (inout PushdConfig.Dispatcher) -> Void = { _ in }, _ body: (DispatchHarness) async throws -> Void
    ) async throws {
        try await DispatchHarness.with(dispatcher: configure, app: { app in
            app.callback = CallbackSettings(url: receiver.url, key: key)
            app.callback.events = events
        }) { h in
            var settings = CallbackSender.Settings()
            settings.pollInterval = .milliseconds(20)
            let sender = CallbackSender(store: h.store, config: h.config, clock: h.clock, settings: settings, random: { 0.5 })
            let task = Task { try await sender.run() }
            defer { task.cancel() }
            try await body(h)
        }
    }

    /// Checks a POST as an IM server would: its app and command in the query, and `Sign` the
    /// HMAC-SHA256 of `RequestTime` and the body under the shared key (computed here with
    /// swift-crypto, not with pushd's own signer).
    static func verify(_ request: CallbackReceiver.Request) {
        #expect(request.query["token"] == "abc", "the URL's own query is kept")
        #expect(request.query["SdkAppid"] == String(DispatchHarness.app) && request.query["contenttype"] == "json")
        let time = request.query["RequestTime"] ?? ""
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(key.utf8)))
        mac.update(data: Data(time.utf8))
        mac.update(data: request.body)
        let expected = mac.finalize().map { String(format: "%02x", $0) }.joined()
        #expect(request.query["Sign"] == expected, "signature over RequestTime and the body")
        var tampered = request.body
        tampered.append(contentsOf: " ".utf8)
        #expect(!CallbackSignature.isValid(request.query["Sign"] ?? "", key: key, requestTime: Int64(time) ?? 0, body: tampered))
        #expect(request.events.allSatisfy { $0["CallbackCommand"] as? String == request.query["CallbackCommand"] })
    }

    static func events(_ receiver: CallbackReceiver, _ command: String) -> [[String: Any]] {
        receiver.requests.filter { $0.query["CallbackCommand"] == command }.flatMap(\.events)
    }

    @Test("each device's outcome (Delivered, Failed, Expired, DeadLettered) and each dead token reach the IM server, signed")
    func outcomes() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { Task { await receiver.stop() } }
        try await Self.with(receiver, dispatcher: { $0.maxAttempts = 1 }) { h in
            let now = h.clock.nowMillis()
            try await h.register("bob", "phone", .apns, n: 1)
            let pad = try await h.register("bob", "pad", .fcm, n: 2)
            h.emulator.setToken(pad.token, vendor: .fcm, state: .unregistered(sinceMillis: now))
            try await h.register("carol", "phone", .apns, n: 3)
            try await h.register("dave", "phone", .huawei, n: 4)
            h.emulator.addFault(Fault(vendor: .huawei, status: 503))
            try await h.enqueue("m1", to: "bob", extra: #", "From_Account": "alice""#)
            try await h.enqueue("m2", to: "carol", extra: #", "ExpiresAt": \#(now - 1)"#)
            try await h.enqueue("m3", to: "dave")
            try await h.eventually("five outcomes and one dead token") {
                Self.events(receiver, "Push.OfflinePush").count == 4 && Self.events(receiver, "Push.TokenInvalidated").count == 1
            }
            for request in receiver.requests { Self.verify(request) }
            let outcomes = Dictionary(grouping: Self.events(receiver, "Push.OfflinePush")) { "\($0["To_Account"] ?? "")/\($0["DeviceId"] ?? "")" }
            let delivered = try #require(outcomes["bob/phone"]?.first)
            #expect(delivered["Outcome"] as? String == "Delivered" && delivered["ErrCode"] as? Int == 0 && delivered["ErrInfo"] as? String == "OK")
            #expect(delivered["PushPlatform"] as? Int == 1 && delivered["Vendor"] as? String == "apns" && delivered["From_Account"] as? String == "alice")
            #expect(delivered["JobKey"] as? String == "m1" && delivered["EventType"] as? Int == 1 && (delivered["VendorMessageId"] as? String)?.isEmpty == false)
            #expect(delivered["EventTime"] as? Int64 == now / 1000)
            let failed = try #require(outcomes["bob/pad"]?.first)
            #expect(failed["Outcome"] as? String == "Failed" && failed["ErrCode"] as? Int == 1 && failed["PushPlatform"] as? Int == 4)
            #expect((failed["ErrInfo"] as? String)?.contains("UNREGISTERED") == true, "the vendor's reason: \(failed)")
            let expired = try #require(outcomes["carol/phone"]?.first)
            #expect(expired["Outcome"] as? String == "Expired" && expired["ErrInfo"] as? String == "MessageExpired")
            let dead = try #require(outcomes["dave/phone"]?.first)
            #expect(dead["Outcome"] as? String == "DeadLettered" && dead["PushPlatform"] as? Int == 3 && dead["Attempts"] as? Int == 1)
            let token = try #require(Self.events(receiver, "Push.TokenInvalidated").first)
            #expect(token["UserID"] as? String == "bob" && token["DeviceId"] as? String == "pad" && token["Vendor"] as? String == "fcm")
            #expect(token["Token"] as? String == pad.token && token["InvalidatedAt"] as? Int64 == now)
            let ids = receiver.requests.flatMap(\.events).compactMap { $0["EventId"] as? String }
            #expect(ids.count == 5 && Set(ids).count == 5, "every event has an id of its own")
            try await h.eventually("the outbox is empty") { try await h.store.callbackBacklog().events == 0 }
        }
    }

    @Test("a failing endpoint gets the same events again after a backoff, until it takes them; none is lost")
    func retries() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { Task { await receiver.stop() } }
        receiver.fail(with: [503, 500])
        try await Self.with(receiver, events: [.delivered]) { h in
            for n in 1...3 { try await h.register("u\(n)", "phone", .apns, n: n) }
            for n in 1...3 { try await h.enqueue("m\(n)", to: "u\(n)") }
            try await h.eventually("every push done") { try await h.pending() == 0 }
            // The backoff is on the store's clock: each failure delays the events until it is moved.
            try await h.eventually("delivered after two failures") {
                h.clock.advance(seconds: 1)
                return try await h.store.callbackBacklog().events == 0
            }
            let requests = receiver.requests
            #expect(requests.count >= 3)
            for request in requests { Self.verify(request) }
            func ids(_ some: ArraySlice<CallbackReceiver.Request>) -> Set<String> { Set(some.flatMap(\.events).compactMap { $0["EventId"] as? String }) }
            let refused = ids(requests.prefix(2)), accepted = ids(requests.dropFirst(2))
            #expect(!refused.isEmpty && refused.isSubset(of: accepted), "the refused events come again with the same ids")
            #expect(accepted.count == 3, "three pushes, three events, each taken once it was accepted")
            #expect(Set(requests.flatMap(\.events).compactMap { $0["JobKey"] as? String }) == ["m1", "m2", "m3"])
        }
    }

    @Test("a stored event that is not a JSON object or names an unknown command is dropped, the rest of its batch delivered")
    func hostileRows() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { Task { await receiver.stop() } }
        try await Self.with(receiver) { h in
            let app = DispatchHarness.app
            try await h.store.enqueueCallbackEvents([
                NewCallbackEvent(sdkAppID: app, command: "Push.OfflinePush&SdkAppid=1", body: Data(#"{"A":1}"#.utf8)),
                NewCallbackEvent(sdkAppID: app, command: CallbackCommand.offlinePush, body: Data("not json".utf8)),
                NewCallbackEvent(sdkAppID: app, command: CallbackCommand.offlinePush, body: Data(#"{"CallbackCommand":"Push.OfflinePush","Outcome":"Delivered"}"#.utf8)),
                NewCallbackEvent(sdkAppID: 1, command: CallbackCommand.offlinePush, body: Data(#"{"Outcome":"Delivered"}"#.utf8)),
            ])
            try await h.eventually("the outbox is empty") { try await h.store.callbackBacklog().events == 0 }
            #expect(receiver.requests.count == 1 && receiver.requests[0].events.count == 1, "only the well-formed event of the configured app")
            #expect(receiver.requests[0].query["SdkAppid"] == String(app) && receiver.requests[0].events[0]["Outcome"] as? String == "Delivered")
            Self.verify(receiver.requests[0])
        }
    }

    @Test("a campaign's pushes carry its TaskId, and its end is one CampaignFinished with its final counts")
    func campaignFinished() async throws {
        let receiver = try await CallbackReceiver.start()
        defer { Task { await receiver.stop() } }
        try await Self.with(receiver) { h in
            let users = ["c1", "c2", "c3"]
            try await h.store.importAccounts(sdkAppID: DispatchHarness.app, users.map { ($0, [:]) })
            for (n, user) in users.enumerated() { try await h.register(user, "phone", .apns, n: n + 1) }
            let template = Data(#"{"SdkAppID":\#(DispatchHarness.app),"Lane":"campaign","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"sale"}}]}"#.utf8)
            let created = try await h.store.createCampaign(
                NewCampaign(sdkAppID: DispatchHarness.app, taskID: "task-1", msgRandom: 7, audience: .everyone, template: template, countsForBadge: false),
                quota: CampaignQuota()
            )
            #expect(created == .created)
            try await h.eventually("the campaign's end reported") { !Self.events(receiver, "Push.CampaignFinished").isEmpty }
            let pushes = Self.events(receiver, "Push.OfflinePush")
            #expect(pushes.count == 3 && pushes.allSatisfy { $0["TaskId"] as? String == "task-1" && $0["EventType"] as? Int == 3 })
            let finished = Self.events(receiver, "Push.CampaignFinished")
            #expect(finished.count == 1)
            #expect(finished[0]["TaskId"] as? String == "task-1" && finished[0]["State"] as? String == "Finished")
            #expect(finished[0]["Total"] as? Int == 3 && finished[0]["Delivered"] as? Int == 3 && finished[0]["Pending"] as? Int == 0)
            for request in receiver.requests { Self.verify(request) }
        }
    }
}

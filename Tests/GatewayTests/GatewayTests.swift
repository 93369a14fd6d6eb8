import Crypto
import Emulator
import Foundation
@testable import Gateways
import PushCore
import Testing
import TestSupport

/// Every vendor over real HTTP/2 and TLS against the emulator.
@Suite("Vendor gateways against the emulator", .serialized)
struct GatewayTests {
    @Test("Every vendor delivers, and the emulator records what was sent", arguments: Vendor.allCases)
    func delivers(vendor: Vendor) async throws {
        try await Harness.with { (h: Harness) async throws in
            let outcome = try await h.send(vendor)
            #expect(outcome.isDelivered, "\(outcome)")
            let recorded = h.state.requests(vendor: vendor)
            #expect(recorded.count == 1)
            #expect(recorded.first?.status == 200 && recorded.first?.result == "ok")
            #expect(recorded.first?.body.contains("Alice") == true)
        }
    }

    @Test("An unregistered token is reported invalid by every vendor", arguments: Vendor.allCases)
    func unregisteredToken(vendor: Vendor) async throws {
        try await Harness.with { (h: Harness) async throws in
            let token = Harness.token(vendor, 7)
            h.state.setToken(token, vendor: vendor, state: .unregistered(sinceMillis: 1_700_000_000_000))
            let outcome = try await h.send(vendor, token: token)
            #expect(outcome.isTokenInvalid, "\(outcome)")
        }
    }

    @Test("A 503 with Retry-After is a retry after that delay, for every vendor", arguments: Vendor.allCases)
    func retryAfter(vendor: Vendor) async throws {
        try await Harness.with { (h: Harness) async throws in
            h.state.addFault(Fault(vendor: vendor, remaining: 1, status: 503, retryAfter: 7))
            let outcome = try await h.send(vendor)
            #expect(outcome.retryAfter == .some(7), "\(outcome)")
            #expect(try await h.send(vendor).isDelivered, "the fault applies to one request only")
        }
    }

    @Test(
        "A request the vendor refuses for good is a permanent failure",
        arguments: [
            (Vendor.apns, 400, "BadExpirationDate"), (.fcm, 400, "INVALID_ARGUMENT"), (.huawei, 200, "80100003"),
            (.honor, 200, "80100001"), (.xiaomi, 200, "10017"), (.oppo, 200, "41"), (.vivo, 200, "10096"), (.meizu, 200, "1005"),
        ]
    )
    func permanent(vendor: Vendor, status: Int, reason: String) async throws {
        try await Harness.with { (h: Harness) async throws in
            h.state.addFault(Fault(vendor: vendor, remaining: 1, status: status, reason: reason))
            let outcome = try await h.send(vendor)
            #expect(outcome == .permanent(reason: reason), "\(outcome)")
        }
    }

    /// Issue 25 / push-rules.md 3.4: the emulator refuses what the real gateways refuse, so a renderer
    /// that let an empty title through would fail here, not only in production.
    @Test(
        "The six vendors that require a title refuse a push whose title is empty",
        arguments: [(Vendor.huawei, "80100001"), (.honor, "80100001"), (.xiaomi, "10016"), (.oppo, "41"), (.vivo, "10050"), (.meizu, "110004")]
    )
    func emptyTitleRefused(vendor: Vendor, reason: String) async throws {
        try await Harness.with { (h: Harness) async throws in
            let token = Harness.token(vendor)
            let app = Harness.app
            var content = Harness.content
            content.title = ""
            let target = PushTarget(token: token, badge: 1, pushID: UUID().uuidString.lowercased(), nowMillis: h.clock.nowMillis())
            let request: VendorRequest? =
                switch vendor {
                case .huawei: try app.huawei.map { try HuaweiRenderer(settings: $0, defaultTitle: "").render(content, to: target) }
                case .honor: try app.honor.map { try HonorRenderer(settings: $0, defaultTitle: "").render(content, to: target) }
                case .xiaomi: try app.xiaomi.map { try XiaomiRenderer(settings: $0, defaultTitle: "").render(content, to: target) }
                case .oppo: try app.oppo.map { try OPPORenderer(settings: $0, defaultTitle: "").render(content, to: target) }
                case .vivo: try app.vivo.map { try VivoRenderer(settings: $0, defaultTitle: "").render(content, to: target) }
                case .meizu: try app.meizu.map { try MeizuRenderer(settings: $0, defaultTitle: "").render(content, to: target) }
                case .apns, .fcm: nil
                }
            let outcome = await h.client(vendor).send(try #require(request), token: token)
            #expect(outcome == .permanent(reason: reason), "\(outcome)")
            #expect(try await h.send(vendor).isDelivered, "the same push with a title goes through")
        }
    }

    /// Issue 25: the intent pushd built for `ExtAsHuaweiIntentParam` named nothing to open.
    @Test("Huawei and Honor refuse a type 1 click whose intent opens nothing, and take the in-app page's", arguments: [Vendor.huawei, .honor])
    func inAppPageClick(vendor: Vendor) async throws {
        try await Harness.with { (h: Harness) async throws in
            var content = Harness.content
            var android = AndroidInfo()
            android.extAsHuaweiIntentParam = 1
            content.android = android
            let token = Harness.token(vendor)
            let target = PushTarget(token: token, badge: 1, pushID: UUID().uuidString.lowercased(), nowMillis: h.clock.nowMillis())
            func send(_ page: InAppPage) async throws -> PushOutcome {
                var app = Harness.app
                app.huawei?.page = page
                app.honor?.page = page
                return await h.client(vendor).send(try PushRenderer(app: app).render(content, vendor: vendor, to: target), token: token)
            }
            #expect(try await send(.init(action: "com.example.im.OPEN_CHAT")).isDelivered)
            #expect(try await send(.init(intent: "intent://chat#Intent;scheme=pushd;end")).isDelivered)
            #expect(try await send(.init()).isDelivered, "no page: the notification opens the app")
            #expect(try await send(.init(intent: "#Intent;launchFlags=0x4000000;end")) == .permanent(reason: "80100003"), "the old intent")
        }
    }

    @Test("OPPO: a private-message template push is accepted; template parameters sent as JSON text are refused")
    func oppoPrivateTemplate() async throws {
        try await Harness.with { (h: Harness) async throws in
            var content = Harness.content
            var android = AndroidInfo()
            android.oppoPrivateMsgTemplateId = "tpl_1"
            content.android = android
            let token = Harness.token(.oppo)
            #expect(await h.oppo().send(try h.request(.oppo, token: token, content: content), token: token).isDelivered)
            let stringly = #"{"target_type":2,"target_value":"\#(token)","notification":{"title":"t","content":"c","private_msg_template_id":"tpl_1","private_title_parameters":"{\"title\":\"t\"}"}}"#
            let request = VendorRequest(
                vendor: .oppo, path: "/server/v1/message/notification/unicast",
                headers: [.init("content-type", "application/x-www-form-urlencoded;charset=UTF-8")], body: .form([.init("message", stringly)])
            )
            #expect(await h.oppo().send(request, token: token) == .permanent(reason: "41"))
        }
    }

    @Test("Wrong credentials are a configuration alarm, not a retry", arguments: Vendor.allCases)
    func wrongCredentials(vendor: Vendor) async throws {
        try await Harness.with { (h: Harness) async throws in
            let client: any VendorClient
            switch vendor {
            case .apns: client = h.apns(key: P256.Signing.PrivateKey())
            case .fcm: client = h.fcm(email: "stranger@demo.iam.gserviceaccount.com")
            case .huawei: client = h.huawei(secret: "wrong")
            case .honor:
                h.state.registerOAuthClient(vendor: .honor, clientID: "honor-client", secret: "rotated")
                client = h.honor()
            case .xiaomi: client = h.xiaomi(secret: "wrong")
            case .oppo: client = h.oppo(master: "wrong")
            case .vivo: client = h.vivo(secret: "wrong")
            case .meizu: client = h.meizu(secret: "wrong")
            }
            let outcome = try await h.send(vendor, client: client)
            #expect(outcome.isConfigAlarm, "\(outcome)")
        }
    }

    @Test("A revoked access token is refreshed once and the push goes through", arguments: [Vendor.fcm, .huawei, .honor, .oppo, .vivo])
    func revokedAccessToken(vendor: Vendor) async throws {
        try await Harness.with { (h: Harness) async throws in
            let client = h.client(vendor)
            #expect(try await h.send(vendor, client: client).isDelivered)
            h.state.revokeAccessTokens()
            #expect(try await h.send(vendor, client: client).isDelivered)
            let accepted = h.state.requests(vendor: vendor).filter { $0.status == 200 && $0.result == "ok" }
            try #require(accepted.count == 2)
            func credential(_ r: RecordedRequest) -> String? {
                r.headers["authorization"] ?? r.headers["authtoken"] ?? r.body.components(separatedBy: "auth_token=").last
            }
            #expect(credential(accepted[0]) != credential(accepted[1]), "the second push should carry a new token")
        }
    }
}

@Suite("APNs provider tokens and FCM access tokens", .serialized)
struct AuthTokenTests {
    static func authorization(_ request: RecordedRequest) -> String? { request.headers["authorization"] }

    @Test("APNs: one provider token for many pushes, a new one after 50 minutes, never per request")
    func providerTokenReuse() async throws {
        try await Harness.with { (h: Harness) async throws in
            let client = h.apns()
            for n in 0..<3 { #expect(try await h.send(.apns, token: Harness.token(.apns, n), client: client).isDelivered) }
            h.clock.advance(seconds: 51 * 60)
            #expect(try await h.send(.apns, client: client).isDelivered)
            let tokens = h.state.requests(vendor: .apns).compactMap(Self.authorization)
            #expect(tokens.count == 4)
            #expect(Set(tokens.prefix(3)).count == 1)
            #expect(tokens[3] != tokens[0])
            #expect(tokens.allSatisfy { $0.hasPrefix("bearer ") })
        }
    }

    @Test("APNs: a token older than an hour is refused by the emulator as ExpiredProviderToken")
    func emulatorChecksAge() async throws {
        try await Harness.with { (h: Harness) async throws in
            let stale = try VendorAuthTestSupport.apnsToken(key: h.apnsKey, issuedAt: h.clock.nowSeconds() - 3700)
            let request = try h.request(.apns, token: Harness.token(.apns))
            let records = try await RawClient(h).post(.apns, request, extraHeaders: ["authorization": "bearer " + stale])
            #expect(records.status == 403 && records.reason == "ExpiredProviderToken")
        }
    }

    @Test("APNs: on ExpiredProviderToken the client re-signs and retries once, on a fresh connection")
    func expiredProviderTokenRetry() async throws {
        try await Harness.with { (h: Harness) async throws in
            // One connection, so only a renewal can put the retry on another.
            let transport = try VendorTransport(settings: .init(connections: 1, caFile: h.caFile))
            let client = h.apns(transport: transport)
            #expect(try await h.send(.apns, client: client).isDelivered)
            h.state.addFault(Fault(vendor: .apns, remaining: 1, status: 403, reason: "ExpiredProviderToken"))
            let outcome = try await h.send(.apns, client: client)
            #expect(outcome.isDelivered, "\(outcome)")
            #expect(try await h.send(.apns, client: client).isDelivered)
            let records = h.state.requests(vendor: .apns)
            try #require(records.count == 4)
            let tokens = records.map(Self.authorization)
            #expect(tokens[1] != tokens[2] && tokens[2] == tokens[3])
            let connections = records.map(\.connection)
            #expect(connections[0] == connections[1], "one connection until the rejection")
            #expect(connections[1] != connections[2] && connections[2] == connections[3], "the retry and later pushes on a new one")
            try await transport.shutdown()
        }
    }

    @Test("APNs: the apns-id of the rendered push is the one sent, and the topic is checked")
    func apnsHeaders() async throws {
        try await Harness.with { (h: Harness) async throws in
            let pushID = UUID().uuidString.lowercased()
            let token = Harness.token(.apns)
            let outcome = await h.apns().send(try h.request(.apns, token: token, pushID: pushID), token: token)
            #expect(outcome == .delivered(messageID: pushID))
            let recorded = try #require(h.state.requests(vendor: .apns).first)
            #expect(recorded.headers["apns-id"] == pushID && recorded.headers["apns-topic"] == Harness.bundleID)
            var wrongTopic = Harness.app
            wrongTopic.apns = .init(bundleID: "com.other.app")
            let other = try PushRenderer(app: wrongTopic).render(
                Harness.content, vendor: .apns, to: PushTarget(token: token, pushID: pushID, nowMillis: h.clock.nowMillis())
            )
            #expect(await h.apns().send(other, token: token) == .configAlarm(reason: "TopicDisallowed"))
        }
    }

    @Test("APNs: an unknown path is 404 BadPath, a wrong method 405 MethodNotAllowed, and neither is recorded")
    func apnsRouting() async throws {
        try await Harness.with { (h: Harness) async throws in
            let base = h.endpoint(.apns)
            let badPath = try await h.transport.execute(method: .POST, url: base + "/3/devices/abc", headers: [:], body: Array("{}".utf8))
            #expect(badPath.status == 404 && badPath.decoded(APNsAnswer.self)?.reason == "BadPath")
            let wrongMethod = try await h.transport.execute(method: .GET, url: base + "/3/device/" + Harness.token(.apns), headers: [:], body: [])
            #expect(wrongMethod.status == 405 && wrongMethod.decoded(APNsAnswer.self)?.reason == "MethodNotAllowed")
            let elsewhere = try await h.transport.execute(method: .POST, url: h.endpoint(.fcm) + "/v2/nothing", headers: [:], body: [])
            #expect(elsewhere.status == 404 && elsewhere.body.isEmpty)
            #expect(h.state.requests().isEmpty)
        }
    }

    @Test("APNs: 410 Unregistered carries the vendor's invalidation time")
    func unregisteredTimestamp() async throws {
        try await Harness.with { (h: Harness) async throws in
            let token = Harness.token(.apns, 3)
            h.state.setToken(token, vendor: .apns, state: .unregistered(sinceMillis: 1_700_000_000_123))
            #expect(try await h.send(.apns, token: token) == .tokenInvalid(reason: "Unregistered", invalidatedAtMillis: 1_700_000_000_123))
        }
    }

    @Test("FCM: the access token is cached, refreshed shortly before it expires (injectable clock)")
    func fcmTokenRefresh() async throws {
        try await Harness.with { (h: Harness) async throws in
            let client = h.fcm()
            #expect(try await h.send(.fcm, client: client).isDelivered)
            h.clock.advance(seconds: 30 * 60)
            #expect(try await h.send(.fcm, client: client).isDelivered)
            h.clock.advance(seconds: 26 * 60)  // 56 minutes: inside the 5-minute refresh margin
            #expect(try await h.send(.fcm, client: client).isDelivered)
            let tokens = h.state.requests(vendor: .fcm).compactMap(Self.authorization)
            #expect(tokens.count == 3 && tokens[0] == tokens[1] && tokens[1] != tokens[2])
        }
    }

    @Test("FCM: a token the vendor blames as invalid is deleted; QUOTA_EXCEEDED waits at least a minute")
    func fcmErrors() async throws {
        try await Harness.with { (h: Harness) async throws in
            let token = "not-a-token"
            h.state.setToken(token, vendor: .fcm, state: .invalid)
            #expect(try await h.send(.fcm, token: token) == .tokenInvalid(reason: "INVALID_ARGUMENT", invalidatedAtMillis: nil))
            h.state.addFault(Fault(vendor: .fcm, remaining: 1, status: 429, reason: "QUOTA_EXCEEDED"))
            #expect(try await h.send(.fcm) == .retry(reason: "QUOTA_EXCEEDED", afterSeconds: 60))
        }
    }

    @Test("OPPO and vivo tokens expire after a day and are fetched again")
    func signedTokensExpire() async throws {
        try await Harness.with { (h: Harness) async throws in
            for vendor in [Vendor.oppo, .vivo] {
                let client = h.client(vendor)
                #expect(try await h.send(vendor, client: client).isDelivered)
                h.clock.advance(seconds: 25 * 3600)
                #expect(try await h.send(vendor, client: client).isDelivered, "\(vendor)")
            }
        }
    }
}

@Suite("Connection faults", .serialized)
struct ConnectionFaultTests {
    @Test("GOAWAY mid-batch: refused streams are retried, none is lost, none repeated without a transport failure")
    func goawayMidBatch() async throws {
        // A limit of 100 streams keeps most of the batch waiting in the client when the GOAWAY comes:
        // those streams were never opened, so the server refuses them and the client retries them.
        try await Harness.with(maxConcurrentStreams: 100) { (h: Harness) async throws in
            let client = h.apns()
            let count = 300
            h.state.addFault(Fault(vendor: .apns, remaining: 1, goaway: true))
            let ids = (0..<count).map { _ in UUID().uuidString.lowercased() }
            /// Each push's final outcome and the transport failures on the way.
            let results = try await withThrowingTaskGroup(of: (String, PushOutcome, [String]).self) { group in
                for n in 0..<count {
                    let request = try h.request(.apns, token: Harness.token(.apns, n), pushID: ids[n])
                    group.addTask {
                        var failures: [String] = []
                        while true {
                            let outcome = await client.send(request, token: Harness.token(.apns, n))
                            if case .retry(let reason, _) = outcome, reason.hasPrefix("TransportError"), failures.count < 10 {
                                failures.append(reason)
                                continue
                            }
                            return (ids[n], outcome, failures)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.1.isDelivered }, "\(results.filter { !$0.1.isDelivered }.prefix(3))")
            // Not a matter of timing: the GOAWAY is written before any answer on its connection, so
            // the pushes queued there beyond its 100 streams are still unsent when it arrives.
            #expect(results.contains { !$0.2.isEmpty }, "some streams were refused and retried")
            let accepted = h.state.requests(vendor: .apns).filter { $0.status == 200 }.compactMap { $0.headers["apns-id"] }
            #expect(Set(accepted) == Set(ids), "every push reached the gateway")
            // At-least-once: a push reaches the gateway twice only when an earlier attempt failed in
            // transport after it was sent (the client cannot tell that from a refused stream); a push
            // that went through on its first attempt is never repeated.
            let duplicates = Set(Dictionary(grouping: accepted, by: { $0 }).filter { $0.value.count > 1 }.keys)
            for (id, _, failures) in results where duplicates.contains(id) {
                #expect(!failures.isEmpty, "\(id) was processed twice without a transport failure")
            }
            #expect(duplicates.count <= count / 20, "duplicates are the exception: \(duplicates.count)")
        }
    }

    @Test("A dropped connection is a transport retry, not a crash or a hang")
    func droppedConnection() async throws {
        try await Harness.with { (h: Harness) async throws in
            h.state.addFault(Fault(vendor: .huawei, remaining: 1, drop: true))
            let outcome = try await h.send(.huawei)
            guard case .retry(let reason, _) = outcome else {
                Issue.record("expected a retry, got \(outcome)")
                return
            }
            #expect(reason.hasPrefix("TransportError"))
            #expect(try await h.send(.huawei).isDelivered)
        }
    }

    @Test("A connection gone silent is given up after an unanswered PING; the next push goes out on a new one")
    func silentConnection() async throws {
        try await Harness.with { (h: Harness) async throws in
            let (client, transport) = try h.impatientXiaomi()
            #expect(try await h.send(.xiaomi, token: "x", client: client).isDelivered)
            h.state.addFault(Fault(vendor: .xiaomi, remaining: 1, stall: true))
            let stalled = try await h.send(.xiaomi, token: "x", client: client)
            guard case .retry(let reason, _) = stalled, reason.contains("deadline") else {
                Issue.record("expected a deadline retry, got \(stalled)")
                return
            }
            // The PING sent when the deadline passed goes unanswered for as long again: the client
            // gives the connection up by itself, before any new push needs it.
            try await eventually("the silent connection given up") { transport.usableConnections(to: h.endpoint(.xiaomi)) == 0 }
            // The next push goes out on a new connection (on the stalled one it would miss its deadline).
            #expect(try await h.send(.xiaomi, token: "x", client: client).isDelivered)
            let connections = h.state.requests(vendor: .xiaomi).compactMap(\.connection)
            #expect(connections.count == 2 && connections[0] != connections[1])
            try await transport.shutdown()
        }
    }

    @Test("No request waits past its deadline")
    func deadline() async throws {
        try await Harness.with { (h: Harness) async throws in
            let (client, transport) = try h.impatientXiaomi()
            // The same transport answers in time when the gateway does.
            #expect(await client.send(try h.request(.xiaomi, token: "x"), token: "x").isDelivered)
            // Held until the test ends: only the client's 500 ms deadline ends this request.
            h.state.addFault(Fault(vendor: .xiaomi, remaining: 1, hold: true))
            let outcome = await client.send(try h.request(.xiaomi, token: "x"), token: "x")
            #expect(h.state.held(.xiaomi) == 1, "the gateway never answered")
            h.state.releaseHeld()
            if case .retry(let reason, _) = outcome {
                #expect(reason.hasPrefix("TransportError"))
            } else {
                Issue.record("expected a retry, got \(outcome)")
            }
            try await transport.shutdown()
        }
    }
}

@Suite("Emulator over HTTP/1.1")
struct HTTP1Tests {
    @Test("A vendor endpoint answers over HTTP/1.1 too, and a fault there does not crash the emulator")
    func http1() async throws {
        try await Harness.with { (h: Harness) async throws in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments = [
                "-s", "--http1.1", "--cacert", h.caFile, "-X", "POST", h.endpoint(.apns) + "/3/device/abab", "-d", "{}",
                "-w", "\n%{http_code} %{http_version}",
            ]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(text.contains("MissingProviderToken") && text.hasSuffix("403 1.1"), "\(text)")
            // The emulator still serves HTTP/2 afterwards.
            #expect(try await h.send(.apns).isDelivered)
        }
    }
}

@Suite("Multi-device sends", .serialized)
struct BatchTests {
    @Test("One request for five devices reports each token: two unregistered, three delivered", arguments: [Vendor.huawei, .honor, .xiaomi, .meizu, .vivo])
    func partialFailure(vendor: Vendor) async throws {
        try await Harness.with { (h: Harness) async throws in
            let tokens = (0..<5).map { Harness.token(vendor, $0) }
            for dead in [tokens[1], tokens[3]] { h.state.setToken(dead, vendor: vendor, state: .unregistered(sinceMillis: 1)) }
            let request = try PushRenderer(app: Harness.app).render(
                Harness.content, vendor: vendor, to: PushTarget(tokens: tokens, pushID: UUID().uuidString.lowercased(), nowMillis: h.clock.nowMillis())
            )
            let client = try #require(h.client(vendor) as? any BatchVendorClient)
            let outcomes = await client.send(request, tokens: tokens)
            #expect(outcomes.count == 5)
            #expect(outcomes.filter { $0.value.isTokenInvalid }.keys.sorted() == [tokens[1], tokens[3]].sorted(), "\(outcomes)")
            #expect(outcomes.filter { $0.value.isDelivered }.count == 3)
            // vivo's list push is two requests (saveListPayload, pushToList); the others one.
            #expect(h.state.requests(vendor: vendor).count == (vendor == .vivo ? 2 : 1), "one send for all five")
        }
    }

    @Test("All tokens of a Huawei batch invalid: 80300007 marks each one")
    func huaweiAllInvalid() async throws {
        try await Harness.with { (h: Harness) async throws in
            let tokens = ["dead-1", "dead-2"]
            for token in tokens { h.state.setToken(token, vendor: .huawei, state: .invalid) }
            let request = try PushRenderer(app: Harness.app).render(
                Harness.content, vendor: .huawei, to: PushTarget(tokens: tokens, pushID: "p", nowMillis: h.clock.nowMillis())
            )
            let outcomes = await h.huawei().send(request, tokens: tokens)
            #expect(outcomes.values.allSatisfy { $0 == .tokenInvalid(reason: "80300007", invalidatedAtMillis: nil) })
        }
    }

    @Test("Token counts per request: up to 1000 for Huawei, Honor, Xiaomi and vivo lists, 100 for Meizu, one elsewhere")
    func tokenLimits() throws {
        let renderer = PushRenderer(app: Harness.app)
        func render(_ vendor: Vendor, _ count: Int) throws -> VendorRequest {
            try renderer.render(Harness.content, vendor: vendor, to: PushTarget(tokens: (0..<count).map { "t\($0)" }, pushID: "p", nowMillis: 0))
        }
        #expect(throws: Never.self) { try render(.huawei, 1000) }
        #expect(throws: RenderError.self) { try render(.huawei, 1001) }
        #expect(throws: Never.self) { try render(.meizu, 100) }
        #expect(throws: RenderError.self) { try render(.meizu, 101) }
        #expect(throws: RenderError.self) { try render(.apns, 2) }
        #expect(try render(.vivo, 2).path == "/message/saveListPayload")
        #expect(throws: RenderError.self) { try render(.fcm, 0) }
        // Huawei's byte limit does not count the tokens.
        let thousand = try render(.huawei, 1000)
        #expect(thousand.body.bytes.count > 4096)
    }
}

@Suite("HTTP/2 client", .serialized)
struct HTTP2ClientTests {
    @Test("Request URLs split into origin and path, IPv6 and default port included")
    func targets() throws {
        let plain = try #require(HTTPSTarget("https://api.push.apple.com/3/device/ab?x=1"))
        #expect(plain.host == "api.push.apple.com" && plain.port == 443 && plain.path == "/3/device/ab?x=1")
        let ported = try #require(HTTPSTarget("https://127.0.0.1:8443"))
        #expect(ported.host == "127.0.0.1" && ported.port == 8443 && ported.path == "/")
        let v6 = try #require(HTTPSTarget("https://[::1]:9000/fcm/v1"))
        #expect(v6.host == "::1" && v6.port == 9000 && v6.path == "/fcm/v1")
        let v6Default = try #require(HTTPSTarget("https://[::1]/x"))
        #expect(v6Default.host == "::1" && v6Default.port == 443 && v6Default.origin == HTTPSTarget.Origin(host: "::1", port: 443))
        let unicode = try #require(HTTPSTarget("https://例え.jp/路径?q=é"))
        #expect(unicode.host == "例え.jp" && unicode.path == "/路径?q=é")
        #expect(HTTPSTarget("https://host:12a/x") == nil)
        #expect(HTTPSTarget("https://host:/x") == nil)
        #expect(HTTPSTarget("https://[::1]x/y") == nil)
        #expect(HTTPSTarget("http://127.0.0.1/x") == nil)
        #expect(HTTPSTarget("https://host:99999/x") == nil)
        #expect(HTTPSTarget("https:///x") == nil)
    }

    @Test("Many concurrent pushes share the configured connections and all arrive once")
    func multiplexes() async throws {
        try await Harness.with { (h: Harness) async throws in
            let client = h.apns()
            let ids = (0..<400).map { _ in UUID().uuidString.lowercased() }
            let outcomes = try await withThrowingTaskGroup(of: PushOutcome.self) { group in
                for (n, id) in ids.enumerated() {
                    let request = try h.request(.apns, token: Harness.token(.apns, n), pushID: id)
                    group.addTask { await client.send(request, token: Harness.token(.apns, n)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0.isDelivered })
            let accepted = h.state.requests(vendor: .apns).compactMap { $0.headers["apns-id"] }
            #expect(accepted.sorted() == ids.sorted(), "each push reached the gateway exactly once")
        }
    }

    @Test("The client keeps to the server's SETTINGS_MAX_CONCURRENT_STREAMS; the pushes beyond it wait, none is lost")
    func obeysStreamLimit() async throws {
        // Two connections with a limit of 5 each: at most 10 pushes at the (slow) gateway at once.
        try await Harness.with(maxConcurrentStreams: 5) { (h: Harness) async throws in
            let client = h.apns()
            h.state.addFault(Fault(vendor: .apns, latencyMillis: 20))
            let outcomes = try await withThrowingTaskGroup(of: PushOutcome.self) { group in
                for n in 0..<60 {
                    let request = try h.request(.apns, token: Harness.token(.apns, n))
                    group.addTask { await client.send(request, token: Harness.token(.apns, n)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0.isDelivered })
            #expect(h.state.requests(vendor: .apns).count == 60)
            #expect(h.state.peakInFlight(.apns) <= 10)
            // Requests take the pool's slots in turn: both connections carried pushes.
            #expect(Set(h.state.requests(vendor: .apns).compactMap(\.connection)).count == 2, "the connections were used side by side")
        }
    }

    @Test(
        "An origin that does not offer h2 by ALPN is served over HTTP/1.1 by the same transport, directly and through a proxy",
        arguments: [false, true]
    )
    func fallsBackToHTTP1(throughProxy: Bool) async throws {
        let tinyproxy = throughProxy ? try TinyProxy() : nil
        defer { tinyproxy?.stop() }
        let certificates = try EmulatorCertificates()
        let state = EmulatorState()
        state.registerXiaomi(appSecret: "mi-secret", packageName: Harness.bundleID)
        let running = try await GatewayEmulator(state: state, certificates: certificates).start(http1Only: true)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-h1-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let proxy = tinyproxy.map { HTTPProxy(host: "127.0.0.1", port: $0.port, username: $0.username, password: $0.password) }
        let transport = try VendorTransport(settings: .init(connections: 1, caFile: try certificates.writeCA(to: folder.path), proxy: proxy))
        let renderer = PushRenderer(app: Harness.app)
        let client = XiaomiClient(appSecret: "mi-secret", endpoint: running.endpoint(.xiaomi), transport: transport)
        for n in 0..<3 {
            let request = try renderer.render(
                Harness.content, vendor: .xiaomi,
                to: PushTarget(token: "mi-\(n)", badge: 1, pushID: UUID().uuidString.lowercased(), nowMillis: SystemEpochClock().nowMillis())
            )
            let outcome = await client.send(request, token: "mi-\(n)")
            #expect(outcome.isDelivered, "\(outcome)")
        }
        #expect(state.requests(vendor: .xiaomi).count == 3)
        if let tinyproxy {
            let origin = try #require(HTTPSTarget(running.endpoint(.xiaomi)))
            // One tunnel for the TLS handshake that found no h2, one for AsyncHTTPClient's HTTP/1.1
            // connection, which the three pushes share.
            #expect(tinyproxy.connectTargets() == Array(repeating: "\(origin.host):\(origin.port)", count: 2))
        }
        try await transport.shutdown()
        await running.stop()
    }

    @Test("An HTTP CONNECT proxy (tinyproxy, Basic auth) carries APNs and FCM, FCM's OAuth token request included")
    func throughProxy() async throws {
        let tinyproxy = try TinyProxy()
        defer { tinyproxy.stop() }
        let proxy = HTTPProxy(host: "127.0.0.1", port: tinyproxy.port, username: tinyproxy.username, password: tinyproxy.password)
        try await Harness.with(proxy: proxy) { (h: Harness) async throws in
            for vendor in [Vendor.apns, .fcm] {
                let outcome = try await h.send(vendor)
                #expect(outcome.isDelivered, "\(vendor): \(outcome)")
                #expect(h.state.requests(vendor: vendor).count == 1)
            }
            // FCM's first send fetched its OAuth token on the same transport, so through the tunnel too.
            #expect(h.state.accessTokensIssued(vendor: .fcm) == 1)
            let origins = Set([Vendor.apns, .fcm].compactMap { HTTPSTarget(h.endpoint($0)).map { "\($0.host):\($0.port)" } })
            #expect(!origins.isEmpty)
            #expect(Set(tinyproxy.connectTargets()) == origins, "\(tinyproxy.connectTargets())")
        }
    }

    @Test("A proxy that refuses the credentials sends nothing on: the push is a transport retry")
    func proxyRefusesCredentials() async throws {
        let tinyproxy = try TinyProxy()
        defer { tinyproxy.stop() }
        let proxy = HTTPProxy(host: "127.0.0.1", port: tinyproxy.port, username: tinyproxy.username, password: "wrong")
        try await Harness.with(proxy: proxy) { (h: Harness) async throws in
            for vendor in [Vendor.apns, .fcm] {
                let outcome = try await h.send(vendor)
                #expect(outcome.retryAfter != nil, "\(vendor): \(outcome)")
                #expect(h.state.requests(vendor: vendor).isEmpty)
            }
        }
    }
}

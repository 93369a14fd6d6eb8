import API
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Messaging
import PushCore
import PushdConfig
import Storage
import Testing
import TestSupport
import UserSig

@testable import Console
@testable import Dispatcher

/// The console's sign-in, sessions, CSRF tokens, app scoping and escaping, in process against a
/// real SQLite store (the browser tests in Tests/Browser drive the same pages in chromium).
@Suite struct ConsoleTests {
    static let app: UInt64 = 1_400_000_000
    static let other: UInt64 = 1_400_000_001
    static let key = "console-test-key"
    static let password = "the-console-password"

    /// A console on a fresh store with two apps, the first with secrets that must never show.
    struct Fixture {
        let clock = ManualEpochClock(millis: 1_795_000_000_000)
        let store: SQLiteStore
        let router: Router<BasicRequestContext>
        let config: PushdConfig
        let api: RestAPI

        init() throws {
            store = try SQLiteStore(path: FileManager.default.temporaryDirectory.appendingPathComponent("pushd-console-\(UUID())/pushd.sqlite").path, clock: clock)
            var config = PushdConfig()
            var first = PushdConfig.App(sdkAppID: ConsoleTests.app)
            first.secretKey = ConsoleTests.key
            first.appName = "Console Test IM"
            first.callback.url = "https://hook:hook-password-9@im.example/callback"
            first.callback.key = "callback-key-secret-7"
            first.vendors[.huawei] = VendorConfig(
                vendor: .huawei,
                fields: ["app_id": "10086", "client_secret": "huawei-client-secret-1", "default_channel_id": "chat-channel", "default_category": "IM"]
            )
            first.vendors[.xiaomi] = VendorConfig(
                vendor: .xiaomi, fields: ["app_secret": "xiaomi-app-secret-2", "package_name": "com.example.im", "proxy": "http://u:proxy-pass-3@10.0.0.1:3128"]
            )
            var second = PushdConfig.App(sdkAppID: ConsoleTests.other)
            second.secretKey = "other-key"
            second.admin = "other_admin"
            config.apps = [first, second]
            config.console = .init(enabled: true, sessionMinutes: 30)
            self.config = config
            api = RestAPI(config: config, store: store, clock: clock)
            let dispatcher = try Dispatcher(store: store, gateways: try VendorGateways(config: config), config: config, clock: clock)
            let console = try Console(
                config: config, store: store, api: api, dispatcher: dispatcher, password: ConsoleTests.password, sessionSecret: "k", clock: clock
            )
            router = Router()
            console.addRoutes(to: router)
        }

        struct Page {
            var status: HTTPResponse.Status
            var headers: HTTPFields
            var body: String
            var cookie: String? {
                headers[values: .setCookie].first.flatMap { $0.split(separator: ";").first }.map(String.init)
            }
        }

        func request(_ path: String, method: HTTPRequest.Method = .get, form: String? = nil, cookie: String? = nil) async throws -> Page {
            var headers: HTTPFields = [:]
            if let cookie { headers[.cookie] = cookie }
            if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
            let sent = headers
            return try await Application(router: router).test(.router) { client in
                try await client.execute(uri: path, method: method, headers: sent, body: form.map { ByteBuffer(string: $0) }) { response in
                    Page(status: response.status, headers: response.headers, body: String(buffer: response.body))
                }
            }
        }

        /// Signs in with the password or as an app's admin; the session cookie.
        func signIn(asAdminOf app: UInt64? = nil) async throws -> String {
            let form: String
            if let app {
                let admin = app == ConsoleTests.app ? "administrator" : "other_admin"
                let key = app == ConsoleTests.app ? ConsoleTests.key : "other-key"
                let sig = UserSig.generate(sdkAppID: app, key: key, identifier: admin, expire: 3600, time: clock.nowSeconds() - 10)
                form = "method=usersig&sdkappid=\(app)&identifier=\(admin)&usersig=\(ConsoleForm.encode([("", sig)]).dropFirst())"
            } else {
                form = "method=password&password=\(ConsoleTests.password)"
            }
            let page = try await request("/console/signin", method: .post, form: form)
            #expect(page.status == .seeOther)
            return try #require(page.cookie)
        }

        /// The CSRF token of the page's forms.
        static func csrf(_ body: String) -> String? {
            body.range(of: #"name="csrf" value="([^"]+)""#, options: .regularExpression).map {
                String(body[$0].dropFirst(#"name="csrf" value=""#.count).dropLast())
            }
        }
    }

    @Test func pagesNeedASessionAndTheConsoleIsEverythingUnderIt() async throws {
        let f = try Fixture()
        for path in ["/console/overview", "/console/campaigns", "/console/dead-letters", "/console/lookup", "/console/devices", "/console/config", "/console/test-push"] {
            let page = try await f.request(path)
            #expect(page.status == .seeOther && page.headers[.location] == "/console/signin", "\(path)")
        }
        let forged = try await f.request("/console/overview", cookie: "pushd_console=Kgo5OTk5OTk5OTk5Cm4KY29uc29sZQ.AAAA")
        #expect(forged.status == .seeOther, "a cookie not signed with the key is no session")
    }

    @Test func signInRefusesWrongCredentialsAndThrottlesGuessing() async throws {
        let f = try Fixture()
        let wrong = try await f.request("/console/signin", method: .post, form: "method=password&password=guess")
        #expect(wrong.status == .unauthorized && wrong.cookie == nil && wrong.body.contains("Sign-in refused"))
        // Another app's admin, or the right admin with a UserSig of another key, is refused.
        let badSig = UserSig.generate(sdkAppID: ConsoleTests.app, key: "not-the-key", identifier: "administrator", expire: 3600, time: f.clock.nowSeconds())
        let forged = try await f.request(
            "/console/signin", method: .post, form: "method=usersig&sdkappid=\(ConsoleTests.app)&identifier=administrator&usersig=\(badSig)"
        )
        #expect(forged.status == .unauthorized)
        let user = UserSig.generate(sdkAppID: ConsoleTests.app, key: ConsoleTests.key, identifier: "alice", expire: 3600, time: f.clock.nowSeconds())
        let notAdmin = try await f.request("/console/signin", method: .post, form: "method=usersig&sdkappid=\(ConsoleTests.app)&identifier=alice&usersig=\(user)")
        #expect(notAdmin.status == .unauthorized, "a user's own UserSig does not open the console")
        for _ in 0..<SignInThrottle.limit { _ = try await f.request("/console/signin", method: .post, form: "method=password&password=guess") }
        let throttled = try await f.request("/console/signin", method: .post, form: "method=password&password=\(ConsoleTests.password)")
        #expect(throttled.status == .tooManyRequests, "past the limit even the right password waits for the next minute")
        f.clock.advance(seconds: 60)
        let later = try await f.request("/console/signin", method: .post, form: "method=password&password=\(ConsoleTests.password)")
        #expect(later.status == .seeOther && later.cookie != nil)
    }

    @Test func theSessionCookieIsScopedAndExpires() async throws {
        let f = try Fixture()
        let page = try await f.request("/console/signin", method: .post, form: "method=password&password=\(ConsoleTests.password)")
        let setCookie = try #require(page.headers[values: .setCookie].first)
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=1800"] { #expect(setCookie.contains(attribute), "\(setCookie)") }
        let cookie = try #require(page.cookie)
        #expect(try await f.request("/console/overview", cookie: cookie).status == .ok)
        f.clock.advance(seconds: 30 * 60)
        let expired = try await f.request("/console/overview", cookie: cookie)
        #expect(expired.status == .seeOther && expired.headers[.location] == "/console/signin", "a session ends after console.session_minutes")
    }

    @Test func anAppsAdminSeesThatAppOnly() async throws {
        let f = try Fixture()
        let cookie = try await f.signIn(asAdminOf: ConsoleTests.other)
        let own = try await f.request("/console/overview", cookie: cookie)
        #expect(own.status == .ok && own.body.contains("\(ConsoleTests.other)") && !own.body.contains("\(ConsoleTests.app)"))
        for path in ["overview", "config", "devices", "dead-letters", "campaigns", "lookup", "test-push"] {
            let page = try await f.request("/console/\(path)?app=\(ConsoleTests.app)&user=bob", cookie: cookie)
            #expect(page.status == .notFound, "\(path) of another app")
        }
        // Their forms cannot reach the other app either.
        let csrf = try #require(Fixture.csrf(own.body))
        let post = try await f.request(
            "/console/dead-letters", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&do=replay-all", cookie: cookie
        )
        #expect(post.status == .notFound)
        // The password sees both.
        let all = try await f.request("/console/overview", cookie: try await f.signIn())
        #expect(all.body.contains("\(ConsoleTests.app)") && all.body.contains("\(ConsoleTests.other)"))
    }

    @Test func formsThatChangeStateNeedTheSessionsCSRFToken() async throws {
        let f = try Fixture()
        let cookie = try await f.signIn()
        let other = try await f.signIn(asAdminOf: ConsoleTests.app)
        let letters = try await f.request("/console/dead-letters?app=\(ConsoleTests.app)", cookie: cookie)
        let token = try #require(Fixture.csrf(letters.body))
        let otherToken = try #require(Fixture.csrf(try await f.request("/console/overview", cookie: other).body))
        #expect(token != otherToken, "each session has its own token")
        for form in ["app=\(ConsoleTests.app)&do=purge-all&confirmed=yes", "csrf=&app=\(ConsoleTests.app)&do=purge-all", "csrf=\(otherToken)&do=purge-all"] {
            let page = try await f.request("/console/dead-letters", method: .post, form: form, cookie: cookie)
            #expect(page.status == .forbidden, "\(form)")
        }
        for path in ["/console/signout", "/console/campaigns/cancel", "/console/test-push"] {
            #expect(try await f.request(path, method: .post, form: "app=\(ConsoleTests.app)", cookie: cookie).status == .forbidden, "\(path)")
        }
        // With the token, a purge first asks for a confirmation.
        let confirm = try await f.request("/console/dead-letters", method: .post, form: "csrf=\(token)&app=\(ConsoleTests.app)&do=purge-all", cookie: cookie)
        #expect(confirm.status == .ok && confirm.body.contains("No dead letter matches."))
        let signOut = try await f.request("/console/signout", method: .post, form: "csrf=\(token)", cookie: cookie)
        #expect(signOut.status == .seeOther && signOut.headers[values: .setCookie].first?.contains("Max-Age=0") == true)
    }

    @Test func secretsNeverReachThePages() async throws {
        let f = try Fixture()
        let page = try await f.request("/console/config?app=\(ConsoleTests.app)", cookie: try await f.signIn())
        #expect(page.status == .ok)
        for secret in [ConsoleTests.key, "hook-password-9", "callback-key-secret-7", "huawei-client-secret-1", "xiaomi-app-secret-2", "proxy-pass-3"] {
            #expect(!page.body.contains(secret), "\(secret) leaked")
        }
        for shown in ["chat-channel", "10086", "com.example.im", "https://hook:***@im.example/callback", "http://u:***@10.0.0.1:3128"] {
            #expect(page.body.contains(shown), "\(shown) is not secret and is shown")
        }
    }

    @Test func storedValuesAreEscaped() async throws {
        let f = try Fixture()
        let hostile = #"<script>alert("x")</script>"#
        try await f.store.upsertDevice(
            Device(sdkAppID: ConsoleTests.app, userID: hostile, deviceID: "<img src=x onerror=1>", vendor: .apns, token: "\"><b>tok", registeredAtMillis: 1)
        )
        let query = ConsoleForm.encode([("app", "\(ConsoleTests.app)"), ("user", hostile)])
        let cookie = try await f.signIn()
        for path in ["/console/devices?\(query)", "/console/lookup?\(query)", "/console/test-push?\(query)"] {
            let page = try await f.request(path, cookie: cookie)
            #expect(page.status == .ok, "\(path)")
            #expect(!page.body.contains("<script>alert") && !page.body.contains("<img src=x") && !page.body.contains("\"><b>"), "\(path)")
        }
        #expect(try await f.request("/console/devices?\(query)", cookie: cookie).body.contains("&lt;img src=x onerror=1&gt;"))
        let headers = try await f.request("/console/devices?\(query)", cookie: cookie).headers
        #expect(headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true && headers[.cacheControl] == "no-store")
    }

    @Test func aTestPushIsOneValidatedJobLimitedToTheDevice() async throws {
        let f = try Fixture()
        try await f.store.upsertDevices([
            Device(sdkAppID: ConsoleTests.app, userID: "bob", deviceID: "phone", vendor: .huawei, token: "tok-phone", registeredAtMillis: 1),
            Device(sdkAppID: ConsoleTests.app, userID: "bob", deviceID: "pad", vendor: .huawei, token: "tok-pad", registeredAtMillis: 1),
        ])
        let cookie = try await f.signIn()
        let csrf = try #require(Fixture.csrf(try await f.request("/console/test-push?app=\(ConsoleTests.app)", cookie: cookie).body))
        // The preview renders each device's request; nothing is queued.
        let preview = try await f.request(
            "/console/test-push", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&user=bob&text=hi+there&do=preview", cookie: cookie
        )
        #expect(preview.status == .ok && preview.body.contains("phone · huawei") && preview.body.contains("pad · huawei"))
        #expect(preview.body.contains("hi there") && preview.body.contains("chat-channel"), "the Huawei request with the app's channel")
        #expect(try await f.store.stats().lanes[.chat]?.pending == 0)
        // A bad OfflinePushInfo is refused with the job validation's code and field.
        let bad = try await f.request(
            "/console/test-push", method: .post,
            form: "csrf=\(csrf)&app=\(ConsoleTests.app)&user=bob&text=x&offline=%7B%22PushFlag%22%3A%22no%22%7D&do=send", cookie: cookie
        )
        #expect(bad.status == .badRequest && bad.body.contains("PushFlag"), "\(bad.body)")
        let sent = try await f.request(
            "/console/test-push", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&user=bob&device=pad&text=hi&do=send", cookie: cookie
        )
        #expect(sent.status == .seeOther)
        let location = try #require(sent.headers[.location])
        let task = try #require(location.range(of: "console_[0-9a-f]+", options: .regularExpression).map { String(location[$0]) })
        let status = try #require(try await f.store.jobStatus(sdkAppID: ConsoleTests.app, idempotencyKey: "\(task):bob"))
        #expect(status.deviceIDs == ["pad"], "limited to the device picked")
        let lookup = try await f.request(location, cookie: cookie)
        #expect(lookup.body.contains("Pending") && lookup.body.contains("The test push was queued.") && lookup.body.contains(#"data-refresh="2""#))
    }

    @Test func deadLettersAreFilteredThenReplayedOrPurgedAfterAConfirmation() async throws {
        let f = try Fixture()
        // Three dead letters of the first app (two APNs, one FCM) and one of the other app.
        try await f.store.enqueue([
            NewJob(sdkAppID: ConsoleTests.app, idempotencyKey: "a:bob", userID: "bob", payload: Data("{}".utf8)),
            NewJob(sdkAppID: ConsoleTests.app, idempotencyKey: "b:bob", userID: "bob", payload: Data("{}".utf8)),
            NewJob(sdkAppID: ConsoleTests.other, idempotencyKey: "c:bob", userID: "bob", payload: Data("{}".utf8)),
        ])
        let claimed = try await f.store.claim(limit: 10, leaseMillis: 30_000)
        try await f.store.complete(
            claimed.map { job in
                let dead: [JobCompletion.DeadDevice] =
                    job.idempotencyKey == "a:bob"
                    ? [.init(deviceID: "phone", vendor: "apns", token: "t1", error: "PayloadTooLarge"), .init(deviceID: "pad", vendor: "fcm", token: "t2", error: "INVALID_ARGUMENT")]
                    : [.init(deviceID: "phone", vendor: "apns", token: "t1", error: "BadExpirationDate")]
                return JobCompletion(job: job, deadDevices: dead)
            }
        )
        let cookie = try await f.signIn()
        let all = try await f.request("/console/dead-letters?app=\(ConsoleTests.app)", cookie: cookie)
        #expect(all.body.contains("3 dead letters match"), "the other app's letter is not listed")
        let apns = try await f.request("/console/dead-letters?app=\(ConsoleTests.app)&vendor=apns&reason=payload", cookie: cookie)
        #expect(apns.body.contains("1 dead letters match") && apns.body.contains("PayloadTooLarge") && !apns.body.contains("BadExpirationDate"))
        let future = try await f.request("/console/dead-letters?app=\(ConsoleTests.app)&since=2099-01-01T00:00", cookie: cookie)
        #expect(future.body.contains("0 dead letters match"))
        let badTime = try await f.request("/console/dead-letters?app=\(ConsoleTests.app)&since=yesterday", cookie: cookie)
        #expect(badTime.status == .badRequest && badTime.body.contains("Died since must look like"))
        let csrf = try #require(Fixture.csrf(all.body))
        // Purging all APNs letters asks first and deletes nothing until confirmed.
        let ask = try await f.request(
            "/console/dead-letters", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&vendor=apns&do=purge-all", cookie: cookie
        )
        #expect(ask.body.contains("Delete 2 dead letters for good?") && ask.body.contains(#"name="confirmed" value="yes""#))
        #expect(try await f.store.deadLetters(afterID: 0, limit: 10).count == 4)
        let purged = try await f.request(
            "/console/dead-letters", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&vendor=apns&do=purge-all&confirmed=yes", cookie: cookie
        )
        #expect(purged.status == .seeOther)
        #expect(try await f.store.deadLetters(afterID: 0, limit: 10).map(\.vendor).sorted() == ["apns", "fcm"], "the other app's APNs letter stays")
        // Replaying a selected letter: an id of another app among the selection is ignored.
        let letters = try await f.store.deadLetters(afterID: 0, limit: 10)
        let own = try #require(letters.first { $0.sdkAppID == ConsoleTests.app }), foreign = try #require(letters.first { $0.sdkAppID == ConsoleTests.other })
        let replay = try await f.request(
            "/console/dead-letters", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&do=replay-selected&id=\(own.id)&id=\(foreign.id)", cookie: cookie
        )
        #expect(replay.status == .seeOther)
        #expect(try await f.store.deadLetters(afterID: 0, limit: 10).map(\.id) == [foreign.id])
        #expect(try await f.store.stats().lanes[.chat]?.pending == 1, "the replayed letter is a job again")
    }

    @Test func replayingAllMatchingTakesEveryLetterInSlices() async throws {
        let f = try Fixture()
        try await f.store.enqueue(NewJob(sdkAppID: ConsoleTests.app, idempotencyKey: "many:bob", userID: "bob", payload: Data("{}".utf8)))
        let job = try #require(try await f.store.claim(limit: 1, leaseMillis: 30_000).first)
        let dead = (0..<2_500).map { JobCompletion.DeadDevice(deviceID: "d\($0)", vendor: "fcm", token: "t\($0)", error: "INVALID_ARGUMENT") }
        try await f.store.complete([JobCompletion(job: job, deadDevices: dead)])
        let cookie = try await f.signIn()
        let page = try await f.request("/console/dead-letters?app=\(ConsoleTests.app)", cookie: cookie)
        #expect(page.body.contains("2500 dead letters match (the newest 200 are listed)"))
        let overview = try await f.request("/console/overview?app=\(ConsoleTests.app)", cookie: cookie)
        #expect(overview.body.contains("Dead letters of this app: 2500"))
        let csrf = try #require(Fixture.csrf(page.body))
        let replay = try await f.request("/console/dead-letters", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&do=replay-all", cookie: cookie)
        #expect(replay.status == .seeOther)
        #expect(try await f.store.deadLetters(afterID: 0, limit: 10).isEmpty)
        #expect(try await f.store.stats().lanes[.chat]?.pending == 2_500, "one job per replayed device")
    }

    @Test func aCampaignIsListedAndCancelledAfterAConfirmation() async throws {
        let f = try Fixture()
        let reply = await f.api.handleAsAdmin(
            sdkAppID: ConsoleTests.app, command: "all_member_push/im_push",
            body: Data(#"{"MsgRandom": 5, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}]}"#.utf8)
        )
        let task = try #require(reply.fields.first { $0.0 == "TaskId" }?.1 as? String)
        let cookie = try await f.signIn()
        let list = try await f.request("/console/campaigns?app=\(ConsoleTests.app)", cookie: cookie)
        #expect(list.body.contains(task) && list.body.contains("Running") && list.body.contains(#"data-refresh="2""#))
        let ask = try await f.request("/console/campaigns/cancel?app=\(ConsoleTests.app)&task=\(task)", cookie: cookie)
        #expect(ask.body.contains("Cancel campaign \(task)?"))
        let csrf = try #require(Fixture.csrf(ask.body))
        let done = try await f.request(
            "/console/campaigns/cancel", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&task=\(task)", cookie: cookie
        )
        #expect(done.status == .seeOther)
        #expect(try await f.store.campaign(sdkAppID: ConsoleTests.app, taskID: task)?.state == .cancelled)
        let after = try await f.request(done.headers[.location] ?? "", cookie: cookie)
        #expect(after.body.contains("The campaign was cancelled") && after.body.contains("Cancelled"))
        // A task of another app cannot be cancelled from this one.
        let missing = try await f.request("/console/campaigns/cancel", method: .post, form: "csrf=\(csrf)&app=\(ConsoleTests.app)&task=nope", cookie: cookie)
        #expect(missing.status == .badRequest)
    }

    @Test func aMessageIsFoundByItsMsgKeyWithEveryRecipientsJob() async throws {
        let f = try Fixture()
        _ = await f.api.handleAsAdmin(
            sdkAppID: ConsoleTests.app, command: "im_open_login_svc/multiaccount_import", body: Data(#"{"AccountList": [{"UserID": "alice"}, {"UserID": "bob"}]}"#.utf8)
        )
        let reply = await f.api.handleAsAdmin(
            sdkAppID: ConsoleTests.app, command: "openim/sendmsg",
            body: Data(#"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#.utf8)
        )
        let key = try #require(reply.fields.first { $0.0 == "MsgKey" }?.1 as? String)
        let page = try await f.request("/console/lookup?" + ConsoleForm.encode([("app", "\(ConsoleTests.app)"), ("msgkey", key)]), cookie: try await f.signIn())
        #expect(page.status == .ok && page.body.contains("\(key):bob") && page.body.contains("Pending"), "the job waits for the dispatcher")
        let unknown = try await f.request("/console/lookup?app=\(ConsoleTests.app)&msgkey=nope", cookie: try await f.signIn())
        #expect(unknown.body.contains("Nothing found."))
    }

    @Test func theQueryIsReadAsABrowsersFormWritesIt() async throws {
        let f = try Fixture()
        try await f.store.upsertDevice(Device(sdkAppID: ConsoleTests.app, userID: "bob smith", deviceID: "spaced", vendor: .fcm, token: "t", registeredAtMillis: 1))
        let cookie = try await f.signIn()
        #expect(try await f.request("/console/devices?app=\(ConsoleTests.app)&user=bob+smith", cookie: cookie).body.contains("spaced"))
        #expect(try await f.request("/console/devices?app=\(ConsoleTests.app)&user=bob%20smith", cookie: cookie).body.contains("spaced"))
        #expect(try await f.request("/console/devices?app=\(ConsoleTests.app)&user=%zz", cookie: cookie).status == .badRequest)
    }

    @Test func sessionCookiesResistTampering() {
        let signer = SessionSigner(secret: "key")
        let session = ConsoleSession(scope: .app(7), who: "admin", expiresAtSeconds: 1_000, nonce: "n1")
        let cookie = signer.cookie(for: session)
        #expect(signer.session(fromCookie: cookie, nowSeconds: 999) == session)
        #expect(signer.session(fromCookie: cookie, nowSeconds: 1_000) == nil, "expired")
        #expect(SessionSigner(secret: "other").session(fromCookie: cookie, nowSeconds: 0) == nil, "another key")
        let parts = cookie.split(separator: ".")
        let widened = Data("*\n1000\nn1\nadmin".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        #expect(signer.session(fromCookie: widened + "." + parts[1], nowSeconds: 0) == nil, "a scope widened without the key")
        for hostile in ["", ".", "..", "a.b.c", String(repeating: "A", count: 100_000), "%%%.###", "\u{0}.\u{0}", cookie + "x", "x" + cookie] {
            #expect(signer.session(fromCookie: hostile, nowSeconds: 0) == nil)
        }
        #expect(signer.checks(csrf: signer.csrfToken(for: session), for: session))
        var other = session
        other.nonce = "n2"
        #expect(!signer.checks(csrf: signer.csrfToken(for: other), for: session) && !signer.checks(csrf: "", for: session))
    }

    @Test func formsAndTimesFromTheBrowserAreParsedOrRefused() {
        #expect(ConsoleForm.parse("a=1&a=2&b=x+y%26z&c")?.map { "\($0.0)=\($0.1)" } == ["a=1", "a=2", "b=x y&z", "c="])
        for hostile in ["a=%", "a=%zz", "a=%E0%A4", "%ff=1"] { #expect(ConsoleForm.parse(hostile) == nil, "\(hostile)") }
        #expect(Console.millis(fromLocal: "2026-12-06T08:30") == 1_796_545_800_000)
        #expect(Console.millis(fromLocal: "2026-12-06T08:30:15") == 1_796_545_815_000)
        for bad in ["", "2026-13-06T08:30", "2026-12-06 08:30", "２０２６-12-06T08:30", "2026-12-06T24:00", "9999999999999999", "2026-12-06T08:30:99"] {
            #expect(Console.millis(fromLocal: bad) == nil, "\(bad)")
        }
    }

    @Test func theChartDrawsOneLinePerVendorAndOutcomeFromTheRing() {
        let clock = ManualEpochClock(millis: 1_795_000_000_000)
        let history = DeliveryHistory(seconds: 3600, clock: clock)
        #expect(DeliveryChart(history.window(app: 1)).series.isEmpty)
        #expect(DeliveryChart(history.window(app: 1)).svg().contains("No sends in the last hour."))
        history.record(app: 1, vendor: .apns, outcome: "delivered", reason: nil)
        history.record(app: 1, vendor: .apns, outcome: "delivered", reason: nil)
        history.record(app: 1, vendor: .fcm, outcome: "permanent", reason: "INVALID_ARGUMENT")
        history.record(app: 2, vendor: .fcm, outcome: "delivered", reason: nil)
        clock.advance(seconds: 1)
        let window = history.window(app: 1)
        #expect(window.count == 3600 && window.last?.count(.apns, 0) == 2)
        let chart = DeliveryChart(window)
        #expect(chart.series.map { "\($0.vendor.rawValue) \($0.outcome) \($0.total)" } == ["apns delivered 2", "fcm permanent 1"])
        #expect(chart.svg().components(separatedBy: "<polyline").count == 3)
        #expect(history.failures(app: 1).map(\.reason) == ["INVALID_ARGUMENT"] && history.failures(app: 2).isEmpty)
        // An hour later the ring has forgotten them.
        clock.advance(seconds: 3600)
        #expect(DeliveryChart(history.window(app: 1)).series.isEmpty)
    }
}

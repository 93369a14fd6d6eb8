import API
import Foundation
import Hummingbird
import HummingbirdTesting
import Messaging
import PushCore
import PushJob
import PushdConfig
import Storage
import Testing
import TestSupport
import UserSig

/// The REST layer over Hummingbird's router: envelope, UserSig auth, the device commands.
@Suite("REST API: envelope, auth, devices")
struct RestAPITests {
    static let app: UInt64 = 1_400_000_000
    static let key = "app-secret-key"

    /// A router with the API on a fresh SQLite store and a manual clock.
    struct Fixture {
        let clock = ManualEpochClock(millis: 1_795_000_000_000)
        let store: SQLiteStore
        let router: Router<PushdRequestContext>
        /// The SQLite file.
        let path: String

        init(
            maxPendingWrites: Int = SendCoalescer.defaultMaxPending, limits: PushdConfig.Limits = .init(),
            app configure: (inout PushdConfig.App) -> Void = { _ in }
        ) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-api-\(UUID())/pushd.sqlite").path
            store = try SQLiteStore(path: path, clock: clock)
            var config = PushdConfig()
            var app = PushdConfig.App(sdkAppID: RestAPITests.app)
            app.secretKey = RestAPITests.key
            configure(&app)
            config.apps = [app]
            config.limits = limits
            router = Router(context: PushdRequestContext.self)
            RestAPI(config: config, store: store, clock: clock, maxPendingWrites: maxPendingWrites).addRoutes(to: router)
        }

        func sig(_ identifier: String, key: String = RestAPITests.key, app: UInt64 = RestAPITests.app, expire: Int64 = 86_400) -> String {
            UserSig.generate(sdkAppID: app, key: key, identifier: identifier, expire: expire, time: clock.nowSeconds() - 10)
        }

        /// Posts `body` as `identifier` and returns the decoded envelope.
        func call(
            _ command: String, _ body: String, as identifier: String = "administrator", usersig: String? = nil, query: String? = nil
        ) async throws -> [String: Any] {
            let q = query ?? "sdkappid=\(RestAPITests.app)&identifier=\(identifier)&usersig=\(usersig ?? sig(identifier))&random=99&contenttype=json"
            let data = try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/v4/\(command)?\(q)", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .ok, "always HTTP 200")
                    return Data(buffer: response.body)
                }
            }
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }
    }

    static func code(_ reply: [String: Any]) -> Int { reply["ErrorCode"] as? Int ?? -1 }

    @Test("every UserSig failure has its code, in an envelope")
    func userSigCodes() async throws {
        let f = try Fixture()
        let body = #"{"UserID": "bob"}"#
        #expect(Self.code(try await f.call("pushd/get_devices", body)) == 0)
        let expired = UserSig.generate(sdkAppID: Self.app, key: Self.key, identifier: "administrator", expire: 60, time: f.clock.nowSeconds() - 3600)
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: expired)) == 70001)
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: "not-a-sig")) == 70003)
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: f.sig("administrator", key: "other-key"))) == 70009)
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: f.sig("bob"))) == 70013)
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: f.sig("administrator", app: 1_400_000_001))) == 70014)
        let unknownApp = "sdkappid=1400000009&identifier=administrator&usersig=\(f.sig("administrator"))"
        #expect(Self.code(try await f.call("pushd/get_devices", body, query: unknownApp)) == 70020)
        #expect(Self.code(try await f.call("pushd/get_devices", body, query: "identifier=administrator&usersig=x")) == 60012)
        // tencent-rest-api.md: an account missing or wrong in the URL is 60004.
        let app = "sdkappid=\(Self.app)"
        #expect(Self.code(try await f.call("pushd/get_devices", body, query: "\(app)&usersig=\(f.sig("administrator"))")) == 60004)
        #expect(Self.code(try await f.call("pushd/get_devices", body, query: "\(app)&identifier=&usersig=x")) == 60004)
        let long = String(repeating: "a", count: 33)
        #expect(Self.code(try await f.call("pushd/get_devices", body, query: "\(app)&identifier=\(long)&usersig=\(f.sig(long))")) == 60004)
        let reply = try await f.call("pushd/get_devices", body, usersig: "garbage")
        #expect(reply["ActionStatus"] as? String == "FAIL" && (reply["ErrorInfo"] as? String)?.isEmpty == false)
    }

    @Test("a verified UserSig is remembered only until it expires, and only for its app and identifier")
    func verifiedSigCache() async throws {
        let f = try Fixture()
        let body = #"{"UserID": "bob"}"#
        let short = UserSig.generate(sdkAppID: Self.app, key: Self.key, identifier: "administrator", expire: 60, time: f.clock.nowSeconds())
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: short)) == 0)
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: short)) == 0, "again, from the cache")
        #expect(Self.code(try await f.call("pushd/get_devices", body, as: "bob", usersig: short)) == 70013, "not for another identifier")
        f.clock.advance(seconds: 61)
        #expect(Self.code(try await f.call("pushd/get_devices", body, usersig: short)) == 70001, "expired, cached or not")
    }

    @Test("query parameters in any order, random optional, usersig percent-encoded")
    func queryParameters() async throws {
        let f = try Fixture()
        let sig = f.sig("administrator")
        let encoded = sig.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let reply = try await f.call(
            "pushd/get_devices", #"{"UserID": "bob"}"#, query: "contenttype=json&usersig=\(encoded)&identifier=administrator&sdkappid=\(Self.app)"
        )
        #expect(Self.code(reply) == 0, "\(reply)")
        #expect(Self.code(try await f.call("nosuch/command", "{}")) == 60009)
    }

    @Test("a user registers and reports their own device; the admin names the user; nobody acts for someone else")
    func deviceLifecycle() async throws {
        let f = try Fixture()
        let token = String(repeating: "ab", count: 32)
        #expect(Self.code(try await f.call("pushd/register_device", #"{"DeviceId": "d1", "Vendor": "apns", "Token": "\#(token)", "Locale": "en"}"#, as: "bob")) == 0)
        #expect(Self.code(try await f.call("pushd/report_state", #"{"DeviceId": "d1", "State": "PushOnline", "Unread": 4}"#, as: "bob")) == 0)
        var reply = try await f.call("pushd/get_devices", "{}", as: "bob")
        var devices = reply["Devices"] as? [[String: Any]] ?? []
        #expect(devices.count == 1)
        #expect(devices.first?["State"] as? String == "PushOnline" && devices.first?["Badge"] as? Int == 4 && devices.first?["Token"] as? String == token)
        // Re-registering replaces the token and keeps state and badge.
        #expect(Self.code(try await f.call("pushd/register_device", #"{"UserID": "bob", "DeviceId": "d1", "Vendor": "fcm", "Token": "fcm-1"}"#)) == 0)
        devices = (try await f.call("pushd/get_devices", #"{"UserID": "bob"}"#))["Devices"] as? [[String: Any]] ?? []
        #expect(devices.first?["Vendor"] as? String == "fcm" && devices.first?["Badge"] as? Int == 4)
        // Someone else's device: refused, and nothing changes.
        reply = try await f.call("pushd/report_state", #"{"UserID": "bob", "DeviceId": "d1", "State": "Offline"}"#, as: "mallory")
        #expect(Self.code(reply) == 60010)
        #expect(Self.code(try await f.call("pushd/get_devices", #"{"UserID": "bob"}"#, as: "mallory")) == 60010)
        #expect(Self.code(try await f.call("pushd/get_devices", "{}")) == 90001, "the admin must name the user")
        // A week in PushOnline reads as Offline.
        f.clock.advance(seconds: 8 * 86_400)
        devices = (try await f.call("pushd/get_devices", "{}", as: "bob"))["Devices"] as? [[String: Any]] ?? []
        #expect(devices.first?["State"] as? String == "Offline")
        #expect(Self.code(try await f.call("pushd/unregister_device", #"{"DeviceId": "d1"}"#, as: "bob")) == 0)
        #expect(Self.code(try await f.call("pushd/unregister_device", #"{"DeviceId": "d1"}"#, as: "bob")) == 70107)
        #expect(Self.code(try await f.call("pushd/report_state", #"{"DeviceId": "d1", "State": "Online"}"#, as: "bob")) == 70107)
    }

    @Test("APNs tokens: any even number of 64 to 200 hex digits (Apple: do not assume 32 bytes); others refused")
    func apnsTokenLengths() async throws {
        let f = try Fixture()
        let accepted = [String(repeating: "a", count: 64), String(repeating: "0F", count: 50), String(repeating: "b", count: 200)]
        let refused = [
            String(repeating: "a", count: 62), String(repeating: "a", count: 65), String(repeating: "a", count: 202),
            String(repeating: "a", count: 63) + "g", String(repeating: "a", count: 63) + "\u{FF10}",
        ]
        for (n, token) in accepted.enumerated() {
            let body = #"{"DeviceId": "ok\#(n)", "Vendor": "apns", "Token": "\#(token)"}"#
            #expect(Self.code(try await f.call("pushd/register_device", body, as: "bob")) == 0, "\(token.utf8.count) digits")
        }
        for (n, token) in refused.enumerated() {
            let body = #"{"DeviceId": "bad\#(n)", "Vendor": "apns", "Token": "\#(token)"}"#
            #expect(Self.code(try await f.call("pushd/register_device", body, as: "bob")) == 90001, "\(token.utf8.count) bytes: \(token.suffix(2))")
        }
        #expect(try await f.store.devices(sdkAppID: Self.app, userIDs: ["bob"]).map(\.deviceID).sorted() == ["ok0", "ok1", "ok2"])
    }

    @Test("bad bodies get 90001 naming the field, and change nothing")
    func badBodies() async throws {
        let f = try Fixture()
        let cases: [(String, String)] = [
            ("{not json", "JSON"),
            (#"{"DeviceId": 5, "Vendor": "apns", "Token": "x"}"#, "DeviceId"),
            (#"{"DeviceId": "d1", "Vendor": "nokia", "Token": "x"}"#, "Vendor"),
            (#"{"DeviceId": "d1", "Vendor": "apns"}"#, "Token"),
            (#"{"DeviceId": "d1", "Vendor": "apns", "Token": "short"}"#, "APNs Token"),
            (#"{"DeviceId": "", "Vendor": "fcm", "Token": "x"}"#, "DeviceId"),
            ("[]", "object"),
        ]
        for (body, field) in cases {
            let reply = try await f.call("pushd/register_device", body, as: "bob")
            #expect(Self.code(reply) == 90001, "\(body): \(reply)")
            #expect((reply["ErrorInfo"] as? String ?? "").contains(field), "\(body): \(reply)")
        }
        #expect(Self.code(try await f.call("pushd/report_state", #"{"DeviceId": "d1", "State": "Sleeping"}"#, as: "bob")) == 90001)
        #expect(try await f.store.devices(sdkAppID: Self.app, userIDs: ["bob"]).isEmpty)
        let huge = #"{"DeviceId": "d1", "Vendor": "fcm", "Token": ""# + String(repeating: "x", count: RestAPI.maxBodyBytes) + #""}"#
        #expect(Self.code(try await f.call("pushd/register_device", huge, as: "bob")) == 60002)
    }

    @Test("accounts: import (UserID or Identifier), multi-import (both forms), check, delete, admin only")
    func accounts() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "alice", "Nick": "Alice"}"#)) == 0)
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"Identifier": "bob"}"#)) == 0)
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "carol"}"#, as: "bob")) == 60010)
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"Nick": "x"}"#)) == 90001)
        let long = String(repeating: "x", count: 33)
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "\#(long)"}"#)) == 90001)
        var reply = try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["dave", "\#(long)"], "AccountList": [{"UserID": "erin", "Nick": "Erin"}]}"#)
        #expect(Self.code(reply) == 0 && reply["FailAccounts"] as? [String] == [long])
        reply = try await f.call("im_open_login_svc/account_check", #"{"CheckItem": [{"UserID": "alice"}, {"UserID": "zed"}, {"UserID": "erin"}]}"#)
        let status = (reply["ResultItem"] as? [[String: Any]] ?? []).map { $0["AccountStatus"] as? String ?? "" }
        #expect(status == ["Imported", "NotImported", "Imported"])
        reply = try await f.call("im_open_login_svc/account_delete", #"{"DeleteItem": [{"UserID": "dave"}, {"UserID": "zed"}]}"#)
        let codes = (reply["ResultItem"] as? [[String: Any]] ?? []).map { $0["ResultCode"] as? Int ?? -1 }
        #expect(codes == [0, 70107])
    }

    @Test("portrait_set keeps tags and their types; the nickname is the push prefix; a user sets only their own")
    func profiles() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "alice", "Nick": "Alice"}"#)) == 0)
        let set = #"{"From_Account": "alice", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "Alice W."}, {"Tag": "Tag_Profile_IM_BirthDay", "Value": 19900101}]}"#
        #expect(Self.code(try await f.call("profile/portrait_set", set, as: "alice")) == 0)
        #expect(Self.code(try await f.call("profile/portrait_set", set, as: "mallory")) == 60010)
        let tooLong = #"{"From_Account": "alice", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "\#(String(repeating: "n", count: 600))"}]}"#
        #expect(Self.code(try await f.call("profile/portrait_set", tooLong)) == 40601)
        #expect(Self.code(try await f.call("profile/portrait_set", #"{"From_Account": "alice", "ProfileItem": [{"Tag": "Nick", "Value": "x"}]}"#)) == 90001)
        #expect(Self.code(try await f.call("profile/portrait_set", #"{"From_Account": "ghost", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "x"}]}"#)) == 70107)
        let reply = try await f.call("profile/portrait_get", #"{"To_Account": ["alice", "ghost"], "TagList": ["Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay"]}"#)
        let users = reply["UserProfileItem"] as? [[String: Any]] ?? []
        #expect(users.count == 2)
        let items = users.first?["ProfileItem"] as? [[String: Any]] ?? []
        #expect(items.first?["Value"] as? String == "Alice W.")
        #expect(items.last?["Value"] as? Int == 19_900_101, "numbers stay numbers")
        #expect(users.last?["ResultCode"] as? Int == 70107)
    }

    @Test("sendmsg validates, stores the message with its push job (nickname prefix), and de-duplicates")
    func sendmsg() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"AccountList": [{"UserID": "alice", "Nick": "Alice"}, {"UserID": "bob"}]}"#)) == 0)
        let text = #"[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi bob"}}]"#
        let body = #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 42, "MsgSeq": 7, "MsgBody": \#(text)}"#
        let reply = try await f.call("openim/sendmsg", body)
        #expect(Self.code(reply) == 0, "\(reply)")
        let key = try #require(reply["MsgKey"] as? String)
        #expect(reply["MsgTime"] as? Int == Int(f.clock.nowSeconds()))
        #expect(key.count <= 50)
        let parts = key.split(separator: "_")
        #expect(parts.count == 3 && parts[0].count == 26 && parts[0].allSatisfy(\.isNumber) && parts[1] == "42", "<second><16 random digits>_<MsgRandom>_<MsgTime>: \(key)")
        #expect(parts.first?.prefix(10) == Substring(String(format: "%010lld", f.clock.nowSeconds())))
        let again = try await f.call("openim/sendmsg", body)
        #expect(again["MsgKey"] as? String == key, "a duplicate within 120 s is the same message")
        let jobs = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        #expect(jobs.count == 1)
        let payload = try #require(try JSONSerialization.jsonObject(with: jobs[0].payload) as? [String: Any])
        #expect(payload["SenderNick"] as? String == "Alice" && jobs[0].userID == "bob")
        #expect(jobs[0].idempotencyKey == "\(key):bob")
        // Online only: stored, no push job.
        let other = try await f.call("openim/sendmsg", #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 42, "MsgSeq": 8, "MsgBody": \#(text)}"#)
        #expect((other["MsgKey"] as? String).map { $0 != key && $0.hasSuffix("_42_\(f.clock.nowSeconds())") } == true, "the same MsgRandom in the same second, another key")
        _ = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        #expect(Self.code(try await f.call("openim/sendmsg", #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 43, "MsgLifeTime": 0, "MsgBody": \#(text)}"#)) == 0)
        #expect(try await f.store.claim(limit: 10, leaseMillis: 1_000).isEmpty)
        #expect(Self.code(try await f.call("openim/sendmsg", body, as: "alice")) == 60010, "admin only")
    }

    @Test("sendmsg refuses bad messages with Tencent's codes, and stores nothing")
    func sendmsgErrors() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "bob"}"#)) == 0)
        let text = #"[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]"#
        let huge = #"[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "\#(String(repeating: "x", count: 13_000))"}}]"#
        let custom = #"{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "a"}}"#
        let cases: [(String, Int)] = [
            (#"{"To_Account": "bob", "MsgBody": \#(text)}"#, 90005),
            (#"{"To_Account": "bob", "MsgRandom": -1, "MsgBody": \#(text)}"#, 90005),
            (#"{"To_Account": "bob", "MsgRandom": 1, "MsgBody": {}}"#, 90007),
            (#"{"To_Account": 5, "MsgRandom": 1, "MsgBody": \#(text)}"#, 90003),
            // tencent-rest-api.md: a sender or recipient that is not imported is 20003; a body over 12 KB 93000.
            (#"{"To_Account": "ghost", "MsgRandom": 1, "MsgBody": \#(text)}"#, 20003),
            (#"{"From_Account": "ghost", "To_Account": "bob", "MsgRandom": 1, "MsgBody": \#(text)}"#, 20003),
            (#"{"To_Account": "bob", "MsgRandom": 1, "MsgBody": [{"MsgType": "TIMMagicElem", "MsgContent": {}}]}"#, 90002),
            (#"{"To_Account": "bob", "MsgRandom": 1, "MsgBody": [\#(custom), \#(custom)]}"#, 90002),
            (#"{"To_Account": "bob", "MsgRandom": 1, "MsgBody": \#(huge)}"#, 93000),
            ("not json", 90001),
        ]
        for (body, code) in cases {
            let reply = try await f.call("openim/sendmsg", body)
            #expect(Self.code(reply) == code, "\(body.prefix(120)): \(reply)")
        }
        #expect(try await f.store.stats().lanes[.chat]?.pending == 0)
    }

    @Test("query_online_status (Status) and querystate (State): Online beats PushOnline beats Offline; unknown accounts in ErrorList")
    func onlineStatus() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["bob", "carol", "dave"]}"#)) == 0)
        let token = String(repeating: "0", count: 64)
        for (user, device, state) in [("bob", "phone", "PushOnline"), ("bob", "pad", "Online"), ("carol", "phone", "PushOnline")] {
            #expect(Self.code(try await f.call("pushd/register_device", #"{"UserID": "\#(user)", "DeviceId": "\#(device)", "Vendor": "apns", "Token": "\#(token)"}"#)) == 0)
            #expect(Self.code(try await f.call("pushd/report_state", #"{"UserID": "\#(user)", "DeviceId": "\#(device)", "State": "\#(state)"}"#)) == 0)
        }
        let body = #"{"To_Account": ["bob", "carol", "dave", "ghost"], "IsNeedDetail": 1}"#
        var reply = try await f.call("openim/query_online_status", body)
        var results = reply["QueryResult"] as? [[String: Any]] ?? []
        #expect(results.map { $0["Status"] as? String ?? "" } == ["Online", "PushOnline", "Offline"])
        #expect((results.first?["Detail"] as? [[String: Any]])?.count == 2)
        #expect((reply["ErrorList"] as? [[String: Any]])?.first?["ErrorCode"] as? Int == 70107)
        reply = try await f.call("openim/querystate", body)
        results = reply["QueryResult"] as? [[String: Any]] ?? []
        #expect(results.map { $0["State"] as? String ?? "" } == ["Online", "PushOnline", "Offline"])
        f.clock.advance(seconds: 8 * 86_400)
        results = (try await f.call("openim/querystate", body))["QueryResult"] as? [[String: Any]] ?? []
        #expect(results[1]["State"] as? String == "Offline", "PushOnline expires after 7 days")
        #expect(Self.code(try await f.call("openim/querystate", body, as: "bob")) == 60010)
    }

    @Test("batchsendmsg: one MsgKey, one job that fans out to a job per imported recipient, the others in ErrorList; over 500 is 90011")
    func batchsendmsg() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob", "carol"]}"#)) == 0)
        #expect(Self.code(try await f.call("pushd/set_receive_opt", #"{"UserID": "carol", "Peer_Account": "alice", "Opt": "AcceptNotNotify"}"#)) == 0)
        let text = #"[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello all"}}]"#
        let body = #"{"From_Account": "alice", "To_Account": ["bob", "carol", "ghost", "bob", "alice"], "MsgSeq": 3, "MsgRandom": 5, "MsgBody": \#(text)}"#
        let reply = try await f.call("openim/batchsendmsg", body)
        #expect(Self.code(reply) == 0, "\(reply)")
        let key = try #require(reply["MsgKey"] as? String)
        #expect((reply["ErrorList"] as? [[String: Any]])?.map { $0["To_Account"] as? String ?? "" } == ["ghost"])
        #expect(try await f.call("openim/batchsendmsg", body)["MsgKey"] as? String == key, "a retried batch is the same message")
        let fanOut = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        #expect(fanOut.map(\.idempotencyKey) == ["\(key)#fanout-0"], "one job for the batch, none for its retry")
        #expect(try await f.store.enqueue(try FanOut.jobs(of: fanOut[0])) == [true, true])
        #expect(try await f.store.enqueue(try FanOut.jobs(of: fanOut[0])) == [false, false], "expanding again enqueues nothing")
        let jobs = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        #expect(Set(jobs.map(\.idempotencyKey)) == ["\(key):bob", "\(key):carol"], "the sender gets no push")
        for job in jobs {
            let spec = try PushJobSpec.decode(job.payload)
            // The recipient is the queue entry's: the job is the message's, encoded once.
            #expect(spec.toAccount.isEmpty && spec.senderNick == nil && spec.msgBody.elements.count == 1)
            // push-rules.md 1.3 (Tencent): carol's mute of alice applies only with WithMuteNotifications.
            #expect(spec.silent == nil, "without WithMuteNotifications the muted recipient is pushed")
        }
        #expect(Set(try await f.store.messageRecipients(sdkAppID: Self.app, msgKey: key)) == ["alice", "bob", "carol"])
        let many = (0..<501).map { "\"u\($0)\"" }.joined(separator: ",")
        #expect(Self.code(try await f.call("openim/batchsendmsg", #"{"To_Account": [\#(many)], "MsgRandom": 1, "MsgBody": \#(text)}"#)) == 90011)
        #expect(Self.code(try await f.call("openim/batchsendmsg", #"{"To_Account": ["bob", 7], "MsgRandom": 1, "MsgBody": \#(text)}"#)) == 90003)
    }

    @Test("batchsendmsg OnlineOnlyFlag 1 (tencent-rest-api.md): no offline push, no unread, no history")
    func batchOnlineOnly() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob"]}"#)) == 0)
        let text = #"[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "typing"}}]"#
        let reply = try await f.call("openim/batchsendmsg", #"{"From_Account": "alice", "To_Account": ["bob"], "MsgRandom": 4, "OnlineOnlyFlag": 1, "MsgBody": \#(text)}"#)
        #expect(Self.code(reply) == 0 && (reply["MsgKey"] as? String)?.isEmpty == false)
        #expect(try await f.store.claim(limit: 10, leaseMillis: 1_000).isEmpty, "no push job")
        let roam = try await f.call("openim/admin_getroammsg", #"{"Operator_Account": "alice", "Peer_Account": "bob"}"#)
        #expect(roam["MsgCnt"] as? Int == 0, "no history")
        // OnlineOnlyFlag 0 is an ordinary batch.
        _ = try await f.call("openim/batchsendmsg", #"{"From_Account": "alice", "To_Account": ["bob"], "MsgRandom": 5, "OnlineOnlyFlag": 0, "MsgBody": \#(text)}"#)
        #expect(try await f.store.claim(limit: 10, leaseMillis: 1_000).count == 1)
    }

    @Test("1.3 timpush/batch follows the push rules: no job for the sender, a muted sender or a do-not-disturb window makes a silent job")
    func timpushBatchRules() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["ops", "bob", "carol", "dave"]}"#)) == 0)
        #expect(Self.code(try await f.call("pushd/set_receive_opt", #"{"UserID": "carol", "Peer_Account": "ops", "Opt": "AcceptNotNotify"}"#)) == 0)
        // A daily window around the fixture's time of day.
        let now = f.clock.nowSeconds() % 86_400
        #expect(Self.code(try await f.call("pushd/set_receive_opt", #"{"UserID": "dave", "StartTime": \#(now), "Duration": 600}"#)) == 0)
        let body = #"{"From_Account": "ops", "To_Account": ["ops", "bob", "carol", "dave"], "MsgRandom": 3, "OfflinePushInfo": {"Desc": "hi"}}"#
        let reply = try await f.call("timpush/batch", body)
        let task = try #require(reply["TaskId"] as? String)
        _ = try await FanOut.expand(try await f.store.claim(limit: 10, leaseMillis: 1_000), into: f.store)
        let jobs = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        #expect(Set(jobs.map(\.idempotencyKey)) == ["\(task):bob", "\(task):carol", "\(task):dave"], "the sender gets no push")
        var silent: [String: String] = [:]
        for job in jobs { silent[job.userID] = try PushJobSpec.decode(job.payload).silent ?? "" }
        #expect(silent == ["bob": "", "carol": "ReceiveOptNotNotify", "dave": "DoNotDisturb"])
    }

    @Test("timpush/batch: push-only jobs for imported users, a TaskId stable across retries, no message stored")
    func timpushBatch() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["ops", "bob", "carol"]}"#)) == 0)
        let body = #"{"From_Account": "ops", "To_Account": ["bob", "carol", "ghost"], "MsgRandom": 9, "OfflinePushInfo": {"Title": "News", "Desc": "v2 is out"}}"#
        let reply = try await f.call("timpush/batch", body)
        #expect(Self.code(reply) == 0, "\(reply)")
        let task = try #require(reply["TaskId"] as? String)
        #expect(task.hasPrefix("batch_"))
        #expect((reply["ErrorList"] as? [[String: Any]])?.first?["To_Account"] as? String == "ghost")
        #expect(try await f.call("timpush/batch", body)["TaskId"] as? String == task, "a retried call is the same task")
        let fanOut = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        #expect(fanOut.map(\.idempotencyKey) == ["\(task)#fanout-0"], "and pushes nothing twice")
        _ = try await FanOut.expand(fanOut, into: f.store)
        let jobs = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        #expect(Set(jobs.map(\.idempotencyKey)) == ["\(task):bob", "\(task):carol"])
        // The same MsgRandom with another body is another push; the same body later, too.
        let other = #"{"From_Account": "ops", "To_Account": ["bob"], "MsgRandom": 9, "OfflinePushInfo": {"Title": "News", "Desc": "v3 is out"}}"#
        let second = try #require(try await f.call("timpush/batch", other)["TaskId"] as? String)
        #expect(second != task, "another body with a reused MsgRandom is not folded")
        f.clock.advance(millis: 120_000)  // the dedupe window
        #expect(try await f.call("timpush/batch", body)["TaskId"] as? String == task, "a retry in the next window still is")
        f.clock.advance(millis: 240_000)
        #expect(try await f.call("timpush/batch", body)["TaskId"] as? String != task, "past the window the same body is a new push")
        #expect(Self.code(try await f.call("timpush/batch", #"{"From_Account": "ops", "To_Account": ["bob"], "MsgRandom": 9}"#)) == 90001)
        #expect(Self.code(try await f.call("timpush/batch", #"{"From_Account": "ops", "To_Account": [], "MsgRandom": 9, "OfflinePushInfo": {}}"#)) == 90011)
        let records = try await f.call("pushd/get_push_records", #"{"TaskId": "\#(task)", "UserID": "bob"}"#)
        #expect(Self.code(records) == 0 && (records["Records"] as? [Any])?.isEmpty == true, "no outcome yet")
        #expect(Self.code(try await f.call("pushd/get_push_records", #"{"TaskId": "\#(task)"}"#)) == 90001)
    }

    /// push-rules.md §5.5: push-only sends never raise the unread count.
    @Test("5.5: timpush/batch does not raise the badge; a sendmsg to the same user does")
    func pushOnlyKeepsBadge() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["ops", "bob"]}"#)) == 0)
        #expect(Self.code(try await f.call("pushd/register_device", #"{"UserID": "bob", "DeviceId": "d1", "Vendor": "fcm", "Token": "t"}"#)) == 0)
        #expect(Self.code(try await f.call("pushd/report_state", #"{"UserID": "bob", "DeviceId": "d1", "State": "PushOnline", "Unread": 3}"#)) == 0)
        let batch = #"{"From_Account": "ops", "To_Account": ["bob"], "MsgRandom": 1, "OfflinePushInfo": {"Title": "T", "Desc": "D"}}"#
        #expect(Self.code(try await f.call("timpush/batch", batch)) == 0)
        let fanOut = try await f.store.claim(limit: 10, leaseMillis: 1_000)
        _ = try await FanOut.expand(fanOut, into: f.store)
        #expect(try await f.store.devices(sdkAppID: Self.app, userIDs: ["bob"]).first?.badge == 3, "a push-only send leaves the count")
        let send = #"{"From_Account": "ops", "To_Account": "bob", "MsgRandom": 2, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#
        #expect(Self.code(try await f.call("openim/sendmsg", send)) == 0)
        #expect(try await f.store.devices(sdkAppID: Self.app, userIDs: ["bob"]).first?.badge == 4, "a counted message raises it")
    }

    @Test("admin_getroammsg pages a conversation newest first with LastMsgKey, either naming scheme")
    func roaming() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob"]}"#)) == 0)
        for i in 0..<3 {
            let (from, to) = i == 1 ? ("bob", "alice") : ("alice", "bob")
            let body = #"{"From_Account": "\#(from)", "To_Account": "\#(to)", "MsgRandom": \#(i), "MsgTimeStamp": \#(1_000 + i), "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "m\#(i)"}}]}"#
            #expect(Self.code(try await f.call("openim/sendmsg", body)) == 0)
        }
        var page = try await f.call("openim/admin_getroammsg", #"{"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 2}"#)
        #expect(page["Complete"] as? Int == 0 && page["MsgCnt"] as? Int == 2, "\(page)")
        var list = page["MsgList"] as? [[String: Any]] ?? []
        #expect(list.map { $0["MsgTimeStamp"] as? Int ?? 0 } == [1_002, 1_001])
        let text = ((list.first?["MsgBody"] as? [[String: Any]])?.first?["MsgContent"] as? [String: Any])?["Text"] as? String
        #expect(text == "m2")
        let last = try #require(page["LastMsgKey"] as? String)
        page = try await f.call("openim/admin_getroammsg", #"{"From_Account": "bob", "To_Account": "alice", "MaxCnt": 2, "LastMsgKey": "\#(last)"}"#)
        list = page["MsgList"] as? [[String: Any]] ?? []
        #expect(page["Complete"] as? Int == 1 && list.map { $0["From_Account"] as? String ?? "" } == ["alice"])
        #expect(Self.code(try await f.call("openim/admin_getroammsg", #"{"Operator_Account": "alice"}"#)) == 90001)
    }

    /// Issue 25: these group commands answered 60009.
    @Test("group info, a member's groups, the app's groups by pages, import_group_member and change_group_owner")
    func groupQueries() async throws {
        let f = try Fixture()
        for user in ["alice", "bob", "carol"] { _ = try await f.call("im_open_login_svc/account_import", #"{"UserID": "\#(user)"}"#) }
        for id in ["g1", "g2", "g3"] {
            let reply = try await f.call(
                "group_open_http_svc/create_group", #"{"Type": "Work", "GroupId": "\#(id)", "Name": "N\#(id)", "Owner_Account": "alice"}"#
            )
            #expect(Self.code(reply) == 0, "\(reply)")
        }
        let imported = try await f.call(
            "group_open_http_svc/import_group_member", #"{"GroupId": "g2", "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "nobody"}]}"#
        )
        #expect((imported["MemberList"] as? [[String: Any]])?.map { $0["Result"] as? Int } == [1, 0])
        let info = try await f.call("group_open_http_svc/get_group_info", #"{"GroupIdList": ["g2", "missing"]}"#)
        let groups = info["GroupInfo"] as? [[String: Any]] ?? []
        #expect(groups.first?["Name"] as? String == "Ng2" && groups.first?["Owner_Account"] as? String == "alice" && groups.first?["MemberNum"] as? Int == 2)
        #expect(groups.last?["ErrorCode"] as? Int == 10010)
        let joined = try await f.call("group_open_http_svc/get_joined_group_list", #"{"Member_Account": "alice", "Limit": 2, "Offset": 1}"#)
        #expect(joined["TotalCount"] as? Int == 3 && (joined["GroupIdList"] as? [[String: Any]])?.map { $0["GroupId"] as? String } == ["g2", "g3"])
        let first = try await f.call("group_open_http_svc/get_appid_group_list", #"{"Limit": 2}"#)
        #expect((first["GroupIdList"] as? [[String: Any]])?.count == 2 && first["Next"] as? Int == 2 && first["TotalCount"] as? Int == 3)
        let last = try await f.call("group_open_http_svc/get_appid_group_list", #"{"Limit": 2, "Next": 2}"#)
        #expect((last["GroupIdList"] as? [[String: Any]])?.map { $0["GroupId"] as? String } == ["g3"] && last["Next"] as? Int == 0)
        #expect(Self.code(try await f.call("group_open_http_svc/change_group_owner", #"{"GroupId": "g2", "NewOwner_Account": "carol"}"#)) == 10019)
        #expect(Self.code(try await f.call("group_open_http_svc/change_group_owner", #"{"GroupId": "g2", "NewOwner_Account": "bob"}"#)) == 0)
        let after = try await f.call("group_open_http_svc/get_group_info", #"{"GroupIdList": ["g2"]}"#)
        #expect((after["GroupInfo"] as? [[String: Any]])?.first?["Owner_Account"] as? String == "bob")
        #expect(Self.code(try await f.call("group_open_http_svc/get_group_info", #"{"GroupIdList": []}"#)) == 10004)
        #expect(Self.code(try await f.call("group_open_http_svc/get_appid_group_list", #"{"Limit": 0}"#)) == 90001)
    }
}

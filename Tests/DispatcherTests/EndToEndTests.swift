import API
import Dispatcher
import Emulator
import Foundation
import Hummingbird
import HummingbirdTesting
import Messaging
import PushCore
import PushdConfig
import Storage
import Testing
import UserSig

/// The REST API over real HTTP in front of the dispatcher and the emulator: one test per rule of
/// push-rules.md sections 1 to 5, asserting on what the emulator received.
@Suite("End to end over HTTP: the push rules")
struct EndToEndTests {
    /// A live HTTP server with the REST API on the harness's store and clock.
    struct Rest {
        let h: DispatchHarness
        let client: any TestClientProtocol

        func sig(_ identifier: String) -> String {
            UserSig.generate(
                sdkAppID: DispatchHarness.app, key: h.config.apps[0].secretKey, identifier: identifier, expire: 86_400,
                time: h.clock.nowSeconds() - 10
            )
        }

        /// Posts `body` as `identifier`; the decoded envelope, which must be OK unless `expect` says otherwise.
        @discardableResult
        func call(_ command: String, _ body: String, as identifier: String = "administrator", expect code: Int = 0) async throws -> [String: Any] {
            let uri = "/v4/\(command)?sdkappid=\(DispatchHarness.app)&identifier=\(identifier)&usersig=\(sig(identifier))&random=7&contenttype=json"
            let data = try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: body)) { response in
                #expect(response.status == .ok)
                return Data(buffer: response.body)
            }
            let reply = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            #expect(reply["ErrorCode"] as? Int == code, "\(command) \(body): \(reply)")
            return reply
        }

        func importUsers(_ users: [String: String?]) async throws {
            for (user, nick) in users {
                let nickField = nick.map { #", "Nick": "\#($0)""# } ?? ""
                try await call("im_open_login_svc/account_import", #"{"UserID": "\#(user)"\#(nickField)}"#)
            }
        }

        /// Registers a device for `user` through the API, as the user's own app would.
        func register(_ user: String, _ device: String, _ vendor: Vendor, n: Int, locale: String = "en") async throws {
            try await call(
                "pushd/register_device",
                #"{"DeviceId": "\#(device)", "Vendor": "\#(vendor.rawValue)", "Token": "\#(DispatchHarness.token(vendor, n))", "Locale": "\#(locale)"}"#,
                as: user
            )
        }

        func sendmsg(_ from: String, _ to: String, _ elements: String, random: Int = Int.random(in: 1...1_000_000), extra: String = "") async throws
            -> String
        {
            let reply = try await call(
                "openim/sendmsg", #"{"From_Account": "\#(from)", "To_Account": "\#(to)", "MsgRandom": \#(random), "MsgBody": [\#(elements)]\#(extra)}"#
            )
            return reply["MsgKey"] as? String ?? ""
        }

        /// Waits until no job is pending: every push due has been sent or recorded.
        func settle() async throws {
            try await h.eventually("queue drained") { try await h.pending() == 0 }
        }

        /// The APNs payloads sent to device token `n`, oldest first.
        func apns(_ n: Int) -> [[String: Any]] {
            h.emulator.requests(vendor: .apns).filter { $0.path.hasSuffix(DispatchHarness.token(.apns, n)) && $0.status == 200 }.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any]
            }
        }

        /// The push records of one recipient of a message.
        func records(_ msgKey: String, _ user: String) async throws -> [PushRecord] {
            try await h.store.pushRecords(sdkAppID: DispatchHarness.app, idempotencyKey: "\(msgKey):\(user)")
        }
    }

    static func with(
        dispatcher configure: (inout PushdConfig.Dispatcher) -> Void = { _ in }, app: (inout PushdConfig.App) -> Void = { _ in },
        _ body: @escaping @Sendable (Rest) async throws -> Void
    ) async throws {
        try await DispatchHarness.with(dispatcher: configure, app: app) { h in
            let router = Router(context: PushdRequestContext.self)
            RestAPI(config: h.config, store: h.store, clock: h.clock).addRoutes(to: router)
            try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
                try await body(Rest(h: h, client: client))
            }
        }
    }

    static func text(_ t: String) -> String { #"{"MsgType": "TIMTextElem", "MsgContent": {"Text": "\#(t)"}}"# }

    static func alert(_ payload: [String: Any]?) -> Any? { (payload?["aps"] as? [String: Any])?["alert"] }
    static func body(_ payload: [String: Any]?) -> String? {
        let alert = alert(payload)
        return alert as? String ?? (alert as? [String: Any])?["body"] as? String
    }

    static func badge(_ payload: [String: Any]?) -> Int? { (payload?["aps"] as? [String: Any])?["badge"] as? Int }

    @Test("1.1 only PushOnline devices get the push; Online and Offline ones are recorded as skipped")
    func presence() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil])
            try await r.register("bob", "phone", .apns, n: 1)
            try await r.register("bob", "tablet", .apns, n: 2)
            try await r.register("bob", "laptop", .fcm, n: 3)
            try await r.call("pushd/report_state", #"{"DeviceId": "tablet", "State": "Online"}"#, as: "bob")
            try await r.call("pushd/report_state", #"{"DeviceId": "laptop", "State": "Offline"}"#, as: "bob")
            let key = try await r.sendmsg("alice", "bob", Self.text("hi"))
            try await r.settle()
            #expect(r.apns(1).count == 1 && r.apns(2).isEmpty && r.h.emulator.requests(vendor: .fcm).filter { $0.status == 200 }.isEmpty)
            let reply = try await r.call("pushd/get_push_records", #"{"MsgKey": "\#(key)"}"#)
            let outcomes = Dictionary(uniqueKeysWithValues: (reply["Records"] as? [[String: Any]] ?? []).map {
                ($0["DeviceId"] as? String ?? "", "\($0["Outcome"] ?? "")/\($0["Reason"] ?? "")")
            })
            #expect(outcomes == ["phone": "Delivered/", "tablet": "Skipped/Online", "laptop": "Skipped/Offline"])
        }
    }

    /// Issue 25: `kick` answered 60009; a logged-out user's phones kept getting pushes.
    @Test("kick: the user's devices get no push until they report their state again")
    func kick() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil])
            try await r.register("bob", "phone", .apns, n: 1)
            try await r.register("bob", "pad", .apns, n: 2)
            try await r.call("im_open_login_svc/kick", #"{"UserID": "bob"}"#)
            let kicked = try await r.sendmsg("alice", "bob", Self.text("while kicked"))
            try await r.settle()
            #expect(r.apns(1).isEmpty && r.apns(2).isEmpty)
            #expect(try await r.records(kicked, "bob").map(\.reason) == ["Offline", "Offline"])
            try await r.call("pushd/report_state", #"{"DeviceId": "phone", "State": "PushOnline"}"#, as: "bob")
            _ = try await r.sendmsg("alice", "bob", Self.text("back"))
            try await r.settle()
            #expect(r.apns(1).map(Self.body) == ["Alice:back"] && r.apns(2).isEmpty, "only the device that reported again")
            try await r.call("im_open_login_svc/kick", #"{"Identifier": "nobody"}"#, expect: 70107)
            try await r.call("im_open_login_svc/kick", #"{"UserID": "alice"}"#, as: "bob", expect: 60010)
        }
    }

    /// Issue 25: `admin_set_msg_read` and `get_c2c_unread_msg_num` answered 60009; the badge never
    /// went down when the user read a conversation elsewhere.
    @Test("read marks lower the badge the next push carries; the unread query answers per peer from the same counts")
    func readMarks() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": nil])
            try await r.register("bob", "phone", .apns, n: 1)
            for (from, text) in [("alice", "1"), ("alice", "2"), ("alice", "3"), ("carol", "4")] {
                _ = try await r.sendmsg(from, "bob", Self.text(text))
                try await r.settle()  // one at a time: two workers may send concurrent pushes in either order
            }
            _ = try await r.sendmsg("alice", "bob", Self.text("not counted"), extra: #", "SendMsgControl": ["NoUnread"]"#)
            try await r.settle()
            #expect(r.apns(1).map(Self.badge) == [1, 2, 3, 4, 4])
            #expect(try await r.call("openim/get_c2c_unread_msg_num", #"{"To_Account": "bob"}"#)["AllC2CUnreadMsgNum"] as? Int == 4)
            let perPeer = try await r.call("openim/get_c2c_unread_msg_num", #"{"To_Account": "bob", "Peer_Account": ["alice", "carol", "nobody"]}"#)
            let list = (perPeer["C2CUnreadMsgNumList"] as? [[String: Any]] ?? []).map { "\($0["Peer_Account"] ?? "")=\($0["C2CUnreadMsgNum"] ?? "")" }
            #expect(list == ["alice=3", "carol=1"])
            #expect((perPeer["ErrorList"] as? [[String: Any]])?.first?["ErrorCode"] as? Int == 70107)
            // Bob read alice's conversation on another device: the next push's badge is lower by 3.
            try await r.call("openim/admin_set_msg_read", #"{"Report_Account": "bob", "Peer_Account": "alice"}"#)
            _ = try await r.sendmsg("carol", "bob", Self.text("5"))
            try await r.settle()
            #expect(r.apns(1).last.flatMap(Self.badge) == 2)
            #expect(try await r.call("openim/get_c2c_unread_msg_num", #"{"To_Account": "bob"}"#)["AllC2CUnreadMsgNum"] as? Int == 2)
            try await r.call("openim/admin_set_msg_read", #"{"Report_Account": "bob", "Peer_Account": "nobody"}"#, expect: 90008)
            try await r.call("openim/admin_set_msg_read", #"{"Report_Account": "nobody", "Peer_Account": "alice"}"#, expect: 90003)
            try await r.call("openim/admin_set_msg_read", #"{"Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": -1}"#, expect: 90001)
            try await r.call("openim/get_c2c_unread_msg_num", #"{"To_Account": "bob", "Peer_Account": ["a","b","c","d","e","f","g","h","i","j","k"]}"#, expect: 90001)
        }
    }

    /// Issue 25: `importmsg` answered 60009, so a migration could not bring history over.
    @Test("importmsg stores a message for roaming at its own time and never pushes or counts as unread")
    func importmsg() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil])
            try await r.register("bob", "phone", .apns, n: 1)
            let then = r.h.clock.nowSeconds() - 3_600
            let body = #"{"SyncFromOldSystem": 2, "From_Account": "alice", "To_Account": "bob", "MsgRandom": 9, "MsgTimeStamp": \#(then), "MsgBody": [\#(Self.text("from before"))]}"#
            try await r.call("openim/importmsg", body)
            try await r.call("openim/importmsg", body)
            try await r.settle()
            #expect(r.apns(1).isEmpty, "an import never pushes")
            #expect(try await r.call("openim/get_c2c_unread_msg_num", #"{"To_Account": "bob"}"#)["AllC2CUnreadMsgNum"] as? Int == 0)
            let roamed = try await r.call("openim/admin_getroammsg", #"{"Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 10, "MinTime": 0, "MaxTime": 4294967295}"#)
            let list = roamed["MsgList"] as? [[String: Any]] ?? []
            #expect(list.count == 1 && list.first?["MsgTimeStamp"] as? Int == Int(then), "\(roamed)")
            try await r.call("openim/importmsg", body.replacingOccurrences(of: #""SyncFromOldSystem": 2"#, with: #""SyncFromOldSystem": 3"#), expect: 90001)
            try await r.call("openim/importmsg", body.replacingOccurrences(of: #""To_Account": "bob""#, with: #""To_Account": "nobody""#), expect: 20003)
        }
    }

    /// Issue 25: `forbid_send_msg` and `send_group_system_notification` answered 60009.
    @Test("a muted member cannot send to the group until the mute ends; a system notification pushes members as their MsgFlag says")
    func groupMuteAndNotification() async throws {
        try await Self.with { r in
            let users = ["alice", "bob", "carol", "dave"]
            try await r.importUsers(Dictionary(uniqueKeysWithValues: users.map { ($0, nil) }))
            for (n, user) in users.enumerated() { try await r.register(user, "phone", .apns, n: n + 1) }
            try await r.call(
                "group_open_http_svc/create_group",
                #"{"Owner_Account": "alice", "Type": "Work", "GroupId": "ops", "Name": "Ops", "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "carol", "MsgFlag": "Discard"}, {"Member_Account": "dave", "MsgFlag": "AcceptNotNotify"}]}"#
            )
            func send(_ from: String, random: Int, expect code: Int = 0) async throws {
                try await r.call(
                    "group_open_http_svc/send_group_msg",
                    #"{"GroupId": "ops", "From_Account": "\#(from)", "Random": \#(random), "MsgBody": [\#(Self.text("hi"))]}"#, expect: code
                )
            }
            try await r.call("group_open_http_svc/forbid_send_msg", #"{"GroupId": "ops", "Members_Account": ["bob"], "MuteTime": 60}"#)
            try await send("bob", random: 1, expect: 10017)
            try await send("alice", random: 2)
            r.h.clock.advance(seconds: 61)
            try await send("bob", random: 3)
            try await r.call("group_open_http_svc/forbid_send_msg", #"{"GroupId": "ops", "Members_Account": ["alice"], "MuteTime": 3600}"#)
            try await send("alice", random: 4, expect: 10017)
            try await r.call("group_open_http_svc/forbid_send_msg", #"{"GroupId": "ops", "Members_Account": ["alice"], "MuteTime": 0}"#)
            try await send("alice", random: 5)
            try await r.settle()
            let badgeBefore = r.apns(1).last.flatMap(Self.badge)

            try await r.call("group_open_http_svc/send_group_system_notification", #"{"GroupId": "ops", "Content": "maintenance at 2:00"}"#)
            try await r.settle()
            #expect(r.apns(1).last.flatMap(Self.body) == "(Ops):maintenance at 2:00")
            #expect(r.apns(1).last.flatMap(Self.badge) == badgeBefore, "a notification is not counted as unread")
            #expect(r.apns(2).last.flatMap(Self.body) == "(Ops):maintenance at 2:00")
            #expect(r.apns(3).isEmpty, "carol discards the group's messages")
            #expect(r.apns(4).isEmpty, "dave does not want to be notified")
            try await r.call("group_open_http_svc/send_group_system_notification", #"{"GroupId": "ops", "ToMembers_Account": ["bob"], "Content": "only bob"}"#)
            try await r.settle()
            #expect(r.apns(2).last.flatMap(Self.body) == "(Ops):only bob" && r.apns(1).last.flatMap(Self.body) != "(Ops):only bob")
            try await r.call("group_open_http_svc/send_group_system_notification", #"{"GroupId": "ops", "Content": ""}"#, expect: 10004)
            try await r.call("group_open_http_svc/forbid_send_msg", #"{"GroupId": "nope", "Members_Account": ["bob"], "MuteTime": 60}"#, expect: 10010)
            try await r.call("group_open_http_svc/forbid_send_msg", #"{"GroupId": "ops", "Members_Account": ["bob"], "MuteTime": -1}"#, expect: 90001)
        }
    }

    /// Issue 25: a withdrawn message's push that had been delivered stayed in the notification
    /// bar. Huawei documents a revoke by token and `notifyId` (Push Kit, "Message Revocation");
    /// APNs has none, and gets nothing new.
    @Test("a withdrawn message's delivered push is revoked on Huawei with the notifyId it carried; APNs gets nothing new; both recorded")
    func withdrawRevokesDelivered() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil])
            try await r.register("bob", "phone", .huawei, n: 1)
            try await r.register("bob", "pad", .apns, n: 2)
            let key = try await r.sendmsg("alice", "bob", Self.text("oops"))
            try await r.settle()
            let sent = try #require(r.h.emulator.requests(vendor: .huawei).first { $0.path.hasSuffix("messages:send") && $0.status == 200 })
            let pushed = try #require(try JSONSerialization.jsonObject(with: Data(sent.body.utf8)) as? [String: Any])
            let notifyID = try #require(
                ((pushed["message"] as? [String: Any])?["android"] as? [String: Any]).flatMap { ($0["notification"] as? [String: Any])?["notify_id"] as? Int }
            )
            try await r.call("openim/admin_msgwithdraw", #"{"From_Account": "alice", "To_Account": "bob", "MsgKey": "\#(key)"}"#)
            try await r.settle()
            let revokes = r.h.emulator.requests(vendor: .huawei).filter { $0.path.hasSuffix("messages:revoke") }
            #expect(revokes.count == 1 && revokes.first?.status == 200)
            #expect(revokes.first?.headers.first { $0.key.lowercased() == "push-type" }?.value == "0")
            let revoked = try #require(try JSONSerialization.jsonObject(with: Data((revokes.first?.body ?? "").utf8)) as? [String: Any])
            #expect(revoked["notifyId"] as? Int == notifyID && revoked["token"] as? [String] == [DispatchHarness.token(.huawei, 1)])
            #expect(r.apns(2).count == 1, "APNs gets nothing new")
            let records = try await r.h.store.pushRecords(sdkAppID: DispatchHarness.app, idempotencyKey: Withdrawal.revocationKey(of: "\(key):bob"))
            #expect(Set(records.map { "\($0.vendor) \($0.outcome.rawValue) \($0.reason ?? "")" }) == ["huawei Revoked ", "apns Skipped RevokeUnsupported"])
            // The push records show the push and its revocation together.
            let reply = try await r.call("pushd/get_push_records", #"{"TaskId": "\#(key)", "UserID": "bob"}"#)
            let outcomes = (reply["Records"] as? [[String: Any]] ?? []).compactMap { $0["Outcome"] as? String }.sorted()
            #expect(outcomes == ["Delivered", "Delivered", "Revoked", "Skipped"], "\(reply)")
        }
    }

    /// Issue 26: a fan-out sent one Huawei request per device, though Push Kit takes up to 1,000
    /// tokens in `message.token` and answers which of them are illegal (`80100000`,
    /// `illegal_tokens`).
    @Test("batchsendmsg to four users with Huawei phones: one Huawei request for all four; the dead token recorded alone; a withdrawal revokes the message's notify_id for one user")
    func huaweiMulticast() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": nil, "dave": nil, "erin": nil])
            for (n, user) in ["bob", "carol", "dave", "erin"].enumerated() { try await r.register(user, "phone", .huawei, n: n + 1) }
            try await r.register("carol", "pad", .apns, n: 1)
            r.h.emulator.setToken(DispatchHarness.token(.huawei, 4), vendor: .huawei, state: .unregistered(sinceMillis: r.h.clock.nowMillis()))
            let reply = try await r.call(
                "openim/batchsendmsg", #"{"From_Account": "alice", "To_Account": ["bob", "carol", "dave", "erin"], "MsgRandom": 9, "MsgBody": [\#(Self.text("hi all"))]}"#
            )
            let key = try #require(reply["MsgKey"] as? String)
            try await r.settle()
            let sends = r.h.emulator.requests(vendor: .huawei).filter { $0.path.hasSuffix("messages:send") }
            #expect(sends.count == 1, "one request for the four phones: \(sends.map(\.body))")
            let pushed = try #require(try JSONSerialization.jsonObject(with: Data((sends.first?.body ?? "").utf8)) as? [String: Any])
            let message = try #require(pushed["message"] as? [String: Any])
            #expect(Set(message["token"] as? [String] ?? []) == Set((1...4).map { DispatchHarness.token(.huawei, $0) }))
            #expect(r.apns(1).count == 1, "APNs still one request per device")
            let records = try await r.call("pushd/get_push_records", #"{"MsgKey": "\#(key)"}"#)["Records"] as? [[String: Any]] ?? []
            #expect(
                records.map { "\($0["UserID"] ?? "")/\($0["Vendor"] ?? "")/\($0["Outcome"] ?? "")" }.sorted()
                    == ["bob/huawei/Delivered", "carol/apns/Delivered", "carol/huawei/Delivered", "dave/huawei/Delivered", "erin/huawei/TokenInvalid"],
                "\(records)"
            )
            // The notify_id is the message's, so the revocation of dave's push names it.
            let notifyID = try #require(((message["android"] as? [String: Any])?["notification"] as? [String: Any])?["notify_id"] as? Int)
            try await r.call("openim/admin_msgwithdraw", #"{"From_Account": "alice", "To_Account": "dave", "MsgKey": "\#(key)"}"#)
            try await r.settle()
            let revokes = r.h.emulator.requests(vendor: .huawei).filter { $0.path.hasSuffix("messages:revoke") }
            let revoked = try #require(try JSONSerialization.jsonObject(with: Data((revokes.first?.body ?? "").utf8)) as? [String: Any])
            #expect(revokes.count == 1 && revokes.first?.status == 200)
            #expect(revoked["notifyId"] as? Int == notifyID && revoked["token"] as? [String] == [DispatchHarness.token(.huawei, 3)])
        }
    }

    /// Issue 26: a multicast carries one badge, so devices whose badges differ cannot share one
    /// where the vendor's request has the badge (Honor with a `badge_class`).
    @Test("Honor with a badge class: recipients with the same badge share a request, a different badge goes alone")
    func multicastKeepsBadges() async throws {
        try await Self.with(app: { $0.vendors[.honor]?.fields["badge_class"] = "com.example.Main" }) { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": nil, "dave": nil])
            for (n, user) in ["bob", "carol", "dave"].enumerated() { try await r.register(user, "phone", .honor, n: n + 1) }
            try await r.call("pushd/report_state", #"{"DeviceId": "phone", "State": "PushOnline", "Unread": 4}"#, as: "bob")
            try await r.call(
                "openim/batchsendmsg", #"{"From_Account": "alice", "To_Account": ["bob", "carol", "dave"], "MsgRandom": 10, "MsgBody": [\#(Self.text("hi"))]}"#
            )
            try await r.settle()
            let requests = r.h.emulator.requests(vendor: .honor).filter { $0.status == 200 }.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any]
            }
            let byBadge = Dictionary(
                requests.map { request in
                    let badge = ((request["android"] as? [String: Any])?["notification"] as? [String: Any])?["badge"] as? [String: Any]
                    return (badge?["setNum"] as? Int ?? -1, Set(request["token"] as? [String] ?? []))
                },
                uniquingKeysWith: { a, b in a.union(b) }
            )
            #expect(requests.count == 2, "\(requests)")
            #expect(byBadge == [5: [DispatchHarness.token(.honor, 1)], 1: [DispatchHarness.token(.honor, 2), DispatchHarness.token(.honor, 3)]])
        }
    }

    /// Issue 25: `admin_msgwithdraw` and `group_msg_recall` answered 60009; a withdrawn message's
    /// push still went out on its next retry.
    @Test("a withdrawn message leaves roaming and its push waiting for a retry is never sent; a group recall likewise")
    func withdrawAndRecall() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": nil])
            try await r.register("bob", "phone", .apns, n: 1)
            try await r.register("carol", "phone", .apns, n: 2)
            let first = try await r.sendmsg("alice", "bob", Self.text("first"))
            try await r.settle()
            // The next push meets a 429: it waits two minutes for its retry.
            r.h.emulator.addFault(Fault(vendor: .apns, remaining: 1, status: 429, reason: "TooManyRequests", retryAfter: 120))
            let second = try await r.sendmsg("alice", "bob", Self.text("second"))
            // Back in the queue until the Retry-After, not held by a worker: nothing is in flight.
            let retryAt = r.h.clock.nowMillis() + 120_000
            try await r.h.eventually("the second push waits for its retry") {
                try await r.h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "\(second):bob")?.availableAtMillis == retryAt
                    && r.h.emulator.requests(vendor: .apns).count == 2
            }
            try await r.call("openim/admin_msgwithdraw", #"{"From_Account": "alice", "To_Account": "bob", "MsgKey": "\#(second)"}"#)
            r.h.clock.advance(seconds: 121)
            try await r.settle()
            #expect(r.apns(1).map(Self.body) == ["Alice:first"], "the withdrawn message's push never went out")
            #expect(try await r.records(second, "bob").map(\.reason) == ["Withdrawn"])
            // The delivered one can be withdrawn too: it leaves roaming (no vendor revoke for APNs).
            try await r.call("openim/admin_msgwithdraw", #"{"From_Account": "alice", "To_Account": "bob", "MsgKey": "\#(first)"}"#)
            let roamed = try await r.call("openim/admin_getroammsg", #"{"Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 10, "MinTime": 0, "MaxTime": 4294967295}"#)
            #expect((roamed["MsgList"] as? [[String: Any]])?.isEmpty == true, "\(roamed)")
            try await r.call("openim/admin_msgwithdraw", #"{"From_Account": "alice", "To_Account": "bob", "MsgKey": "\#(first)"}"#, expect: 20023)
            try await r.call("openim/admin_msgwithdraw", #"{"From_Account": "carol", "To_Account": "bob", "MsgKey": "\#(first)"}"#, expect: 20022)
            try await r.call("openim/admin_msgwithdraw", #"{"From_Account": "alice", "To_Account": "bob", "MsgKey": ""}"#, expect: 90054)
            try await r.call("openim/admin_msgwithdraw", #"{"To_Account": "bob", "MsgKey": "k"}"#, expect: 90008)

            try await r.call(
                "group_open_http_svc/create_group",
                #"{"Owner_Account": "alice", "Type": "Work", "GroupId": "g", "Name": "G", "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "carol"}]}"#
            )
            // A 429 on a push to carol pauses APNs for the app for two minutes: the group message's
            // pushes then wait, unsent.
            r.h.emulator.addFault(Fault(vendor: .apns, remaining: 1, status: 429, reason: "TooManyRequests", retryAfter: 120))
            _ = try await r.sendmsg("alice", "carol", Self.text("pause"))
            try await r.h.eventually("APNs paused") { r.h.emulator.requests(vendor: .apns).count == 3 }
            let sent = try await r.call(
                "group_open_http_svc/send_group_msg", #"{"GroupId": "g", "From_Account": "alice", "Random": 1, "MsgBody": [\#(Self.text("oops"))]}"#
            )
            let seq = sent["MsgSeq"] as? Int ?? -1
            let key = sent["MsgKey"] as? String ?? ""
            // Both back in the queue until the pause ends, not held by a worker.
            let pauseEnd = r.h.clock.nowMillis() + 120_000
            try await r.h.eventually("both members' pushes wait for the pause") {
                let bob = try await r.h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "\(key):bob")
                let carol = try await r.h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "\(key):carol")
                return bob?.availableAtMillis == pauseEnd && carol?.availableAtMillis == pauseEnd
            }
            let recalled = try await r.call("group_open_http_svc/group_msg_recall", #"{"GroupId": "g", "MsgSeqList": [{"MsgSeq": \#(seq)}, {"MsgSeq": 99}]}"#)
            #expect((recalled["RecallRetList"] as? [[String: Any]])?.map { $0["RetCode"] as? Int } == [0, 10030])
            r.h.clock.advance(seconds: 121)
            try await r.settle()
            #expect(r.apns(1).map(Self.body) == ["Alice:first"] && r.apns(2).map(Self.body) == ["Alice:pause"], "no member got the recalled message")
            let again = try await r.call("group_open_http_svc/group_msg_recall", #"{"GroupId": "g", "MsgSeqList": [{"MsgSeq": \#(seq)}]}"#)
            #expect((again["RecallRetList"] as? [[String: Any]])?.first?["RetCode"] as? Int == 10030)
        }
    }

    @Test("1.2 no push for PushFlag 1, MsgLifeTime 0, an empty text, or a message to oneself")
    func noPush() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil])
            try await r.register("bob", "phone", .apns, n: 1)
            try await r.register("alice", "phone", .apns, n: 2)
            let flagged = try await r.sendmsg("alice", "bob", Self.text("a"), extra: #", "OfflinePushInfo": {"PushFlag": 1}"#)
            let onlineOnly = try await r.sendmsg("alice", "bob", Self.text("b"), extra: #", "MsgLifeTime": 0"#)
            let empty = try await r.sendmsg("alice", "bob", #"{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "x"}}"#)
            let own = try await r.sendmsg("alice", "alice", Self.text("note to self"))
            try await r.settle()
            #expect(r.apns(1).isEmpty && r.apns(2).isEmpty)
            #expect(try await r.records(flagged, "bob").map(\.reason) == ["PushFlagOff"])
            #expect(try await r.records(empty, "bob").map(\.reason) == ["NoPushText"])
            #expect(try await r.h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "\(onlineOnly):bob") == nil, "online-only: no job")
            #expect(try await r.h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "\(own):alice") == nil, "the sender: no job")
            let devices = try await r.h.store.devices(sdkAppID: DispatchHarness.app, userIDs: ["bob"])
            #expect(devices.first?.badge == 2, "PushFlag and the empty text still count as unread; the online-only message does not")
        }
    }

    @Test("1.2 groups: MsgFlag, @ mentions, online-only types, directed messages and OnlineOnlyFlag; MsgSeq from 1; 5-minute de-duplication")
    func groups() async throws {
        try await Self.with { r in
            let users = ["alice", "bob", "carol", "dave", "erin"]
            try await r.importUsers(Dictionary(uniqueKeysWithValues: users.map { ($0, $0 == "alice" ? "Alice" : nil) }))
            for (n, user) in users.enumerated() { try await r.register(user, "phone", .apns, n: n + 1) }
            try await r.call(
                "group_open_http_svc/create_group",
                #"{"Owner_Account": "alice", "Type": "Public", "GroupId": "team", "Name": "Team", "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "carol", "MsgFlag": "Discard"}, {"Member_Account": "dave"}]}"#
            )
            let added = try await r.call("group_open_http_svc/add_group_member", #"{"GroupId": "team", "MemberList": [{"Member_Account": "erin"}, {"Member_Account": "bob"}, {"Member_Account": "nobody"}]}"#)
            #expect((added["MemberList"] as? [[String: Any]])?.map { $0["Result"] as? Int } == [1, 2, 0])
            try await r.call("group_open_http_svc/modify_group_member_info", #"{"GroupId": "team", "Member_Account": "dave", "MsgFlag": "AcceptNotNotify"}"#)
            try await r.call("group_open_http_svc/modify_group_member_info", #"{"GroupId": "team", "Member_Account": "erin", "MsgFlag": "AcceptNotNotifyExceptAt"}"#)

            func send(_ text: String, random: Int, extra: String = "") async throws -> [String: Any] {
                try await r.call(
                    "group_open_http_svc/send_group_msg",
                    #"{"GroupId": "team", "From_Account": "alice", "Random": \#(random), "MsgBody": [\#(Self.text(text))]\#(extra)}"#
                )
            }
            let first = try await send("standup", random: 1)
            #expect(first["MsgSeq"] as? Int == 1)
            try await r.settle()
            // alice (sender) 1, bob 2, carol 3 (Discard), dave 4 (AcceptNotNotify), erin 5 (only when @-ed)
            #expect(r.apns(2).map { Self.body($0) } == ["Alice(Team):standup"])
            #expect(r.apns(1).isEmpty && r.apns(3).isEmpty && r.apns(4).isEmpty && r.apns(5).isEmpty)
            let key = first["MsgKey"] as? String ?? ""
            #expect(try await r.records(key, "dave").map(\.reason) == ["AcceptNotNotify"])
            #expect(try await r.h.store.jobStatus(sdkAppID: DispatchHarness.app, idempotencyKey: "\(key):carol") == nil, "Discard: no job")

            let again = try await send("standup", random: 1)
            #expect(again["MsgSeq"] as? Int == 1 && again["MsgKey"] as? String == key, "same content and Random within 5 minutes: one message")
            let mention = try await send("erin, look", random: 2, extra: #", "GroupAtInfo": [{"GroupAtAllFlag": 0, "GroupAt_Account": "erin"}]"#)
            #expect(mention["MsgSeq"] as? Int == 2)
            _ = try await send("everyone", random: 3, extra: #", "GroupAtInfo": [{"GroupAtAllFlag": 1}]"#)
            try await r.settle()
            #expect(Set(r.apns(5).map { Self.body($0) }) == ["Alice(Team):erin, look", "Alice(Team):everyone"])
            #expect(r.apns(4).isEmpty, "AcceptNotNotify is not woken by @all")

            let directed = try await send("bob only", random: 4, extra: #", "To_Account": ["bob", "carol"]"#)
            let onlineOnly = try await send("live only", random: 5, extra: #", "OnlineOnlyFlag": 1"#)
            #expect(directed["MsgSeq"] as? Int == 4 && onlineOnly["MsgSeq"] as? Int == 5)
            try await r.settle()
            #expect(
                Set(r.apns(2).map { Self.body($0) }) == ["Alice(Team):standup", "Alice(Team):erin, look", "Alice(Team):everyone", "Alice(Team):bob only"],
                "bob notifies on everything; the online-only message reached nobody"
            )
            #expect(r.apns(5).count == 2 && r.apns(3).isEmpty, "the directed message went to bob only (carol discards)")

            try await r.call("group_open_http_svc/create_group", #"{"Owner_Account": "alice", "Type": "Meeting", "GroupId": "call", "Name": "Call", "MemberList": [{"Member_Account": "bob"}]}"#)
            try await r.call("group_open_http_svc/send_group_msg", #"{"GroupId": "call", "From_Account": "alice", "Random": 9, "MsgBody": [\#(Self.text("joining"))]}"#)
            try await r.settle()
            #expect(r.apns(2).count == 4, "Meeting groups receive online only")

            try await r.call("group_open_http_svc/modify_group_base_info", #"{"GroupId": "team", "Name": "Crew"}"#)
            try await r.call("group_open_http_svc/send_group_msg", #"{"GroupId": "team", "Random": 10, "MsgBody": [\#(Self.text("from the admin"))]}"#)
            try await r.settle()
            #expect(r.apns(2).last.flatMap { Self.body($0) } == "(Crew):from the admin", "no nickname: (GroupName):text")
            try await r.call("group_open_http_svc/destroy_group", #"{"GroupId": "team"}"#)
            try await r.call("group_open_http_svc/send_group_msg", #"{"GroupId": "team", "Random": 11, "MsgBody": [\#(Self.text("x"))]}"#, expect: 10010)
        }
    }

    @Test("1.3 a muted peer silences sendmsg only with WithMuteNotifications (Tencent's default ignores it); do-not-disturb always")
    func receiveOptions() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": "Carol"])
            try await r.register("bob", "phone", .apns, n: 1)
            try await r.call("pushd/set_receive_opt", #"{"Peer_Account": "alice", "Opt": "AcceptNotNotify"}"#, as: "bob")
            _ = try await r.sendmsg("alice", "bob", Self.text("plain"))
            try await r.settle()
            _ = try await r.sendmsg("carol", "bob", Self.text("from carol"))
            try await r.settle()
            let muted = try await r.sendmsg("alice", "bob", Self.text("muted"), extra: #", "SendMsgControl": ["WithMuteNotifications"]"#)
            try await r.settle()
            #expect(r.apns(1).map { Self.body($0) } == ["Alice:plain", "Carol:from carol"])
            #expect(try await r.records(muted, "bob").map(\.reason) == ["ReceiveOptNotNotify"])
            _ = try await r.sendmsg("carol", "bob", Self.text("again"))
            try await r.settle()
            #expect(r.apns(1).map { Self.badge($0) } == [1, 2, 4], "the muted message still counts as unread")

            // A daily window from 02:00 for two hours (seconds of the day, UTC); the clock reads 03:00.
            #expect(r.h.clock.nowSeconds() % 86_400 == 3 * 3_600)
            try await r.call("pushd/set_receive_opt", #"{"UserID": "bob", "StartTime": 7200, "Duration": 7200}"#)
            let quiet = try await r.sendmsg("carol", "bob", Self.text("at night"))
            try await r.settle()
            #expect(try await r.records(quiet, "bob").map(\.reason) == ["DoNotDisturb"])
            r.h.clock.advance(seconds: 7_200)  // 05:00, after the window
            _ = try await r.sendmsg("carol", "bob", Self.text("at dawn"))
            try await r.settle()
            #expect(r.apns(1).last.flatMap { Self.body($0) } == "Carol:at dawn")
            try await r.call("pushd/set_receive_opt", #"{"UserID": "bob", "StartTime": 0, "Duration": 0}"#)
            _ = try await r.sendmsg("carol", "bob", Self.text("morning"))
            try await r.settle()
            #expect(r.apns(1).last.flatMap { Self.body($0) } == "Carol:morning")
            try await r.call("pushd/set_receive_opt", #"{"UserID": "carol", "Peer_Account": "alice", "Opt": "AcceptNotNotify"}"#, as: "bob", expect: 60010)
            try await r.call("pushd/set_receive_opt", #"{"Peer_Account": "alice", "Opt": "Sometimes"}"#, as: "bob", expect: 90001)
        }
    }

    @Test("2 element texts by device locale: placeholders in zh and en, stacked in order")
    func elementText() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": nil, "bob": nil])
            try await r.register("bob", "zh-phone", .apns, n: 1, locale: "zh")
            try await r.register("bob", "en-phone", .apns, n: 2, locale: "en")
            let elements = [
                #"{"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "office", "Latitude": 1.5, "Longitude": 2.5}}"#,
                #"{"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "x"}}"#,
                #"{"MsgType": "TIMImageElem", "MsgContent": {"UUID": "u", "ImageFormat": 1, "ImageInfoArray": []}}"#,
                #"{"MsgType": "TIMSoundElem", "MsgContent": {"Url": "u", "Size": 1, "Second": 1, "Download_Flag": 2}}"#,
                #"{"MsgType": "TIMFileElem", "MsgContent": {"Url": "u", "FileSize": 1, "FileName": "f", "Download_Flag": 2}}"#,
                #"{"MsgType": "TIMVideoFileElem", "MsgContent": {"VideoUrl": "u", "VideoSize": 1, "VideoSecond": 1, "VideoFormat": "mp4", "VideoDownloadFlag": 2, "ThumbUrl": "t", "ThumbSize": 1, "ThumbWidth": 1, "ThumbHeight": 1, "ThumbFormat": "JPG", "ThumbDownloadFlag": 2}}"#,
                Self.text("!"),
            ].joined(separator: ",")
            _ = try await r.sendmsg("alice", "bob", elements)
            try await r.settle()
            #expect(Self.body(r.apns(1).first) == "[位置][表情][图片][语音][文件][视频]!")
            #expect(Self.body(r.apns(2).first) == "[Location][Face][Image][Voice][File][Video]!")
        }
    }

    @Test("3 push text: Desc overrides the stacked text, the nickname prefix applies to either, titles per vendor")
    func pushText() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": nil])
            try await r.register("bob", "iphone", .apns, n: 1)
            try await r.register("bob", "pixel", .fcm, n: 2)
            let custom = #"{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "d", "Desc": "world"}}"#
            _ = try await r.sendmsg("alice", "bob", Self.text("hello") + "," + custom)
            try await r.settle()
            _ = try await r.sendmsg("carol", "bob", Self.text("no nick"))
            try await r.settle()
            _ = try await r.sendmsg(
                "alice", "bob", Self.text("ignored"),
                extra: #", "OfflinePushInfo": {"Desc": "override", "Title": "Chat", "ApnsInfo": {"Title": "Apple title", "SubTitle": "sub"}}"#
            )
            try await r.settle()
            let apns = r.apns(1)
            #expect(apns.count == 3)
            guard apns.count == 3 else { return }
            #expect(Self.body(apns[0]) == "Alice:helloworld")
            #expect(Self.body(apns[1]) == "no nick")
            let alert = Self.alert(apns[2]) as? [String: Any]
            #expect(alert?["body"] as? String == "Alice:override" && alert?["title"] as? String == "Apple title" && alert?["subtitle"] as? String == "sub")
            let fcm = r.h.emulator.requests(vendor: .fcm).filter { $0.status == 200 && $0.path.contains("messages:send") }.map(\.body)
            #expect(fcm.last?.contains(#""title":"Chat""#) == true && fcm.last?.contains("Alice:override") == true, "\(fcm.last ?? "")")
        }
    }

    /// Issue 25: without `notify_id` MiPush shows one notification per app, so each chat push
    /// replaced the last one, whoever sent it.
    @Test("Xiaomi notify_id: a conversation's pushes replace each other, different conversations stack")
    func xiaomiNotifyID() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": nil])
            try await r.register("bob", "mi", .xiaomi, n: 1)
            for from in ["alice", "alice", "carol"] {
                _ = try await r.sendmsg(from, "bob", Self.text("hi from \(from)"))
                try await r.settle()
            }
            let forms = r.h.emulator.requests(vendor: .xiaomi).filter { $0.status == 200 && $0.path.hasSuffix("/message/regid") }.map {
                var form: [String: String] = [:]
                for item in URLComponents(string: "?" + $0.body)?.queryItems ?? [] { form[item.name] = item.value }
                return form
            }
            let ids = forms.compactMap { $0["notify_id"].flatMap { Int($0) } }
            #expect(forms.count == 3 && ids.count == 3, "\(forms)")
            guard ids.count == 3 else { return }
            #expect(ids.allSatisfy { (0...2_147_483_647).contains($0) })
            #expect(ids[0] == ids[1], "alice's two pushes share one notification")
            #expect(ids[2] != ids[0], "carol's push is a notification of its own")
            #expect(forms.map { $0["description"] } == ["Alice:hi from alice", "Alice:hi from alice", "hi from carol"])
        }
    }

    @Test("4 overrides: sound and ext from TIMCustomElem, or from OfflinePushInfo when present; Data never sent; channel IDs")
    func overrides() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Nickname", "bob": nil])
            try await r.register("bob", "iphone", .apns, n: 1)
            try await r.register("bob", "huawei", .huawei, n: 2)
            try await r.register("bob", "pixel", .fcm, n: 3)
            let custom = #"{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "other information", "Desc": "hello", "Ext": "www.qq.com", "Sound": "dingdong.aiff"}}"#
            try await r.call("pushd/report_state", #"{"DeviceId": "iphone", "State": "PushOnline", "Unread": 4}"#, as: "bob")
            // The worked example of push-rules.md section 7, verbatim.
            _ = try await r.sendmsg("alice", "bob", custom + "," + Self.text("world"))
            try await r.settle()
            let example = try #require(r.apns(1).first)
            #expect(Self.body(example) == "Nickname:helloworld" && Self.badge(example) == 5)
            #expect((example["aps"] as? [String: Any])?["sound"] as? String == "dingdong.aiff" && example["ext"] as? String == "www.qq.com")
            let everything = r.h.emulator.requests().map(\.body).joined()
            #expect(!everything.contains("other information"), "TIMCustomElem.Data is never sent")

            let info = #", "OfflinePushInfo": {"Ext": "app://chat/1", "ApnsInfo": {"Sound": "ping.caf"}, "AndroidInfo": {"Sound": "ping", "HuaWeiChannelID": "vip", "GoogleChannelID": ""}}"#
            _ = try await r.sendmsg("alice", "bob", custom, extra: info)
            try await r.settle()
            let second = try #require(r.apns(1).last)
            #expect((second["aps"] as? [String: Any])?["sound"] as? String == "ping.caf" && second["ext"] as? String == "app://chat/1")
            let huawei = r.h.emulator.requests(vendor: .huawei).filter { $0.status == 200 && $0.path.contains("messages:send") }.map(\.body)
            #expect(huawei.last?.contains(#""channel_id":"vip""#) == true, "HuaWeiChannelID replaces the configured channel")
            #expect(huawei.first?.contains(#""channel_id":"chat""#) == true, "without it, the operator's default")
            let fcm = r.h.emulator.requests(vendor: .fcm).filter { $0.status == 200 && $0.path.contains("messages:send") }.map(\.body)
            #expect(fcm.last?.contains(#""channel_id":"chat""#) == true, "an empty GoogleChannelID leaves the default")
        }
    }

    @Test("5 badge: the reported unread count is the base, each counted message adds one, BadgeMode 1 and NoUnread do not, Online resets")
    func badge() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": nil, "bob": nil])
            try await r.register("bob", "iphone", .apns, n: 1)
            try await r.call("pushd/report_state", #"{"DeviceId": "iphone", "State": "PushOnline", "Unread": 4}"#, as: "bob")
            _ = try await r.sendmsg("alice", "bob", Self.text("one"))
            try await r.settle()
            _ = try await r.sendmsg("alice", "bob", Self.text("quiet"), extra: #", "OfflinePushInfo": {"ApnsInfo": {"BadgeMode": 1}}"#)
            try await r.settle()
            _ = try await r.sendmsg("alice", "bob", Self.text("not unread"), extra: #", "SendMsgControl": ["NoUnread"]"#)
            try await r.settle()
            _ = try await r.sendmsg("alice", "bob", Self.text("two"))
            try await r.settle()
            #expect(r.apns(1).map { Self.badge($0) } == [5, 5, 5, 6])
            try await r.call("pushd/report_state", #"{"DeviceId": "iphone", "State": "Online"}"#, as: "bob")
            try await r.call("pushd/report_state", #"{"DeviceId": "iphone", "State": "PushOnline", "Unread": 1}"#, as: "bob")
            _ = try await r.sendmsg("alice", "bob", Self.text("three"))
            try await r.settle()
            #expect(Self.badge(r.apns(1).last) == 2)
        }
    }

    @Test("batchsendmsg: one stored message and one fan-out job become each recipient's push, badge, records and roaming")
    func batch() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": "Alice", "bob": nil, "carol": nil, "dave": nil])
            try await r.register("bob", "iphone", .apns, n: 1)
            try await r.register("carol", "ipad", .apns, n: 2)
            try await r.register("dave", "mac", .apns, n: 3)
            try await r.call("pushd/report_state", #"{"DeviceId": "iphone", "State": "PushOnline", "Unread": 4}"#, as: "bob")
            try await r.call("pushd/set_receive_opt", #"{"Peer_Account": "alice", "Opt": "AcceptNotNotify"}"#, as: "dave")
            let reply = try await r.call(
                "openim/batchsendmsg",
                // WithMuteNotifications: dave's mute of alice applies (push-rules.md 1.3).
                #"{"From_Account": "alice", "To_Account": ["bob", "carol", "dave", "ghost"], "MsgRandom": 8, "SendMsgControl": ["WithMuteNotifications"], "MsgBody": [\#(Self.text("news"))]}"#
            )
            let key = try #require(reply["MsgKey"] as? String)
            try await r.settle()
            #expect(r.apns(1).map { Self.body($0) } == ["Alice:news"] && Self.badge(r.apns(1).first) == 5)
            #expect(r.apns(2).map { Self.body($0) } == ["Alice:news"] && Self.badge(r.apns(2).first) == 1)
            #expect(r.apns(3).isEmpty)
            #expect(try await r.records(key, "dave").map(\.reason) == ["ReceiveOptNotNotify"])
            let records = try await r.call("pushd/get_push_records", #"{"MsgKey": "\#(key)"}"#)["Records"] as? [[String: Any]] ?? []
            #expect(Set(records.map { "\($0["UserID"] ?? "")/\($0["Outcome"] ?? "")" }) == ["bob/Delivered", "carol/Delivered", "dave/Skipped"])
            let roam = try await r.call("openim/admin_getroammsg", #"{"Operator_Account": "carol", "Peer_Account": "alice", "MaxCnt": 10}"#)
            let messages = roam["MsgList"] as? [[String: Any]] ?? []
            #expect(messages.map { $0["MsgKey"] as? String } == [key] && messages.first?["To_Account"] as? String == "carol")
        }
    }

    @Test("an offline message past its MsgLifeTime is not pushed when its retry comes due")
    func expiry() async throws {
        try await Self.with { r in
            try await r.importUsers(["alice": nil, "bob": nil])
            try await r.register("bob", "iphone", .apns, n: 1)
            r.h.emulator.addFault(Fault(vendor: .apns, remaining: 1, status: 503, reason: "ServiceUnavailable"))
            let key = try await r.sendmsg("alice", "bob", Self.text("soon stale"), extra: #", "MsgLifeTime": 60"#)
            _ = try await r.h.waitRescheduled("\(key):bob", attempts: 1)
            r.h.clock.advance(seconds: 61)
            try await r.settle()
            #expect(try await r.records(key, "bob").last?.reason == "MessageExpired")
            #expect(r.apns(1).isEmpty)
        }
    }
}

import API
import Foundation
import PushCore
import PushdConfig
import Testing
import UserSig

/// Issue 24: values that used to crash the server or let one user act as another.
@Suite("REST API hardening: extreme integers, byte identity, who may act on whom")
struct HardeningTests {
    typealias Fixture = RestAPITests.Fixture
    static func code(_ reply: [String: Any]) -> Int { RestAPITests.code(reply) }

    static let precomposed = "jos\u{E9}"
    static let decomposed = "jose\u{301}"

    /// A query for `identifier` with `sig`, the identifier percent-encoded as a client sends it.
    static func query(_ identifier: String, sig: String) -> String {
        let encoded = identifier.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? identifier
        return "sdkappid=\(RestAPITests.app)&identifier=\(encoded)&usersig=\(sig)&contenttype=json"
    }

    @Test("set_receive_opt refuses a window past 32-bit seconds (it crashed every later message to the user)")
    func receiveOptRange() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob"]}"#)) == 0)
        for body in [
            #"{"UserID": "bob", "StartTime": 9223372036854775000, "Duration": 1000}"#,
            #"{"UserID": "bob", "StartTime": 3600, "Duration": 9223372036854775807}"#,
            #"{"UserID": "bob", "StartTime": -1, "Duration": 60}"#,
            #"{"UserID": "bob", "StartTime": 4294967296, "Duration": 60}"#,
        ] {
            let reply = try await f.call("pushd/set_receive_opt", body)
            #expect(Self.code(reply) == 90001, "\(body): \(reply)")
            #expect((reply["ErrorInfo"] as? String)?.contains("StartTime") == true || (reply["ErrorInfo"] as? String)?.contains("Duration") == true)
        }
        #expect(Self.code(try await f.call("pushd/set_receive_opt", #"{"UserID": "bob", "StartTime": 4294967295, "Duration": 60}"#)) == 0)
        let send = #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#
        #expect(Self.code(try await f.call("openim/sendmsg", send)) == 0, "the user still gets messages")
    }

    @Test("a send that finds the write queue full is answered 90994 (busy, retry) and stores nothing")
    func busy() async throws {
        let f = try Fixture(maxPendingWrites: 0)
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob"]}"#)) == 0)
        let send = #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#
        #expect(Self.code(try await f.call("openim/sendmsg", send)) == RestCode.busy)
        let roam = try await f.call("openim/admin_getroammsg", #"{"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 5, "MinTime": 0, "MaxTime": 4000000000}"#)
        #expect((roam["MsgList"] as? [Any])?.isEmpty ?? true, "\(roam)")
    }

    @Test("a user keeps at most max_devices_per_user devices: a new one drops the oldest; re-registering replaces")
    func devicesPerUser() async throws {
        var limits = PushdConfig.Limits()
        limits.maxDevicesPerUser = 3
        let f = try Fixture(limits: limits)
        func register(_ id: String) async throws -> [String: Any] {
            try await f.call("pushd/register_device", #"{"UserID": "bob", "DeviceId": "\#(id)", "Vendor": "fcm", "Token": "t-\#(id)"}"#)
        }
        for id in ["d1", "d2", "d3"] {
            #expect(Self.code(try await register(id)) == 0)
            f.clock.advance(seconds: 1)
        }
        #expect(Self.code(try await register("d1")) == 0, "re-registering replaces, drops nothing")
        f.clock.advance(seconds: 1)
        let fourth = try await register("d4")
        #expect(fourth["DroppedDevices"] as? [String] == ["d2"], "\(fourth)")
        let devices = try await f.store.devices(sdkAppID: RestAPITests.app, userIDs: ["bob"]).map(\.deviceID).sorted()
        #expect(devices == ["d1", "d3", "d4"])
    }

    @Test("report_state refuses an Unread past Tencent's 32-bit count (it poisoned PostgreSQL's badge writes)")
    func unreadRange() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("pushd/register_device", #"{"UserID": "bob", "DeviceId": "d1", "Vendor": "fcm", "Token": "t"}"#)) == 0)
        for unread in ["9223372036854775807", "2147483648", "-1", "1.5", "1e300"] {
            let reply = try await f.call("pushd/report_state", #"{"UserID": "bob", "DeviceId": "d1", "State": "PushOnline", "Unread": \#(unread)}"#)
            #expect(Self.code(reply) == 90001, "\(unread): \(reply)")
        }
        #expect(Self.code(try await f.call("pushd/report_state", #"{"UserID": "bob", "DeviceId": "d1", "State": "PushOnline", "Unread": 2147483647}"#)) == 0)
    }

    @Test("all_member_push_statistics refuses times past 32-bit seconds (Int64.max crashed every app)")
    func statisticsRange() async throws {
        let f = try Fixture()
        for body in [
            #"{"StartTime": 9223372036854775807, "EndTime": 9223372036854775807}"#,
            #"{"StartTime": -9223372036854775808, "EndTime": 0}"#,
            #"{"EndTime": -9223372036854775808}"#,
        ] {
            let reply = try await f.call("timpush/all_member_push_statistics", body)
            #expect(Self.code(reply) == 90001, "\(body): \(reply)")
        }
        #expect(Self.code(try await f.call("timpush/all_member_push_statistics", #"{"StartTime": 1795000000, "EndTime": 1795086400}"#)) == 0)
    }

    @Test("a UserSig for josé (U+00E9) cannot read the devices of jose + U+0301, cached or not")
    func byteIdentity() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["\#(Self.precomposed)", "\#(Self.decomposed)"]}"#)) == 0)
        for (user, token) in [(Self.precomposed, "token-precomposed"), (Self.decomposed, "token-decomposed")] {
            let body = #"{"UserID": "\#(user)", "DeviceId": "phone", "Vendor": "fcm", "Token": "\#(token)"}"#
            #expect(Self.code(try await f.call("pushd/register_device", body)) == 0)
        }
        let sig = f.sig(Self.precomposed)
        let own = try await f.call("pushd/get_devices", "{}", query: Self.query(Self.precomposed, sig: sig))
        #expect(Self.code(own) == 0)
        #expect("\(own)".contains("token-precomposed") && !"\(own)".contains("token-decomposed"), "\(own)")
        // Now the signature is in the verified cache: the other spelling must still miss it.
        let other = try await f.call("pushd/get_devices", "{}", query: Self.query(Self.decomposed, sig: sig))
        #expect(Self.code(other) == 70013, "\(other)")
        let named = try await f.call("pushd/get_devices", #"{"UserID": "\#(Self.decomposed)"}"#, query: Self.query(Self.precomposed, sig: sig))
        #expect(Self.code(named) == RestCode.adminRequired, "\(named)")
    }

    @Test("a sender's nickname is found by bytes: jose + U+0301 does not borrow josé's")
    func nickByBytes() async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "\#(Self.precomposed)", "Nick": "José"}"#)) == 0)
        #expect(Self.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "bob"}"#)) == 0)
        let send = #"{"From_Account": "\#(Self.decomposed)", "To_Account": "bob", "MsgRandom": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}"#
        #expect(Self.code(try await f.call("openim/sendmsg", send)) == RestCode.noSuchUser, "jose + U+0301 was never imported")
        let get = try await f.call("profile/portrait_get", #"{"To_Account": ["\#(Self.decomposed)", "\#(Self.precomposed)"]}"#)
        let items = get["UserProfileItem"] as? [[String: Any]] ?? []
        #expect(items.map { $0["ResultCode"] as? Int } == [RestCode.notImported, 0], "\(get)")
    }

    /// The rule of every command: a user acts on themself, the admin names the user.
    @Test("a user acts only on themself; the admin names anyone", arguments: [
        ("profile/portrait_set", #"{"From_Account": "$U", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "N"}]}"#),
        ("profile/portrait_get", #"{"To_Account": ["$U"]}"#),
        ("pushd/register_device", #"{"UserID": "$U", "DeviceId": "d9", "Vendor": "fcm", "Token": "t9"}"#),
        ("pushd/unregister_device", #"{"UserID": "$U", "DeviceId": "d1"}"#),
        ("pushd/report_state", #"{"UserID": "$U", "DeviceId": "d1", "State": "Offline", "Unread": 1}"#),
        ("pushd/get_devices", #"{"UserID": "$U"}"#),
        ("pushd/set_receive_opt", #"{"UserID": "$U", "Peer_Account": "carol", "Opt": "AcceptNotNotify"}"#),
    ])
    func actsOnSelf(command: String, template: String) async throws {
        let f = try Fixture()
        #expect(Self.code(try await f.call("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob", "carol"]}"#)) == 0)
        for user in ["alice", "bob"] {
            #expect(Self.code(try await f.call("pushd/register_device", #"{"UserID": "\#(user)", "DeviceId": "d1", "Vendor": "fcm", "Token": "t"}"#)) == 0)
        }
        let onBob = template.replacingOccurrences(of: "$U", with: "bob")
        let onAlice = template.replacingOccurrences(of: "$U", with: "alice")
        #expect(Self.code(try await f.call(command, onBob, as: "alice")) == RestCode.adminRequired, "alice may not act on bob")
        #expect(Self.code(try await f.call(command, onAlice, as: "alice")) == 0, "alice acts on herself")
        #expect(Self.code(try await f.call(command, onBob)) == 0, "the admin names bob")
    }

    @Test("every other command is the admin's alone")
    func adminOnly() async throws {
        let f = try Fixture()
        for command in [
            "im_open_login_svc/account_import", "im_open_login_svc/multiaccount_import", "im_open_login_svc/account_delete",
            "im_open_login_svc/account_check", "openim/sendmsg", "openim/batchsendmsg", "timpush/batch", "openim/admin_getroammsg",
            "pushd/get_push_records", "openim/query_online_status", "openim/querystate", "group_open_http_svc/create_group",
            "group_open_http_svc/add_group_member", "group_open_http_svc/delete_group_member", "group_open_http_svc/modify_group_member_info",
            "group_open_http_svc/modify_group_base_info", "group_open_http_svc/destroy_group", "group_open_http_svc/get_group_member_info",
            "group_open_http_svc/send_group_msg", "all_member_push/im_push", "timpush/push", "pushd/get_task", "pushd/cancel_task",
            "timpush/all_member_push_statistics", "all_member_push/im_add_tag", "all_member_push/im_set_attr",
        ] {
            #expect(Self.code(try await f.call(command, "{}", as: "alice")) == RestCode.adminRequired, "\(command)")
        }
    }
}

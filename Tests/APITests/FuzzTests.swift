import API
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import PushCore
import Testing

/// Thousands of mutated request bodies: every reply is a well-formed envelope, nothing crashes or
/// hangs, and a refused request changes no state.
@Suite("REST API fuzz")
struct FuzzTests {
    typealias Seeded = SplitMix64

    static let text = #"{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}"#
    static let push = #""OfflinePushInfo": {"PushFlag": 0, "Title": "t", "Desc": "d", "Ext": "e", "ApnsInfo": {"BadgeMode": 0, "Sound": "s"}, "AndroidInfo": {"HuaWeiChannelID": "c", "VIVOClassification": 1}}"#

    /// A valid body per command; each is mutated many times.
    static let seeds: [(String, String)] = [
        ("openim/sendmsg", #"{"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgSeq": 2, "MsgLifeTime": 60, "MsgBody": [\#(text)], \#(push), "SendMsgControl": ["NoUnread"]}"#),
        ("openim/batchsendmsg", #"{"From_Account": "alice", "To_Account": ["bob", "carol"], "MsgRandom": 3, "MsgBody": [\#(text), {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "x", "Desc": "y"}}]}"#),
        ("group_open_http_svc/send_group_msg", #"{"GroupId": "g1", "From_Account": "alice", "Random": 4, "MsgBody": [\#(text)], "GroupAtInfo": [{"GroupAtAllFlag": 0, "GroupAt_Account": "bob"}], "To_Account": ["bob"], \#(push)}"#),
        ("group_open_http_svc/create_group", #"{"Owner_Account": "alice", "Type": "Public", "GroupId": "g2", "Name": "Two", "MemberList": [{"Member_Account": "bob", "MsgFlag": "Discard", "Role": "Admin", "NameCard": "B"}]}"#),
        ("group_open_http_svc/add_group_member", #"{"GroupId": "g1", "MemberList": [{"Member_Account": "carol"}]}"#),
        ("group_open_http_svc/modify_group_member_info", #"{"GroupId": "g1", "Member_Account": "bob", "MsgFlag": "AcceptNotNotify", "NameCard": "b"}"#),
        ("group_open_http_svc/delete_group_member", #"{"GroupId": "g1", "MemberToDel_Account": ["carol"]}"#),
        ("im_open_login_svc/account_import", #"{"UserID": "dave", "Nick": "Dave", "FaceUrl": "http://x"}"#),
        ("im_open_login_svc/multiaccount_import", #"{"AccountList": [{"UserID": "erin", "Nick": "Erin"}], "Accounts": ["frank"]}"#),
        ("profile/portrait_set", #"{"From_Account": "alice", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "Al"}, {"Tag": "Tag_Profile_Custom_x", "Value": 3}]}"#),
        ("pushd/register_device", #"{"UserID": "bob", "DeviceId": "d2", "Vendor": "fcm", "Token": "tok", "Locale": "zh", "Sandbox": 0}"#),
        ("pushd/report_state", #"{"UserID": "bob", "DeviceId": "d1", "State": "PushOnline", "Unread": 3}"#),
        ("pushd/set_receive_opt", #"{"UserID": "bob", "Peer_Account": "alice", "Opt": "AcceptNotNotify"}"#),
        ("pushd/set_receive_opt", #"{"UserID": "bob", "StartTime": 3600, "Duration": 600}"#),
        ("timpush/batch", #"{"From_Account": "alice", "To_Account": ["bob"], "MsgRandom": 5, "OfflinePushInfo": {"Title": "t", "Desc": "d"}}"#),
        ("openim/admin_getroammsg", #"{"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 5, "MinTime": 0, "MaxTime": 2000000000, "LastMsgKey": ""}"#),
        ("pushd/get_push_records", #"{"MsgKey": "1_2_3"}"#),
        ("openim/query_online_status", #"{"To_Account": ["bob", "alice"], "IsNeedDetail": 1}"#),
        ("im_open_login_svc/account_check", #"{"CheckItem": [{"UserID": "bob"}]}"#),
        ("all_member_push/im_push", #"{"From_Account": "alice", "MsgRandom": 6, "MsgLifeTime": 3600, "MsgBody": [\#(text)], "Condition": {"TagsAnd": ["a"], "TagsOr": ["b", "c"]}, \#(push)}"#),
        ("timpush/push", #"{"MsgRandom": 7, "OnlineOnlyFlag": 1, "MsgBody": [\#(text)], "Condition": {"AttrsAnd": {"sex": "f"}, "AttrsOr": {"city": "sz"}}}"#),
        ("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "bob", "Tags": ["a", "b"]}, {"To_Account": "carol", "Tags": ["c"]}]}"#),
        ("all_member_push/im_set_attr", #"{"UserAttrs": [{"To_Account": "bob", "Attrs": {"sex": "f", "city": "sz"}}]}"#),
        ("all_member_push/im_set_attr_name", #"{"AttrNames": {"0": "sex", "1": "city", "2": "age"}}"#),
        ("all_member_push/im_remove_tag", #"{"Tags": [{"To_Account": "bob", "Tags": ["a"]}]}"#),
        ("timpush/all_member_push_statistics", #"{"StartTime": 1795000000, "EndTime": 1795086400, "TaskID": ["x"]}"#),
    ]

    /// A replacement value of another type, or a hostile one.
    static func hostileValue(_ rng: inout Seeded) -> Any {
        switch Int.random(in: 0..<12, using: &rng) {
        case 0: return NSNull()
        case 1: return true
        case 2: return -1
        case 3: return 1e300
        case 4: return UInt64.max
        case 5:
            // Now and then over the 1 MB body limit.
            let limit = Int.random(in: 0..<10, using: &rng) == 0 ? 1_100_000 : 100_000
            return String(repeating: "x", count: Int.random(in: 1_000...limit, using: &rng))
        case 6: return ""
        case 7: return [Any]()
        case 8: return [String: Any]()
        case 9: return ["a", 1, NSNull()] as [Any]
        case 10: return "ü\u{0}\u{202E}😀"
        default: return 4_294_967_296
        }
    }

    /// Replaces one value somewhere in the tree.
    static func mutate(_ value: Any, _ rng: inout Seeded, depth: Int = 0) -> Any {
        if depth > 0, Int.random(in: 0..<3, using: &rng) == 0 { return hostileValue(&rng) }
        if var object = value as? [String: Any], !object.isEmpty {
            let key = object.keys.sorted()[Int.random(in: 0..<object.count, using: &rng)]
            if Int.random(in: 0..<8, using: &rng) == 0 { object.removeValue(forKey: key) } else { object[key] = mutate(object[key]!, &rng, depth: depth + 1) }
            return object
        }
        if var array = value as? [Any], !array.isEmpty {
            let i = Int.random(in: 0..<array.count, using: &rng)
            array[i] = mutate(array[i], &rng, depth: depth + 1)
            // Over the 500-item limits.
            if Int.random(in: 0..<6, using: &rng) == 0 { array += (0..<600).map { "u\($0)" } }
            return array
        }
        return hostileValue(&rng)
    }

    /// One mutated body: structural (a value of another type), or raw bytes (truncated, flipped,
    /// invalid UTF-8, deeply nested).
    static func mutatedBody(_ seed: String, _ rng: inout Seeded) -> Data {
        var bytes = Array(seed.utf8)
        switch Int.random(in: 0..<8, using: &rng) {
        case 0, 1, 2:
            let object = try! JSONSerialization.jsonObject(with: Data(bytes))
            return (try? JSONSerialization.data(withJSONObject: mutate(object, &rng))) ?? Data()
        case 3:
            return Data(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
        case 4:
            for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            return Data(bytes)
        case 5:
            // Invalid UTF-8 inside a string.
            let at = (bytes.firstIndex(of: UInt8(ascii: ":")) ?? 0) + 3
            bytes.insert(contentsOf: [0xff, 0xfe, 0xc3], at: min(at, bytes.count))
            return Data(bytes)
        case 6:
            let depth = Int.random(in: 100...5_000, using: &rng)
            let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            return Data(seed.replacingOccurrences(of: "\"hi\"", with: nested).replacingOccurrences(of: ": 1,", with: ": \(nested),").utf8)
        default:
            return Data((seed + seed).utf8)
        }
    }

    /// SQLite's `data_version` on our own connection: it changes exactly when another connection
    /// (the store) commits a change to the file, so an equal value means no state changed.
    static func dataVersion(_ db: DatabaseQueue) throws -> Int {
        try db.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }

    @Test("3,500 mutated bodies over 26 request kinds: a well-formed envelope every time, and a refused request changes nothing")
    func fuzz() async throws {
        let f = try RestAPITests.Fixture()
        for (command, body) in [
            ("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob", "carol"]}"#),
            ("pushd/register_device", #"{"UserID": "bob", "DeviceId": "d1", "Vendor": "apns", "Token": "\#(String(repeating: "a", count: 64))"}"#),
            ("group_open_http_svc/create_group", #"{"Owner_Account": "alice", "Type": "Work", "GroupId": "g1", "Name": "One", "MemberList": [{"Member_Account": "bob"}]}"#),
            ("all_member_push/im_set_attr_name", #"{"AttrNames": {"0": "sex", "1": "city"}}"#),
        ] {
            #expect(RestAPITests.code(try await f.call(command, body)) == 0)
        }
        let reader = try DatabaseQueue(path: f.path)
        // The probe sees the store's commits, and only those.
        let v0 = try Self.dataVersion(reader)
        #expect(RestAPITests.code(try await f.call("im_open_login_svc/account_import", #"{"UserID": "zoe"}"#)) == 0)
        let v1 = try Self.dataVersion(reader)
        #expect(v1 != v0, "a commit changes data_version")
        #expect(RestAPITests.code(try await f.call("pushd/get_devices", #"{"UserID": "zoe"}"#)) == 0)
        #expect(try Self.dataVersion(reader) == v1, "a read does not")
        let sig = f.sig("administrator")
        let (refused, codes) = try await Application(router: f.router).test(.router) { client -> (Int, [Int: Int]) in
            var rng = Seeded(seed: 20_261_122)
            var refused = 0
            var codes: [Int: Int] = [:]
            for round in 0..<3_500 {
                let (command, seed) = Self.seeds[round % Self.seeds.count]
                let body = Self.mutatedBody(seed, &rng)
                if ProcessInfo.processInfo.environment["FUZZ_TRACE"] != nil {
                    FileHandle.standardError.write(Data("round \(round) \(command) \(body.count) bytes: \(String(decoding: body.prefix(160), as: UTF8.self))\n".utf8))
                }
                let before = try Self.dataVersion(reader)
                let uri = "/v4/\(command)?sdkappid=\(RestAPITests.app)&identifier=administrator&usersig=\(sig)&contenttype=json"
                let data = try await client.execute(uri: uri, method: .post, body: ByteBuffer(data: body)) { response in
                    #expect(response.status == .ok)
                    return Data(buffer: response.body)
                }
                let reply = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                let status = reply?["ActionStatus"] as? String
                let code = reply?["ErrorCode"] as? Int
                #expect(
                    (status == "OK" && code == 0 || status == "FAIL" && (code ?? 0) != 0) && reply?["ErrorInfo"] is String,
                    "round \(round) \(command): \(String(decoding: data.prefix(300), as: UTF8.self))"
                )
                guard status == "FAIL" else { continue }
                refused += 1
                codes[code ?? -1, default: 0] += 1
                let after = try Self.dataVersion(reader)
                #expect(before == after, "round \(round) \(command) was refused (\(code ?? -1)) but changed state")
                if before != after { break }
            }
            return (refused, codes)
        }
        #expect(refused > 1_000, "most mutations are refused: \(refused), codes \(codes.sorted { $0.key < $1.key })")
        #expect(codes.keys.contains(90001) && codes.keys.contains(10004) && codes.keys.contains(90005))
    }
}

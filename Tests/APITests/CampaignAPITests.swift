import API
import Foundation
import PushCore
import Storage
import Testing

/// Tags, attributes and campaign creation over the REST layer: request shapes, limits, error codes.
@Suite("REST API: tags, attributes, campaigns")
struct CampaignAPITests {
    typealias F = RestAPITests.Fixture
    static func code(_ reply: [String: Any]) -> Int { RestAPITests.code(reply) }

    @Test("tags: the documented UserTags, an SDK's Tags list and a flat user all work; replies use UserTags; limits have their codes")
    func tags() async throws {
        let f = try F()
        #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "u1", "Tags": ["a", "b"]}]}"#)) == 0)
        #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"Tags": [{"To_Account": "u2", "Tags": ["a"]}]}"#)) == 0)
        #expect(Self.code(try await f.call("timpush/add_tag", #"{"To_Account": "u3", "Tags": ["c"]}"#)) == 0)
        let reply = try await f.call("all_member_push/im_get_tag", #"{"To_Account": ["u1", "u2", "u3", "u4"]}"#)
        let tags = (reply["UserTags"] as? [[String: Any]] ?? []).map { "\($0["To_Account"] ?? ""):\(($0["Tags"] as? [String] ?? []).joined(separator: ","))" }
        #expect(tags == ["u1:a,b", "u2:a", "u3:c", "u4:"])

        #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "u1", "Tags": ["\#(String(repeating: "x", count: 51))"]}]}"#)) == 90020)
        #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "u1", "Tags": [""]}]}"#)) == 90040)
        let eleven = (0..<11).map { "\"t\($0)\"" }.joined(separator: ",")
        #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "u1", "Tags": [\#(eleven)]}]}"#)) == 90032)
        let many = (0..<101).map { #"{"To_Account": "m\#($0)", "Tags": ["a"]}"# }.joined(separator: ",")
        #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"UserTags": [\#(many)]}"#)) == 90018)
        let accounts = (0..<101).map { "\"m\($0)\"" }.joined(separator: ",")
        #expect(Self.code(try await f.call("all_member_push/im_get_tag", #"{"To_Account": [\#(accounts)]}"#)) == 90018)
        // 100 tags per user: the add that would pass it writes nothing.
        for round in 0..<10 {
            let ten = (0..<10).map { "\"r\(round)-\($0)\"" }.joined(separator: ",")
            #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "full", "Tags": [\#(ten)]}]}"#)) == 0)
        }
        let over = try await f.call("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "u9", "Tags": ["z"]}, {"To_Account": "full", "Tags": ["extra"]}]}"#)
        #expect(Self.code(over) == 90032 && (over["ErrorInfo"] as? String)?.contains("full") == true)
        #expect(try await f.store.tags(sdkAppID: RestAPITests.app, userIDs: ["u9"]) == ["u9": []])

        #expect(Self.code(try await f.call("all_member_push/im_remove_tag", #"{"UserTags": [{"To_Account": "u1", "Tags": ["a"]}]}"#)) == 0)
        #expect(Self.code(try await f.call("all_member_push/im_remove_all_tags", #"{"To_Account": ["u2"]}"#)) == 0)
        #expect(try await f.store.tags(sdkAppID: RestAPITests.app, userIDs: ["u1", "u2"]) == ["u1": ["b"], "u2": []])
        #expect(Self.code(try await f.call("all_member_push/im_add_tag", #"{"UserTags": [{"To_Account": "u1", "Tags": ["a"]}]}"#, as: "u1")) == 60010, "admin only")
    }

    @Test("attributes: names in slots 0 to 9, values only for defined names, all three request shapes")
    func attributes() async throws {
        let f = try F()
        #expect(Self.code(try await f.call("all_member_push/im_set_attr_name", #"{"AttrNames": {"0": "sex", "1": "city"}}"#)) == 0)
        #expect(Self.code(try await f.call("all_member_push/im_set_attr_name", #"{"AttrNames": {"10": "x"}}"#)) == 90033)
        #expect(Self.code(try await f.call("all_member_push/im_set_attr_name", #"{"AttrNames": {"0": "a", "1": "a"}}"#)) == 90033)
        let names = try await f.call("all_member_push/im_get_attr_name", "{}")
        #expect(names["AttrNames"] as? [String: String] == ["0": "sex", "1": "city"])
        #expect(Self.code(try await f.call("all_member_push/im_set_attr", #"{"UserAttrs": [{"To_Account": "u1", "Attrs": {"sex": "f", "city": "sz"}}]}"#)) == 0)
        #expect(Self.code(try await f.call("all_member_push/im_set_attr", #"{"Attrs": [{"To_Account": "u2", "Attrs": {"sex": "m"}}]}"#)) == 0)
        #expect(Self.code(try await f.call("timpush/set_attr", #"{"To_Account": "u3", "Attrs": {"city": "bj"}}"#)) == 0)
        #expect(Self.code(try await f.call("all_member_push/im_set_attr", #"{"UserAttrs": [{"To_Account": "u1", "Attrs": {"age": "9"}}]}"#)) == 90033)
        #expect(Self.code(try await f.call("all_member_push/im_set_attr", #"{"UserAttrs": [{"To_Account": "u1", "Attrs": {"sex": 1}}]}"#)) == 90033)
        #expect(Self.code(try await f.call("all_member_push/im_remove_attr", #"{"UserAttrs": [{"To_Account": "u1", "Attrs": ["city"]}]}"#)) == 0)
        let reply = try await f.call("all_member_push/im_get_attr", #"{"To_Account": ["u1", "u2", "u3"]}"#)
        let attrs = (reply["UserAttrs"] as? [[String: Any]] ?? []).map { ($0["To_Account"] as? String ?? "", $0["Attrs"] as? [String: String] ?? [:]) }
        #expect(attrs.map(\.0) == ["u1", "u2", "u3"])
        #expect(attrs.map(\.1) == [["sex": "f"], ["sex": "m"], ["city": "bj"]])
    }

    static func push(_ condition: String = "", random: Int = 1, extra: String = "") -> String {
        let c = condition.isEmpty ? "" : #", "Condition": \#(condition)"#
        return #"{"MsgRandom": \#(random), "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "sale"}}]\#(c)\#(extra)}"#
    }

    @Test("campaign validation: conditions, MsgLifeTime, MsgRandom, MsgBody, sender")
    func validation() async throws {
        let f = try F()
        _ = try await f.call("all_member_push/im_set_attr_name", #"{"AttrNames": {"0": "sex"}}"#)
        let cases: [(String, Int)] = [
            (Self.push(#"{"TagsAnd": ["a"], "AttrsOr": {"sex": "f"}}"#), 90039),
            (Self.push(#"{"TagsOr": [\#((0..<11).map { "\"t\($0)\"" }.joined(separator: ","))]}"#), 90032),
            (Self.push(#"{"TagsAnd": ["\#(String(repeating: "x", count: 51))"]}"#), 90020),
            (Self.push(#"{"TagsAnd": ["a", "a"]}"#), 90022),
            (Self.push(#"{"TagsOr": [""]}"#), 90040),
            (Self.push(#"{"AttrsAnd": {"city": "sz"}}"#), 90033),
            (Self.push(#"{"AttrsAnd": {"sex": 1}}"#), 90033),
            (Self.push(#""everyone""#), 90001),
            (Self.push(extra: #", "MsgLifeTime": 604801"#), 90026),
            (#"{"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]}"#, 90005),
            (#"{"MsgRandom": 1, "MsgBody": []}"#, 90007),
            (Self.push(extra: #", "From_Account": "ghost""#), 70107),
        ]
        for (body, code) in cases {
            let reply = try await f.call("all_member_push/im_push", body)
            #expect(Self.code(reply) == code, "\(body): \(reply)")
        }
        #expect(try await f.store.campaigns(sdkAppID: RestAPITests.app, fromMillis: 0, toMillis: .max, limit: 10).isEmpty, "nothing refused is recorded")
        // The OpenAPI model's list of one condition object is accepted.
        let ok = try await f.call("timpush/push", Self.push(#"[{"AttrsAnd": {"sex": "f"}}]"#))
        #expect(Self.code(ok) == 0 && (ok["TaskId"] as? String)?.hasPrefix("\(RestAPITests.app)_1_") == true)
        #expect(Self.code(try await f.call("timpush/push", Self.push(random: 2), as: "bob")) == 60010)
    }

    @Test("quotas: a repeated MsgRandom answers the same TaskId, campaigns 1 s or less apart and over the daily quota are refused")
    func quotas() async throws {
        let f = try F { $0.campaignDailyQuota = 2 }
        let first = try await f.call("all_member_push/im_push", Self.push(random: 1))
        let task = try #require(first["TaskId"] as? String)
        let again = try await f.call("all_member_push/im_push", Self.push(random: 1))
        #expect(Self.code(again) == 0 && again["TaskId"] as? String == task, "a retried call is the same campaign")
        #expect(Self.code(try await f.call("all_member_push/im_push", Self.push(random: 2))) == 90024)
        f.clock.advance(millis: 1_001)
        #expect(Self.code(try await f.call("all_member_push/im_push", Self.push(random: 2))) == 0)
        f.clock.advance(seconds: 5)
        #expect(Self.code(try await f.call("timpush/push", Self.push(random: 3))) == 90047)
        let disabled = try F { $0.campaignDailyQuota = 0 }
        #expect(Self.code(try await disabled.call("all_member_push/im_push", Self.push())) == 90045)

        let status = try await f.call("pushd/get_task", #"{"TaskId": "\#(task)"}"#)
        #expect(status["State"] as? String == "Running" && status["TaskId"] as? String == task)
        #expect(Self.code(try await f.call("pushd/get_task", #"{"TaskId": "nope"}"#)) == 90049)
        #expect(Self.code(try await f.call("pushd/cancel_task", #"{"TaskId": "\#(task)"}"#)) == 0)
        #expect(Self.code(try await f.call("pushd/cancel_task", #"{"TaskId": "\#(task)"}"#)) == 90050)
        let stats = try await f.call("timpush/all_member_push_statistics", #"{"TaskID": ["\#(task)"]}"#)
        #expect((stats["Results"] as? [[String: Any]])?.first?["TaskID"] as? String == task)
        #expect(Self.code(try await f.call("timpush/all_member_push_statistics", #"{"StartTime": 0, "EndTime": 2764800}"#)) == 90001)
        #expect(Self.code(try await f.call("timpush/all_member_push_statistics", #"{"TaskID": ["a", "b", "c", "d", "e", "f"]}"#)) == 90001)
    }
}

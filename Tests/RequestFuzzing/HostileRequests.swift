import PushCore

/// Generated REST calls for every command pushd serves: valid bodies with values pushed to and
/// past each field's limit, extreme integers, floats where integers belong, exotic and invalid
/// Unicode (lone surrogates in JSON escapes, NUL, RTL overrides, combining marks), wrong JSON types,
/// arrays at their limit and one past it, and unknown fields. Deterministic: one `UInt64` seed
/// gives one call, so a failure is replayed from the seed the property check prints.
public enum HostileRequests {
    /// One generated call.
    public struct Call: Sendable, CustomStringConvertible {
        public var command: String
        /// The caller: the app admin, or a user acting (or trying to act) for someone.
        public var identifier: String
        public var body: [UInt8]

        public var description: String {
            "\(command) as \(identifier): \(String(decoding: body.prefix(600), as: UTF8.self))"
        }
    }

    /// What a field holds; `value(_:_:)` generates one, valid or not.
    enum Kind: Sendable {
        case user, users(Int), group, uint32, int(ClosedRange<Int64>), lifetime, msgBody, offlinePush, text(Int), flag
        case choice([String]), userTags, userAttrs, attrNames, device, token, vendor, state, time, strings(Int), condition
        case checkItems, members, profileItems, groupAt, msgSeqList
    }

    /// Every command with the fields of its body: the table below and the `timpush/` names of the
    /// tag and attribute commands.
    static let commands: [(String, [(String, Kind)])] = table + table.compactMap { name, fields in
        let plugin = [
            "im_set_attr_name": "set_attr_name", "im_get_attr_name": "get_attr_name", "im_set_attr": "set_attr", "im_get_attr": "get_attr",
            "im_remove_attr": "remove_attr", "im_add_tag": "add_tag", "im_get_tag": "get_tag", "im_remove_tag": "remove_tag",
            "im_remove_all_tags": "clear_all_tags",
        ][String(name.dropFirst("all_member_push/".count))]
        return name.hasPrefix("all_member_push/") ? plugin.map { ("timpush/" + $0, fields) } : nil
    }

    static let table: [(String, [(String, Kind)])] = [
        ("im_open_login_svc/account_import", [("UserID", .user), ("Identifier", .user), ("Nick", .text(500)), ("FaceUrl", .text(500))]),
        ("im_open_login_svc/multiaccount_import", [("Accounts", .users(100)), ("AccountList", .users(100))]),
        ("im_open_login_svc/account_delete", [("DeleteItem", .checkItems)]),
        ("im_open_login_svc/account_check", [("CheckItem", .checkItems)]),
        ("im_open_login_svc/kick", [("UserID", .user), ("Identifier", .user)]),
        ("openim/admin_set_msg_read", [("Report_Account", .user), ("Peer_Account", .user), ("MsgReadTime", .time)]),
        ("openim/get_c2c_unread_msg_num", [("To_Account", .user), ("Peer_Account", .users(10))]),
        ("profile/portrait_set", [("From_Account", .user), ("ProfileItem", .profileItems)]),
        ("profile/portrait_get", [("To_Account", .users(100)), ("TagList", .strings(20))]),
        ("pushd/register_device", [("UserID", .user), ("DeviceId", .device), ("Vendor", .vendor), ("Token", .token), ("Locale", .choice(["zh", "en", "fr"])), ("Sandbox", .flag)]),
        ("pushd/unregister_device", [("UserID", .user), ("DeviceId", .device)]),
        ("pushd/report_state", [("UserID", .user), ("DeviceId", .device), ("State", .state), ("Unread", .int(0...2_147_483_647))]),
        ("pushd/get_devices", [("UserID", .user)]),
        ("pushd/set_receive_opt", [("UserID", .user), ("Peer_Account", .user), ("GroupId", .group), ("Opt", .choice(["AcceptAndNotify", "AcceptNotNotify", "Discard"])), ("StartTime", .time), ("Duration", .int(0...86_400))]),
        ("openim/query_online_status", [("To_Account", .users(500)), ("IsNeedDetail", .flag)]),
        ("openim/querystate", [("To_Account", .users(500)), ("IsNeedDetail", .flag)]),
        ("openim/sendmsg", [("From_Account", .user), ("To_Account", .user), ("MsgRandom", .uint32), ("MsgSeq", .uint32), ("MsgLifeTime", .lifetime), ("MsgTimeStamp", .time), ("MsgBody", .msgBody), ("OfflinePushInfo", .offlinePush), ("SendMsgControl", .choice(["NoUnread", "NoLastMsg", "WithMuteNotifications"])), ("CloudCustomData", .text(12_000))]),
        ("openim/importmsg", [("SyncFromOldSystem", .int(0...3)), ("From_Account", .user), ("To_Account", .user), ("MsgRandom", .uint32), ("MsgSeq", .uint32), ("MsgTimeStamp", .time), ("MsgBody", .msgBody)]),
        ("openim/admin_msgwithdraw", [("From_Account", .user), ("To_Account", .user), ("MsgKey", .text(200))]),
        ("group_open_http_svc/group_msg_recall", [("GroupId", .group), ("MsgSeqList", .msgSeqList)]),
        ("openim/batchsendmsg", [("From_Account", .user), ("To_Account", .users(500)), ("MsgRandom", .uint32), ("MsgSeq", .uint32), ("MsgLifeTime", .lifetime), ("MsgBody", .msgBody), ("OfflinePushInfo", .offlinePush)]),
        ("timpush/batch", [("From_Account", .user), ("To_Account", .users(500)), ("MsgRandom", .uint32), ("OfflinePushInfo", .offlinePush), ("MsgBody", .msgBody), ("DataId", .text(64))]),
        ("openim/admin_getroammsg", [("Operator_Account", .user), ("Peer_Account", .user), ("MaxCnt", .int(1...100)), ("MinTime", .time), ("MaxTime", .time), ("LastMsgKey", .text(64))]),
        ("pushd/get_push_records", [("MsgKey", .text(64)), ("TaskId", .text(64)), ("UserID", .user)]),
        ("group_open_http_svc/import_group_member", [("GroupId", .group), ("MemberList", .members)]),
        ("group_open_http_svc/change_group_owner", [("GroupId", .group), ("NewOwner_Account", .user)]),
        ("group_open_http_svc/get_group_info", [("GroupIdList", .strings(60))]),
        ("group_open_http_svc/get_joined_group_list", [("Member_Account", .user), ("Limit", .int(-1...20_000)), ("Offset", .int(-1...100))]),
        ("group_open_http_svc/get_appid_group_list", [("Limit", .int(-1...20_000)), ("Next", .int(-1...100))]),
        ("group_open_http_svc/forbid_send_msg", [("GroupId", .group), ("Members_Account", .users(600)), ("MuteTime", .int(-1...4_294_967_296))]),
        ("group_open_http_svc/send_group_system_notification", [("GroupId", .group), ("ToMembers_Account", .users(600)), ("Content", .text(13_000))]),
        ("group_open_http_svc/create_group", [("Owner_Account", .user), ("Type", .choice(["Public", "Private", "Work", "Meeting", "AVChatRoom", "ChatRoom", "Community"])), ("GroupId", .group), ("Name", .text(30)), ("MemberList", .members)]),
        ("group_open_http_svc/add_group_member", [("GroupId", .group), ("MemberList", .members), ("Silence", .flag)]),
        ("group_open_http_svc/delete_group_member", [("GroupId", .group), ("MemberToDel_Account", .users(100))]),
        ("group_open_http_svc/modify_group_member_info", [("GroupId", .group), ("Member_Account", .user), ("MsgFlag", .choice(["AcceptAndNotify", "AcceptNotNotify", "AcceptNotNotifyExceptAt", "Discard"])), ("NameCard", .text(50)), ("Role", .choice(["Admin", "Member"]))]),
        ("group_open_http_svc/modify_group_base_info", [("GroupId", .group), ("Name", .text(30)), ("Introduction", .text(240))]),
        ("group_open_http_svc/destroy_group", [("GroupId", .group)]),
        ("group_open_http_svc/get_group_member_info", [("GroupId", .group), ("Limit", .int(0...10_000)), ("Offset", .int(0...10_000))]),
        ("group_open_http_svc/send_group_msg", [("GroupId", .group), ("From_Account", .user), ("Random", .uint32), ("MsgBody", .msgBody), ("OfflinePushInfo", .offlinePush), ("GroupAtInfo", .groupAt), ("To_Account", .users(50)), ("OnlineOnlyFlag", .flag), ("SendMsgControl", .choice(["NoUnread", "WithMuteNotifications"]))]),
        ("all_member_push/im_push", [("From_Account", .user), ("MsgRandom", .uint32), ("MsgLifeTime", .lifetime), ("MsgBody", .msgBody), ("Condition", .condition), ("OfflinePushInfo", .offlinePush)]),
        ("timpush/push", [("From_Account", .user), ("MsgRandom", .uint32), ("OnlineOnlyFlag", .flag), ("MsgBody", .msgBody), ("Condition", .condition), ("OfflinePushInfo", .offlinePush), ("DataId", .text(64))]),
        ("all_member_push/im_add_tag", [("UserTags", .userTags)]),
        ("all_member_push/im_remove_tag", [("UserTags", .userTags)]),
        ("all_member_push/im_get_tag", [("To_Account", .users(100))]),
        ("all_member_push/im_remove_all_tags", [("To_Account", .users(100))]),
        ("all_member_push/im_set_attr", [("UserAttrs", .userAttrs)]),
        ("all_member_push/im_remove_attr", [("UserAttrs", .userAttrs)]),
        ("all_member_push/im_get_attr", [("To_Account", .users(100))]),
        ("all_member_push/im_set_attr_name", [("AttrNames", .attrNames)]),
        ("all_member_push/im_get_attr_name", []),
        ("pushd/get_task", [("TaskId", .text(64))]),
        ("pushd/cancel_task", [("TaskId", .text(64))]),
        ("timpush/all_member_push_statistics", [("StartTime", .time), ("EndTime", .time), ("TaskID", .strings(6))]),
    ]

    /// The commands covered, for a test to check against the API's own list.
    public static var commandNames: [String] { commands.map(\.0) }

    /// Accounts, a group and devices the generated calls mostly aim at, so they reach past the
    /// "not imported" checks: run these first (as the admin).
    public static let setup: [(String, String)] = [
        ("im_open_login_svc/multiaccount_import", #"{"Accounts": ["alice", "bob", "carol", "jos\u00e9", "jose\u0301"]}"#),
        ("pushd/register_device", #"{"UserID": "bob", "DeviceId": "d1", "Vendor": "apns", "Token": "\#(String(repeating: "a", count: 64))"}"#),
        ("pushd/register_device", #"{"UserID": "carol", "DeviceId": "d1", "Vendor": "fcm", "Token": "fcm-token"}"#),
        ("group_open_http_svc/create_group", #"{"Owner_Account": "alice", "Type": "Work", "GroupId": "g1", "Name": "One", "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "carol"}]}"#),
        ("all_member_push/im_set_attr_name", #"{"AttrNames": {"0": "sex", "1": "city"}}"#),
    ]

    /// The call of one seed.
    public static func call(seed: UInt64) -> Call {
        var rng = SplitMix64(seed: seed)
        let (command, fields) = commands[rng.below(commands.count)]
        var object: [(String, J)] = []
        for (name, kind) in fields where rng.chance(0.85) {
            object.append((name, value(kind, &rng)))
        }
        if rng.chance(0.1) { object.append(("Unknown_\(rng.below(1000))", hostile(&rng))) }
        if rng.chance(0.05), !object.isEmpty { object.append(object[rng.below(object.count)]) }  // a duplicate key
        var body = J.object(object)
        if rng.chance(0.03) { body = hostile(&rng) }  // not an object at all
        let identifier = rng.chance(0.8) ? "administrator" : ["bob", "alice", "jos\u{E9}"][rng.below(3)]
        var bytes: [UInt8] = []
        body.write(to: &bytes)
        return Call(command: command, identifier: identifier, body: bytes)
    }

    // MARK: Values

    /// A JSON value written as text: `raw` lets a generator put what no Swift string can hold
    /// (a lone surrogate escape) into the body.
    indirect enum J: Sendable {
        case null, bool(Bool), int(Int64), uint(UInt64), double(String), string(String), raw(String)
        case array([J]), object([(String, J)])

        func write(to out: inout [UInt8]) {
            switch self {
            case .null: out += Array("null".utf8)
            case .bool(let b): out += Array((b ? "true" : "false").utf8)
            case .int(let n): out += Array(String(n).utf8)
            case .uint(let n): out += Array(String(n).utf8)
            case .double(let text): out += Array(text.utf8)
            case .raw(let text): out += Array(("\"" + text + "\"").utf8)
            case .string(let s):
                out.append(UInt8(ascii: "\""))
                for scalar in s.unicodeScalars {
                    switch scalar {
                    case "\"": out += Array(#"\""#.utf8)
                    case "\\": out += Array(#"\\"#.utf8)
                    case _ where scalar.value < 0x20:
                        let hex = Array("0123456789abcdef".utf8)
                        out += Array(#"\u00"#.utf8) + [hex[Int(scalar.value >> 4)], hex[Int(scalar.value & 0xf)]]
                    default: out += Array(String(scalar).utf8)
                    }
                }
                out.append(UInt8(ascii: "\""))
            case .array(let items):
                out.append(UInt8(ascii: "["))
                for (i, item) in items.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    item.write(to: &out)
                }
                out.append(UInt8(ascii: "]"))
            case .object(let fields):
                out.append(UInt8(ascii: "{"))
                for (i, (key, value)) in fields.enumerated() {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    J.string(key).write(to: &out)
                    out.append(UInt8(ascii: ":"))
                    value.write(to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
    }

    static let extremeIntegers: [Int64] = [.min, .max, -1, 0, 1, 1 << 53, (1 << 53) + 1, 1 << 31, 1 << 32, Int64(UInt32.max), Int64(Int32.max) + 1, 9_223_372_036_854_775_000, 9_300_000_000_000_000]
    static let extremeFloats = ["1.5", "1e300", "-0.0", "9.3e15", "1e-300", "4294967295.5", "-1e19", "1E400"]
    /// Strings no request should be able to use to break anything.
    static let exotic = [
        "", " ", "a\u{0}b", "\u{202E}evil", "e\u{301}\u{301}\u{301}", "\u{1F600}\u{200D}\u{1F600}", "jos\u{E9}", "jose\u{301}", "\u{FEFF}bom",
        "ﷺ", "𒐫𒐫𒐫", "\u{0}", "null", "{}", "'; DROP TABLE jobs; --", "%s%n%x", "../../etc/passwd", "\u{7F}\u{80}\u{9F}",
    ]
    /// JSON escapes that are not valid Unicode: a lone high or low surrogate, reversed pairs.
    static let loneSurrogates = [#"\ud800"#, #"\udfff"#, #"x\udc00y"#, #"\udc00\ud800"#, #"\ud83d"#]

    static func hostile(_ rng: inout SplitMix64) -> J {
        switch rng.below(10) {
        case 0: return .int(extremeIntegers[rng.below(extremeIntegers.count)])
        case 1: return .uint(UInt64.max - UInt64(rng.below(3)))
        case 2: return .double(extremeFloats[rng.below(extremeFloats.count)])
        case 3: return .string(exotic[rng.below(exotic.count)])
        case 4: return .raw(loneSurrogates[rng.below(loneSurrogates.count)])
        case 5: return .string(String(repeating: "x", count: [33, 65, 129, 501, 4097, 70_000][rng.below(6)]))
        case 6: return [.null, .bool(true), .bool(false)][rng.below(3)]
        case 7: return .array((0..<rng.below(4)).map { _ in .int(Int64(rng.below(10))) })
        case 8: return .object([("x", .null)])
        default: return .array([])
        }
    }

    /// A value of `kind`: usually one the field can take, sometimes at its limit or one past it,
    /// sometimes hostile.
    static func value(_ kind: Kind, _ rng: inout SplitMix64) -> J {
        if rng.chance(0.25) { return hostile(&rng) }
        switch kind {
        case .user: return .string(user(&rng))
        case .users(let max):
            let count = [1, 2, max, max + 1, 0][rng.below(5)]
            return .array((0..<count).map { i in rng.chance(0.9) ? .string(i % 7 == 0 ? user(&rng) : "u\(i)") : hostile(&rng) })
        case .group: return .string(["g1", "g2", "@TGS#nope", String(repeating: "g", count: 49)][rng.below(4)])
        case .uint32: return .int([0, 1, Int64(UInt32.max), Int64(UInt32.max) + 1, Int64(rng.below(1_000_000))][rng.below(5)])
        case .int(let range):
            return .int([range.lowerBound, range.upperBound, range.lowerBound - 1, range.upperBound.addingReportingOverflow(1).partialValue][rng.below(4)])
        case .lifetime: return .int([0, 60, 604_800, 604_801, 86_400][rng.below(5)])
        case .time: return .int([0, 1_795_000_000, Int64(UInt32.max), Int64(UInt32.max) + 1, 3600][rng.below(5)])
        case .flag: return .int(Int64(rng.below(3)))
        case .text(let max):
            let lengths = [0, 1, max, max + 1]
            return .string(rng.chance(0.7) ? String(repeating: "é", count: lengths[rng.below(4)] / 2) : exotic[rng.below(exotic.count)])
        case .choice(let options): return rng.chance(0.8) ? .string(options[rng.below(options.count)]) : .string("Bogus")
        case .strings(let max): return .array((0..<[1, max, max + 1][rng.below(3)]).map { .string("t\($0)") })
        case .device: return .string(["d1", "d2", "", String(repeating: "d", count: 128), String(repeating: "d", count: 129)][rng.below(5)])
        case .token: return .string([String(repeating: "a", count: 64), "tok", String(repeating: "t", count: 4097), "ZZ"][rng.below(4)])
        case .vendor: return .string(["apns", "fcm", "huawei", "xiaomi", "oppo", "vivo", "meizu", "honor", "nokia"][rng.below(9)])
        case .state: return .string(["Online", "PushOnline", "Offline", "Away"][rng.below(4)])
        case .msgBody: return msgBody(&rng)
        case .offlinePush: return offlinePush(&rng)
        case .condition:
            return .object([
                ("TagsAnd", .array([.string("vip")])), ("TagsOr", .array((0..<[1, 10, 11][rng.below(3)]).map { .string("t\($0)") })),
                ("AttrsAnd", .object([("sex", .string("f"))])),
            ].filter { _ in rng.chance(0.5) })
        case .msgSeqList:
            return .array((0..<[0, 1, 10, 11][rng.below(4)]).map { _ in .object([("MsgSeq", value(.int(-1...4_294_967_296), &rng))]) })
        case .checkItems: return .array((0..<[1, 100, 101][rng.below(3)]).map { _ in .object([("UserID", .string(user(&rng)))]) })
        case .members:
            return .array((0..<[1, 3, 100, 101][rng.below(4)]).map { i in
                .object([("Member_Account", .string(i == 0 ? user(&rng) : "m\(i)")), ("MsgFlag", .string(["Discard", "AcceptAndNotify", "?"][rng.below(3)]))])
            })
        case .profileItems:
            return .array((0..<[1, 2, 60][rng.below(3)]).map { i in
                .object([("Tag", .string(["Tag_Profile_IM_Nick", "Tag_Profile_Custom_x\(i)", "Bad"][rng.below(3)])), ("Value", value(.text(500), &rng))])
            })
        case .groupAt:
            return .array([.object([("GroupAtAllFlag", .int(Int64(rng.below(2)))), ("GroupAt_Account", .string(user(&rng)))])])
        case .userTags:
            return .array((0..<[1, 100, 101][rng.below(3)]).map { _ in
                .object([("To_Account", .string(user(&rng))), ("Tags", .array((0..<[1, 10, 11][rng.below(3)]).map { .string("tag\($0)") }))])
            })
        case .userAttrs:
            return .array([.object([("To_Account", .string(user(&rng))), ("Attrs", .object([("sex", value(.text(50), &rng)), ("city", .string("sz"))]))])])
        case .attrNames: return .object((0..<[1, 10, 11][rng.below(3)]).map { ("\($0)", .string("a\($0)")) })
        }
    }

    static func user(_ rng: inout SplitMix64) -> String {
        ["alice", "bob", "carol", "jos\u{E9}", "jose\u{301}", "administrator", "ghost", String(repeating: "u", count: 32), String(repeating: "u", count: 33), "中文用户"][rng.below(10)]
    }

    static func msgBody(_ rng: inout SplitMix64) -> J {
        let elements: [J] = (0..<[0, 1, 2, 30][rng.below(4)]).map { _ in
            switch rng.below(5) {
            case 0: return .object([("MsgType", .string("TIMTextElem")), ("MsgContent", .object([("Text", value(.text(12_000), &rng))]))])
            case 1: return .object([("MsgType", .string("TIMLocationElem")), ("MsgContent", .object([("Desc", .string("here")), ("Latitude", .double(extremeFloats[rng.below(extremeFloats.count)])), ("Longitude", .int(1))]))])
            case 2: return .object([("MsgType", .string("TIMCustomElem")), ("MsgContent", .object([("Data", .string("x")), ("Desc", value(.text(100), &rng))]))])
            case 3: return .object([("MsgType", .string("TIMFaceElem")), ("MsgContent", .object([("Index", .int(extremeIntegers[rng.below(extremeIntegers.count)]))]))])
            default: return .object([("MsgType", .string("TIMBogusElem")), ("MsgContent", .object([]))])
            }
        }
        return .array(elements)
    }

    static func offlinePush(_ rng: inout SplitMix64) -> J {
        .object([
            ("PushFlag", .int(Int64(rng.below(3)))), ("Title", value(.text(100), &rng)), ("Desc", value(.text(300), &rng)),
            ("Ext", value(.text(4096), &rng)),
            ("ApnsInfo", .object([("BadgeMode", value(.int(0...1), &rng)), ("Sound", value(.text(64), &rng))])),
            ("AndroidInfo", .object([("VIVOClassification", value(.int(0...1), &rng)), ("HuaWeiChannelID", .string("c"))])),
        ].filter { _ in rng.chance(0.7) })
    }
}

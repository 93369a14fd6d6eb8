import Foundation
import PushCore

/// The outcome of a REST command: Tencent's envelope (`ActionStatus`, `ErrorInfo`, `ErrorCode`)
/// followed by the command's fields, always with HTTP 200.
public struct RestReply: Sendable {
    public var code: Int
    public var info: String
    /// The command's result fields, in order; values are JSON-serialisable (strings, numbers,
    /// arrays, dictionaries).
    public var fields: [(String, any Sendable)]

    public init(code: Int = 0, info: String = "", fields: [(String, any Sendable)] = []) {
        self.code = code
        self.info = info
        self.fields = fields
    }

    public static func ok(_ fields: [(String, any Sendable)] = []) -> RestReply {
        RestReply(fields: fields)
    }

    public static func fail(_ code: Int, _ info: String) -> RestReply {
        RestReply(code: code, info: info)
    }

    public init(_ error: TencentError) {
        self.init(code: error.code, info: error.message)
    }

    /// The body, keys in Tencent's order.
    public var json: Data {
        var out = #"{"ActionStatus":"# + (code == 0 ? #""OK""# : #""FAIL""#)
        out += #","ErrorInfo":"# + Self.fragment(info) + #","ErrorCode":\#(code)"#
        for (key, value) in fields { out += "," + Self.fragment(key) + ":" + Self.fragment(value) }
        return Data((out + "}").utf8)
    }

    static func fragment(_ value: Any) -> String {
        // Strings and integers, nearly every field, without JSONSerialization.
        if let text = value as? String { return JSONText.quoted(text) }
        if type(of: value) == Int.self, let number = value as? Int { return String(number) }
        if type(of: value) == Int64.self, let number = value as? Int64 { return String(number) }
        return String(decoding: ReplyJSON.data(value) ?? Data("null".utf8), as: UTF8.self)
    }
}

/// Error codes of the REST layer (tencent-rest-api.md section 1.4).
public enum RestCode {
    /// Malformed URL or request.
    public static let badRequest = 60002
    /// Unknown service or command.
    public static let unknownCommand = 60009
    /// The command needs the App admin.
    public static let adminRequired = 60010
    /// The server is overloaded or timed out inside: retry (Tencent's 90994).
    public static let busy = 90994
    /// No `sdkappid` in the URL.
    public static let missingSDKAppID = 60012
    /// The SDKAppID is not configured here.
    public static let unknownSDKAppID = 70020
    /// The account (here: the device) does not exist.
    public static let notImported = 70107
    /// The sender or recipient of a C2C send is not an imported account (tencent-rest-api.md: 20003).
    public static let noSuchUser = 20003
    /// `MsgBody` is over 12 KB (Tencent's 93000).
    public static let msgBodyTooLarge = 93000
    /// The `identifier` in the URL is missing or not an account id (Tencent's 60004).
    public static let badIdentifier = 60004
    /// `To_Account` (here `Report_Account`) is missing or not an imported account.
    public static let noToAccount = 90003
    /// `From_Account` (here `Peer_Account`) is missing or not an imported account.
    public static let noFromAccount = 90008
    /// The message to withdraw does not exist (`admin_msgwithdraw`).
    public static let noSuchMessage = 20022
    /// The message was withdrawn before.
    public static let alreadyWithdrawn = 20023
    /// The `MsgKey` to withdraw is malformed.
    public static let badMsgKey = 90054
    /// A group message to recall does not exist (`group_msg_recall`'s per-message `RetCode`).
    public static let groupMessageNotFound = 10030
    /// A body field is missing, of the wrong type, or not JSON.
    public static let badJSON = TencentError.jsonParseCode

    // Group commands (tencent-rest-api.md section 1.4).
    /// A group parameter is invalid.
    public static let groupBadParameter = 10004
    /// Not allowed on this group (e.g. members of an `AVChatRoom`).
    public static let groupNotPermitted = 10007
    /// The group does not exist (or was destroyed).
    public static let groupNotFound = 10010
    /// The sender is muted in the group (`forbid_send_msg`).
    public static let groupSenderMuted = 10017
    /// An account named in a group command does not exist or is not a member.
    public static let groupNoAccount = 10019
    /// The group id is taken.
    public static let groupIDTaken = 10021

    // Tags, attributes and campaigns (tencent-rest-api.md sections 1.4 and 4.4).
    /// Too many accounts in one request (at most 100).
    public static let tooManyAccounts = 90018
    /// A tag is over 50 bytes.
    public static let tagTooLong = 90020
    /// `TagsAnd` or `TagsOr` holds a tag twice.
    public static let duplicateTag = 90022
    /// A campaign came 1 s or less after the previous one.
    public static let pushTooFrequent = 90024
    /// `MsgLifeTime` outside 0 to 7 days.
    public static let badLifetime = 90026
    /// More than 10 tags in a condition or an add request, or more than 100 on a user.
    public static let tooManyTags = 90032
    /// An attribute name or value is invalid (not defined, too long).
    public static let badAttribute = 90033
    /// A condition names both tags and attributes.
    public static let tagsWithAttrs = 90039
    /// An empty tag.
    public static let emptyTag = 90040
    /// Campaigns are disabled for the app (its daily quota is 0).
    public static let pushDisabled = 90045
    /// The app's daily campaign quota is used up.
    public static let pushQuotaExceeded = 90047
    /// No campaign with this TaskId.
    public static let unknownTask = 90049
    /// The campaign is already over (finished or cancelled).
    public static let taskOver = 90050
}

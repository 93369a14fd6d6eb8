/// The input of `pushd render`: a sendmsg/send_group_msg body plus the context the push depends on.
///
/// ```json
/// {"From_Account": "alice", "MsgBody": [...], "OfflinePushInfo": {...}, "MsgLifeTime": 604800, "OnlineOnlyFlag": 0,
///  "SendMsgControl": [],
///  "Context": {"ConversationType": "C2C", "SenderNick": "Nickname", "GroupId": "", "GroupName": "",
///              "Vendor": "apns", "Locale": "zh", "Badge": 4, "Token": "…", "SdkAppID": 1400000000}}
/// ```
/// `Context.Badge` is the recipient's badge before this message; the push carries it plus one when
/// the message counts (push-rules.md section 5).
public struct RenderInput: Decodable, Sendable {
    /// The sender: with `Context.GroupId`, the conversation the push belongs to.
    public var fromAccount: String?
    public var msgBody: MsgBody
    public var offlinePushInfo: OfflinePushInfo?
    public var msgLifeTime: Int?
    public var onlineOnlyFlag: Int?
    public var sendMsgControl: [String]?
    public var context: Context

    /// Who receives the push and in which conversation.
    public struct Context: Decodable, Sendable {
        /// `C2C` (default) or `Group`.
        public var conversationType: String?
        public var senderNick: String?
        public var groupId: String?
        public var groupName: String?
        public var vendor: Vendor?
        public var locale: PushLocale?
        public var badge: Int?
        public var token: String?
        public var sdkAppID: UInt64?
        /// Send time in milliseconds, for reproducible `apns-expiration`.
        public var nowMillis: Int64?
        public var pushID: String?

        enum CodingKeys: String, CodingKey {
            case conversationType = "ConversationType", senderNick = "SenderNick", groupId = "GroupId"
            case groupName = "GroupName", vendor = "Vendor", locale = "Locale", badge = "Badge", token = "Token"
            case sdkAppID = "SdkAppID", nowMillis = "NowMillis", pushID = "PushId"
        }
    }

    enum CodingKeys: String, CodingKey {
        case fromAccount = "From_Account", msgBody = "MsgBody", offlinePushInfo = "OfflinePushInfo", msgLifeTime = "MsgLifeTime"
        case onlineOnlyFlag = "OnlineOnlyFlag", sendMsgControl = "SendMsgControl", context = "Context"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fromAccount = try c.decodeIfPresent(String.self, forKey: .fromAccount)
        msgBody = try c.decode(MsgBody.self, forKey: .msgBody)
        offlinePushInfo = try c.decodeIfPresent(OfflinePushInfo.self, forKey: .offlinePushInfo)
        msgLifeTime = try c.decodeIfPresent(Int.self, forKey: .msgLifeTime)
        onlineOnlyFlag = try c.decodeIfPresent(Int.self, forKey: .onlineOnlyFlag)
        sendMsgControl = try c.decodeIfPresent([String].self, forKey: .sendMsgControl)
        context = try c.decodeIfPresent(Context.self, forKey: .context) ?? Context()
    }

    /// The message part.
    public var message: PushMessage {
        PushMessage(body: msgBody, offlinePushInfo: offlinePushInfo, lifetime: msgLifeTime, onlineOnly: onlineOnlyFlag == 1)
    }

    /// The conversation part.
    public var conversation: Conversation {
        if context.conversationType?.lowercased() == "group" {
            return .group(id: context.groupId ?? "", name: context.groupName, senderNick: context.senderNick)
        }
        return .c2c(senderNick: context.senderNick, sender: fromAccount ?? "")
    }

    /// The badge the push carries, when the context gives a base.
    public var badge: Int? {
        guard let base = context.badge else { return nil }
        let counted = Badge.counts(message, sendMsgControl: sendMsgControl ?? []) ? 1 : 0
        return Badge.value(base: base, countedSinceReport: counted)
    }
}

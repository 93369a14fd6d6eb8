import PushCore

/// Group types (tencent-rest-api.md section 4.8).
public enum GroupType: String, Sendable, CaseIterable {
    case work = "Work"
    case `private` = "Private"
    case `public` = "Public"
    case meeting = "Meeting"
    case chatRoom = "ChatRoom"
    case avChatRoom = "AVChatRoom"
    case community = "Community"

    /// `Meeting` and `AVChatRoom` receive online only: their messages are never pushed
    /// (push-rules.md section 1.2).
    public var pushesOffline: Bool { self != .meeting && self != .avChatRoom }
}

/// A member's receive option for a group (`MsgFlag`).
public enum MsgFlag: String, Sendable, CaseIterable {
    case acceptAndNotify = "AcceptAndNotify"
    /// Delivered, never pushed.
    case acceptNotNotify = "AcceptNotNotify"
    /// Delivered; pushed only when the message @s the member or @all.
    case acceptNotNotifyExceptAt = "AcceptNotNotifyExceptAt"
    /// Not delivered at all.
    case discard = "Discard"
}

/// One group of one app.
public struct Group: Sendable, Equatable {
    public var sdkAppID: UInt64
    public var groupID: String
    public var type: GroupType
    public var name: String
    public var owner: String

    public init(sdkAppID: UInt64, groupID: String, type: GroupType, name: String, owner: String) {
        self.sdkAppID = sdkAppID
        self.groupID = groupID
        self.type = type
        self.name = name
        self.owner = owner
    }
}

/// One member of a group.
public struct GroupMember: Sendable, Equatable {
    public var userID: String
    /// `Owner`, `Admin` or `Member`.
    public var role: String
    public var msgFlag: MsgFlag
    public var nameCard: String
    /// Until when the member may not send to the group (`forbid_send_msg`), in milliseconds; 0
    /// when they may.
    public var mutedUntilMillis: Int64

    public init(userID: String, role: String = "Member", msgFlag: MsgFlag = .acceptAndNotify, nameCard: String = "", mutedUntilMillis: Int64 = 0) {
        self.userID = userID
        self.role = role
        self.msgFlag = msgFlag
        self.nameCard = nameCard
        self.mutedUntilMillis = mutedUntilMillis
    }

    /// Whether the member may not send at `nowMillis`.
    public func isMuted(nowMillis: Int64) -> Bool { mutedUntilMillis > nowMillis }
}

/// A user-wide do-not-disturb window: daily from `start` seconds after midnight UTC when `start`
/// is below 86,400, else once from the UTC timestamp `start`; `duration` seconds long.
public struct DoNotDisturb: Sendable, Equatable {
    public static let secondsPerDay: Int64 = 86_400

    public var start: Int64
    public var duration: Int64

    public init(start: Int64, duration: Int64) {
        self.start = start
        self.duration = duration
    }

    public var isDaily: Bool { start < Self.secondsPerDay }

    /// Whether `nowSeconds` (UTC) falls inside the window. Stored rows may predate the API's range
    /// checks, so nothing here can overflow, whatever `start` and `duration` hold.
    public func contains(nowSeconds: Int64) -> Bool {
        guard duration > 0 else { return false }
        if !isDaily { return nowSeconds >= start && nowSeconds - start < duration }
        if duration >= Self.secondsPerDay { return true }
        let day = Self.secondsPerDay
        let secondOfDay = (nowSeconds % day + day) % day
        let startOfDay = (start % day + day) % day
        let offset = ((secondOfDay - startOfDay) % day + day) % day
        return offset < duration
    }
}

/// What a recipient set for one conversation and for all of them.
public struct ReceiveSettings: Sendable, Equatable {
    /// "Receive but do not notify" for this conversation.
    public var muted: Bool
    public var doNotDisturb: DoNotDisturb?

    public init(muted: Bool = false, doNotDisturb: DoNotDisturb? = nil) {
        self.muted = muted
        self.doNotDisturb = doNotDisturb
    }

    /// The conversation key of receive options: a C2C peer or a group.
    public static func conversation(peer: String) -> String { "c2c:" + peer }
    public static func conversation(group: String) -> String { "group:" + group }
}

/// Who of a message's recipients gets a push job and whether it may notify (push-rules.md
/// sections 1.2, 1.3 and 5.2). Pure: the REST API applies it to the state it read.
public enum Recipients {
    /// One recipient's fate.
    public enum Fate: Sendable, Equatable {
        /// No job at all: nothing is pushed and the badge does not move.
        case none(reason: String)
        /// A job that notifies nobody (the badge still counts it): every device is recorded as
        /// skipped with `reason`.
        case silent(reason: String)
        case push
    }

    /// A C2C recipient's fate (push-rules.md 1.3). The recipient's mute of the sender applies only
    /// `withMuteNotifications` (Tencent's `SendMsgControl` flag on sendmsg and batchsendmsg; always
    /// for push-only sends); a do-not-disturb window always applies.
    public static func c2c(
        sender: String, recipient: String, settings: ReceiveSettings, withMuteNotifications: Bool, nowSeconds: Int64
    ) -> Fate {
        if recipient.sameBytes(as: sender) { return .none(reason: "Sender") }
        return muting(settings, conversationMute: withMuteNotifications, nowSeconds: nowSeconds)
    }

    /// A group member's fate for a message of `group`. `atAll` and `atAccounts` come from
    /// `GroupAtInfo`; `directedTo` is the `To_Account` list of a directed message. `MsgFlag`, the
    /// member's receive option for the group and their do-not-disturb window always apply.
    public static func group(
        _ group: Group, member: GroupMember, sender: String, atAll: Bool, atAccounts: Set<ExactString>, directedTo: Set<ExactString>?,
        settings: ReceiveSettings, nowSeconds: Int64
    ) -> Fate {
        if member.userID.sameBytes(as: sender) { return .none(reason: "Sender") }
        if let directedTo, !directedTo.contains(ExactString(member.userID)) { return .none(reason: "NotDirected") }
        if !group.type.pushesOffline { return .none(reason: "OnlineOnlyGroupType") }
        switch member.msgFlag {
        case .discard: return .none(reason: "Discard")
        case .acceptNotNotify: return .silent(reason: "AcceptNotNotify")
        case .acceptNotNotifyExceptAt where !atAll && !atAccounts.contains(ExactString(member.userID)):
            return .silent(reason: "AcceptNotNotifyExceptAt")
        case .acceptNotNotifyExceptAt, .acceptAndNotify:
            return muting(settings, conversationMute: true, nowSeconds: nowSeconds)
        }
    }

    /// The recipient's receive option for the conversation (when it applies) and their
    /// do-not-disturb window (always).
    static func muting(_ settings: ReceiveSettings, conversationMute: Bool, nowSeconds: Int64) -> Fate {
        if conversationMute && settings.muted { return .silent(reason: "ReceiveOptNotNotify") }
        if settings.doNotDisturb?.contains(nowSeconds: nowSeconds) == true { return .silent(reason: "DoNotDisturb") }
        return .push
    }
}

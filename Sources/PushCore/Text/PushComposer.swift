/// What a message needs for its push text, beside the recipient's device.
public struct PushMessage: Sendable, Equatable {
    public var body: MsgBody
    public var offlinePushInfo: OfflinePushInfo?
    /// Offline retention in seconds (`MsgLifeTime`); 0 means online only. Absent: 7 days.
    public var lifetime: Int
    /// `OnlineOnlyFlag == 1` on a group send.
    public var onlineOnly: Bool

    /// Tencent's default `MsgLifeTime` for sendmsg: 7 days.
    public static let defaultLifetime = 604_800

    public init(body: MsgBody, offlinePushInfo: OfflinePushInfo? = nil, lifetime: Int? = nil, onlineOnly: Bool = false) {
        self.body = body
        self.offlinePushInfo = offlinePushInfo
        self.lifetime = (lifetime ?? Self.defaultLifetime).clamped(to: 0...Self.defaultLifetime)
        self.onlineOnly = onlineOnly
    }
}

/// The conversation a message belongs to, as far as the push prefix cares.
public enum Conversation: Sendable, Equatable {
    /// One-to-one; the sender's nickname (`Tag_Profile_IM_Nick`) when it has one, and the sender's
    /// account (`From_Account`) when known.
    case c2c(senderNick: String?, sender: String = "")
    /// A group message; the group's name falls back to its id.
    case group(id: String, name: String?, senderNick: String?)
}

extension Conversation {
    /// The conversation as the recipient sees it, `c2c:<sender>` or `group:<GroupId>`; nil when the
    /// C2C sender is unknown (a job queued by an older build).
    public var thread: String? {
        switch self {
        case .c2c(_, let sender): sender.isEmpty ? nil : "c2c:" + sender
        case .group(let id, _, _): "group:" + id
        }
    }
}

/// Why a message gets no push at all (push-rules.md section 1, message-level rules).
public enum SkipReason: String, Sendable, Equatable {
    /// `OfflinePushInfo.PushFlag == 1`.
    case pushDisabled = "PushFlagOff"
    /// `MsgLifeTime == 0` or `OnlineOnlyFlag == 1`.
    case onlineOnly = "OnlineOnly"
    /// The final push text is empty.
    case noText = "NoPushText"
}

/// The result of composing a message for one locale.
public enum PushDecision: Sendable, Equatable {
    case push(PushContent)
    case skip(SkipReason)
}

/// Vendor-neutral push content: text, title, sound, passthrough and the per-vendor overrides.
public struct PushContent: Sendable, Equatable {
    /// The notification text with its nickname/group prefix.
    public var body: String
    /// `OfflinePushInfo.Title`, for every vendor.
    public var title: String?
    /// `ApnsInfo.Title`, else `title`.
    public var apnsTitle: String?
    public var apnsSound: String?
    public var androidSound: String?
    /// Passthrough (`OfflinePushInfo.Ext` or `TIMCustomElem.Ext`).
    public var ext: String?
    /// Seconds a vendor may hold the push for an offline device.
    public var lifetime: Int
    /// The conversation the push belongs to (`Conversation.thread`): pushes of one conversation
    /// replace each other where the vendor would otherwise show one notification per app (Xiaomi).
    public var thread: String?
    /// `ApnsInfo` and `AndroidInfo` (some 27 optional strings) behind one immutable reference, so
    /// passing content from device to device costs a few retains, not a deep copy.
    private var overrides: Overrides

    public var apns: ApnsInfo {
        get { overrides.apns }
        set { overrides = Overrides(apns: newValue, android: overrides.android) }
    }

    public var android: AndroidInfo {
        get { overrides.android }
        set { overrides = Overrides(apns: overrides.apns, android: newValue) }
    }

    private final class Overrides: Sendable, Equatable {
        let apns: ApnsInfo
        let android: AndroidInfo

        init(apns: ApnsInfo, android: AndroidInfo) {
            self.apns = apns
            self.android = android
        }

        static func == (a: Overrides, b: Overrides) -> Bool {
            a === b || (a.apns == b.apns && a.android == b.android)
        }

        static let none = Overrides(apns: .init(), android: .init())
    }

    public init(
        body: String, title: String? = nil, apnsTitle: String? = nil, apnsSound: String? = nil,
        androidSound: String? = nil, ext: String? = nil, apns: ApnsInfo = .init(), android: AndroidInfo = .init(),
        lifetime: Int = PushMessage.defaultLifetime
    ) {
        self.body = body
        self.title = title
        self.apnsTitle = apnsTitle
        self.apnsSound = apnsSound
        self.androidSound = androidSound
        self.ext = ext
        self.lifetime = lifetime
        self.overrides = apns == ApnsInfo() && android == AndroidInfo() ? .none : Overrides(apns: apns, android: android)
    }
}

/// Turns a message into push content (push-rules.md sections 2 to 4).
public struct PushComposer: Sendable {
    public let templates: PushTextTemplates

    public init(templates: PushTextTemplates) {
        self.templates = templates
    }

    /// Composes the push for one locale, or says why there is none.
    public func compose(_ message: PushMessage, in conversation: Conversation, locale: PushLocale) -> PushDecision {
        let info = message.offlinePushInfo
        if info?.pushFlag == 1 { return .skip(.pushDisabled) }
        if message.onlineOnly || message.lifetime <= 0 { return .skip(.onlineOnly) }

        let t = templates.templates(for: locale)
        var custom: CustomElem?
        let text: String
        if let desc = info?.desc.nonEmpty {
            text = desc
            custom = message.body.elements.lazy.compactMap { if case .custom(let c) = $0 { c } else { nil } }.first
        } else {
            var stacked = ""
            for element in message.body.elements {
                switch element {
                case .text(let e): stacked += e.text
                case .location: stacked += t.location
                case .face: stacked += t.face
                case .custom(let e):
                    custom = e
                    stacked += e.desc ?? ""
                case .sound: stacked += t.sound
                case .image: stacked += t.image
                case .file: stacked += t.file
                case .video: stacked += t.video
                case .relay: stacked += t.relay
                }
            }
            text = stacked
        }
        if text.isEmpty { return .skip(.noText) }

        let body: String
        switch conversation {
        case .c2c(let nick, _):
            if let nick = nick.nonEmpty {
                body = t.c2cWithNick.apply(nick: nick, group: "", text: text)
            } else {
                body = t.c2cWithoutNick.apply(nick: "", group: "", text: text)
            }
        case .group(let id, let name, let nick):
            let group = name.nonEmpty ?? id
            if let nick = nick.nonEmpty {
                body = t.groupWithNick.apply(nick: nick, group: group, text: text)
            } else {
                body = t.groupWithoutNick.apply(nick: "", group: group, text: text)
            }
        }

        let title = info?.title.nonEmpty
        var content: PushContent
        // With OfflinePushInfo present, the push settings of TIMCustomElem are ignored.
        if let info {
            content = PushContent(
                body: body, title: title, apnsTitle: info.apnsInfo?.title.nonEmpty ?? title,
                apnsSound: info.apnsInfo?.sound.nonEmpty, androidSound: info.androidInfo?.sound.nonEmpty,
                ext: info.ext.nonEmpty, apns: info.apnsInfo ?? .init(), android: info.androidInfo ?? .init(),
                lifetime: message.lifetime
            )
        } else {
            content = PushContent(
                body: body, title: nil, apnsTitle: nil, apnsSound: custom?.sound.nonEmpty,
                androidSound: custom?.sound.nonEmpty, ext: custom?.ext.nonEmpty, lifetime: message.lifetime
            )
        }
        content.thread = conversation.thread
        return .push(content)
    }
}

/// Per-message push settings (`OfflinePushInfo`). Unknown keys are ignored: the API keeps growing.
public struct OfflinePushInfo: Codable, Sendable, Equatable {
    /// 0 = push (default), 1 = no offline push.
    public var pushFlag: Int?
    public var title: String?
    /// Replaces the push text computed from the elements when not empty.
    public var desc: String?
    /// Passthrough delivered to the app beside the notification.
    public var ext: String?
    public var androidInfo: AndroidInfo?
    public var apnsInfo: ApnsInfo?

    public init(
        pushFlag: Int? = nil, title: String? = nil, desc: String? = nil, ext: String? = nil,
        androidInfo: AndroidInfo? = nil, apnsInfo: ApnsInfo? = nil
    ) {
        self.pushFlag = pushFlag
        self.title = title
        self.desc = desc
        self.ext = ext
        self.androidInfo = androidInfo
        self.apnsInfo = apnsInfo
    }

    enum CodingKeys: String, CodingKey {
        case pushFlag = "PushFlag", title = "Title", desc = "Desc", ext = "Ext"
        case androidInfo = "AndroidInfo", apnsInfo = "ApnsInfo"
    }
}

/// Android vendor settings of one message (`OfflinePushInfo.AndroidInfo`).
public struct AndroidInfo: Codable, Sendable, Equatable {
    public var sound: String?
    /// 0 default, 1 big text (Huawei, Honor, OPPO).
    public var pushStyle: Int?
    public var huaWeiChannelID: String?
    public var xiaoMiChannelID: String?
    public var oppoChannelID: String?
    public var googleChannelID: String?
    /// 0 operational, 1 system (default). Accepted as a number or a numeric string.
    public var vivoClassification: FlexibleInt?
    public var vivoCategory: String?
    /// `LOW` or `NORMAL` (default).
    public var huaWeiImportance: String?
    /// 1: `Ext` goes to the Huawei intent parameters; 0 (default): to the action parameters.
    public var extAsHuaweiIntentParam: Int?
    public var huaWeiCategory: String?
    public var huaWeiImage: String?
    public var honorImage: String?
    /// `LOW` or `NORMAL` (default).
    public var honorImportance: String?
    public var googleImage: String?
    public var oppoCategory: String?
    public var oppoPrivateMsgTemplateId: String?
    /// 0 public, 1 private.
    public var meiZuNoticeMsgType: Int?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case sound = "Sound", pushStyle = "PushStyle"
        case huaWeiChannelID = "HuaWeiChannelID", xiaoMiChannelID = "XiaoMiChannelID"
        case oppoChannelID = "OPPOChannelID", googleChannelID = "GoogleChannelID"
        case vivoClassification = "VIVOClassification", vivoCategory = "VIVOCategory"
        case huaWeiImportance = "HuaWeiImportance", extAsHuaweiIntentParam = "ExtAsHuaweiIntentParam"
        case huaWeiCategory = "HuaWeiCategory", huaWeiImage = "HuaWeiImage", honorImage = "HonorImage"
        case honorImportance = "HonorImportance", googleImage = "GoogleImage", oppoCategory = "OPPOCategory"
        case oppoPrivateMsgTemplateId = "OPPOPrivateMsgTemplateId", meiZuNoticeMsgType = "MeiZuNoticeMsgType"
    }
}

/// APNs settings of one message (`OfflinePushInfo.ApnsInfo`).
public struct ApnsInfo: Codable, Sendable, Equatable {
    public var sound: String?
    /// 0 or absent: the message counts toward the badge; 1: badge unchanged.
    public var badgeMode: Int?
    public var title: String?
    public var subTitle: String?
    public var image: String?
    public var mutableContent: Int?
    /// `active`, `critical`, `passive` or `time-sensitive`.
    public var interruptionLevel: String?
    public var contentAvailable: Int?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case sound = "Sound", badgeMode = "BadgeMode", title = "Title", subTitle = "SubTitle", image = "Image"
        case mutableContent = "MutableContent", interruptionLevel = "InterruptionLevel"
        case contentAvailable = "ContentAvailable"
    }
}

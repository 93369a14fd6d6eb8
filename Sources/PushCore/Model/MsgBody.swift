/// The elements of a message, in order (`MsgBody` on the wire).
///
/// Decoding enforces Tencent's rules: every element has a known `MsgType` and a `MsgContent` of the
/// right shape, and a message holds at most one `TIMCustomElem`.
public struct MsgBody: Codable, Sendable, Equatable {
    public var elements: [MsgElement]

    /// A message without elements (nothing to check).
    public static let empty = MsgBody(unchecked: [])

    private init(unchecked elements: [MsgElement]) {
        self.elements = elements
    }

    public init(_ elements: [MsgElement]) throws(TencentError) {
        self.elements = elements
        try Self.checkSingleCustom(elements, path: "MsgBody")
    }

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var elements: [MsgElement] = []
        if let count = container.count { elements.reserveCapacity(count) }
        while !container.isAtEnd {
            elements.append(try container.decode(MsgElement.self))
        }
        self.elements = elements
        try Self.checkSingleCustom(elements, path: FieldPath.render(decoder.codingPath))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for element in elements { try container.encode(element) }
    }

    private static func checkSingleCustom(_ elements: [MsgElement], path: String) throws(TencentError) {
        let customs = elements.indices.filter { if case .custom = elements[$0] { true } else { false } }
        if customs.count > 1 {
            let at = customs.map { "\(path)[\($0)]" }.joined(separator: ", ")
            throw TencentError(
                code: TencentError.invalidMsgBodyCode,
                message: "\(path) may hold at most one TIMCustomElem, found \(customs.count) (\(at))"
            )
        }
    }
}

/// One element of `MsgBody`: `{"MsgType": "...", "MsgContent": {...}}`.
public enum MsgElement: Codable, Sendable, Equatable {
    case text(TextElem)
    case location(LocationElem)
    case face(FaceElem)
    case custom(CustomElem)
    case sound(SoundElem)
    case image(ImageElem)
    case file(FileElem)
    case video(VideoFileElem)
    case relay(RelayElem)

    /// The wire name of the element type, e.g. `TIMTextElem`.
    public var msgType: String {
        switch self {
        case .text: "TIMTextElem"
        case .location: "TIMLocationElem"
        case .face: "TIMFaceElem"
        case .custom: "TIMCustomElem"
        case .sound: "TIMSoundElem"
        case .image: "TIMImageElem"
        case .file: "TIMFileElem"
        case .video: "TIMVideoFileElem"
        case .relay: "TIMRelayElem"
        }
    }

    enum CodingKeys: String, CodingKey {
        case msgType = "MsgType"
        case msgContent = "MsgContent"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .msgType)
        switch type {
        case "TIMTextElem": self = .text(try container.decode(TextElem.self, forKey: .msgContent))
        case "TIMLocationElem": self = .location(try container.decode(LocationElem.self, forKey: .msgContent))
        case "TIMFaceElem": self = .face(try container.decode(FaceElem.self, forKey: .msgContent))
        case "TIMCustomElem": self = .custom(try container.decode(CustomElem.self, forKey: .msgContent))
        case "TIMSoundElem": self = .sound(try container.decode(SoundElem.self, forKey: .msgContent))
        case "TIMImageElem": self = .image(try container.decode(ImageElem.self, forKey: .msgContent))
        case "TIMFileElem": self = .file(try container.decode(FileElem.self, forKey: .msgContent))
        case "TIMVideoFileElem": self = .video(try container.decode(VideoFileElem.self, forKey: .msgContent))
        case "TIMRelayElem": self = .relay(try container.decode(RelayElem.self, forKey: .msgContent))
        default:
            let field = FieldPath.render(decoder.codingPath + [CodingKeys.msgType])
            throw TencentError(
                code: TencentError.invalidMsgBodyCode,
                message: "\(field) \"\(type)\" is not a known element type"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(msgType, forKey: .msgType)
        switch self {
        case .text(let c): try container.encode(c, forKey: .msgContent)
        case .location(let c): try container.encode(c, forKey: .msgContent)
        case .face(let c): try container.encode(c, forKey: .msgContent)
        case .custom(let c): try container.encode(c, forKey: .msgContent)
        case .sound(let c): try container.encode(c, forKey: .msgContent)
        case .image(let c): try container.encode(c, forKey: .msgContent)
        case .file(let c): try container.encode(c, forKey: .msgContent)
        case .video(let c): try container.encode(c, forKey: .msgContent)
        case .relay(let c): try container.encode(c, forKey: .msgContent)
        }
    }
}

/// `TIMTextElem`.
public struct TextElem: Codable, Sendable, Equatable {
    public var text: String
    public init(text: String) { self.text = text }
    enum CodingKeys: String, CodingKey { case text = "Text" }
}

/// `TIMLocationElem`.
public struct LocationElem: Codable, Sendable, Equatable {
    public var desc: String?
    public var latitude: Double
    public var longitude: Double
    public init(desc: String? = nil, latitude: Double, longitude: Double) {
        self.desc = desc
        self.latitude = latitude
        self.longitude = longitude
    }
    enum CodingKeys: String, CodingKey {
        case desc = "Desc", latitude = "Latitude", longitude = "Longitude"
    }
}

/// `TIMFaceElem`.
public struct FaceElem: Codable, Sendable, Equatable {
    public var index: Int
    public var data: String?
    public init(index: Int, data: String? = nil) {
        self.index = index
        self.data = data
    }
    enum CodingKeys: String, CodingKey { case index = "Index", data = "Data" }
}

/// `TIMCustomElem`: `Desc` is its push text; `Ext` and `Sound` are push settings unless
/// `OfflinePushInfo` is present; `Data` never leaves pushd.
public struct CustomElem: Codable, Sendable, Equatable {
    public var data: String?
    public var desc: String?
    public var ext: String?
    public var sound: String?
    public init(data: String? = nil, desc: String? = nil, ext: String? = nil, sound: String? = nil) {
        self.data = data
        self.desc = desc
        self.ext = ext
        self.sound = sound
    }
    enum CodingKeys: String, CodingKey { case data = "Data", desc = "Desc", ext = "Ext", sound = "Sound" }
}

/// `TIMSoundElem`.
public struct SoundElem: Codable, Sendable, Equatable {
    public var url: String?
    public var uuid: String?
    public var size: Int?
    public var second: Int?
    public var downloadFlag: Int?
    public init(url: String? = nil, uuid: String? = nil, size: Int? = nil, second: Int? = nil, downloadFlag: Int? = 2) {
        self.url = url
        self.uuid = uuid
        self.size = size
        self.second = second
        self.downloadFlag = downloadFlag
    }
    enum CodingKeys: String, CodingKey {
        case url = "Url", uuid = "UUID", size = "Size", second = "Second", downloadFlag = "Download_Flag"
    }
}

/// `TIMImageElem`.
public struct ImageElem: Codable, Sendable, Equatable {
    public var uuid: String?
    public var imageFormat: Int?
    public var imageInfoArray: [ImageInfo]?
    public init(uuid: String? = nil, imageFormat: Int? = nil, imageInfoArray: [ImageInfo]? = nil) {
        self.uuid = uuid
        self.imageFormat = imageFormat
        self.imageInfoArray = imageInfoArray
    }
    enum CodingKeys: String, CodingKey {
        case uuid = "UUID", imageFormat = "ImageFormat", imageInfoArray = "ImageInfoArray"
    }

    /// One size of an image: 1 original, 2 large, 3 thumbnail.
    public struct ImageInfo: Codable, Sendable, Equatable {
        public var type: Int?
        public var size: Int?
        public var width: Int?
        public var height: Int?
        public var url: String?
        public init(type: Int? = nil, size: Int? = nil, width: Int? = nil, height: Int? = nil, url: String? = nil) {
            self.type = type
            self.size = size
            self.width = width
            self.height = height
            self.url = url
        }
        enum CodingKeys: String, CodingKey {
            case type = "Type", size = "Size", width = "Width", height = "Height", url = "URL"
        }
    }
}

/// `TIMFileElem`.
public struct FileElem: Codable, Sendable, Equatable {
    public var url: String?
    public var uuid: String?
    public var fileSize: Int?
    public var fileName: String?
    public var downloadFlag: Int?
    public init(url: String? = nil, uuid: String? = nil, fileSize: Int? = nil, fileName: String? = nil, downloadFlag: Int? = 2) {
        self.url = url
        self.uuid = uuid
        self.fileSize = fileSize
        self.fileName = fileName
        self.downloadFlag = downloadFlag
    }
    enum CodingKeys: String, CodingKey {
        case url = "Url", uuid = "UUID", fileSize = "FileSize", fileName = "FileName", downloadFlag = "Download_Flag"
    }
}

/// `TIMVideoFileElem`.
public struct VideoFileElem: Codable, Sendable, Equatable {
    public var videoUrl: String?
    public var videoUUID: String?
    public var videoSize: Int?
    public var videoSecond: Int?
    public var videoFormat: String?
    public var videoDownloadFlag: Int?
    public var thumbUrl: String?
    public var thumbUUID: String?
    public var thumbSize: Int?
    public var thumbWidth: Int?
    public var thumbHeight: Int?
    public var thumbFormat: String?
    public var thumbDownloadFlag: Int?
    public init(videoUrl: String? = nil, videoSecond: Int? = nil) {
        self.videoUrl = videoUrl
        self.videoSecond = videoSecond
    }
    enum CodingKeys: String, CodingKey {
        case videoUrl = "VideoUrl", videoUUID = "VideoUUID", videoSize = "VideoSize", videoSecond = "VideoSecond"
        case videoFormat = "VideoFormat", videoDownloadFlag = "VideoDownloadFlag"
        case thumbUrl = "ThumbUrl", thumbUUID = "ThumbUUID", thumbSize = "ThumbSize", thumbWidth = "ThumbWidth"
        case thumbHeight = "ThumbHeight", thumbFormat = "ThumbFormat", thumbDownloadFlag = "ThumbDownloadFlag"
    }
}

/// `TIMRelayElem`: a forwarded bundle of messages ("chat history").
public struct RelayElem: Codable, Sendable, Equatable {
    public var title: String?
    public var msgNum: Int?
    public var compatibleText: String?
    public var abstractList: [String]?
    public var msgList: [RelayedMessage]?
    public var jsonMsgKey: String?
    public init(title: String? = nil, msgNum: Int? = nil, compatibleText: String? = nil, abstractList: [String]? = nil) {
        self.title = title
        self.msgNum = msgNum
        self.compatibleText = compatibleText
        self.abstractList = abstractList
    }
    enum CodingKeys: String, CodingKey {
        case title = "Title", msgNum = "MsgNum", compatibleText = "CompatibleText", abstractList = "AbstractList"
        case msgList = "MsgList", jsonMsgKey = "JsonMsgKey"
    }

    /// One message inside a relay element.
    public struct RelayedMessage: Codable, Sendable, Equatable {
        public var fromAccount: String?
        public var toAccount: String?
        public var groupId: String?
        public var msgSeq: UInt64?
        public var msgRandom: UInt64?
        public var msgTimeStamp: Int64?
        public var msgBody: MsgBody?
        public var cloudCustomData: String?
        enum CodingKeys: String, CodingKey {
            case fromAccount = "From_Account", toAccount = "To_Account", groupId = "GroupId", msgSeq = "MsgSeq"
            case msgRandom = "MsgRandom", msgTimeStamp = "MsgTimeStamp", msgBody = "MsgBody"
            case cloudCustomData = "CloudCustomData"
        }
    }
}

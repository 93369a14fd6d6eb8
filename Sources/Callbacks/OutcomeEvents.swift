import Foundation
import PushCore
import PushdConfig
import Storage

/// The events of one finished push round, for an app whose IM server wants them: each device's
/// outcome (`Push.OfflinePush`) and each dead token (`Push.TokenInvalidated`). Field names follow
/// Tencent's push callback (`To_Account`, `PushPlatform`, `ErrCode`, `ErrInfo`), times are seconds.
public struct OutcomeEvents: Sendable {
    /// What the events say about the message that the job carries.
    public struct Message: Sendable {
        /// 1 for a C2C message, 2 for a group message, 3 for a push outside a conversation
        /// (campaigns, `timpush/batch`, enqueued jobs).
        public var eventType: Int
        public var from: String?
        public var groupID: String?
        /// The message's key (a chat push of a message sent through the REST API).
        public var msgKey: String?
        /// The campaign's task (a campaign push).
        public var taskID: String?

        public init(eventType: Int, from: String? = nil, groupID: String? = nil, msgKey: String? = nil, taskID: String? = nil) {
            self.eventType = eventType
            self.from = from
            self.groupID = groupID
            self.msgKey = msgKey
            self.taskID = taskID
        }
    }

    public var sdkAppID: UInt64
    public var wanted: Set<CallbackEventKind>
    public private(set) var events: [NewCallbackEvent] = []

    public init(sdkAppID: UInt64, wanted: Set<CallbackEventKind>) {
        self.sdkAppID = sdkAppID
        self.wanted = wanted
    }

    /// One device's outcome.
    public mutating func outcome(
        _ kind: CallbackEventKind, user: String, jobKey: String, message: Message, deviceID: String, vendor: String, reason: String?,
        vendorMessageID: String?, attempts: Int, atMillis: Int64
    ) {
        guard wanted.contains(kind) else { return }
        let event = PushEvent(
            command: CallbackCommand.offlinePush, eventType: message.eventType, eventTime: atMillis / 1000, outcome: kind.rawValue,
            from: message.from, to: user, groupID: message.groupID, msgKey: message.msgKey, taskID: message.taskID, jobKey: jobKey,
            pushPlatform: Self.platform(vendor), vendor: vendor, deviceID: deviceID, pushStage: 1, errCode: Self.errorCode(kind),
            errInfo: kind == .delivered ? "OK" : reason ?? kind.rawValue, vendorMessageID: vendorMessageID, attempts: attempts
        )
        append(CallbackCommand.offlinePush, event)
    }

    /// A token the vendor declared dead.
    public mutating func tokenInvalidated(user: String, deviceID: String, vendor: String, token: String, reason: String?, atMillis: Int64) {
        guard wanted.contains(.tokenInvalidated) else { return }
        let event = TokenEvent(
            command: CallbackCommand.tokenInvalidated, eventTime: atMillis / 1000, userID: user, deviceID: deviceID, vendor: vendor,
            pushPlatform: Self.platform(vendor), token: token, reason: reason ?? "TokenInvalid", invalidatedAt: atMillis
        )
        append(CallbackCommand.tokenInvalidated, event)
    }

    private mutating func append(_ command: String, _ event: some Encodable) {
        // Every field is a string or an integer: encoding cannot fail.
        guard let body = try? Self.encoder.encode(event) else { return }
        events.append(NewCallbackEvent(sdkAppID: sdkAppID, command: command, body: body))
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Tencent's `PushPlatform`: 1 APNs, 2 Xiaomi, 3 Huawei, 4 FCM, 5 Meizu, 6 OPPO, 7 vivo, 8
    /// Honor; 0 unknown.
    static func platform(_ vendor: String) -> Int {
        switch Vendor(rawValue: vendor) {
        case .apns: 1
        case .xiaomi: 2
        case .huawei: 3
        case .fcm: 4
        case .meizu: 5
        case .oppo: 6
        case .vivo: 7
        case .honor: 8
        case nil: 0
        }
    }

    /// `ErrCode` per outcome: 0 Delivered, 1 Failed, 2 Expired, 3 DeadLettered.
    static func errorCode(_ kind: CallbackEventKind) -> Int {
        switch kind {
        case .delivered: 0
        case .failed: 1
        case .expired: 2
        case .deadLettered: 3
        case .tokenInvalidated, .campaignFinished: 0
        }
    }

    struct PushEvent: Encodable {
        var command: String
        var eventType: Int
        var eventTime: Int64
        var outcome: String
        var from: String?
        var to: String
        var groupID: String?
        var msgKey: String?
        var taskID: String?
        var jobKey: String
        var pushPlatform: Int
        var vendor: String
        var deviceID: String
        var pushStage: Int
        var errCode: Int
        var errInfo: String
        var vendorMessageID: String?
        var attempts: Int

        enum CodingKeys: String, CodingKey {
            case command = "CallbackCommand", eventType = "EventType", eventTime = "EventTime", outcome = "Outcome"
            case from = "From_Account", to = "To_Account", groupID = "GroupID", msgKey = "MsgKey", taskID = "TaskId", jobKey = "JobKey"
            case pushPlatform = "PushPlatform", vendor = "Vendor", deviceID = "DeviceId", pushStage = "PushStage"
            case errCode = "ErrCode", errInfo = "ErrInfo", vendorMessageID = "VendorMessageId", attempts = "Attempts"
        }
    }

    struct TokenEvent: Encodable {
        var command: String
        var eventTime: Int64
        var userID: String
        var deviceID: String
        var vendor: String
        var pushPlatform: Int
        var token: String
        var reason: String
        /// Milliseconds, as `pushd/get_devices` reports it.
        var invalidatedAt: Int64

        enum CodingKeys: String, CodingKey {
            case command = "CallbackCommand", eventTime = "EventTime", userID = "UserID", deviceID = "DeviceId", vendor = "Vendor"
            case pushPlatform = "PushPlatform", token = "Token", reason = "Reason", invalidatedAt = "InvalidatedAt"
        }
    }
}

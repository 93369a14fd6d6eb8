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
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        field(&json, "CallbackCommand", CallbackCommand.offlinePush)
        field(&json, "EventType", message.eventType)
        field(&json, "EventTime", Int(truncatingIfNeeded: atMillis / 1000))
        field(&json, "Outcome", kind.rawValue)
        field(&json, "From_Account", message.from)
        field(&json, "To_Account", user)
        field(&json, "GroupID", message.groupID)
        field(&json, "MsgKey", message.msgKey)
        field(&json, "TaskId", message.taskID)
        field(&json, "JobKey", jobKey)
        field(&json, "PushPlatform", Self.platform(vendor))
        field(&json, "Vendor", vendor)
        field(&json, "DeviceId", deviceID)
        field(&json, "PushStage", 1)
        field(&json, "ErrCode", Self.errorCode(kind))
        field(&json, "ErrInfo", kind == .delivered ? "OK" : reason ?? kind.rawValue)
        field(&json, "VendorMessageId", vendorMessageID)
        field(&json, "Attempts", attempts)
        json.endObject()
        events.append(NewCallbackEvent(sdkAppID: sdkAppID, command: CallbackCommand.offlinePush, body: Data(json.finish())))
    }

    /// A token the vendor declared dead.
    public mutating func tokenInvalidated(user: String, deviceID: String, vendor: String, token: String, reason: String?, atMillis: Int64) {
        guard wanted.contains(.tokenInvalidated) else { return }
        var json = JSONWriter(capacity: 384)
        json.beginObject()
        field(&json, "CallbackCommand", CallbackCommand.tokenInvalidated)
        field(&json, "EventTime", Int(truncatingIfNeeded: atMillis / 1000))
        field(&json, "UserID", user)
        field(&json, "DeviceId", deviceID)
        field(&json, "Vendor", vendor)
        field(&json, "PushPlatform", Self.platform(vendor))
        field(&json, "Token", token)
        field(&json, "Reason", reason ?? "TokenInvalid")
        // Milliseconds, as `pushd/get_devices` reports it.
        field(&json, "InvalidatedAt", Int(truncatingIfNeeded: atMillis))
        json.endObject()
        events.append(NewCallbackEvent(sdkAppID: sdkAppID, command: CallbackCommand.tokenInvalidated, body: Data(json.finish())))
    }

    /// Written with pushd's JSON writer rather than JSONEncoder (its cost: docs/benchmarks.md, issue 28).
    private func field(_ json: inout JSONWriter, _ key: String, _ value: String?) {
        guard let value else { return }
        json.key(key)
        json.string(value)
    }

    private func field(_ json: inout JSONWriter, _ key: String, _ value: Int) {
        json.key(key)
        json.int(value)
    }

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
}

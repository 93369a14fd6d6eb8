import Foundation

/// An event for an app's IM server (`callback:`), written in the transaction that decided it, so
/// it is sent at least once whatever crashes.
public struct NewCallbackEvent: Sendable, Equatable {
    public var sdkAppID: UInt64
    /// Tencent's `CallbackCommand` of the event (``CallbackCommand``).
    public var command: String
    /// The event as one JSON object, without its `EventId` (the store's row id, added when sent).
    public var body: Data

    public init(sdkAppID: UInt64, command: String, body: Data) {
        self.sdkAppID = sdkAppID
        self.command = command
        self.body = body
    }
}

/// An event leased to one sender until its POST is answered or the lease runs out.
public struct ClaimedCallbackEvent: Sendable, Equatable {
    /// Unique and never reused: the receiver's de-duplication key (`EventId`).
    public var id: Int64
    public var sdkAppID: UInt64
    public var command: String
    public var body: Data
    /// Failed POSTs before this claim.
    public var attempts: Int
    public var createdAtMillis: Int64
}

/// The `CallbackCommand` names of pushd's events, after Tencent's `Push.OfflinePush`.
public enum CallbackCommand {
    /// A device's push outcome: Delivered, Failed, Expired or DeadLettered.
    public static let offlinePush = "Push.OfflinePush"
    /// A vendor declared a device's token dead.
    public static let tokenInvalidated = "Push.TokenInvalidated"
    /// Every push of a campaign is finished; the sender adds the campaign's counts.
    public static let campaignFinished = "Push.CampaignFinished"

    /// The commands pushd writes; a stored event naming another is not sent.
    public static let all: Set<String> = [offlinePush, tokenInvalidated, campaignFinished]

    /// The event a store writes when a campaign finishes: its task and time; the counts are read
    /// when it is sent, once they are final.
    static func campaignFinished(app: Int64, taskID: String, nowMillis: Int64) -> NewCallbackEvent {
        let body: [String: Any] = ["CallbackCommand": campaignFinished, "EventTime": nowMillis / 1000, "TaskId": taskID]
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return NewCallbackEvent(sdkAppID: UInt64(clamping: app), command: campaignFinished, body: data)
    }
}

/// The outbox of callback events: written with the outcomes they report, claimed under a lease by
/// the sender, deleted once delivered, delayed after a failed POST.
public protocol CallbackQueue: Sendable {
    /// Writes events in one transaction.
    func enqueueCallbackEvents(_ events: [NewCallbackEvent]) async throws

    /// Leases up to `limit` events due now, oldest first, for `leaseMillis`.
    func claimCallbackEvents(limit: Int, leaseMillis: Int64) async throws -> [ClaimedCallbackEvent]

    /// Deletes events: delivered, or dropped.
    func deleteCallbackEvents(ids: [Int64]) async throws

    /// Makes events claimable again at `notBeforeMillis`, one failed attempt more.
    func retryCallbackEvents(ids: [Int64], notBeforeMillis: Int64) async throws

    /// Events not delivered yet, and when the oldest was written (nil when none).
    func callbackBacklog() async throws -> (events: Int, oldestMillis: Int64?)
}

/// Badge rules (push-rules.md section 5): which messages raise the badge and what a push carries.
public enum Badge {
    /// The largest count Huawei's `set_num` and Honor's `setNum` accept (section 5.5).
    public static let huaweiHonorMax = 99

    /// The count a Huawei or Honor push carries: 0 to 99, a larger count sent as 99.
    public static func huaweiHonorCount(_ badge: Int) -> Int {
        min(max(badge, 0), huaweiHonorMax)
    }

    /// Whether a delivered message raises the recipient's unread count.
    ///
    /// Not counted: `ApnsInfo.BadgeMode == 1`, `SendMsgControl: ["NoUnread"]`, online-only messages,
    /// and group messages to a member whose `MsgFlag` is `Discard`.
    public static func counts(
        _ message: PushMessage, sendMsgControl: [String] = [], discardedByMember: Bool = false
    ) -> Bool {
        if message.offlinePushInfo?.apnsInfo?.badgeMode == 1 { return false }
        if sendMsgControl.contains("NoUnread") { return false }
        if message.onlineOnly || message.lifetime <= 0 { return false }
        return !discardedByMember
    }

    /// The absolute badge a push carries: the base the device reported when it went to the
    /// background plus the counted messages since, this one included when it counts. Never an
    /// increment, so a retried or duplicated push cannot inflate it.
    public static func value(base: Int, countedSinceReport: Int) -> Int {
        max(0, base).addingSaturating(max(0, countedSinceReport)).clamped(to: 0...maxValue)
    }

    /// The largest badge: Tencent's unread count is a 32-bit integer. `report_state` refuses more,
    /// and the stores saturate here when counting.
    public static let maxValue = Int(Int32.max)
}

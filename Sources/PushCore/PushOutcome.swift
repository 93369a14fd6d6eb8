/// What happened to one push at a vendor gateway: the one taxonomy every vendor client maps to
/// (vendor-protocols.md section 9) and the dispatcher acts on.
public enum PushOutcome: Sendable, Equatable {
    /// Accepted by the vendor, with the vendor's message id when it returns one.
    case delivered(messageID: String?)
    /// The token is dead: delete it unless the device re-registered after `invalidatedAtMillis`.
    case tokenInvalid(reason: String, invalidatedAtMillis: Int64?)
    /// Try again later: after the vendor's `Retry-After` when given, else with backoff.
    case retry(reason: String, afterSeconds: Int?)
    /// Will never succeed as sent: record a dead letter with the reason.
    case permanent(reason: String)
    /// The app's vendor settings are wrong (bad credentials, wrong topic): pause the vendor for the
    /// app and tell the operator once.
    case configAlarm(reason: String)
}

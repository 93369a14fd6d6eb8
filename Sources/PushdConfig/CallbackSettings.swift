import Foundation

/// What pushd tells an app's IM server about (`callback.events`).
public enum CallbackEventKind: String, Sendable, CaseIterable, Codable {
    /// A vendor accepted a device's push.
    case delivered = "Delivered"
    /// A vendor refused a device's push for good (its reason given); a dead token too.
    case failed = "Failed"
    /// The message's offline lifetime ran out before its push could go out.
    case expired = "Expired"
    /// A push gave up after its retries, or could not be sent at all: it is a dead letter.
    case deadLettered = "DeadLettered"
    /// A vendor declared a device's token dead; the device gets no push until it registers again.
    case tokenInvalidated = "TokenInvalidated"
    /// Every push of a campaign is finished.
    case campaignFinished = "CampaignFinished"
}

/// `callback:` of one app: where its events go, how they are signed, which ones.
public struct CallbackSettings: Sendable, Equatable {
    /// The IM server's endpoint; the Tencent query parameters are appended to it.
    public var url: String = ""
    /// The HMAC-SHA256 key of `Sign`.
    public var key: String = ""
    /// The events sent; all of them unless the file names some.
    public var events: Set<CallbackEventKind> = Set(CallbackEventKind.allCases)
    /// How long one POST may take before it counts as failed and is retried.
    public var timeoutSeconds: Int = 5
    /// An event not accepted after this long is dropped (and counted): a callback endpoint gone for
    /// good does not grow the store for ever.
    public var retentionHours: Int = 72

    public init(url: String = "", key: String = "") {
        self.url = url
        self.key = key
    }

    /// Whether events go out at all: a URL is set.
    public var isEnabled: Bool { !url.isEmpty }

    /// The events wanted, none when the callback is off.
    public var wanted: Set<CallbackEventKind> { isEnabled ? events : [] }
}

/// An endpoint pushd POSTs to (a callback, a trace collector).
public enum HTTPEndpoint {
    /// Whether `text` is an `http` or `https` URL with a host and no fragment.
    public static func isValid(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.fragment == nil
        else { return false }
        return true
    }
}

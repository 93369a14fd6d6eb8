import PushCore
import PushdConfig

/// What `GET /readyz` answers: whether pushd can deliver, and if not, why.
public struct Readiness: Sendable, Equatable, Encodable {
    public var ready: Bool
    /// One sentence per reason, empty when ready.
    public var reasons: [String]
    /// The running config's generation and the last reload (`serve` fills it in).
    public var config: ReloadStatus?

    public init(reasons: [String], config: ReloadStatus? = nil) {
        self.reasons = reasons
        ready = reasons.isEmpty
        self.config = config
    }
}

extension Dispatcher {
    /// Not ready while the store does not answer (`storeError`) or while every configured vendor
    /// of an app is paused by a configuration alarm (the vendor refused its credentials): that
    /// app's pushes cannot go anywhere until an operator acts or the pause ends. `more`: the other
    /// parts' reasons (a broker not connected).
    public func readiness(storeError: (any Error)?, config: ReloadStatus? = nil, more: [String] = []) -> Readiness {
        var reasons: [String] = []
        if let storeError { reasons.append("store: \(storeError)") }
        let alarms = processor.throttle.alarms()
        let vendors = processor.gateways.configuredVendors()
        for app in processor.apps.current.keys.sorted() {
            let configured = vendors[app] ?? []
            let paused = configured.compactMap { vendor in alarms[VendorThrottle.Key(app: app, vendor: vendor)].map { (vendor, $0) } }
            guard !configured.isEmpty, paused.count == configured.count else { continue }
            let why = paused.map { "\($0.0.rawValue) (\($0.1.reason), until \($0.1.untilMillis))" }.joined(separator: ", ")
            reasons.append("app \(app): every vendor is paused by a configuration alarm: \(why)")
        }
        return Readiness(reasons: reasons + more, config: config)
    }
}

import Foundation
import Messaging
import PushCore
import PushJob

/// A vendor of an app as delivery sees it now: sending, paused (a `Retry-After`) or paused by a
/// configuration alarm, with the vendor's reason.
public struct VendorState: Sendable, Equatable {
    public var app: UInt64
    public var vendor: Vendor
    /// When the pause ends; nil while sending.
    public var pausedUntilMillis: Int64?
    /// Why the vendor refused the app's configuration; nil without an alarm.
    public var alarm: String?
}

extension Dispatcher {
    /// Sends per second and the last failures (the operator console's overview), nil when none
    /// are kept.
    public var history: DeliveryHistory? { metrics.history }

    /// Every configured vendor of every app, by app then vendor.
    public func vendorStates() -> [VendorState] {
        let alarms = processor.throttle.alarms()
        return processor.gateways.configuredVendors().sorted { $0.key < $1.key }.flatMap { app, vendors in
            vendors.sorted { $0.rawValue < $1.rawValue }.map { vendor in
                let key = VendorThrottle.Key(app: app, vendor: vendor)
                return VendorState(app: app, vendor: vendor, pausedUntilMillis: processor.throttle.pausedUntil(key), alarm: alarms[key]?.reason)
            }
        }
    }

    /// The request a stored job makes for one device, rendered again as the dispatcher renders it
    /// (``render(_:sdkAppID:device:)``), or why there is none.
    public func renderAgain(sdkAppID: UInt64, payload: Data, device: Device) -> Result<VendorRequest, RenderAgainFailure> {
        do {
            return render(try processor.specs.decode(payload), sdkAppID: sdkAppID, device: device)
        } catch {
            return .failure(.init("the job cannot be read: \(error.message)"))
        }
    }

    /// The request a job makes for one device, as the dispatcher would send it now: the app's
    /// current templates and settings, the device's locale and badge, now's time. Or why there is
    /// none: the push is skipped, the job is a revocation, or the vendor refuses to render it.
    public func render(_ spec: PushJobSpec, sdkAppID: UInt64, device: Device) -> Result<VendorRequest, RenderAgainFailure> {
        guard let app = processor.apps.current[sdkAppID] else { return .failure(.init("app \(sdkAppID) is not configured")) }
        guard !spec.revoke else { return .failure(.init("a revocation: the vendor is asked to take a delivered push back")) }
        let locale = app.locale(of: device)
        switch app.composer.compose(spec.message, in: spec.conversation, locale: locale) {
        case .skip(let reason): return .failure(.init("no push: \(reason.rawValue)"))
        case .push(let content):
            let target = PushTarget(token: device.token, badge: device.badge, pushID: JobProcessor.pushID(job: 0, device: device.deviceID), nowMillis: processor.clock.nowMillis())
            do {
                return .success(try app.renderer.render(content, vendor: device.vendor, to: target))
            } catch {
                return .failure(.init(error.description))
            }
        }
    }

    /// Why a job could not be rendered again.
    public struct RenderAgainFailure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}

extension Dispatcher {
    /// The requests kept as sent (``SentRequests``), nil when none are kept.
    public var sentRequests: SentRequests? { processor.sentRequests }
}

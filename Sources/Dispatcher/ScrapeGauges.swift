import PushCore
import Storage

/// The gauges `/metrics` sets at each scrape from the dispatcher's state.
extension Dispatcher {
    /// Sets the queue gauges from the store's counts, every app with a pipeline included (an app
    /// without pending jobs reads 0 rather than having no series).
    public func recordQueue() async throws {
        metrics.record(try await store.stats(), apps: Array(processor.apps.current.keys))
    }

    /// Sets the vendor state gauges (``DispatcherMetrics/record(vendors:)``).
    public func recordVendorStates() {
        let alarms = processor.throttle.alarms()
        var states: [(key: VendorThrottle.Key, paused: Bool, alarm: Bool)] = []
        for (app, vendors) in processor.gateways.configuredVendors() {
            for vendor in vendors {
                let key = VendorThrottle.Key(app: app, vendor: vendor)
                states.append((key, processor.throttle.pausedUntil(key) != nil, alarms[key] != nil))
            }
        }
        metrics.record(vendors: states)
    }

    /// Sets each app's campaign gauges from its campaigns of the last week that are not over:
    /// how many run, the jobs they planned and the jobs done (``DispatcherMetrics/record(campaigns:)``).
    public func recordCampaignProgress() async throws {
        let now = processor.clock.nowMillis()
        var progress: [UInt64: DispatcherMetrics.CampaignProgress] = [:]
        for app in processor.apps.current.keys.sorted() {
            var sum = DispatcherMetrics.CampaignProgress()
            let campaigns = try await store.campaigns(sdkAppID: app, fromMillis: now.subtractingSaturating(7 * 86_400_000), toMillis: now.addingSaturating(1), limit: 1000)
            for campaign in campaigns where !campaign.state.isOver {
                sum.running += 1
                sum.jobs += campaign.jobs
                sum.jobsDone += campaign.jobsDone
            }
            progress[app] = sum
        }
        metrics.record(campaigns: progress)
    }
}

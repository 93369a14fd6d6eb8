import Callbacks
import Foundation
import Gateways
import Logging
import Messaging
import PushCore
import PushJob
import PushdConfig
import Storage
import Tracing

/// What the dispatcher needs of one app: its push text and its vendor payloads.
public struct AppPipeline: Sendable {
    public var composer: PushComposer
    public var renderer: PushRenderer
    public var defaultLocale: PushLocale
    /// The events the app's IM server is told about (`callback:`); none when it has no callback.
    public var callbackEvents: Set<CallbackEventKind>

    public init(composer: PushComposer, renderer: PushRenderer, defaultLocale: PushLocale, callbackEvents: Set<CallbackEventKind> = []) {
        self.composer = composer
        self.renderer = renderer
        self.defaultLocale = defaultLocale
        self.callbackEvents = callbackEvents
    }

    /// The pipelines of every app of a config; templates are compiled here, once.
    public static func all(_ config: PushdConfig) throws -> [UInt64: AppPipeline] {
        var apps: [UInt64: AppPipeline] = [:]
        for app in config.apps {
            let templates = try TemplateLoader.load(defaultFolder: config.templates, appFolder: app.templates, defaultLocale: app.defaultLocale)
            apps[app.sdkAppID] = AppPipeline(
                composer: PushComposer(templates: templates), renderer: PushRenderer(app: app.pushSettings()), defaultLocale: app.defaultLocale,
                callbackEvents: app.callback.wanted
            )
        }
        return apps
    }

    /// The template locale a device's push is written in: its own, else the app's default, as the
    /// templates resolve it (`zh-Hant-TW` → `zh-Hant`).
    func locale(of device: Device) -> PushLocale { composer.templates.resolve(device.locale ?? defaultLocale) }
}

/// Turns one claimed job into sends and its completion: expands the recipient's devices, composes
/// per locale, renders per device, sends, and sorts the outcomes into records, token
/// invalidations, retries and dead letters.
struct JobProcessor: Sendable {
    /// Each app's pipeline; a config reload replaces them (``Dispatcher/reload(_:)``).
    var apps: Reloadable<[UInt64: AppPipeline]>
    var gateways: VendorGateways
    var throttle: VendorThrottle
    var backoff: Backoff
    var maxAttempts: Int
    var alarmPauseMillis: Int64
    /// The longest pause one `Retry-After` sets (`dispatcher.max_vendor_pause_seconds`).
    var maxPauseMillis: Int64 = 3_600_000
    /// Longest wait for a rate-limit token before the device is retried later instead.
    var maxThrottleWaitMillis: Int64
    var clock: any EpochClock
    var metrics: DispatcherMetrics
    var logger: Logger
    var random: @Sendable () -> Double = { Double.random(in: 0..<1) }
    /// Jobs that share a message (a campaign's, a group message's) decode it once.
    var specs = PushJobSpecCache()
    /// Campaign pushes at the vendors at once (`dispatcher.campaign_in_flight`): a chat push
    /// never queues at a vendor behind more than this many of them.
    var campaignSends: AsyncSemaphore?
    /// Continues the trace a job carries (``JobTrace``): a span per job, a child per vendor
    /// request. Nil: tracing is off and nothing is traced.
    var tracer: (any Tracer)?
    /// Keeps the requests sent, for the operator console; nil keeps none.
    var sentRequests: SentRequests?

    /// One device's result within the job.
    enum DeviceResult: Sendable {
        case final(PushRecord, invalidation: TokenInvalidation?, dead: JobCompletion.DeadDevice?)
        /// Send again after `delayMillis`; `uncounted` when the round does not count as an
        /// attempt: nothing reached the vendor (shutdown, a paused or rate-limited vendor), or the
        /// vendor paced it (`Retry-After`).
        case retry(deviceID: String, vendor: String, token: String, reason: String, delayMillis: Int64, uncounted: Bool)
    }

    /// A claimed job made ready to send: what is known without a send, and the sends to make. A
    /// class: every send of the job refers to it, rather than carrying its own copy.
    final class PreparedJob: Sendable {
        let job: ClaimedJob
        let app: AppPipeline
        /// Results decided without a send (suppressed, excluded devices).
        let results: [DeviceResult]
        let sends: [Send]
        /// The job's span when its trace is followed; ended with the job's completion.
        let span: (any Span)?

        init(job: ClaimedJob, app: AppPipeline, results: [DeviceResult] = [], sends: [Send], span: (any Span)? = nil) {
            self.job = job
            self.app = app
            self.results = results
            self.sends = sends
            self.span = span
        }
    }

    /// What preparing a job gave: its sends, or its completion when it cannot be sent at all (a
    /// bad job, an unknown app).
    enum Preparation: Sendable {
        case ready(PreparedJob)
        case dead(JobCompletion)
    }

    /// One device's send within a job.
    struct Send: Sendable {
        enum Work: Sendable {
            case push(PushDecision)
            /// Revokes what the job of this key delivered to the device.
            case revoke(String)
        }

        var device: Device
        var work: Work
    }

    /// Decodes the job, sorts its devices into results known now and sends to make, and composes
    /// the push text once per template locale among the recipients (`zh-Hant-TW` and `zh-Hant-HK`
    /// share `zh-Hant`'s templates, so one text).
    func prepare(_ job: ClaimedJob, devices: [Device]) -> Preparation {
        let now = clock.nowMillis()
        let spec: PushJobSpec
        do {
            spec = try specs.decode(job.payload)
        } catch {
            return .dead(dead(job, reason: "BadJob: \(error.message)"))
        }
        guard let app = apps.current[job.sdkAppID] else {
            return .dead(dead(job, reason: "UnknownApp: \(job.sdkAppID) is not configured"))
        }
        var targets = devices
        if let only = job.deviceIDs { targets = targets.filter { only.contains($0.deviceID) } }
        let span = tracer.flatMap { tracer in spec.trace.map { jobSpan(tracer, carrier: $0, job: job, devices: targets.count, now: now) } }
        if spec.revoke {
            guard let key = Withdrawal.revokedKey(job.idempotencyKey) else {
                return .dead(dead(job, reason: "BadJob: \(job.idempotencyKey) is not a revocation's key"))
            }
            return .ready(PreparedJob(job: job, app: app, sends: targets.map { Send(device: $0, work: .revoke(key)) }, span: span))
        }
        let suppression = spec.suppression(nowMillis: now)
        var contents: [PushLocale: PushDecision] = [:]
        var results: [DeviceResult] = []
        var sends: [Send] = []
        sends.reserveCapacity(targets.count)
        for device in targets {
            if let suppression {
                results.append(skip(device, suppression, job, now))
            } else if let exclusion = PushAudience.exclusion(of: device, nowMillis: now) {
                results.append(skip(device, exclusion.rawValue, job, now))
            } else {
                let locale = app.locale(of: device)
                let decision = contents[locale] ?? app.composer.compose(spec.message, in: spec.conversation, locale: locale)
                contents[locale] = decision
                sends.append(Send(device: device, work: .push(decision)))
            }
        }
        return .ready(PreparedJob(job: job, app: app, results: results, sends: sends, span: span))
    }

    /// Makes the `index`th send of a prepared job.
    func run(_ index: Int, of prepared: PreparedJob) async -> DeviceResult {
        let send = prepared.sends[index]
        return await traced(send.device.vendor, devices: 1, under: prepared.span) {
            switch send.work {
            case .push(let decision): return await self.send(decision, to: send.device, job: prepared.job, app: prepared.app)
            case .revoke(let key): return await revoke(key, on: send.device, job: prepared.job, app: prepared.app)
            }
        }
    }

    // MARK: - Tracing

    /// The span of a job whose request was traced: a consumer span continuing `carrier`'s trace,
    /// started when the job is prepared, with the time it waited in the queue.
    func jobSpan(_ tracer: any Tracer, carrier: [String: String], job: ClaimedJob, devices: Int, now: Int64) -> any Span {
        let span = tracer.startSpan("pushd.dispatch", context: JobTrace.context(tracer, carrier: carrier), ofKind: .consumer)
        span.attributes["pushd.app"] = "\(job.sdkAppID)"
        span.attributes["pushd.job"] = job.idempotencyKey
        span.attributes["pushd.lane"] = job.lane.description
        span.attributes["pushd.attempt"] = job.attempts + 1
        span.attributes["pushd.devices"] = devices
        span.attributes["pushd.queue_wait_ms"] = max(0, now - job.enqueuedAtMillis)
        return span
    }

    /// Runs one vendor request (of `devices` devices) as a client span under the job's span, when
    /// there is one; its outcome becomes the span's attribute.
    func traced(_ vendor: Vendor, devices: Int, under parent: (any Span)?, _ send: () async -> DeviceResult) async -> DeviceResult {
        await traced(vendor, devices: devices, under: parent) { [await send()] }[0]
    }

    /// ``traced(_:devices:under:_:)`` for a multicast's results.
    func traced(_ vendor: Vendor, devices: Int, under parent: (any Span)?, _ send: () async -> [DeviceResult]) async -> [DeviceResult] {
        guard let tracer, let parent else { return await send() }
        let span = tracer.startSpan("pushd.send \(vendor.rawValue)", context: parent.context, ofKind: .client)
        span.attributes["pushd.vendor"] = vendor.rawValue
        span.attributes["pushd.devices"] = devices
        let results = await send()
        span.attributes["pushd.outcome"] = results.map(Self.outcome).joined(separator: ",")
        span.end()
        return results
    }

    /// A result as a span names it: the record's outcome, or `Retry`.
    static func outcome(_ result: DeviceResult) -> String {
        switch result {
        case .final(let record, _, _): record.outcome.rawValue
        case .retry: "Retry"
        }
    }

    /// The completion of a prepared job whose last result is in; ends the job's span.
    func finish(_ prepared: PreparedJob, _ results: [DeviceResult]) -> JobCompletion {
        let completion = completion(prepared.job, results, callbackEvents: prepared.app.callbackEvents)
        if let span = prepared.span {
            span.attributes["pushd.retry"] = completion.retry != nil
            span.end()
        }
        return completion
    }

    /// Sends to one device and classifies the outcome.
    func send(_ decision: PushDecision, to device: Device, job: ClaimedJob, app: AppPipeline) async -> DeviceResult {
        let content: PushContent
        switch decision {
        case .skip(let reason):
            return skip(device, reason.rawValue, job, clock.nowMillis())
        case .push(let c): content = c
        }
        return await exchange(with: device, job: job, success: .delivered) { now throws(RenderError) in
            try app.renderer.render(content, vendor: device.vendor, to: target(tokens: [device.token], of: device, job: job, now: now))
        }
    }

    /// Takes back what the withdrawn message's job `key` delivered to `device`, where the vendor
    /// has a revoke API; elsewhere (APNs among them) records that it has none.
    func revoke(_ key: String, on device: Device, job: ClaimedJob, app: AppPipeline) async -> DeviceResult {
        let request: VendorRequest?
        do throws(RenderError) {
            request = try app.renderer.revoke(Self.messageKey(key, userID: job.userID), vendor: device.vendor, tokens: [device.token])
        } catch {
            return permanent(device, job, reason: error.reason)
        }
        guard let request else { return skip(device, Self.revokeUnsupported, job, clock.nowMillis()) }
        return await exchange(with: device, job: job, success: .revoked) { _ throws(RenderError) in request }
    }

    /// The reason a delivered push is not revoked: its vendor has no revoke API.
    static let revokeUnsupported = "RevokeUnsupported"

    /// One request to a device's vendor, built by `request` at the send time once the vendor may
    /// take it: waits for a campaign place and the vendor's pacing, sends, classifies the answer;
    /// a success is recorded as `success`.
    func exchange(
        with device: Device, job: ClaimedJob, success: PushRecord.Outcome, request build: (Int64) throws(RenderError) -> VendorRequest
    ) async -> DeviceResult {
        guard let client = gateways.client(app: job.sdkAppID, vendor: device.vendor) else {
            return skip(device, "VendorNotConfigured", job, clock.nowMillis())
        }
        let key = VendorThrottle.Key(app: job.sdkAppID, vendor: device.vendor)
        return await admitted(job.lane, key, deferred: { retry(device, reason: $0.reason, delayMillis: $0.delayMillis, uncounted: true) }) {
            let now = clock.nowMillis()
            let request: VendorRequest
            do throws(RenderError) {
                request = try build(now)
            } catch {
                return permanent(device, job, reason: error.reason)
            }
            sentRequests?.keep(request, app: job.sdkAppID, jobKey: job.idempotencyKey, deviceID: device.deviceID, atMillis: now)
            let started = ContinuousClock.now
            let outcome = await client.send(request, token: device.token, sandbox: device.sandbox)
            let nanos = (ContinuousClock.now - started).nanoseconds
            return classify(outcome, device: device, job: job, key: key, success: success, now: now, nanoseconds: nanos)
        }
    }

    /// One device of a multicast, and the job it is sent for.
    struct Recipient: Sendable {
        var device: Device
        var job: ClaimedJob
    }

    /// Sends `content` to several devices of one app and vendor in one request through `client`
    /// (Huawei, Honor, Xiaomi, vivo and Meizu take many tokens; ``MulticastPlan`` decides who goes
    /// together): one campaign place and one rate-limit token for the request, and each device's
    /// result from the vendor's answer for its token, recorded for its own job.
    func multicast(_ content: PushContent, to recipients: [Recipient], through client: any BatchVendorClient, app: AppPipeline) async -> [DeviceResult] {
        guard let first = recipients.first else { return [] }
        let key = VendorThrottle.Key(app: first.job.sdkAppID, vendor: first.device.vendor)
        let deferred = { (deferral: Deferral) in
            recipients.map { retry($0.device, reason: deferral.reason, delayMillis: deferral.delayMillis, uncounted: true) }
        }
        return await admitted(first.job.lane, key, deferred: deferred) {
            let now = clock.nowMillis()
            var tokens: [String] = []
            var seen = Set<ExactString>()
            for recipient in recipients where seen.insert(ExactString(recipient.device.token)).inserted { tokens.append(recipient.device.token) }
            let request: VendorRequest
            do throws(RenderError) {
                request = try app.renderer.render(content, vendor: first.device.vendor, to: target(tokens: tokens, of: first.device, job: first.job, now: now))
            } catch {
                return recipients.map { permanent($0.device, $0.job, reason: error.reason) }
            }
            if let sentRequests {
                for r in recipients { sentRequests.keep(request, app: r.job.sdkAppID, jobKey: r.job.idempotencyKey, deviceID: r.device.deviceID, atMillis: now) }
            }
            let started = ContinuousClock.now
            let outcomes = await client.send(request, tokens: tokens)
            let nanos = (ContinuousClock.now - started).nanoseconds
            return recipients.map { recipient in
                // A token the answer does not name is sent again rather than lost.
                let outcome = outcomes[recipient.device.token] ?? .retry(reason: "no outcome for the token", afterSeconds: nil)
                return classify(outcome, device: recipient.device, job: recipient.job, key: key, success: .delivered, now: now, nanoseconds: nanos)
            }
        }
    }

    /// The devices a push goes to, named as the renderer wants them: `tokens` (the device's own,
    /// or a multicast's), the device's badge, a push id stable across retries, and the key
    /// Huawei's `notify_id` comes from.
    func target(tokens: [String], of device: Device, job: ClaimedJob, now: Int64) -> PushTarget {
        PushTarget(
            tokens: tokens, badge: device.badge, pushID: Self.pushID(job: job.id, device: device.deviceID), nowMillis: now,
            revocationKey: device.vendor == .huawei ? Self.messageKey(job.idempotencyKey, userID: job.userID) : nil
        )
    }

    /// The key of the message a recipient's job key was made from (`<message key>:<user>`, as
    /// sendmsg, the group fan-outs and campaigns write them), compared as bytes; the job key
    /// itself when it has no such tail. Huawei's `notify_id` is derived from it, so a message's
    /// pushes to many users carry one id and can go out in one multicast, and the withdrawal's
    /// revocation job (which has the job key and the user) names the same id.
    static func messageKey(_ jobKey: String, userID: String) -> String {
        let key = Array(jobKey.utf8)
        let tail = Array((":" + userID).utf8)
        guard key.count > tail.count, key.suffix(tail.count).elementsEqual(tail) else { return jobKey }
        return String(decoding: key.dropLast(tail.count), as: UTF8.self)
    }

    /// Why a request is not sent now; retried after `delayMillis` without counting an attempt.
    struct Deferral {
        var reason: String
        var delayMillis: Int64
    }

    /// Runs `send` once a request of `lane` may go to the vendor of `key`: a campaign request
    /// first takes its place among `campaignSends`, then the vendor's pacing is checked (a request
    /// that waited for a place while the vendor answered 429 must see that pause, not send into
    /// it). When the vendor is paused, the wait would be longer than `maxThrottleWaitMillis`, or
    /// the dispatcher is stopping, `deferred` gives the result instead.
    func admitted<T>(_ lane: Lane, _ key: VendorThrottle.Key, deferred: (Deferral) -> T, _ send: () async -> T) async -> T {
        let gate = lane == .campaign ? campaignSends : nil
        await gate?.acquire()
        defer { gate?.release() }
        if let until = throttle.pausedUntil(key) {
            // Retried when the pause ends, but never later than a backoff could put it.
            return deferred(Deferral(reason: "VendorPaused", delayMillis: min(until - clock.nowMillis(), backoff.maxMillis)))
        }
        let wait = throttle.reserve(key)
        if wait > maxThrottleWaitMillis { return deferred(Deferral(reason: "RateLimited", delayMillis: wait)) }
        if wait > 0 { try? await Task.sleep(for: .milliseconds(wait)) }
        if Task.isCancelled { return deferred(Deferral(reason: "shutdown", delayMillis: 0)) }
        return await send()
    }

    /// Sorts a vendor's answer for one device into its result: counted, logged off the delivered
    /// path, and the vendor paused when it asked to slow down or refused the configuration.
    func classify(
        _ outcome: PushOutcome, device: Device, job: ClaimedJob, key: VendorThrottle.Key, success: PushRecord.Outcome, now: Int64, nanoseconds nanos: Int64
    ) -> DeviceResult {
        // Built only off the delivered path (or when debugging): metadata costs a few strings.
        var log: Logger { logger.with(job: job, device: device) }
        switch outcome {
        case .delivered(let id):
            metrics.sent(app: job.sdkAppID, vendor: device.vendor, outcome: "delivered", nanoseconds: nanos)
            metrics.enqueueToSend(lane: job.lane, nanoseconds: max(0, clock.nowMillis() - job.enqueuedAtMillis) * 1_000_000)
            if logger.logLevel <= .debug { log.debug("delivered", metadata: ["outcome": "delivered", "vendor_message_id": "\(id ?? "")"]) }
            return .final(record(device, success, job, vendorMessageID: id), invalidation: nil, dead: nil)
        case .tokenInvalid(let reason, let at):
            metrics.sent(app: job.sdkAppID, vendor: device.vendor, outcome: "token_invalid", reason: reason, nanoseconds: nanos)
            metrics.invalidated(vendor: device.vendor)
            log.info("token invalid", metadata: ["outcome": "token_invalid", "reason": "\(reason)"])
            return .final(
                record(device, .tokenInvalid, job, reason: reason),
                invalidation: TokenInvalidation(deviceID: device.deviceID, token: device.token, atMillis: at ?? now), dead: nil
            )
        case .retry(let reason, let after):
            metrics.sent(app: job.sdkAppID, vendor: device.vendor, outcome: "retry", reason: reason, nanoseconds: nanos)
            if Task.isCancelled { return retry(device, reason: reason, delayMillis: 0, uncounted: true) }
            let delay = backoff.delayMillis(attempt: job.attempts + 1, retryAfterSeconds: after, unit: random())
            // A vendor that says when to come back is paused for every worker until then, and the
            // round does not count: pacing slows a push down, it does not use up its attempts
            // (its `MsgLifeTime` still ends it).
            guard let after, after > 0 else { return retry(device, reason: reason, delayMillis: delay) }
            let pauseMillis = min(Int64(after).secondsToMillis, maxPauseMillis)
            if throttle.pause(key, untilMillis: now.addingSaturating(pauseMillis)) {
                log.warning("vendor asked to slow down", metadata: ["outcome": "retry", "retry_after": "\(after)", "reason": "\(reason)"])
            }
            return retry(device, reason: reason, delayMillis: delay, uncounted: true)
        case .permanent(let reason):
            metrics.sent(app: job.sdkAppID, vendor: device.vendor, outcome: "permanent", reason: reason, nanoseconds: nanos)
            return permanent(device, job, reason: reason)
        case .configAlarm(let reason):
            metrics.sent(app: job.sdkAppID, vendor: device.vendor, outcome: "config_alarm", reason: reason, nanoseconds: nanos)
            if throttle.pause(key, untilMillis: now.addingSaturating(alarmPauseMillis), alarm: reason) {
                log.error(
                    "vendor configuration refused; vendor paused for this app",
                    metadata: ["outcome": "config_alarm", "reason": "\(reason)", "pause_seconds": "\(alarmPauseMillis / 1000)"]
                )
            }
            return retry(device, reason: "ConfigAlarm: \(reason)", delayMillis: alarmPauseMillis)
        }
    }

    /// Folds the device results into the job's completion: retries within `maxAttempts` keep the
    /// job alive for those devices only; beyond it they become dead letters.
    /// `callbackEvents`: the events the job's app wants (its pipeline's, read when it was prepared).
    func completion(_ job: ClaimedJob, _ results: [DeviceResult], callbackEvents wanted: Set<CallbackEventKind>) -> JobCompletion {
        var completion = JobCompletion(job: job)
        var retryIDs: [String] = []
        var delay: Int64 = 0
        var lastError = ""
        var uncounted = true
        var exhausted: Set<String> = []
        let attempt = job.attempts + 1
        let now = clock.nowMillis()
        for result in results {
            switch result {
            case .final(let record, let invalidation, let dead):
                completion.records.append(record)
                if let invalidation { completion.invalidations.append(invalidation) }
                if let dead {
                    completion.deadDevices.append(dead)
                    metrics.deadLettered(vendor: dead.vendor)
                }
            case .retry(let id, let vendor, let token, let reason, let d, let notCounted):
                if !notCounted, attempt >= maxAttempts {
                    completion.records.append(
                        PushRecord(deviceID: id, vendor: vendor, outcome: .failed, reason: reason, attempts: attempt, atMillis: now)
                    )
                    completion.deadDevices.append(.init(deviceID: id, vendor: vendor, token: token, error: "\(reason) (after \(attempt) attempts)"))
                    metrics.deadLettered(vendor: vendor)
                    exhausted.insert(id)
                    continue
                }
                metrics.retried(vendor: vendor)
                retryIDs.append(id)
                delay = max(delay, d)
                lastError = reason
                uncounted = uncounted && notCounted
            }
        }
        if !retryIDs.isEmpty {
            completion.retry = .init(deviceIDs: retryIDs, notBeforeMillis: now + max(0, delay), lastError: lastError, countsAsAttempt: !uncounted)
        }
        completion.events = callbackEvents(of: completion, wanted: wanted, exhausted: exhausted)
        return completion
    }

    /// The events a completion tells the app's IM server, when it wants them: each device's
    /// outcome (a skip only when the message expired; `exhausted` devices gave up after their
    /// retries), each dead token, and a job that could not be sent at all.
    func callbackEvents(of completion: JobCompletion, wanted: Set<CallbackEventKind>, exhausted: Set<String> = []) -> [NewCallbackEvent] {
        let job = completion.job
        guard !wanted.isEmpty else { return [] }
        var events = OutcomeEvents(sdkAppID: job.sdkAppID, wanted: wanted)
        let message = Self.message(of: job, spec: try? specs.decode(job.payload))
        func outcome(_ kind: CallbackEventKind, device: String, vendor: String, reason: String?, vendorMessageID: String? = nil, attempts: Int, at: Int64) {
            events.outcome(
                kind, user: job.userID, jobKey: job.idempotencyKey, message: message, deviceID: device, vendor: vendor, reason: reason,
                vendorMessageID: vendorMessageID, attempts: attempts, atMillis: at
            )
        }
        for r in completion.records {
            let kind: CallbackEventKind
            switch r.outcome {
            case .delivered: kind = .delivered
            case .tokenInvalid: kind = .failed
            case .failed: kind = exhausted.contains(r.deviceID) ? .deadLettered : .failed
            case .skipped where r.reason == PushJobSpec.expiredReason: kind = .expired
            case .skipped, .revoked: continue
            }
            outcome(kind, device: r.deviceID, vendor: r.vendor, reason: r.reason, vendorMessageID: r.vendorMessageID, attempts: r.attempts, at: r.atMillis)
        }
        for i in completion.invalidations {
            let record = completion.records.first { $0.deviceID == i.deviceID && $0.outcome == .tokenInvalid }
            events.tokenInvalidated(
                user: job.userID, deviceID: i.deviceID, vendor: record?.vendor ?? "", token: i.token, reason: record?.reason, atMillis: i.atMillis
            )
        }
        for dead in completion.deadDevices where dead.deviceID.isEmpty {
            outcome(.deadLettered, device: "", vendor: "", reason: dead.error, attempts: job.attempts + 1, at: clock.nowMillis())
        }
        return events.events
    }

    /// What the events of a job say about its message.
    static func message(of job: ClaimedJob, spec: PushJobSpec?) -> OutcomeEvents.Message {
        let prefix = job.idempotencyKey.firstIndex(of: ":").map { String(job.idempotencyKey[..<$0]) }
        if job.lane == .campaign { return OutcomeEvents.Message(eventType: 3, taskID: prefix) }
        guard let spec, let from = spec.fromAccount, !from.isEmpty else { return OutcomeEvents.Message(eventType: 3) }
        let group = spec.groupId.flatMap { $0.isEmpty ? nil : $0 }
        return OutcomeEvents.Message(eventType: group == nil ? 1 : 2, from: from, groupID: group, msgKey: prefix)
    }

    // MARK: - Results

    func retry(_ device: Device, reason: String, delayMillis: Int64, uncounted: Bool = false) -> DeviceResult {
        .retry(deviceID: device.deviceID, vendor: device.vendor.rawValue, token: device.token, reason: reason, delayMillis: delayMillis, uncounted: uncounted)
    }

    func permanent(_ device: Device, _ job: ClaimedJob, reason: String) -> DeviceResult {
        logger.with(job: job, device: device).warning("permanent failure", metadata: ["outcome": "permanent", "reason": "\(reason)"])
        return .final(
            record(device, .failed, job, reason: reason), invalidation: nil,
            dead: .init(deviceID: device.deviceID, vendor: device.vendor.rawValue, token: device.token, error: reason)
        )
    }

    func record(_ device: Device, _ outcome: PushRecord.Outcome, _ job: ClaimedJob, reason: String? = nil, vendorMessageID: String? = nil) -> PushRecord {
        PushRecord(
            deviceID: device.deviceID, vendor: device.vendor.rawValue, outcome: outcome, reason: reason, vendorMessageID: vendorMessageID,
            attempts: job.attempts + 1, atMillis: clock.nowMillis()
        )
    }

    /// A device not sent to, for `reason`: counted and recorded as skipped.
    func skip(_ device: Device, _ reason: String, _ job: ClaimedJob, _ now: Int64) -> DeviceResult {
        metrics.skipped(reason: reason)
        return .final(skipped(device, reason, job, now), invalidation: nil, dead: nil)
    }

    func skipped(_ device: Device, _ reason: String, _ job: ClaimedJob, _ now: Int64) -> PushRecord {
        PushRecord(deviceID: device.deviceID, vendor: device.vendor.rawValue, outcome: .skipped, reason: reason, attempts: job.attempts, atMillis: now)
    }

    /// A job that cannot be sent at all: one dead letter for the job.
    func dead(_ job: ClaimedJob, reason: String) -> JobCompletion {
        logger.error("job cannot be sent", metadata: ["app": "\(job.sdkAppID)", "job": "\(job.idempotencyKey)", "reason": "\(reason)"])
        metrics.deadLettered(vendor: "")
        var completion = JobCompletion(job: job, deadDevices: [.init(deviceID: "", vendor: "", token: "", error: reason)])
        completion.events = callbackEvents(of: completion, wanted: apps.current[job.sdkAppID]?.callbackEvents ?? [])
        return completion
    }

    /// The stable push id of one job and device (`apns-id`, vivo `requestId`): the same on every
    /// retry, so the vendor can drop a duplicate.
    static func pushID(job: Int64, device: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in device.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let j = UInt64(bitPattern: job)
        // 8-4-4-4-12 lower-case hex, version 4 and variant 8 fixed; written by hand because
        // String(format:) was 2 % of the queued path's CPU on Linux.
        var text: [UInt8] = []
        text.reserveCapacity(36)
        func hex(_ value: UInt64, digits: Int) {
            for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                text.append(Self.hexDigits[Int(truncatingIfNeeded: value >> UInt64(shift) & 0xf)])
            }
        }
        hex(j >> 16 & 0xffff_ffff, digits: 8)
        text.append(UInt8(ascii: "-"))
        hex(j & 0xffff, digits: 4)
        text.append(contentsOf: "-4".utf8)
        hex(hash >> 52, digits: 3)
        text.append(contentsOf: "-8".utf8)
        hex(hash >> 40 & 0xfff, digits: 3)
        text.append(UInt8(ascii: "-"))
        hex(hash & 0xffff_ffff_ffff, digits: 12)
        return String(decoding: text, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

extension Logger {
    /// This logger with the job's and device's metadata.
    func with(job: ClaimedJob, device: Device) -> Logger {
        var logger = self
        logger[metadataKey: "app"] = "\(job.sdkAppID)"
        logger[metadataKey: "job"] = "\(job.idempotencyKey)"
        logger[metadataKey: "vendor"] = "\(device.vendor.rawValue)"
        logger[metadataKey: "device"] = "\(device.deviceID)"
        return logger
    }
}

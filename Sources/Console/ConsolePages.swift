import API
import Dispatcher
import Foundation
import Hummingbird
import Messaging
import PushCore
import PushJob
import PushdConfig
import Storage

extension Console {
    // MARK: - Overview

    func overview(_ visit: Visit) async throws -> Response {
        let app = visit.app.sdkAppID
        let stats = try await store.stats()
        let now = clock.nowMillis()
        let lanes = Lane.allCases.map { lane -> [String: Any] in
            let s = stats.apps[app]?[lane]
            return [
                "lane": lane.description, "pending": s?.pending ?? 0, "ready": s?.ready ?? 0,
                "oldest": (s?.oldestReadyAgeMillis ?? 0) > 0 ? Self.age(s?.oldestReadyAgeMillis ?? 0) : "—",
            ]
        }
        let vendors = dispatcher.vendorStates().filter { $0.app == app }.map { state -> [String: Any] in
            if let alarm = state.alarm {
                return ["vendor": state.vendor.rawValue, "state": "configuration alarm, paused until \(Self.time(state.pausedUntilMillis ?? now))", "stateClass": "alarm", "why": alarm]
            }
            if let until = state.pausedUntilMillis {
                return ["vendor": state.vendor.rawValue, "state": "paused until \(Self.time(until))", "stateClass": "paused", "why": "the vendor asked to slow down (Retry-After)"]
            }
            return ["vendor": state.vendor.rawValue, "state": "ok", "stateClass": "ok", "why": ""]
        }
        let failures = (dispatcher.history?.failures(app: app) ?? []).map { f -> [String: Any] in
            ["time": Self.time(f.atMillis), "vendor": f.vendor.rawValue, "outcome": f.outcome, "reason": f.reason]
        }
        let chart = DeliveryChart(dispatcher.history?.window(app: app) ?? [])
        // Counted over the first `overviewScan` letters, so a refreshing page stays cheap.
        let counted = try await letters(app, scanning: Self.overviewScan) { _ in true }
        let deadLetters = counted.scanned < Self.overviewScan ? String(counted.letters.count) : "\(counted.letters.count) in the first \(Self.overviewScan)"
        return render(
            "overview", title: "Overview", visit: visit, refresh: 10,
            [
                "lanes": lanes, "vendors": vendors, "failures": failures, "chart": chart.svg(), "legend": chart.legend(),
                "deadLetters": deadLetters,
            ]
        )
    }

    // MARK: - Campaigns

    static let campaignWindowMillis: Int64 = 30 * 86_400_000

    func campaigns(_ visit: Visit) async throws -> Response {
        let now = clock.nowMillis()
        let list = try await store.campaigns(sdkAppID: visit.app.sdkAppID, fromMillis: now - Self.campaignWindowMillis, toMillis: now + 60_000, limit: 500)
        let rows = list.sorted { $0.createdAtMillis > $1.createdAtMillis }.prefix(100).map { Self.campaignRow($0, now: now) }
        let running = list.contains { !$0.state.isOver }
        return render("campaigns", title: "Campaigns", visit: visit, refresh: running ? 2 : 15, ["campaigns": Array(rows)])
    }

    /// A campaign's row: progress is the share of its audience walked times the share of its jobs
    /// finished (100 % once finished); the rate is pushes finished per second since it started.
    static func campaignRow(_ c: CampaignStatus, now: Int64) -> [String: Any] {
        let delivered = c.count(.delivered), failed = c.count(.failed), invalid = c.count(.tokenInvalid)
        let sent = delivered + failed + invalid
        let walked = c.audienceSize.map { $0 > 0 ? min(1, Double(c.users) / Double($0)) : 1 } ?? 0
        let done = c.jobs > 0 ? min(1, Double(c.jobsDone) / Double(c.jobs)) : (c.state == .running ? 0 : 1)
        let percent = c.state == .finished ? 100 : max(0, min(100, Int((walked * done * 100).rounded(.down))))
        let seconds = Double(max(1, (c.finishedAtMillis ?? now) - c.createdAtMillis)) / 1000
        let rate = Double(sent) / seconds
        var eta = "—"
        if !c.state.isOver, rate > 0, let audience = c.audienceSize, c.users > 0 {
            // Stored counts may be anything: a time that is not a finite, sane number is no ETA.
            let expected = Double(c.devices) / Double(c.users) * Double(audience)
            let millis = (expected - Double(sent)) / rate * 1000
            if millis.isFinite { eta = age(Int64(min(max(0, millis), 1e15))) }
        }
        return [
            "task": c.taskID, "state": c.state.rawValue, "percent": percent, "users": c.audienceSize.map(String.init) ?? "counting…",
            "sent": sent, "delivered": delivered, "failed": failed + invalid, "rate": String(format: "%.1f/s", rate), "eta": eta,
            "started": time(c.createdAtMillis), "cancellable": !c.state.isOver, "app": String(c.sdkAppID),
        ]
    }

    func confirmCancel(_ visit: Visit) -> Response {
        let task = visit.text("task")
        return render(
            "confirm", title: "Cancel a campaign", visit: visit,
            [
                "action": "/console/campaigns/cancel", "question": "Cancel campaign \(task)? Its pushes not sent yet will never go out.",
                "confirmLabel": "Cancel the campaign", "back": "/console/campaigns?app=\(visit.app.sdkAppID)",
                "fields": [["name": "app", "value": String(visit.app.sdkAppID)], ["name": "task", "value": task]],
            ]
        )
    }

    func cancel(_ visit: Visit) async -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: ["TaskId": visit.text("task")])) ?? Data("{}".utf8)
        let reply = await api.handleAsAdmin(sdkAppID: visit.app.sdkAppID, command: "pushd/cancel_task", body: body)
        guard reply.code == 0 else {
            return render("error", title: "Not cancelled", visit: visit, status: .badRequest, ["problem": "\(reply.code): \(reply.info)"])
        }
        return Self.redirect("/console/campaigns?app=\(visit.app.sdkAppID)&done=cancelled")
    }

    // MARK: - Dead letters

    /// What the dead-letter page filters on.
    struct LetterFilter {
        var vendor: String
        var reason: String
        var since: Int64?
        var until: Int64?
        /// Raw inputs, echoed back into the form.
        var sinceText: String
        var untilText: String

        init(_ visit: Visit) throws(ConsoleProblem) {
            vendor = visit.text("vendor")
            reason = visit.text("reason")
            sinceText = visit.text("since")
            untilText = visit.text("until")
            guard vendor.isEmpty || Vendor(rawValue: vendor) != nil else { throw ConsoleProblem("unknown vendor \(vendor)") }
            since = try Self.moment(sinceText, field: "Died since")
            until = try Self.moment(untilText, field: "Died before")
        }

        static func moment(_ text: String, field: String) throws(ConsoleProblem) -> Int64? {
            guard !text.isEmpty else { return nil }
            guard let millis = Console.millis(fromLocal: text) else { throw ConsoleProblem("\(field) must look like 2026-12-06T08:30") }
            return millis
        }

        func matches(_ letter: DeadLetter) -> Bool {
            (vendor.isEmpty || letter.vendor == vendor)
                && (reason.isEmpty || letter.lastError.range(of: reason, options: .caseInsensitive) != nil)
                && since.map { letter.createdAtMillis >= $0 } ?? true && until.map { letter.createdAtMillis < $0 } ?? true
        }
    }

    /// Dead letters read at most, oldest first, when filtering.
    static let deadLetterScan = 50_000
    /// Rows listed.
    static let deadLettersShown = 200

    /// Dead letters the overview counts at most.
    static let overviewScan = 5_000

    /// An app's dead letters that match, oldest first.
    func matchingLetters(_ app: UInt64, _ filter: LetterFilter) async throws -> [DeadLetter] {
        try await letters(app) { filter.matches($0) }
    }

    /// An app's dead letters for which `include` holds, oldest first, of the first
    /// `deadLetterScan` in the store.
    func letters(_ app: UInt64, where include: (DeadLetter) -> Bool) async throws -> [DeadLetter] {
        try await letters(app, scanning: Self.deadLetterScan, where: include).letters
    }

    /// The same of the first `limit` in the store, and how many were read.
    func letters(_ app: UInt64, scanning limit: Int, where include: (DeadLetter) -> Bool) async throws -> (letters: [DeadLetter], scanned: Int) {
        var after: Int64 = 0
        var scanned = 0
        var out: [DeadLetter] = []
        while scanned < limit {
            let page = try await store.deadLetters(afterID: after, limit: min(1000, limit - scanned))
            guard let last = page.last else { break }
            scanned += page.count
            after = last.id
            out += page.filter { $0.sdkAppID == app && include($0) }
        }
        return (out, scanned)
    }

    func deadLetters(_ visit: Visit, problem: String? = nil) async throws -> Response {
        let filter: LetterFilter
        do {
            filter = try LetterFilter(visit)
        } catch {
            return render("deadletters", title: "Dead letters", visit: visit, status: .badRequest, ["problem": error.description, "letters": []])
        }
        let letters = try await matchingLetters(visit.app.sdkAppID, filter)
        let shown = letters.suffix(Self.deadLettersShown).reversed().map { l -> [String: Any] in
            [
                "id": String(l.id), "time": Self.time(l.createdAtMillis), "user": l.userID, "device": l.deviceID, "vendor": l.vendor,
                "tokenTail": Self.tail(l.token), "attempts": l.attempts, "error": l.lastError,
            ]
        }
        let vendors = Vendor.allCases.map { ["name": $0.rawValue, "selected": $0.rawValue == filter.vendor] }
        return render(
            "deadletters", title: "Dead letters", visit: visit,
            [
                "letters": Array(shown), "matching": letters.count, "shown": shown.count, "truncated": letters.count > shown.count,
                "vendor": filter.vendor, "reason": filter.reason, "since": filter.sinceText, "until": filter.untilText, "vendorOptions": vendors,
                "problem": problem as Any,
            ]
        )
    }

    /// Replays or purges the selected dead letters, or all that match the filter; only the app's
    /// own letters that match are touched. A purge asks for a confirmation first.
    func actOnDeadLetters(_ visit: Visit) async throws -> Response {
        let action = visit.text("do")
        guard ["replay-selected", "replay-all", "purge-selected", "purge-all"].contains(action) else {
            return try await deadLetters(visit, problem: "Choose replay or purge.")
        }
        let filter: LetterFilter
        do {
            filter = try LetterFilter(visit)
        } catch {
            return try await deadLetters(visit, problem: error.description)
        }
        let matching = try await matchingLetters(visit.app.sdkAppID, filter).map(\.id)
        var ids = matching
        if action.hasSuffix("-selected") {
            let selected = Set(visit.all("id").compactMap { Int64($0) })
            ids = matching.filter { selected.contains($0) }
            guard !ids.isEmpty else { return try await deadLetters(visit, problem: "Select at least one dead letter.") }
        }
        guard !ids.isEmpty else { return try await deadLetters(visit, problem: "No dead letter matches.") }
        if action.hasPrefix("purge"), visit.field("confirmed") != "yes" {
            var fields = ["app", "vendor", "reason", "since", "until", "do"].map { ["name": $0, "value": visit.text($0)] }
            fields += visit.all("id").map { ["name": "id", "value": $0] }
            fields.append(["name": "confirmed", "value": "yes"])
            return render(
                "confirm", title: "Purge dead letters", visit: visit,
                [
                    "action": "/console/dead-letters", "question": "Delete \(ids.count) dead letters for good? They cannot be replayed afterwards.",
                    "confirmLabel": "Delete \(ids.count) dead letters", "back": "/console/dead-letters?app=\(visit.app.sdkAppID)", "fields": fields,
                ]
            )
        }
        // In slices, so no statement carries more ids than the database takes.
        let slices = stride(from: 0, to: ids.count, by: 1000).map { Array(ids[$0..<min($0 + 1000, ids.count)]) }
        if action.hasPrefix("replay") {
            var n = 0
            for slice in slices { n += try await store.replayDeadLetters(ids: slice) }
            logger.notice("console replayed dead letters", metadata: ["who": "\(visit.session.who)", "app": "\(visit.app.sdkAppID)", "count": "\(n)"])
            return Self.redirect("/console/dead-letters?app=\(visit.app.sdkAppID)&done=replayed")
        }
        var n = 0
        for slice in slices { n += try await store.purgeDeadLetters(ids: slice) }
        logger.notice("console purged dead letters", metadata: ["who": "\(visit.session.who)", "app": "\(visit.app.sdkAppID)", "count": "\(n)"])
        return Self.redirect("/console/dead-letters?app=\(visit.app.sdkAppID)&done=purged")
    }

    // MARK: - Push lookup

    /// Records shown for a user's latest pushes.
    static let userRecords = 100

    func lookup(_ visit: Visit) async throws -> Response {
        let app = visit.app.sdkAppID
        let msgKey = visit.text("msgkey"), taskID = visit.text("taskid"), user = visit.text("user")
        var values: [String: Any] = ["msgkey": msgKey, "taskid": taskID, "user": user]
        // The jobs to show with their records, newest first for a user. A job's status is read
        // before its records: a job seen finished has every record written with its finish.
        var jobs: [(key: String, user: String, status: JobStatus?, records: [PushRecord])] = []
        func add(_ key: String, _ user: String) async throws {
            let status = try await store.jobStatus(sdkAppID: app, idempotencyKey: key)
            jobs.append((key, user, status, try await store.pushRecords(sdkAppID: app, idempotencyKey: key)))
        }
        if !msgKey.isEmpty {
            for recipient in try await store.messageRecipients(sdkAppID: app, msgKey: msgKey) { try await add("\(msgKey):\(recipient)", recipient) }
        } else if !taskID.isEmpty {
            guard !user.isEmpty else {
                values["problem"] = "A TaskId needs a user: a task's jobs are one per user."
                return render("lookup", title: "Push lookup", visit: visit, status: .badRequest, values)
            }
            try await add("\(taskID):\(user)", user)
        } else if !user.isEmpty {
            for keyed in try await store.pushRecords(sdkAppID: app, userID: user, limit: Self.userRecords) {
                if let index = jobs.firstIndex(where: { $0.key == keyed.jobKey }) {
                    jobs[index].records.append(keyed.record)
                } else {
                    jobs.append((keyed.jobKey, user, nil, [keyed.record]))
                }
            }
            for index in jobs.indices { jobs[index].status = try await store.jobStatus(sdkAppID: app, idempotencyKey: jobs[index].key) }
        } else {
            return render("lookup", title: "Push lookup", visit: visit, values)
        }
        let users = jobs.map(\.user).exactSet.map(\.value)
        let devices = try await store.devices(sdkAppID: app, userIDs: users)
        // A device that failed for good has a dead letter instead of a record.
        let keys = jobs.map(\.key).exactSet
        let letters = try await letters(app) { keys.contains(ExactString($0.idempotencyKey)) }
        var pending = false
        var shown: [[String: Any]] = []
        for job in jobs {
            let status = job.status
            if let status, status.finishedAtMillis == nil { pending = true }
            let dead = letters.filter { $0.idempotencyKey.sameBytes(as: job.key) }.map { l -> [String: Any] in
                [
                    "id": String(l.id), "device": l.deviceID, "vendor": l.vendor, "tokenTail": Self.tail(l.token), "error": l.lastError,
                    "attempts": l.attempts, "time": Self.time(l.createdAtMillis),
                ]
            }
            let records = job.records.map { r -> [String: Any] in
                let device = devices.first { $0.userID.sameBytes(as: job.user) && $0.deviceID.sameBytes(as: r.deviceID) }
                let (label, request) = requestShown(app: app, jobKey: job.key, record: r, device: device, payload: status?.payload ?? Data())
                return [
                    "device": r.deviceID, "vendor": r.vendor, "outcome": r.outcome.rawValue, "outcomeClass": r.outcome.rawValue.lowercased(),
                    "user": job.user, "tokenTail": device.map { Self.tail($0.token) } ?? "(device gone)", "reason": r.reason ?? "",
                    "vendorMessageID": r.vendorMessageID ?? "", "attempts": r.attempts, "time": Self.time(r.atMillis),
                    "requestLabel": label, "request": request, "requestOpen": job.records.count == 1,
                ]
            }
            shown.append(["key": job.key, "status": Self.describe(status), "records": records, "dead": dead, "empty": records.isEmpty && dead.isEmpty])
        }
        values["searched"] = true
        values["jobs"] = shown
        return render("lookup", title: "Push lookup", visit: visit, refresh: pending ? 2 : nil, values)
    }

    /// The request of one record: as sent when still kept in memory; else rendered again from the
    /// queued job when it is still there (a job pending a retry, say); else why there is none.
    func requestShown(app: UInt64, jobKey: String, record: PushRecord, device: Device?, payload: Data) -> (String, String) {
        if let sent = dispatcher.sentRequests?.request(app: app, jobKey: jobKey, deviceID: record.deviceID) {
            return ("Request sent at \(Self.time(sent.atMillis))", Self.pretty(RequestPreview.json(sent.request)))
        }
        if let device, !payload.isEmpty {
            switch dispatcher.renderAgain(sdkAppID: app, payload: payload, device: device) {
            case .success(let request): return ("Request rendered again from the queued job (not the bytes sent)", Self.pretty(RequestPreview.json(request)))
            case .failure(let why): return ("No request", why.description)
            }
        }
        let kept = dispatcher.sentRequests?.capacity ?? 0
        return ("Request no longer kept", "Only the last \(kept) requests sent are kept in memory, and the job has finished.")
    }

    static func describe(_ status: JobStatus?) -> String {
        guard let status else { return "Not in the queue: never enqueued, or purged after its retention." }
        if let done = status.finishedAtMillis { return "Finished at \(time(done)) after \(status.claims) claim(s)." }
        var text = "Pending: \(status.attempts) failed round(s) so far; next try at \(time(status.availableAtMillis))."
        if let error = status.lastError { text += " Last error: \(error)" }
        return text
    }

    // MARK: - Devices

    func devices(_ visit: Visit) async throws -> Response {
        let user = visit.text("user")
        guard !user.isEmpty else { return render("devices", title: "Devices", visit: visit, ["user": ""]) }
        let devices = try await store.devices(sdkAppID: visit.app.sdkAppID, userIDs: [user])
        let rows = devices.sorted { $0.deviceID.utf8.lexicographicallyPrecedes($1.deviceID.utf8) }.map { d -> [String: Any] in
            [
                "device": d.deviceID, "vendor": d.vendor.rawValue, "tokenTail": Self.tail(d.token), "locale": d.locale?.description ?? "",
                "state": d.state.rawValue, "badge": d.badge, "invalidated": d.invalidatedAtMillis.map { Self.time($0) } ?? "",
            ]
        }
        return render("devices", title: "Devices", visit: visit, ["user": user, "searched": true, "devices": rows])
    }

    // MARK: - Config

    func configPage(_ visit: Visit) -> Response {
        let view = ConfigView(config: config.current, app: visit.app)
        return render("config", title: "Config", visit: visit, ["settings": view.settings, "vendors": view.vendors])
    }

    // MARK: - Test push

    func testPushPage(_ visit: Visit, previews: [[String: Any]], problem: String?, status: HTTPResponse.Status = .ok) -> Response {
        render(
            "testpush", title: "Test push", visit: visit, status: status,
            [
                "user": visit.text("user"), "device": visit.text("device"), "text": visit.field("text") ?? "", "msgbody": visit.field("msgbody") ?? "",
                "offline": visit.field("offline") ?? "", "advanced": !(visit.field("msgbody") ?? "").isEmpty || !(visit.field("offline") ?? "").isEmpty,
                "previews": previews, "hasPreviews": !previews.isEmpty, "problem": problem as Any,
            ]
        )
    }

    /// Previews or sends a test push: one job for the user (limited to one device when given),
    /// validated as `pushd enqueue` validates a job, with its own `TaskId` for the lookup.
    func testPush(_ visit: Visit) async throws -> Response {
        let app = visit.app.sdkAppID
        let user = visit.text("user"), deviceID = visit.text("device")
        guard !user.isEmpty, user.utf8.count <= RestAPI.maxUserIDBytes else {
            return testPushPage(visit, previews: [], problem: "Name the user to push to: 1 to \(RestAPI.maxUserIDBytes) bytes.", status: .badRequest)
        }
        let taskID = "console_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let document: Data
        do {
            document = try TestPush.document(
                sdkAppID: app, user: user, key: "\(taskID):\(user)", text: visit.field("text") ?? "", msgBody: visit.field("msgbody") ?? "",
                offlinePushInfo: visit.field("offline") ?? ""
            )
        } catch {
            return testPushPage(visit, previews: [], problem: error.description, status: .badRequest)
        }
        let spec: PushJobSpec
        do {
            spec = try PushJobSpec.decode(document)
        } catch {
            return testPushPage(visit, previews: [], problem: "\(error.code): \(error.message)", status: .badRequest)
        }
        var devices = try await store.devices(sdkAppID: app, userIDs: [user])
        if !deviceID.isEmpty {
            devices = devices.filter { $0.deviceID.sameBytes(as: deviceID) }
            guard !devices.isEmpty else { return testPushPage(visit, previews: [], problem: "\(user) has no device \(deviceID).", status: .badRequest) }
        }
        if visit.text("do") == "send" {
            var job = try spec.newJob(payload: document)
            if !deviceID.isEmpty { job.deviceIDs = [deviceID] }
            try await store.enqueue(job)
            logger.notice("console test push", metadata: ["who": "\(visit.session.who)", "app": "\(app)", "task": "\(taskID)"])
            let query = ConsoleForm.encode([("app", String(app)), ("taskid", taskID), ("user", user), ("done", "sent")])
            return Self.redirect("/console/lookup?\(query)")
        }
        var previews: [[String: Any]] = []
        var problem: String?
        if devices.isEmpty {
            problem = "\(user) has no device: showing each configured vendor's request with an example token."
            devices = (dispatcher.vendorStates().filter { $0.app == app }).map {
                Device(
                    sdkAppID: app, userID: user, deviceID: "example-\($0.vendor.rawValue)", vendor: $0.vendor, token: "DEVICE_TOKEN",
                    registeredAtMillis: clock.nowMillis()
                )
            }
        }
        for device in devices {
            let body: String
            switch dispatcher.render(spec, sdkAppID: app, device: device) {
            case .success(let request): body = Self.pretty(RequestPreview.json(request))
            case .failure(let why): body = why.description
            }
            previews.append(["title": "\(device.deviceID) · \(device.vendor.rawValue)", "body": body])
        }
        return testPushPage(visit, previews: previews, problem: problem)
    }

    // MARK: - Formatting

    /// UTC, to the second.
    static func time(_ millis: Int64) -> String {
        var t = time_t(millis / 1000)
        var parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return String(millis) }
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour),
            Int(parts.tm_min), Int(parts.tm_sec)
        )
    }

    /// `2026-12-06T08:30` (a `datetime-local` input, read as UTC) in milliseconds; nil when it is not one.
    static func millis(fromLocal text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16 || bytes.count == 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            guard range.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) }) else { return nil }
            return Int32(String(decoding: bytes[range], as: UTF8.self))
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13), let minute = number(14..<16),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60
        else { return nil }
        var second: Int32 = 0
        if bytes.count == 19 {
            guard bytes[16] == UInt8(ascii: ":"), let s = number(17..<19), s < 60 else { return nil }
            second = s
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int64(timegm(&parts)) * 1000
    }

    /// A duration for people: `45 s`, `3 min 5 s`, `2 h 10 min`.
    static func age(_ millis: Int64) -> String {
        let s = max(0, millis / 1000)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }

    /// The last 8 characters of a token: enough to tell devices apart, not enough to push to them.
    static func tail(_ token: String) -> String { String(token.suffix(8)) }

    static func pretty(_ object: Any) -> String {
        guard JSONSerialization.isValidJSONObject(object),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(describing: object) }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A console input that cannot be used, said in one sentence.
struct ConsoleProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The job document of a test push, as `pushd enqueue` takes one.
enum TestPush {
    static func document(sdkAppID: UInt64, user: String, key: String, text: String, msgBody: String, offlinePushInfo: String) throws(ConsoleProblem)
        -> Data
    {
        var job: [String: Any] = ["SdkAppID": sdkAppID, "To_Account": user, "IdempotencyKey": key]
        if !msgBody.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard let body = try? JSONSerialization.jsonObject(with: Data(msgBody.utf8)), body is [Any] else {
                throw ConsoleProblem("MsgBody must be a JSON array of message elements")
            }
            job["MsgBody"] = body
        } else if !text.isEmpty {
            job["MsgBody"] = [["MsgType": "TIMTextElem", "MsgContent": ["Text": text]]]
        } else {
            throw ConsoleProblem("Type a message, or paste a MsgBody")
        }
        if !offlinePushInfo.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard let info = try? JSONSerialization.jsonObject(with: Data(offlinePushInfo.utf8)), info is [String: Any] else {
                throw ConsoleProblem("OfflinePushInfo must be a JSON object")
            }
            job["OfflinePushInfo"] = info
        }
        guard let data = try? JSONSerialization.data(withJSONObject: job, options: [.sortedKeys]) else {
            throw ConsoleProblem("the push could not be written as JSON")
        }
        return data
    }
}

extension ConsoleForm {
    /// Pairs as a query string, percent-encoded as the vendors' forms are (`FormEncoding`).
    static func encode(_ pairs: [(String, String)]) -> String {
        FormEncoding.encode(pairs.map { VendorRequest.FormField($0.0, $0.1) })
    }
}

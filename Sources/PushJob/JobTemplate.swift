import Foundation
import Messaging
import PushCore
import Storage

/// The push jobs of one message: its job, encoded once, and a queue entry per recipient that
/// carries those bytes with the recipient and its key as the entry's own columns.
public struct JobTemplate: Sendable {
    /// The message's job, without a recipient.
    public let job: PushJobSpec
    /// Jobs are keyed `<keyPrefix>:<recipient>`.
    public let keyPrefix: String
    public let countsForBadge: Bool
    /// `job` as stored.
    public let payload: Data

    /// `countsForBadge: false` overrides the message's own rule (push-rules.md section 5). `trace`
    /// is the making request's trace context, which every recipient's push joins.
    public init(job: PushJobSpec, keyPrefix: String, countsForBadge: Bool = true, trace: [String: String]? = nil) throws(TencentError) {
        var job = job
        job.toAccount = ""
        job.idempotencyKey = nil
        job.silent = nil
        if let trace { job.trace = trace }
        self.job = job
        self.keyPrefix = keyPrefix
        self.countsForBadge = countsForBadge && Badge.counts(job.message, sendMsgControl: job.sendMsgControl)
        payload = try job.encoded()
    }

    public var app: UInt64 { job.sdkAppID }

    /// The stored job of a recipient: the shared bytes, or with `silent` a job that notifies no device.
    func payload(silent: String?) throws(TencentError) -> Data {
        guard let silent else { return payload }
        var quiet = job
        quiet.silent = silent
        return try quiet.encoded()
    }

    /// The jobs of `recipients` in order; the silent ones' payloads are encoded once per reason.
    public func jobs(_ recipients: [(to: String, silent: String?)]) throws(TencentError) -> [NewJob] {
        var quiet: [String: Data] = [:]
        let unreadPeer = job.unreadPeer
        var jobs: [NewJob] = []
        jobs.reserveCapacity(recipients.count)
        for (to, silent) in recipients {
            var bytes = payload
            if let silent {
                if let known = quiet[silent] {
                    bytes = known
                } else {
                    bytes = try payload(silent: silent)
                    quiet[silent] = bytes
                }
            }
            let key = "\(keyPrefix):\(to)"
            jobs.append(
                NewJob(
                    sdkAppID: app, idempotencyKey: key, lane: job.lane, userID: to, payload: bytes, countsForBadge: countsForBadge,
                    unreadPeer: unreadPeer
                )
            )
        }
        return jobs
    }

    /// The job of a recipient's fate, nil when it gets none.
    public func job(to: String, fate: Recipients.Fate) throws(TencentError) -> NewJob? {
        guard let recipient = Self.recipient(to, fate) else { return nil }
        return try jobs([recipient]).first
    }

    /// Who gets a job, and whether it notifies: nil for a fate without one.
    static func recipient(_ to: String, _ fate: Recipients.Fate) -> (to: String, silent: String?)? {
        switch fate {
        case .none: return nil
        case .silent(let reason): return (to, reason)
        case .push: return (to, nil)
        }
    }

    /// Jobs that stand for the jobs of many recipients (`FanOut`): one per `FanOut.chunk` of the
    /// recipients whose fate gets a job, none when no fate does.
    public func fanOuts(_ fates: [(to: String, fate: Recipients.Fate)]) -> [NewJob] {
        let recipients = fates.compactMap { Self.recipient($0.to, $0.fate) }
        return stride(from: 0, to: recipients.count, by: FanOut.chunk).map { start in
            let part = recipients[start..<min(start + FanOut.chunk, recipients.count)]
            let plan = FanOut.Plan(
                keyPrefix: keyPrefix, countsForBadge: countsForBadge, to: part.map(\.to),
                silent: Dictionary(part.compactMap { r in r.silent.map { (r.to, $0) } }, uniquingKeysWith: { first, _ in first })
            )
            return NewJob(
                sdkAppID: app, idempotencyKey: "\(keyPrefix)\(FanOut.keySuffix)-\(start / FanOut.chunk)", lane: job.lane, userID: FanOut.userID,
                payload: plan.encoded(job: payload)
            )
        }
    }
}

/// A job that becomes the jobs of up to `chunk` recipients when the dispatcher claims it: a batch
/// or group message is accepted with a job per 500 recipients instead of one per recipient, and
/// their jobs (and badges) are written by the dispatcher. Re-expanding is harmless: the
/// recipients' jobs have their own keys, and an enqueue of a known key does nothing.
public enum FanOut {
    /// The `userID` of a fan-out job: no account has an empty id.
    public static let userID = ""
    /// Appended to the message's key, before the chunk's number.
    public static let keySuffix = "#fanout"
    /// Recipients per fan-out job: one expansion is one bounded transaction.
    public static let chunk = 500

    /// The payload of a fan-out job: `{"KeyPrefix":…,"CountsForBadge":…,"To":[…],"Silent":{…},"Job":{…}}`.
    struct Plan: Decodable {
        var keyPrefix: String
        var countsForBadge: Bool
        /// Every recipient with a job, in request order.
        var to: [String]
        /// The recipients whose job notifies no device, with the reason.
        var silent: [String: String]
        /// The message's job (decoding only: the plan is written around its stored bytes).
        var job: PushJobSpec?

        enum CodingKeys: String, CodingKey {
            case keyPrefix = "KeyPrefix", countsForBadge = "CountsForBadge", to = "To", silent = "Silent", job = "Job"
        }

        init(keyPrefix: String, countsForBadge: Bool, to: [String], silent: [String: String]) {
            (self.keyPrefix, self.countsForBadge, self.to, self.silent, job) = (keyPrefix, countsForBadge, to, silent, nil)
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            keyPrefix = try c.decode(String.self, forKey: .keyPrefix)
            countsForBadge = try c.decode(Bool.self, forKey: .countsForBadge)
            to = try c.decode([String].self, forKey: .to)
            silent = try c.decode([String: String].self, forKey: .silent)
            // Plans queued before the job was a value carry it as a JSON string.
            if let text = try? c.decode(String.self, forKey: .job) {
                job = try JSONDecoder().decode(PushJobSpec.self, from: Data(text.utf8))
            } else {
                job = try c.decode(PushJobSpec.self, forKey: .job)
            }
        }

        /// The plan as JSON around the job's stored bytes, written directly: a batch's 500
        /// recipients are on the sender's path.
        func encoded(job: Data) -> Data {
            var writer = JSONWriter(capacity: job.count + to.reduce(128) { $0 + $1.utf8.count + 3 })
            writer.beginObject()
            writer.key(CodingKeys.keyPrefix.rawValue)
            writer.string(keyPrefix)
            writer.key(CodingKeys.countsForBadge.rawValue)
            writer.bool(countsForBadge)
            writer.key(CodingKeys.to.rawValue)
            writer.beginArray()
            for recipient in to { writer.string(recipient) }
            writer.endArray()
            writer.key(CodingKeys.silent.rawValue)
            writer.beginObject()
            for (recipient, reason) in silent.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                writer.key(recipient)
                writer.string(reason)
            }
            writer.endObject()
            writer.key(CodingKeys.job.rawValue)
            writer.raw(job)
            writer.endObject()
            return Data(writer.finish())
        }
    }

    public static func isFanOut(_ job: ClaimedJob) -> Bool { job.userID == userID }

    /// What expanding fan-out jobs did.
    public struct Expansion: Sendable {
        /// The recipients' jobs handed to the queue (known keys included).
        public var jobs: Int
        /// The fan-out jobs whose payload is not a plan, by id, with why.
        public var refused: [Int64: TencentError]
    }

    /// Enqueues the recipients' jobs of fan-out jobs in one transaction. The caller finishes the
    /// fan-out jobs only after this returns: a crash in between expands them again, which
    /// enqueues nothing twice.
    public static func expand(_ fanOuts: [ClaimedJob], into store: any JobQueue) async throws -> Expansion {
        var refused: [Int64: TencentError] = [:]
        var children: [NewJob] = []
        for job in fanOuts {
            do {
                children += try jobs(of: job)
            } catch {
                refused[job.id] = error
            }
        }
        if !children.isEmpty { try await store.enqueue(children) }
        return Expansion(jobs: children.count, refused: refused)
    }

    /// The recipients' jobs of a fan-out job, on its lane.
    public static func jobs(of job: ClaimedJob) throws(TencentError) -> [NewJob] {
        let plan: Plan
        do {
            plan = try JSONDecoder().decode(Plan.self, from: job.payload)
        } catch let error as TencentError {
            throw error
        } catch {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "a fan-out job's payload is not a fan-out plan")
        }
        guard var message = plan.job else {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "a fan-out job's payload is not a fan-out plan")
        }
        message.sdkAppID = job.sdkAppID
        message.lane = job.lane
        // `countsForBadge` was decided when the message was accepted: the plan carries it.
        let template = try JobTemplate(job: message, keyPrefix: plan.keyPrefix, countsForBadge: plan.countsForBadge)
        return try template.jobs(plan.to.map { ($0, plan.silent[$0]) })
    }
}

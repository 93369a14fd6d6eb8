import Foundation
import Messaging
import PushCore
import Storage

/// The push jobs of one message: the fields every recipient shares, serialised once, and one job
/// per recipient made by splicing its own fields in front of them.
public struct JobTemplate: Sendable {
    public let app: UInt64
    /// `"SdkAppID":…,"MsgBody":…,…}`: the shared job object without its opening brace.
    public let shared: Data
    /// Jobs are keyed `<keyPrefix>:<recipient>`.
    public let keyPrefix: String
    public let countsForBadge: Bool

    public init(app: UInt64, keyPrefix: String, shared: Data, countsForBadge: Bool) {
        self.app = app
        self.keyPrefix = keyPrefix
        self.shared = shared
        self.countsForBadge = countsForBadge
    }

    /// `{` + `head` + `shared`.
    public static func splice(_ head: String, _ shared: Data) -> Data {
        var payload = Data(capacity: head.utf8.count + shared.count + 1)
        payload.append(UInt8(ascii: "{"))
        payload.append(contentsOf: head.utf8)
        payload.append(shared)
        return payload
    }

    /// The job of one recipient; with `silent`, a job that notifies no device.
    public func job(to: String, silent: String? = nil) -> NewJob {
        let key = "\(keyPrefix):\(to)"
        var head = #""To_Account":\#(JSONText.quoted(to)),"IdempotencyKey":\#(JSONText.quoted(key)),"#
        if let silent { head += #""Silent":\#(JSONText.quoted(silent)),"# }
        return NewJob(sdkAppID: app, idempotencyKey: key, userID: to, payload: Self.splice(head, shared), countsForBadge: countsForBadge)
    }

    /// The job of a recipient's fate, nil when it gets none.
    public func job(to: String, fate: Recipients.Fate) -> NewJob? {
        switch fate {
        case .none: return nil
        case .silent(let reason): return job(to: to, silent: reason)
        case .push: return job(to: to)
        }
    }

    /// Jobs that stand for the jobs of many recipients (`FanOut`): one per `FanOut.chunk` of the
    /// recipients whose fate gets a job, none when no fate does.
    public func fanOuts(_ fates: [(to: String, fate: Recipients.Fate)]) -> [NewJob] {
        let jobs: [(to: String, silent: String?)] = fates.compactMap { to, fate in
            switch fate {
            case .none: return nil
            case .silent(let reason): return (to, reason)
            case .push: return (to, nil)
            }
        }
        let job = String(decoding: Self.splice("", shared), as: UTF8.self)
        return stride(from: 0, to: jobs.count, by: FanOut.chunk).map { start in
            let part = jobs[start..<min(start + FanOut.chunk, jobs.count)]
            let plan = FanOut.Plan(
                keyPrefix: keyPrefix, countsForBadge: countsForBadge, to: part.map(\.to),
                silent: Dictionary(part.compactMap { j in j.silent.map { (j.to, $0) } }, uniquingKeysWith: { first, _ in first }), job: job
            )
            return NewJob(
                sdkAppID: app, idempotencyKey: "\(keyPrefix)\(FanOut.keySuffix)-\(start / FanOut.chunk)", userID: FanOut.userID,
                payload: plan.encoded()
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

    /// The payload of a fan-out job.
    struct Plan: Decodable {
        var keyPrefix: String
        var countsForBadge: Bool
        /// Every recipient with a job, in request order.
        var to: [String]
        /// The recipients whose job notifies no device, with the reason.
        var silent: [String: String]
        /// The shared job object, without the recipient's own fields.
        var job: String

        enum CodingKeys: String, CodingKey {
            case keyPrefix = "KeyPrefix", countsForBadge = "CountsForBadge", to = "To", silent = "Silent", job = "Job"
        }

        /// The plan as JSON, written directly: a batch's 500 recipients are on the sender's path.
        func encoded() -> Data {
            var writer = JSONWriter(capacity: job.utf8.count * 2 + to.reduce(128) { $0 + $1.utf8.count + 3 })
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
            for (recipient, reason) in silent.sorted(by: { $0.key < $1.key }) {
                writer.key(recipient)
                writer.string(reason)
            }
            writer.endObject()
            writer.key(CodingKeys.job.rawValue)
            writer.string(job)
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

    /// The recipients' jobs of a fan-out job.
    public static func jobs(of job: ClaimedJob) throws(TencentError) -> [NewJob] {
        guard let plan = try? JSONDecoder().decode(Plan.self, from: job.payload), plan.job.utf8.first == UInt8(ascii: "{") else {
            throw TencentError(code: TencentError.invalidMsgBodyCode, message: "a fan-out job's payload is not a fan-out plan")
        }
        let template = JobTemplate(
            app: job.sdkAppID, keyPrefix: plan.keyPrefix, shared: Data(plan.job.utf8.dropFirst()), countsForBadge: plan.countsForBadge
        )
        return plan.to.map { template.job(to: $0, silent: plan.silent[$0]) }.map { child in
            var child = child
            child.lane = job.lane
            return child
        }
    }
}

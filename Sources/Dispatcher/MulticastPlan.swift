import Gateways
import Messaging
import PushCore
import Storage

/// Which sends of a claim go out together as one multicast request: pushes of the same content to
/// devices of one app and vendor whose client takes many tokens (Huawei, Honor, Xiaomi, vivo,
/// Meizu), in the same lane, whose requests would differ only in the token. Where the request
/// carries the badge (Huawei and Honor with a badge class) devices must share it; Huawei's `notify_id` comes
/// from the message (``JobProcessor/messageKey(_:userID:)``), so a message's recipients share that
/// too. Every other send goes alone.
struct MulticastPlan: Sendable {
    /// One send of a claim: the job's index and the send's within the job.
    struct Member: Sendable {
        var job: Int
        var send: Int
    }

    /// The multicasts, each of two devices or more, in claim order of their first member.
    private(set) var groups: [[Member]] = []
    private(set) var contents: [PushContent] = []
    /// The client each multicast goes through.
    private(set) var clients: [any BatchVendorClient] = []
    /// Per job, per send: its multicast's index, or -1 when it goes alone; nil for a job with none.
    private(set) var groupOf: [[Int]?]

    private struct Key: Hashable {
        var app: UInt64
        var vendor: Vendor
        var lane: Lane
        var badge: Int?
        var message: ExactString?
    }

    private struct Route: Hashable {
        var app: UInt64
        var vendor: Vendor
    }

    /// An empty plan: every send alone.
    init(jobs: Int) {
        groupOf = Array(repeating: nil, count: jobs)
    }

    init(_ prepared: [JobProcessor.PreparedJob], processor: JobProcessor) {
        self.init(jobs: prepared.count)
        var batchClients: [Route: (any BatchVendorClient)?] = [:]
        var open: [Key: [Int]] = [:]
        for (j, job) in prepared.enumerated() {
            let claimed = job.job
            // Huawei's notify_id is the message's: computed once for the job, when needed.
            var message: ExactString?
            for (s, send) in job.sends.enumerated() {
                guard case .push(.push(let content)) = send.work else { continue }
                let vendor = send.device.vendor
                let limit = PushRenderer.maxTokens(vendor)
                guard limit > 1 else { continue }
                let route = Route(app: claimed.sdkAppID, vendor: vendor)
                let known = batchClients[route] ?? (processor.gateways.client(app: route.app, vendor: vendor) as? any BatchVendorClient)
                batchClients[route] = known
                guard let client = known else { continue }
                if vendor == .huawei, message == nil { message = ExactString(JobProcessor.messageKey(claimed.idempotencyKey, userID: claimed.userID)) }
                let key = Key(
                    app: claimed.sdkAppID, vendor: vendor, lane: claimed.lane,
                    badge: job.app.renderer.sendsBadge(vendor) ? send.device.badge : nil, message: vendor == .huawei ? message : nil
                )
                if groupOf[j] == nil { groupOf[j] = Array(repeating: -1, count: job.sends.count) }
                let joined = open[key]?.first { contents[$0] == content && groups[$0].count < limit }
                if let g = joined {
                    groups[g].append(Member(job: j, send: s))
                    groupOf[j]?[s] = g
                    if groups[g].count == limit { open[key]?.removeAll { $0 == g } }
                } else {
                    groupOf[j]?[s] = groups.count
                    open[key, default: []].append(groups.count)
                    groups.append([Member(job: j, send: s)])
                    contents.append(content)
                    clients.append(client)
                }
            }
        }
        // A multicast of one is a send alone.
        for (g, members) in groups.enumerated() where members.count == 1 {
            groupOf[members[0].job]?[members[0].send] = -1
            groups[g] = []
        }
    }

    /// The multicast a send belongs to, or nil when it goes alone.
    func group(job: Int, send: Int) -> Int? {
        guard let g = groupOf[job]?[send], g >= 0 else { return nil }
        return g
    }
}

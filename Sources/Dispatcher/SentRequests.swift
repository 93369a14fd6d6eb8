import PushCore
import Synchronization

/// The last vendor requests sent, kept in memory for the operator console's push lookup: by app,
/// job key and device, the oldest forgotten first. Only `pushd serve` with the console on keeps
/// them; without it the dispatcher keeps none.
public final class SentRequests: Sendable {
    /// Requests kept.
    public let capacity: Int

    /// One kept request and when it was sent.
    public struct Sent: Sendable {
        public var request: VendorRequest
        public var atMillis: Int64
    }

    struct Key: Hashable {
        var app: UInt64
        var jobKey: String
        var deviceID: String
    }

    private struct State {
        var requests: [Key: Sent] = [:]
        /// Insertion order, a ring of `capacity`.
        var order: [Key?]
        var next = 0
    }

    private let state: Mutex<State>

    public init(capacity: Int = 5000) {
        self.capacity = max(1, capacity)
        state = Mutex(State(order: Array(repeating: nil, count: max(1, capacity))))
    }

    /// Keeps the request sent to a device for a job, forgetting the oldest one past `capacity`.
    func keep(_ request: VendorRequest, app: UInt64, jobKey: String, deviceID: String, atMillis: Int64) {
        let key = Key(app: app, jobKey: jobKey, deviceID: deviceID)
        state.withLock { s in
            if s.requests.updateValue(Sent(request: request, atMillis: atMillis), forKey: key) != nil { return }
            if let old = s.order[s.next] { s.requests[old] = nil }
            s.order[s.next] = key
            s.next = (s.next + 1) % capacity
        }
    }

    /// The last request sent to the device for the job, if still kept.
    public func request(app: UInt64, jobKey: String, deviceID: String) -> Sent? {
        state.withLock { $0.requests[Key(app: app, jobKey: jobKey, deviceID: deviceID)] }
    }
}

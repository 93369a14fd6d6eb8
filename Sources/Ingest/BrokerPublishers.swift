import CNATS
import Foundation

/// A small JetStream publisher on the same C client: what an IM server would run, the tests' and
/// `pushd-bench ingest`'s source of events and its reference publish rate, and the reader of a
/// dead-letter stream.
public final class NATSPublisher: @unchecked Sendable {
    private let thread = ClientThread()
    /// Used on `thread` only.
    private var connection: OpaquePointer?
    private var jetStream: OpaquePointer?

    public init(url: String) async throws {
        try await thread.run {
            var nc: OpaquePointer?
            try NATS.check(natsConnection_ConnectTo(&nc, url), "connect")
            self.connection = nc
            var js: OpaquePointer?
            try NATS.check(natsConnection_JetStream(&js, nc, nil), "JetStream")
            self.jetStream = js
        }
    }

    deinit {
        if let jetStream { jsCtx_Destroy(jetStream) }
        if let connection { natsConnection_Destroy(connection) }
    }

    /// Creates a file-backed stream capturing `subjects` unless one of that name exists.
    public func ensureStream(_ name: String, subjects: [String]) async throws {
        try await thread.run {
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var error = jsErrCode(0)
            if js_GetStreamInfo(&info, self.jetStream, name, nil, &error) == NATS_OK {
                jsStreamInfo_Destroy(info)
                return
            }
            var config = jsStreamConfig()
            try NATS.check(jsStreamConfig_Init(&config), "stream config")
            let names = subjects.map { strdup($0) }
            defer { names.forEach { free($0) } }
            var pointers: [UnsafePointer<CChar>?] = names.map { $0.map { UnsafePointer($0) } }
            let status = name.withCString { streamName in
                pointers.withUnsafeMutableBufferPointer { list in
                    config.Name = streamName
                    config.Subjects = list.baseAddress
                    config.SubjectsLen = Int32(list.count)
                    return js_AddStream(&info, self.jetStream, &config, nil, &error)
                }
            }
            try NATS.check(status, "add stream \(name) (JetStream error \(error.rawValue))")
            jsStreamInfo_Destroy(info)
        }
    }

    /// Publishes every payload to `subject`, pipelined; returns when the stream acknowledged them all.
    public func publish(_ subject: String, _ payloads: [[UInt8]]) async throws {
        try await thread.run {
            for payload in payloads {
                let status = payload.withUnsafeBytes { js_PublishAsync(self.jetStream, subject, $0.baseAddress, Int32(clamping: $0.count), nil) }
                try NATS.check(status, "publish")
            }
            try NATS.check(js_PublishAsyncComplete(self.jetStream, nil), "publish complete")
        }
    }

    /// Every message of `stream` in order: its data and the named headers present.
    public func messages(stream: String, headers names: [String] = []) async throws -> [(data: [UInt8], headers: [String: String])] {
        try await thread.run {
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var error = jsErrCode(0)
            try NATS.check(js_GetStreamInfo(&info, self.jetStream, stream, nil, &error), "stream info \(stream)")
            let (first, last) = (info?.pointee.State.FirstSeq ?? 1, info?.pointee.State.LastSeq ?? 0)
            jsStreamInfo_Destroy(info)
            var result: [(data: [UInt8], headers: [String: String])] = []
            guard last >= first else { return result }
            for sequence in first...last {
                var message: OpaquePointer?
                guard js_GetMsg(&message, self.jetStream, stream, sequence, nil, &error) == NATS_OK, let message else { continue }
                defer { natsMsg_Destroy(message) }
                let data = NATS.data(of: message)
                var headers: [String: String] = [:]
                for name in names {
                    var value: UnsafePointer<CChar>?
                    if natsMsgHeader_Get(message, name, &value) == NATS_OK, let value { headers[name] = String(cString: value) }
                }
                result.append((data, headers))
            }
            return result
        }
    }

    public func shutdown() async {
        _ = try? await thread.run {
            if let connection = self.connection { natsConnection_Close(connection) }
        }
        await thread.shutdown()
    }

}

/// A small Redis Streams publisher on the same C client (`XADD key * event <payload>`, pipelined):
/// the tests' and the benchmark's source of events, and the reader of a dead-letter stream.
public final class RedisPublisher: @unchecked Sendable {
    private let thread = ClientThread()
    /// Used on `thread` only.
    private var connection: RedisConnection?

    public init(url: String) async throws {
        try await thread.run { self.connection = try RedisConnection(url: url, readTimeout: .seconds(10)) }
    }

    /// Appends every payload to stream `key` as its `event` field, 1,000 commands per round trip.
    public func publish(_ key: String, _ payloads: [[UInt8]]) async throws {
        try await thread.run {
            guard let connection = self.connection else { throw BrokerError("not connected") }
            let prefix: [[UInt8]] = [Array("XADD".utf8), Array(key.utf8), Array("*".utf8), Array("event".utf8)]
            var start = 0
            while start < payloads.count {
                let chunk = payloads[start..<min(start + 1_000, payloads.count)]
                for reply in try connection.pipeline(chunk.map { prefix + [$0] }) {
                    if case .error(let text) = reply { throw BrokerError("redis XADD: \(text)") }
                }
                start += chunk.count
            }
        }
    }

    /// Every entry of stream `key`, oldest first: its fields.
    public func entries(_ key: String) async throws -> [[String: [UInt8]]] {
        try await thread.run {
            guard let connection = self.connection else { throw BrokerError("not connected") }
            let reply = try connection.command(["XRANGE", key, "-", "+"])
            return (reply.array ?? []).compactMap { entry -> [String: [UInt8]]? in
                guard let parts = entry.array, parts.count == 2 else { return nil }
                return parts[1].fields
            }
        }
    }

    /// A command's integer reply, nil for any other (`XLEN`, an `EVAL` counting `XPENDING`).
    public func integer(_ arguments: [String]) async throws -> Int64? {
        try await thread.run {
            guard let connection = self.connection else { throw BrokerError("not connected") }
            if case .integer(let value) = try connection.command(arguments) { return value }
            return nil
        }
    }

    public func shutdown() async {
        _ = try? await thread.run { self.connection = nil }
        await thread.shutdown()
    }
}

import CNATS
import Foundation
import PushdConfig
import Synchronization

/// A durable JetStream pull consumer, on Debian's NATS C client: `Fetch` in batches, an explicit
/// `+ACK` per committed event (flushed before `ack` returns), `-NAK` for events handed back, and
/// bad events published with their error to the dead-letter subject (a stream must capture it:
/// the publish waits for the stream's acknowledgement).
final class NATSConsumer: BrokerConsumer, @unchecked Sendable {
    let source: IngestSource
    private let thread = ClientThread()
    /// The C client's handles: used on `thread` only (the unchecked Sendable above rests on it).
    private var connection: OpaquePointer?
    private var jetStream: OpaquePointer?
    private var subscription: OpaquePointer?
    private let connected = Atomic<Bool>(false)

    init(source: IngestSource) {
        self.source = source
    }

    deinit {
        teardown()
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }

    func connect() async throws {
        try await thread.run { try self.open() }
    }

    func fetch(max: Int, wait: Duration) async throws -> [BrokerMessage] {
        try await thread.run { try self.fetchNow(max: max, waitMillis: wait.milliseconds) }
    }

    func ack(_ messages: [BrokerMessage]) async throws {
        try await thread.run { try self.reply("+ACK", to: messages, flush: true) }
    }

    func release(_ messages: [BrokerMessage]) async {
        _ = try? await thread.run { try self.reply("-NAK", to: messages, flush: false) }
    }

    func deadLetter(_ message: BrokerMessage, code: Int, info: String) async throws {
        try await thread.run { try self.publishDeadLetter(message, code: code, info: info) }
    }

    func close() async {
        _ = try? await thread.run { self.teardown() }
    }

    func shutdown() async {
        await close()
        await thread.shutdown()
    }

    // MARK: On the client thread

    private func open() throws {
        teardown()
        var options: OpaquePointer?
        try check(natsOptions_Create(&options), "options")
        defer { natsOptions_Destroy(options) }
        try check(natsOptions_SetURL(options, source.url), "url")
        // A lost connection is the service's to reconnect, with its backoff and readiness.
        try check(natsOptions_SetAllowReconnect(options, false), "reconnect")
        try check(natsOptions_SetTimeout(options, 5_000), "timeout")
        var nc: OpaquePointer?
        try check(natsConnection_Connect(&nc, options), "connect to \(source.safeURL)")
        connection = nc
        var js: OpaquePointer?
        try check(natsConnection_JetStream(&js, nc, nil), "JetStream")
        jetStream = js
        var subscriptionOptions = jsSubOptions()
        try check(jsSubOptions_Init(&subscriptionOptions), "subscription options")
        subscriptionOptions.Config.AckPolicy = js_AckExplicit
        subscriptionOptions.Config.AckWait = Int64(source.ackWaitSeconds) * 1_000_000_000
        subscriptionOptions.Config.MaxAckPending = Int64(max(source.batch * 4, 1_000))
        var sub: OpaquePointer?
        var error = jsErrCode(0)
        let subject = source.subject.isEmpty ? nil : source.subject
        let status = source.stream.withCString { stream in
            subscriptionOptions.Stream = stream
            return js_PullSubscribe(&sub, js, subject, source.consumer, nil, &subscriptionOptions, &error)
        }
        try check(status, "pull subscribe to \(source.stream) as \(source.consumer)", jetStreamError: error)
        subscription = sub
        connected.store(true, ordering: .relaxed)
    }

    private func fetchNow(max: Int, waitMillis: Int64) throws -> [BrokerMessage] {
        guard let subscription, let connection else { throw BrokerError("not connected") }
        // While the client reconnects, a fetch only times out: say so, the service reconnects itself.
        guard natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED else {
            connected.store(false, ordering: .relaxed)
            throw BrokerError("nats: connection to \(source.safeURL) lost")
        }
        var list = natsMsgList()
        var error = jsErrCode(0)
        let status = natsSubscription_Fetch(&list, subscription, Int32(clamping: max), waitMillis, &error)
        defer { natsMsgList_Destroy(&list) }
        let count = Int(list.Count)
        if status == NATS_TIMEOUT { return [] }
        if status != NATS_OK { connected.store(natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED, ordering: .relaxed) }
        try check(status, "fetch", jetStreamError: error)
        guard let received = list.Msgs, count > 0 else { return [] }
        var messages: [BrokerMessage] = []
        messages.reserveCapacity(count)
        for index in 0..<count {
            guard let message = received[index] else { continue }
            let data = NATS.data(of: message)
            guard let reply = natsMsg_GetReply(message).map({ String(cString: $0) }) else { continue }
            var meta: UnsafeMutablePointer<jsMsgMetaData>?
            var position = reply
            if natsMsg_GetMetaData(&meta, message) == NATS_OK, let meta {
                position = "\(String(cString: meta.pointee.Stream))/\(meta.pointee.Sequence.Stream)"
                jsMsgMetaData_Destroy(meta)
            }
            messages.append(BrokerMessage(position: position, handle: reply, data: data))
        }
        return messages
    }

    private func reply(_ text: String, to messages: [BrokerMessage], flush: Bool) throws {
        guard let connection else { throw BrokerError("not connected") }
        for message in messages {
            try check(natsConnection_PublishString(connection, message.handle, text), "ack")
        }
        // A flush is a round trip: the server has every ack when it returns.
        if flush { try check(natsConnection_FlushTimeout(connection, 5_000), "ack flush") }
    }

    private func publishDeadLetter(_ message: BrokerMessage, code: Int, info: String) throws {
        guard let jetStream else { throw BrokerError("not connected") }
        var dead: OpaquePointer?
        try check(
            message.data.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { natsMsg_Create(&dead, source.deadLetter, nil, $0.baseAddress, Int32(clamping: $0.count)) }
            },
            "dead letter"
        )
        defer { natsMsg_Destroy(dead) }
        for (key, value) in Self.deadLetterHeaders(source: source.name, position: message.position, code: code, info: info) {
            try check(natsMsgHeader_Set(dead, key, value), "dead letter header")
        }
        var ack: UnsafeMutablePointer<jsPubAck>?
        var error = jsErrCode(0)
        try check(js_PublishMsg(&ack, jetStream, dead, nil, &error), "dead letter to \(source.deadLetter)", jetStreamError: error)
        jsPubAck_Destroy(ack)
    }

    /// The headers of a dead letter: one line each, so the error's text loses its line breaks.
    static func deadLetterHeaders(source: String, position: String, code: Int, info: String) -> [(String, String)] {
        let oneLine = String(info.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) }.prefix(1_000))
        return [("Pushd-Error-Code", String(code)), ("Pushd-Error-Info", oneLine), ("Pushd-Source", source), ("Pushd-Position", position)]
    }

    private func teardown() {
        connected.store(false, ordering: .relaxed)
        if let subscription { natsSubscription_Destroy(subscription) }
        if let jetStream { jsCtx_Destroy(jetStream) }
        if let connection {
            natsConnection_Close(connection)
            natsConnection_Destroy(connection)
        }
        (subscription, jetStream, connection) = (nil, nil, nil)
    }

    private func check(_ status: natsStatus, _ what: String, jetStreamError: jsErrCode = jsErrCode(0)) throws {
        try NATS.check(status, what, jetStreamError: jetStreamError)
    }
}

/// What the NATS consumer and publisher share of the C client.
enum NATS {
    /// Throws the client's text for a status that is not `NATS_OK`.
    static func check(_ status: natsStatus, _ what: String, jetStreamError: jsErrCode = jsErrCode(0)) throws {
        guard status != NATS_OK else { return }
        let text = natsStatus_GetText(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
        throw BrokerError("nats \(what): \(text)" + (jetStreamError.rawValue != 0 ? " (JetStream error \(jetStreamError.rawValue))" : ""))
    }

    /// A message's bytes, copied out of the client's buffer.
    static func data(of message: OpaquePointer) -> [UInt8] {
        let length = Int(natsMsg_GetDataLength(message))
        return natsMsg_GetData(message).map { pointer in
            pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        } ?? []
    }
}

extension Duration {
    /// Whole milliseconds, saturating.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000).overflow ? .max : seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}

import CNGHTTP2
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// The client side of one HTTP/2 connection, on its event loop: an nghttp2 session fed with the
/// bytes TLS decrypted and drained into one buffer per flush. It assigns stream ids, gathers
/// responses by stream id, answers GOAWAY and resets, opens the inbound flow-control windows and
/// enforces deadlines.
///
/// nghttp2 (Debian's libnghttp2) replaced swift-nio-http2 here: its HPACK, stream bookkeeping
/// and frame encoding took about 110,000 of the 212,000 instructions a push cost on the client
/// (callgrind), and the HTTP/2 framing of h2load, the benchmark's reference, is nghttp2 too.
final class HTTP2ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    struct Request {
        var method: HTTPMethod
        var path: String
        var headers: HTTPHeaders
        var body: [UInt8]
        var timeout: TimeAmount
    }

    private struct Stream {
        var promise: EventLoopPromise<VendorTransport.Response>
        var deadline: NIODeadline
        var timeout: TimeAmount
        /// The request body and how much of it nghttp2 has taken.
        var body: [UInt8]
        var bodySent = 0
        var status = 0
        /// Inside a 1xx response, whose fields are dropped: the final response follows.
        var informational = false
        var headers = HTTPHeaders()
        var response = ByteBuffer()
    }

    /// Per-stream receive window we advertise, and the connection window we open to at start.
    static let streamWindow: UInt32 = 1 << 20
    static let connectionWindow: Int32 = 16 << 20
    static let maxResponseBytes = 4 << 20
    /// How often the connection looks for requests past their deadline: one timer per connection
    /// instead of one per request (a timer per request was 3 % of a benchmark's CPU).
    static let sweepInterval = TimeAmount.milliseconds(25)

    /// Whether a header field's value is new on every request (APNs's `apns-id`, vivo's `timestamp`):
    /// kept out of the HPACK dynamic table, where it would only evict the fields that repeat (the
    /// provider token above all), as Apple recommends.
    static func isPerRequest(_ name: String) -> Bool { name == "apns-id" || name == "timestamp" }

    private let authority: String
    private let open: OpenFlag
    private let session: OpaquePointer
    private var context: ChannelHandlerContext?
    private var streams: [Int32: Stream] = [:]
    private var flushPending = false
    /// Set by GOAWAY or close: no new streams.
    private var closedError: HTTP2ConnectionError?
    /// The PING sent after a deadline passed, until its ACK arrives.
    private var probe: UInt64?
    private var probes: UInt64 = 0
    private var sweep: RepeatedTask?
    /// Called once, when the server's first SETTINGS frame arrives.
    var onSettings: (() -> Void)?

    init(authority: String, open: OpenFlag) throws {
        self.authority = authority
        self.open = open
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw HTTP2ConnectionError.connectionClosed }
        defer { nghttp2_session_callbacks_del(callbacks) }
        Self.install(callbacks)
        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else { throw HTTP2ConnectionError.connectionClosed }
        defer { nghttp2_option_del(option) }
        // Responses over streams we stopped caring about are not kept for priority bookkeeping.
        nghttp2_option_set_no_closed_streams(option, 1)
        var created: OpaquePointer?
        // `user_data` is set once the handler exists (below); callbacks run only inside
        // `nghttp2_session_mem_recv` / `mem_send`, both called by this handler on its loop.
        guard nghttp2_session_client_new2(&created, callbacks, nil, option) == 0, let created else {
            throw HTTP2ConnectionError.connectionClosed
        }
        session = created
        nghttp2_session_set_user_data(session, Unmanaged.passUnretained(self).toOpaque())
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: Self.streamWindow),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: 64 << 10),
        ]
        guard nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count) == 0,
            nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Self.connectionWindow) == 0
        else { throw HTTP2ConnectionError.connectionClosed }
    }

    deinit {
        nghttp2_session_del(session)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The connection preface and our SETTINGS.
        flushSession()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweep?.cancel()
        sweep = nil
        failAll(.connectionClosed)
        self.context = nil
    }

    /// Queues `request` as a new stream; the bytes go out once for every request of this tick.
    func submit(_ request: Request, promise: EventLoopPromise<VendorTransport.Response>) {
        guard let context, closedError == nil else {
            promise.fail(closedError ?? .connectionClosed)
            return
        }
        var fields = HeaderBlock(capacity: request.headers.count + 5)
        let never = UInt8(NGHTTP2_NV_FLAG_NO_INDEX.rawValue)
        fields.add(":method", request.method.rawValue)
        fields.add(":scheme", "https")
        fields.add(":authority", authority)
        fields.add(":path", request.path, flags: never)
        for header in request.headers {
            // HTTP/2 field names are lower case; the renderers write them so, vivo's authToken aside.
            let name = header.name.utf8.contains(where: { $0 &- 65 < 26 }) ? header.name.lowercased() : header.name
            if name == "host" || name == "connection" || name == "content-length" { continue }
            fields.add(name, header.value, flags: Self.isPerRequest(name) ? never : 0)
        }
        if !request.body.isEmpty { fields.add("content-length", String(request.body.count)) }
        let id = fields.withNameValuePairs { nva in
            if request.body.isEmpty {
                return nghttp2_submit_request(session, nil, nva.baseAddress, nva.count, nil, Self.streamMarker)
            }
            var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Self.readBody)
            return nghttp2_submit_request(session, nil, nva.baseAddress, nva.count, &provider, Self.streamMarker)
        }
        guard id > 0 else {
            // Out of stream ids (or memory): the pool connects anew.
            stopAccepting(.connectionClosed)
            promise.fail(HTTP2ConnectionError.connectionClosed)
            closeWhenIdle()
            return
        }
        streams[id] = Stream(promise: promise, deadline: .now() + request.timeout, timeout: request.timeout, body: request.body)
        if sweep == nil {
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { _ in
                handler.value.expireOverdue()
            }
        }
        scheduleFlush(context)
    }

    private func scheduleFlush(_ context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute { [weak self] in
            guard let self else { return }
            self.flushPending = false
            self.flushSession()
        }
    }

    /// Writes everything nghttp2 has to send (HEADERS, DATA, WINDOW_UPDATE, SETTINGS and PING
    /// acknowledgements, resets) as one buffer, and flushes.
    private func flushSession() {
        guard let context else { return }
        var out: ByteBuffer?
        while true {
            var chunk: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &chunk)
            if count < 0 {
                protocolFailure(context)
                return
            }
            guard count > 0, let chunk else { break }
            if out == nil { out = context.channel.allocator.buffer(capacity: max(Int(count), 16 << 10)) }
            out!.writeBytes(UnsafeRawBufferPointer(start: chunk, count: Int(count)))
        }
        if let out { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let consumed = bytes.withUnsafeReadableBytes { raw in
            nghttp2_session_mem_recv(session, raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
        if consumed < 0 { protocolFailure(context) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Window updates and acknowledgements the frames just read call for.
        if nghttp2_session_want_write(session) != 0 { flushSession() }
        context.fireChannelReadComplete()
    }

    /// nghttp2 refused the peer's bytes or could not frame ours, or TLS failed: the connection is
    /// unusable; it closes and `channelInactive` fails what was in flight.
    private func protocolFailure(_ context: ChannelHandlerContext) {
        stopAccepting(.connectionClosed)
        context.close(promise: nil)
    }

    /// NIOSSL reports TLS failures here.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        protocolFailure(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed)
        context.fireChannelInactive()
    }

    // MARK: nghttp2 callbacks

    /// Non-null, so that `nghttp2_session_get_stream_user_data` tells an opened stream from one
    /// still waiting for a free stream slot.
    private static var streamMarker: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: 1) }

    private static func handler(_ userData: UnsafeMutableRawPointer?) -> HTTP2ClientHandler {
        Unmanaged<HTTP2ClientHandler>.fromOpaque(userData!).takeUnretainedValue()
    }

    private static func install(_ callbacks: OpaquePointer) {
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
            HTTP2ClientHandler.handler(userData).received(
                field: UnsafeBufferPointer(start: name, count: nameLength), value: UnsafeBufferPointer(start: value, count: valueLength),
                stream: frame.pointee.hd.stream_id
            )
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            HTTP2ClientHandler.handler(userData).received(body: UnsafeRawBufferPointer(start: data, count: length), stream: streamID)
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            HTTP2ClientHandler.handler(userData).closed(stream: streamID, errorCode: errorCode)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            HTTP2ClientHandler.handler(userData).received(frame: frame)
            return 0
        }
    }

    /// Copies the next part of a request body into the DATA frame nghttp2 is building.
    private static var readBody: nghttp2_data_source_read_callback {
        { _, streamID, buffer, length, flags, _, userData in
            HTTP2ClientHandler.handler(userData).readBody(stream: streamID, into: buffer, length: length, flags: flags)
        }
    }

    private func readBody(stream id: Int32, into buffer: UnsafeMutablePointer<UInt8>?, length: Int, flags: UnsafeMutablePointer<UInt32>?) -> Int {
        guard var stream = streams[id], let buffer else {
            // Failed already (a deadline): end the body; the stream is reset.
            flags?.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            return 0
        }
        let count = min(length, stream.body.count - stream.bodySent)
        stream.body.withUnsafeBufferPointer { body in
            buffer.update(from: body.baseAddress! + stream.bodySent, count: count)
        }
        stream.bodySent += count
        if stream.bodySent == stream.body.count {
            flags?.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            stream.body = []
        }
        streams[id] = stream
        return count
    }

    private func received(field name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, stream id: Int32) {
        guard var stream = streams[id] else { return }
        if name.elementsEqual(":status".utf8) {
            let status = value.reduce(0) { $0 * 10 + Int($1) - 48 }
            // 1xx: the final headers follow.
            stream.informational = status < 200
            if !stream.informational { stream.status = status }
        } else if !stream.informational, name.first != UInt8(ascii: ":") {
            stream.headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
        streams[id] = stream
    }

    private func received(body: UnsafeRawBufferPointer, stream id: Int32) {
        guard var stream = streams[id] else { return }
        stream.response.writeBytes(body)
        if stream.response.readableBytes > Self.maxResponseBytes {
            streams[id] = stream
            fail(id, HTTP2ConnectionError.responseTooLarge)
            reset(id)
            return
        }
        streams[id] = stream
    }

    private func closed(stream id: Int32, errorCode: UInt32) {
        if errorCode == NGHTTP2_NO_ERROR.rawValue, let stream = streams[id], stream.status != 0 {
            finish(id)
        } else {
            fail(id, HTTP2ConnectionError.streamReset(code: errorCode))
        }
    }

    private func received(frame: UnsafePointer<nghttp2_frame>) {
        switch UInt32(frame.pointee.hd.type) {
        case NGHTTP2_SETTINGS.rawValue where frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0:
            if let onSettings {
                self.onSettings = nil
                onSettings()
            }
        case NGHTTP2_PING.rawValue where frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0:
            let data = withUnsafeBytes(of: frame.pointee.ping.opaque_data) { $0.loadUnaligned(as: UInt64.self) }
            if data == probe { probe = nil }
        case NGHTTP2_GOAWAY.rawValue:
            let last = frame.pointee.goaway.last_stream_id
            stopAccepting(.refusedByGoAway(lastStreamID: Int(last)))
            // Streams above the last one were never processed: safe to send again elsewhere.
            for refused in streams.keys where refused > last {
                fail(refused, HTTP2ConnectionError.refusedByGoAway(lastStreamID: Int(last)))
            }
            closeWhenIdle()
        default:
            break
        }
    }

    // MARK: Completion

    private func finish(_ id: Int32) {
        end(id) { $0.promise.succeed(VendorTransport.Response(status: $0.status, headers: $0.headers, body: Data(buffer: $0.response))) }
    }

    private func fail(_ id: Int32, _ error: any Error) {
        end(id) { $0.promise.fail(error) }
    }

    /// Removes the stream and completes it; closes a draining connection that has nothing left
    /// in flight.
    private func end(_ id: Int32, _ complete: (Stream) -> Void) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        complete(stream)
        if closedError != nil { closeWhenIdle() }
    }

    /// Resets a stream the server has opened; one still waiting for a stream slot goes out and its
    /// answer is ignored (a reset of a stream the server never saw is a protocol error).
    private func reset(_ id: Int32) {
        guard let context, nghttp2_session_get_stream_user_data(session, id) != nil else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, NGHTTP2_CANCEL.rawValue)
        scheduleFlush(context)
    }

    /// Fails the request answered by `future` with `CancellationError` and resets its stream.
    func cancel(_ future: EventLoopFuture<VendorTransport.Response>) {
        guard let id = streams.first(where: { $0.value.promise.futureResult === future })?.key else { return }
        fail(id, CancellationError())
        reset(id)
    }

    /// Fails the requests whose deadline has passed; with nothing in flight the sweep stops until
    /// the next request, so an idle connection is not woken.
    private func expireOverdue() {
        let now = NIODeadline.now()
        for (id, stream) in streams where stream.deadline <= now {
            expire(id, timeout: stream.timeout)
        }
        if streams.isEmpty {
            sweep?.cancel()
            sweep = nil
        }
    }

    private func expire(_ id: Int32, timeout: TimeAmount) {
        guard streams[id] != nil else { return }
        fail(id, HTTP2ConnectionError.deadlineExceeded)
        reset(id)
        sendProbe(timeout: timeout)
    }

    /// After a request ran out of time: a PING left unanswered for as long means the peer is gone
    /// without a close (a dead NAT mapping, a frozen server), and the connection is closed so the
    /// pool connects anew instead of timing out every request it is given.
    private func sendProbe(timeout: TimeAmount) {
        guard let context, probe == nil else { return }
        probes &+= 1
        let token = probes
        probe = token
        withUnsafeBytes(of: token) { data in
            _ = nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), data.bindMemory(to: UInt8.self).baseAddress)
        }
        scheduleFlush(context)
        context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, self.probe == token, let context = self.context else { return }
            self.stopAccepting(.connectionClosed)
            context.close(promise: nil)
        }
    }

    private func failAll(_ error: HTTP2ConnectionError) {
        stopAccepting(error)
        let failed = streams
        streams = [:]
        for (_, stream) in failed {
            stream.promise.fail(error)
        }
    }

    private func stopAccepting(_ error: HTTP2ConnectionError) {
        if closedError == nil { closedError = error }
        open.value.store(false, ordering: .relaxed)
    }

    /// Stops taking requests and closes once the streams in flight are done.
    func retire() {
        stopAccepting(.connectionClosed)
        closeWhenIdle()
    }

    /// After GOAWAY the started streams finish; then the client closes the connection. The close
    /// waits for the next tick: this may run inside an nghttp2 callback.
    private func closeWhenIdle() {
        guard streams.isEmpty, let context else { return }
        context.eventLoop.assumeIsolated().execute { [weak self] in
            guard let self, self.streams.isEmpty, let context = self.context else { return }
            context.close(promise: nil)
        }
    }
}

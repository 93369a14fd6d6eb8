import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// Why a request on an ``HTTP2Connection`` got no response.
public enum HTTP2ConnectionError: Error, CustomStringConvertible, Sendable {
    /// The connection closed before the response was complete.
    case connectionClosed
    /// The server's GOAWAY named a lower last stream: the request was never processed.
    case refusedByGoAway(lastStreamID: Int)
    /// The server reset the stream.
    case streamReset(HTTP2ErrorCode)
    /// No response within the request's deadline; the stream was cancelled.
    case deadlineExceeded
    /// TLS negotiated something other than `h2` (the origin speaks HTTP/1.1 only).
    case notHTTP2(negotiated: String?)
    /// The response body was larger than the client accepts.
    case responseTooLarge

    public var description: String {
        switch self {
        case .connectionClosed: "connection closed"
        case .refusedByGoAway(let last): "refused by GOAWAY (last stream \(last))"
        case .streamReset(let code): "stream reset (\(code))"
        case .deadlineExceeded: "deadline exceeded"
        case .notHTTP2(let negotiated): "ALPN negotiated \(negotiated ?? "nothing"), not h2"
        case .responseTooLarge: "response body too large"
        }
    }
}

/// One HTTP/2 connection over TLS to one origin. Requests are written straight as HEADERS and DATA
/// frames on the connection (no channel or pipeline per stream), and all requests submitted in the
/// same event loop tick share one flush, so they leave in as few TLS records as the frames allow.
final class HTTP2Connection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<HTTP2ClientHandler>
    private let open: OpenFlag

    private init(channel: any Channel, handler: NIOLoopBound<HTTP2ClientHandler>, open: OpenFlag) {
        self.channel = channel
        self.handler = handler
        self.open = open
    }

    /// False once the server sent GOAWAY or the connection closed: new requests go elsewhere.
    var isUsable: Bool { open.value.load(ordering: .relaxed) }

    /// Connects, completes the TLS handshake and checks that ALPN chose `h2`.
    static func connect(
        host: String, port: Int, sslContext: NIOSSLContext, group: any EventLoopGroup, connectTimeout: TimeAmount
    ) async throws -> HTTP2Connection {
        let open = OpenFlag()
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let authority = port == 443 ? bracketed : "\(bracketed):\(port)"
        let sniHost = host.isIPAddressLiteral ? nil : host
        // The handshake may finish before `connect` returns: the ALPN handler is in the pipeline
        // from the start.
        let eventLoop = group.next()
        let ready = eventLoop.makePromise(of: NIOLoopBound<HTTP2ClientHandler>.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: sniHost)
                        let alpn = ALPNHandler { negotiated in
                            guard negotiated == "h2" else { throw HTTP2ConnectionError.notHTTP2(negotiated: negotiated) }
                            let client = HTTP2ClientHandler(authority: authority, open: open)
                            try channel.pipeline.syncOperations.addHandlers([
                                NIOHTTP2Handler(
                                    mode: .client, initialSettings: HTTP2ClientHandler.settings,
                                    // pushd writes the request fields itself; the responses' fields are only read.
                                    headerBlockValidation: .disabled
                                ),
                                client,
                            ])
                            return client
                        } onResult: { result in
                            switch result {
                            case .success(let client):
                                // Usable once the server's SETTINGS are in: its stream limit applies
                                // from the first request on (APNs may allow only one stream at first).
                                client.onSettings = { ready.succeed(NIOLoopBound(client, eventLoop: channel.eventLoop)) }
                            case .failure(let error):
                                ready.fail(error)
                            }
                        }
                        try channel.pipeline.syncOperations.addHandlers([tls, alpn])
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            ready.fail(error)
            throw error
        }
        let deadline = channel.eventLoop.scheduleTask(in: connectTimeout) {
            ready.fail(HTTP2ConnectionError.deadlineExceeded)
        }
        do {
            let handler = try await ready.futureResult.get()
            deadline.cancel()
            return HTTP2Connection(channel: channel, handler: handler, open: open)
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            throw error
        }
    }

    /// Sends one request and waits for its whole response, at most `timeout`.
    func execute(
        method: HTTPMethod, path: String, headers: HTTPHeaders, body: [UInt8], timeout: TimeAmount
    ) async throws -> VendorTransport.Response {
        let promise = channel.eventLoop.makePromise(of: VendorTransport.Response.self)
        let request = HTTP2ClientHandler.Request(method: method, path: path, headers: headers, body: body, timeout: timeout)
        let handler = handler
        let eventLoop = channel.eventLoop
        return try await withTaskCancellationHandler {
            // Cancelled already: `onCancel` ran before the stream existed and found nothing to
            // reset. The promise is failed, never dropped: a promise left pending leaks.
            if Task.isCancelled {
                promise.fail(CancellationError())
            } else if eventLoop.inEventLoop {
                // Already on the connection's thread (a sender resumed there by the last answer).
                handler.value.submit(request, promise: promise)
            } else {
                eventLoop.execute { handler.value.submit(request, promise: promise) }
            }
            return try await promise.futureResult.get()
        } onCancel: {
            // A graceful shutdown that ran out of grace: the stream is reset, the caller hands the push back.
            eventLoop.execute { handler.value.cancel(promise.futureResult) }
        }
    }

    /// Takes no new requests; the ones in flight finish, then the connection closes.
    func retire() {
        open.value.store(false, ordering: .relaxed)
        let handler = handler
        channel.eventLoop.execute { handler.value.retire() }
    }

    func close() async {
        try? await channel.close()
    }
}

/// Shared between the connection's handler (which clears it) and the pool (which reads it).
final class OpenFlag: Sendable {
    let value = Atomic<Bool>(true)
}

/// Waits for the TLS handshake, then configures the pipeline for the negotiated protocol.
private final class ALPNHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let configure: (String?) throws -> HTTP2ClientHandler
    private var onResult: ((Result<HTTP2ClientHandler, any Error>) -> Void)?

    init(configure: @escaping (String?) throws -> HTTP2ClientHandler, onResult: @escaping (Result<HTTP2ClientHandler, any Error>) -> Void) {
        self.configure = configure
        self.onResult = onResult
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            finish(context: context, Result { try configure(negotiated) })
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context: context, .failure(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, .failure(HTTP2ConnectionError.connectionClosed))
        context.fireChannelInactive()
    }

    private func finish(context: ChannelHandlerContext, _ result: Result<HTTP2ClientHandler, any Error>) {
        guard let onResult else { return }
        self.onResult = nil
        onResult(result)
    }
}

/// The client side of one HTTP/2 connection, on its event loop: assigns stream ids, writes each
/// request as frames, gathers responses by stream id, answers GOAWAY and resets, replenishes the
/// inbound flow-control windows and enforces deadlines.
final class HTTP2ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = Never
    typealias OutboundOut = HTTP2Frame

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
        var status = 0
        var headers = HTTPHeaders()
        var body = ByteBuffer()
        var unacknowledged = 0
    }

    /// Per-stream receive window we advertise, and the connection window we open to at start.
    static let streamWindow = 1 << 20
    static let connectionWindow = 16 << 20
    static let maxResponseBytes = 4 << 20
    /// How often the connection looks for requests past their deadline: one timer per connection
    /// instead of one per request (a timer per request was 3 % of a benchmark's CPU).
    static let sweepInterval = TimeAmount.milliseconds(25)
    /// Whether a header field's value is new on every request (APNs's `apns-id`, vivo's `timestamp`).
    static func isPerRequest(_ name: String) -> Bool { name == "apns-id" || name == "timestamp" }
    static let settings: HTTP2Settings = [
        HTTP2Setting(parameter: .enablePush, value: 0),
        HTTP2Setting(parameter: .initialWindowSize, value: streamWindow),
        HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
    ]

    private let authority: String
    private let open: OpenFlag
    private var context: ChannelHandlerContext?
    private var streams: [Int32: Stream] = [:]
    private var nextStreamID: Int32 = 1
    private var flushPending = false
    /// Set by GOAWAY or close: no new streams.
    private var closedError: HTTP2ConnectionError?
    private var connectionUnacknowledged = 0
    /// The PING sent after a deadline passed, until its ACK arrives.
    private var probe: UInt64?
    private var probes: UInt64 = 0
    private var sweep: RepeatedTask?
    /// Called once, when the server's first SETTINGS frame arrives.
    var onSettings: (() -> Void)?

    init(authority: String, open: OpenFlag) {
        self.authority = authority
        self.open = open
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let increment = Self.connectionWindow - 65_535
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweep?.cancel()
        sweep = nil
        failAll(.connectionClosed)
        self.context = nil
    }

    /// Writes `request` as a new stream; the flush happens once for every request of this tick.
    func submit(_ request: Request, promise: EventLoopPromise<VendorTransport.Response>) {
        guard let context, closedError == nil, nextStreamID < Int32.max - 2 else {
            stopAccepting(closedError ?? .connectionClosed)
            promise.fail(closedError ?? .connectionClosed)
            return
        }
        let id = nextStreamID
        nextStreamID += 2
        let streamID = HTTP2StreamID(id)
        var fields = HPACKHeaders()
        fields.reserveCapacity(request.headers.count + 4)
        fields.add(name: ":method", value: request.method.rawValue)
        fields.add(name: ":scheme", value: "https")
        fields.add(name: ":authority", value: authority)
        // Values that differ on every request stay out of the HPACK dynamic table, where they would
        // only evict the ones that repeat (the provider token above all), as Apple recommends.
        fields.add(name: ":path", value: request.path, indexing: .nonIndexable)
        for header in request.headers {
            // HTTP/2 field names are lower case; the renderers already write them so.
            let name = header.name.utf8.contains(where: { $0 &- 65 < 26 }) ? header.name.lowercased() : header.name
            if name == "host" || name == "connection" || name == "content-length" { continue }
            fields.add(name: name, value: header.value, indexing: Self.isPerRequest(name) ? .nonIndexable : .indexable)
        }
        if !request.body.isEmpty { fields.add(name: "content-length", value: String(request.body.count)) }
        streams[id] = Stream(promise: promise, deadline: .now() + request.timeout, timeout: request.timeout)
        if sweep == nil {
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { _ in
                handler.value.expireOverdue()
            }
        }
        let failure: EventLoopPromise<Void> = context.eventLoop.makePromise()
        failure.futureResult.assumeIsolated().whenFailure { [weak self] error in self?.fail(id, error) }
        let headers = HTTP2Frame.FramePayload.headers(.init(headers: fields, endStream: request.body.isEmpty))
        if request.body.isEmpty {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: headers)), promise: failure)
        } else {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: headers)), promise: nil)
            let body = context.channel.allocator.buffer(bytes: request.body)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(body), endStream: true)))), promise: failure)
        }
        scheduleFlush(context)
    }

    private func scheduleFlush(_ context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute { [weak self] in
            guard let self else { return }
            self.flushPending = false
            self.context?.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let id = Int32(frame.streamID)
        switch frame.payload {
        case .headers(let payload):
            guard var stream = streams[id] else { return }
            if let status = payload.headers.first(name: ":status").flatMap({ Int($0) }) {
                if status < 200 { return }  // 1xx: the final headers follow
                stream.status = status
            }
            for (name, value, _) in payload.headers where !name.hasPrefix(":") {
                stream.headers.add(name: name, value: value)
            }
            streams[id] = stream
            if payload.endStream { finish(id) }
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data else { return }
            // Padding counts against flow control: the length byte plus the padding itself.
            acknowledge(context, bytes: bytes.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0))
            guard var stream = streams[id] else { return }
            stream.unacknowledged += bytes.readableBytes
            stream.body.writeBuffer(&bytes)
            if stream.body.readableBytes > Self.maxResponseBytes {
                streams[id] = stream
                fail(id, HTTP2ConnectionError.responseTooLarge)
                context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .rstStream(.cancel))), promise: nil)
                return
            }
            if payload.endStream {
                streams[id] = stream
                finish(id)
            } else {
                if stream.unacknowledged >= Self.streamWindow / 2 {
                    context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .windowUpdate(windowSizeIncrement: stream.unacknowledged))), promise: nil)
                    stream.unacknowledged = 0
                }
                streams[id] = stream
            }
        case .rstStream(let code):
            fail(id, HTTP2ConnectionError.streamReset(code))
        case .settings(.settings):
            if let onSettings {
                self.onSettings = nil
                onSettings()
            }
        case .ping(let data, ack: true):
            if data.integer == probe { probe = nil }
        case .goAway(let lastStreamID, _, _):
            let last = Int32(lastStreamID)
            stopAccepting(.refusedByGoAway(lastStreamID: Int(last)))
            // Streams above the last one were never processed: safe to send again elsewhere.
            for refused in streams.keys where refused > last {
                fail(refused, HTTP2ConnectionError.refusedByGoAway(lastStreamID: Int(last)))
            }
            closeWhenIdle(context)
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent, let reason = closed.reason {
            fail(Int32(closed.streamID), HTTP2ConnectionError.streamReset(reason))
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// NIOHTTP2Handler reports a stream error here too (after resetting that stream, which then
    /// ends through `StreamClosedEvent`) and keeps the connection; so an error only retires the
    /// connection: streams the server is answering still finish, a dead connection fails them
    /// when it closes, and deadlines bound the rest. Failing them all here would resend pushes
    /// the vendor already has.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        retire()
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed)
        context.fireChannelInactive()
    }

    private func acknowledge(_ context: ChannelHandlerContext, bytes: Int) {
        connectionUnacknowledged += bytes
        guard connectionUnacknowledged >= Self.connectionWindow / 2 else { return }
        let increment = connectionUnacknowledged
        connectionUnacknowledged = 0
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
    }

    private func finish(_ id: Int32) {
        end(id) { $0.promise.succeed(VendorTransport.Response(status: $0.status, headers: $0.headers, body: Data(buffer: $0.body))) }
    }

    private func fail(_ id: Int32, _ error: any Error) {
        end(id) { $0.promise.fail(error) }
    }

    /// Removes the stream, stops its deadline and completes it; closes a draining connection that
    /// has nothing left in flight.
    private func end(_ id: Int32, _ complete: (Stream) -> Void) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        complete(stream)
        if let context, closedError != nil { closeWhenIdle(context) }
    }

    /// Fails the request answered by `future` with `CancellationError` and resets its stream.
    func cancel(_ future: EventLoopFuture<VendorTransport.Response>) {
        guard let id = streams.first(where: { $0.value.promise.futureResult === future })?.key else { return }
        fail(id, CancellationError())
        context?.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: HTTP2StreamID(id), payload: .rstStream(.cancel))), promise: nil)
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
        context?.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: HTTP2StreamID(id), payload: .rstStream(.cancel))), promise: nil)
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
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: token), ack: false))), promise: nil)
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
        if let context { closeWhenIdle(context) }
    }

    /// After GOAWAY the started streams finish; then the client closes the connection.
    private func closeWhenIdle(_ context: ChannelHandlerContext) {
        if streams.isEmpty { context.close(promise: nil) }
    }
}

extension String {
    /// True for an IPv4 or IPv6 literal, which TLS may not send as SNI.
    var isIPAddressLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}

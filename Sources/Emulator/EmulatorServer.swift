import Foundation
import HTTPTypes
import NIOCore
import NIOFoundationCompat
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// One request as the emulator received it, over either protocol.
struct EmulatorRequest {
    var method: String
    /// The path without the query.
    var path: String
    var query: Substring
    var headers: HTTPFields
    var body: Data
    /// The `:name` segments of the matched route.
    var parameters: [String: String] = [:]

    init(method: String, target: String, headers: HTTPFields, body: Data) {
        self.method = method
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(target[..<mark])
            query = target[target.index(after: mark)...]
        } else {
            path = target
            query = ""
        }
        self.headers = headers
        self.body = body
    }

    /// The first value of a header field; `name` in lower case.
    func header(_ name: String) -> String? {
        headers.first { $0.name.canonicalName == name }?.value
    }

    /// A query parameter, percent-decoded.
    func queryParameter(_ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if Form.decode(String(parts[0])) == name { return parts.count > 1 ? Form.decode(String(parts[1])) : "" }
        }
        return nil
    }
}

/// What the emulator's faults can do to the connection a request arrived on. Both transports
/// implement it; every call happens on the connection's event loop.
protocol EmulatorConnection: AnyObject {
    /// The connection's handler context while the handler is in the pipeline.
    var context: ChannelHandlerContext? { get }
    /// Sends GOAWAY naming the highest stream started so far (HTTP/2; nothing on HTTP/1.1).
    func goAway()
}

extension EmulatorConnection {
    var eventLoop: any EventLoop { context!.eventLoop }
    /// The client's port: equal ports mean the same connection.
    var remotePort: Int? { context?.channel.remoteAddress?.port }
    /// Closes the connection without answering.
    func drop() { context?.close(promise: nil) }
    /// Stops reading the connection, so the client sees silence rather than a close.
    func stall() { context?.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
}

/// The emulator's network side: TLS with ALPN (`h2`, `http/1.1`), HTTP/2 handled frame by frame on
/// the connection's event loop, HTTP/1.1 through NIO's server pipeline. No channel or task per
/// stream: a request is answered in the event loop tick that completes it, unless a fault delays it.
public struct EmulatorServer: Sendable {
    let emulator: GatewayEmulator
    let host: String
    let port: Int
    let http1Only: Bool
    /// SETTINGS_MAX_CONCURRENT_STREAMS; APNs raises its limit to 1,000 – 1,500.
    let maxConcurrentStreams: Int
    /// The event loops serving the connections.
    let group: any EventLoopGroup

    /// The HTTP/2 SETTINGS the emulator sends: the stream limit, and requests up to the 1 MB body
    /// limit without stream window updates.
    var settings: HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: EmulatorHTTP2Handler.maxBody),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
        ]
    }

    /// Binds, reports the bound port, and serves until the task is cancelled; then closes the
    /// listener and every open connection.
    public func run(onRunning: @Sendable (Int) async -> Void = { _ in }) async throws {
        var tls = try emulator.certificates.serverTLSConfiguration()
        tls.applicationProtocols = http1Only ? ["http/1.1"] : ["h2", "http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let connections = OpenConnections()
        let emulator = emulator
        let http1Only = http1Only
        let settings = settings
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    connections.add(channel)
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLServerHandler(context: context))
                    if http1Only {
                        try Self.configureHTTP1(channel, emulator)
                        return
                    }
                    try pipeline.addHandler(
                        ApplicationProtocolNegotiationHandler { result, channel in
                            channel.eventLoop.makeCompletedFuture {
                                if case .negotiated("h2") = result {
                                    try channel.pipeline.syncOperations.addHandlers([
                                        NIOHTTP2Handler(mode: .server, initialSettings: settings),
                                        EmulatorHTTP2Handler(emulator: emulator),
                                    ])
                                } else {
                                    try Self.configureHTTP1(channel, emulator)
                                }
                            }
                        }
                    )
                }
            }
            .bind(host: host, port: port).get()
        let bound = listener.localAddress?.port ?? port
        await withTaskCancellationHandler {
            await onRunning(bound)
            try? await listener.closeFuture.get()
        } onCancel: {
            listener.close(promise: nil)
        }
        try? await listener.close()
        await connections.closeAll()
    }

    static func configureHTTP1(_ channel: any Channel, _ emulator: GatewayEmulator) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(EmulatorHTTP1Handler(emulator: emulator))
    }
}

/// The connections a server accepted, so that stopping it closes them too.
final class OpenConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = channels.withLock { $0.removeValue(forKey: id) } }
    }

    func closeAll() async {
        for channel in channels.withLock({ Array($0.values) }) { try? await channel.close() }
    }
}

/// One HTTP/2 connection of the emulator: gathers each stream's HEADERS and DATA, hands the
/// complete request to the emulator, writes the answer as frames, and flushes once per read burst.
/// Keeps the connection's GOAWAY state: streams above the announced last stream are refused.
final class EmulatorHTTP2Handler: ChannelInboundHandler, EmulatorConnection {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// The largest request body accepted; also each stream's receive window.
    static let maxBody = 1 << 20
    static let connectionWindow = 16 << 20

    private struct PendingRequest {
        var headers: HPACKHeaders
        var body = ByteBuffer()
    }

    private let emulator: GatewayEmulator
    private(set) var context: ChannelHandlerContext?
    private var streams: [Int32: PendingRequest] = [:]
    private var highestStarted: Int32 = 0
    private var goAwayLast: Int32?
    private var connectionUnacknowledged = 0
    private var reading = false
    private var flushPending = false

    init(emulator: GatewayEmulator) {
        self.emulator = emulator
    }

    /// Opens the connection window, as the client does; NIOHTTP2Handler, added just before, has
    /// sent its SETTINGS already.
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let increment = Self.connectionWindow - 65_535
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        let frame = unwrapInboundIn(data)
        let id = Int32(frame.streamID)
        switch frame.payload {
        case .headers(let payload):
            if streams[id] == nil {
                // A GOAWAY announces every stream already opened as processed: NIOHTTP2 forgets the
                // streams above the last one, and their DATA arriving later stalls the connection.
                if let last = goAwayLast, id > last { return }
                highestStarted = max(highestStarted, id)
                streams[id] = PendingRequest(headers: payload.headers)
            }
            if payload.endStream { complete(id) }
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data else { return }
            acknowledge(context, bytes: bytes.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0))
            guard var stream = streams.removeValue(forKey: id) else { return }
            stream.body.writeBuffer(&bytes)
            if stream.body.readableBytes > Self.maxBody {
                answer(id, GatewayEmulator.Answer(status: .contentTooLarge, json: "", result: "too large"))
                write(HTTP2Frame(streamID: frame.streamID, payload: .rstStream(.noError)))
                return
            }
            streams[id] = stream
            if payload.endStream { complete(id) }
        case .rstStream:
            streams[id] = nil
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let closed = event as? StreamClosedEvent { streams[Int32(closed.streamID)] = nil }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIOHTTP2Handler has already answered protocol errors (RST_STREAM or GOAWAY); TLS and
        // socket errors end the connection.
        if !(error is NIOHTTP2Errors.StreamError) && !(error is any NIOHTTP2Error) { context.close(promise: nil) }
    }

    private func complete(_ id: Int32) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        var fields = HTTPFields()
        var method = ""
        var target = "/"
        for (name, value, _) in stream.headers {
            switch name {
            case ":method": method = value
            case ":path": target = value
            default:
                if !name.hasPrefix(":"), let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
            }
        }
        let request = EmulatorRequest(method: method, target: target, headers: fields, body: Data(buffer: stream.body))
        emulator.handle(request, on: self) { [self] answer in self.answer(id, answer) }
    }

    private func answer(_ id: Int32, _ answer: GatewayEmulator.Answer) {
        let streamID = HTTP2StreamID(id)
        let body = answer.encodedBody()
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: String(answer.status.code))
        // Per-response values (apns-id) stay out of the HPACK table.
        for field in answer.headers { headers.add(name: field.name.canonicalName, value: field.value, indexing: .nonIndexable) }
        if !body.isEmpty {
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.count))
        }
        write(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: headers, endStream: body.isEmpty))))
        if !body.isEmpty, let context {
            let buffer = context.channel.allocator.buffer(bytes: body)
            write(HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(buffer), endStream: true))))
        }
    }

    /// Writes a frame; the flush waits for the end of the read burst, or happens now when the
    /// answer comes later (a delayed fault).
    private func write(_ frame: HTTP2Frame) {
        guard let context else { return }
        context.write(wrapOutboundOut(frame), promise: nil)
        if reading { flushPending = true } else { context.flush() }
    }

    private func acknowledge(_ context: ChannelHandlerContext, bytes: Int) {
        connectionUnacknowledged += bytes
        guard connectionUnacknowledged >= Self.connectionWindow / 2 else { return }
        let increment = connectionUnacknowledged
        connectionUnacknowledged = 0
        write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment)))
    }

    // MARK: EmulatorConnection

    /// Announces the highest stream started as the last one processed, as APNs does: later
    /// streams are refused (the client retries them elsewhere), started ones complete, and the
    /// connection is left for the client to close, so no answered push loses its response.
    func goAway() {
        let last = goAwayLast ?? highestStarted
        goAwayLast = last
        let debug = ByteBuffer(string: #"{"reason":"Shutdown"}"#)
        write(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: HTTP2StreamID(last), errorCode: .noError, opaqueData: debug)))
    }
}

/// One HTTP/1.1 connection of the emulator (a vendor reached without ALPN `h2`).
final class EmulatorHTTP1Handler: ChannelInboundHandler, EmulatorConnection {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let emulator: GatewayEmulator
    private(set) var context: ChannelHandlerContext?
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(emulator: GatewayEmulator) {
        self.emulator = emulator
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var bytes):
            body.writeBuffer(&bytes)
        case .end:
            guard let head else { return }
            self.head = nil
            guard body.readableBytes <= EmulatorHTTP2Handler.maxBody else {
                answer(head, GatewayEmulator.Answer(status: .contentTooLarge, json: "", result: "too large"))
                return
            }
            var fields = HTTPFields()
            for (name, value) in head.headers {
                if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
            }
            let request = EmulatorRequest(method: head.method.rawValue, target: head.uri, headers: fields, body: Data(buffer: body))
            emulator.handle(request, on: self) { [self] answer in self.answer(head, answer) }
        }
    }

    private func answer(_ request: HTTPRequestHead, _ answer: GatewayEmulator.Answer) {
        guard let context else { return }
        let body = answer.encodedBody()
        var headers = HTTPHeaders()
        for field in answer.headers { headers.add(name: field.name.rawName, value: field.value) }
        if !body.isEmpty { headers.add(name: "content-type", value: "application/json") }
        headers.add(name: "content-length", value: String(body.count))
        if !request.isKeepAlive { headers.add(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: Int(answer.status.code))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
        let keepAlive = request.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    func goAway() {}
}

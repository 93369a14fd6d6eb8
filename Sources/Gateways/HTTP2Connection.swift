import CNGHTTP2
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
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
    /// The server reset the stream (HTTP/2 error code), or nghttp2 did on a protocol error.
    case streamReset(code: UInt32)
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
        case .streamReset(let code): "stream reset (HTTP/2 error \(code))"
        case .deadlineExceeded: "deadline exceeded"
        case .notHTTP2(let negotiated): "ALPN negotiated \(negotiated ?? "nothing"), not h2"
        case .responseTooLarge: "response body too large"
        }
    }
}

/// One HTTP/2 connection over TLS to one origin. NIO carries the socket and TLS; nghttp2 does the
/// HTTP/2 framing (HPACK, stream states, flow control) on the connection's event loop, with no
/// channel or pipeline per stream. All requests submitted in the same event loop tick share one
/// flush, so they leave in as few TLS records as the frames allow.
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

    /// Connects (through `proxy`'s `CONNECT` tunnel when one is given), completes the TLS handshake
    /// and checks that ALPN chose `h2`.
    static func connect(
        host: String, port: Int, proxy: HTTPProxy? = nil, sslContext: NIOSSLContext, group: any EventLoopGroup, connectTimeout: TimeAmount
    ) async throws -> HTTP2Connection {
        let open = OpenFlag()
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let authority = port == 443 ? bracketed : "\(bracketed):\(port)"
        let sniHost = host.isIPAddressLiteral ? nil : host
        let eventLoop = group.next()
        let ready = eventLoop.makePromise(of: NIOLoopBound<HTTP2ClientHandler>.self)
        // TLS, then HTTP/2 once ALPN chose it. The handshake may finish before `connect` returns:
        // the ALPN handler is in the pipeline from the start.
        let addTLS = { @Sendable (channel: any Channel) throws in
            let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: sniHost)
            let alpn = ALPNHandler { negotiated in
                guard negotiated == "h2" else { throw HTTP2ConnectionError.notHTTP2(negotiated: negotiated) }
                let client = try HTTP2ClientHandler(authority: authority, open: open)
                try channel.pipeline.syncOperations.addHandler(client)
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
        let tunnel = proxy.map { _ in eventLoop.makePromise(of: Void.self) }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let proxy, let tunnel {
                            try proxy.addTunnelHandlers(
                                to: channel, host: host, port: port, deadline: .now() + connectTimeout, opened: tunnel
                            )
                        } else {
                            try addTLS(channel)
                        }
                    }
                }
                .connect(host: proxy?.host ?? host, port: proxy?.port ?? port).get()
        } catch {
            tunnel?.fail(error)
            ready.fail(error)
            throw error
        }
        if let proxy, let tunnel {
            do {
                try await tunnel.futureResult
                    .flatMap { proxy.removeTunnelHandlers(from: channel) }
                    .flatMapThrowing { try addTLS(channel) }
                    .get()
            } catch {
                ready.fail(error)
                channel.close(promise: nil)
                throw HTTPProxyError(description: "proxy \(proxy.host):\(proxy.port) opened no tunnel to \(authority): \(error)")
            }
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

extension String {
    /// True for an IPv4 or IPv6 literal, which TLS may not send as SNI.
    var isIPAddressLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}

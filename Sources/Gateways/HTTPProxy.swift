import AsyncHTTPClient
import Foundation
import NIOCore
import NIOExtras
import NIOHTTP1

/// An HTTP proxy that carries vendor connections through a `CONNECT` tunnel (RFC 9110 §9.3.6):
/// TLS and HTTP/2 run end to end inside it, the proxy sees only the origin's host and port.
public struct HTTPProxy: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// `Basic` credentials (RFC 7617) sent as `Proxy-Authorization` with every `CONNECT`.
    public var username: String?
    public var password: String?

    public init(host: String, port: Int, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// The same proxy for AsyncHTTPClient (HTTP/1.1 origins), which also tunnels `https` with `CONNECT`.
    var asyncHTTPClientProxy: HTTPClient.Configuration.Proxy {
        guard let username else { return .server(host: host, port: port) }
        return .server(host: host, port: port, authorization: .basic(username: username, password: password ?? ""))
    }

    /// The `CONNECT` request's headers.
    var connectHeaders: HTTPHeaders {
        guard let username else { return [:] }
        let credentials = Data("\(username):\(password ?? "")".utf8).base64EncodedString()
        return ["proxy-authorization": "Basic \(credentials)"]
    }
}

/// Why a proxy did not open a tunnel.
public struct HTTPProxyError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension HTTPProxy {
    /// Adds what speaks `CONNECT` to a channel connected to the proxy; the promise succeeds once the
    /// proxy answered 2xx. ``removeTunnelHandlers(from:)`` takes them out again before TLS goes in.
    func addTunnelHandlers(to channel: any Channel, host: String, port: Int, deadline: NIODeadline, opened: EventLoopPromise<Void>) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(HTTPRequestEncoder(), name: Self.encoderName)
        try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)), name: Self.decoderName)
        let connect = NIOHTTP1ProxyConnectHandler(
            targetHost: host, targetPort: port, headers: connectHeaders, deadline: deadline, promise: opened
        )
        try sync.addHandler(connect)
    }

    /// Leaves a bare byte stream to the origin: the `CONNECT` handler took itself out when the
    /// tunnel opened; the HTTP/1 codec goes now.
    func removeTunnelHandlers(from channel: any Channel) -> EventLoopFuture<Void> {
        let pipeline = channel.pipeline
        return pipeline.removeHandler(name: Self.decoderName).flatMap { pipeline.removeHandler(name: Self.encoderName) }
    }

    private static let encoderName = "proxy-http1-encoder"
    private static let decoderName = "proxy-http1-decoder"
}

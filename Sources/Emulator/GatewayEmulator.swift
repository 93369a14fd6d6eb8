import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdHTTP2
import HummingbirdTLS
import Logging
import NIOCore
import NIOHTTP2
import NIOFoundationCompat
import NIOSSL
import PushCore

/// The request context of the emulator: keeps the stream's channel so a fault can reach the
/// connection (GOAWAY, drop).
public struct EmulatorContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The vendor gateway emulator: all eight vendors over HTTP/2 and TLS (HTTP/1.1 by ALPN too), each
/// under its own path prefix: `/apns`, `/fcm`, `/huawei`, `/honor`, `/xiaomi`, `/oppo`, `/vivo`,
/// `/meizu`, plus `/admin` for faults, tokens and the request recorder.
public struct GatewayEmulator: Sendable {
    public let state: EmulatorState
    public let certificates: EmulatorCertificates

    public init(state: EmulatorState = EmulatorState(), certificates: EmulatorCertificates) {
        self.state = state
        self.certificates = certificates
    }

    /// The Hummingbird application serving the emulator; `http1Only` serves HTTP/1.1 over TLS
    /// without ALPN, like a vendor that does not speak HTTP/2.
    public func application(
        host: String = "127.0.0.1", port: Int = 0, http1Only: Bool = false, logger: Logger = Logger(label: "pushd.emulator"),
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router(context: EmulatorContext.self)
        addAPNsRoutes(to: router)
        addFCMRoutes(to: router)
        addHuaweiHonorRoutes(to: router)
        addChineseVendorRoutes(to: router)
        addAdminRoutes(to: router)
        var logger = logger
        logger.logLevel = .warning
        return Application(
            router: router,
            server: http1Only
                ? try .tls(.http1(), tlsConfiguration: certificates.serverTLSConfiguration())
                : try .http2Upgrade(tlsConfiguration: certificates.serverTLSConfiguration()),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Starts the emulator on a free port in the background, for tests and benchmarks.
    public func start(host: String = "127.0.0.1", port: Int = 0, http1Only: Bool = false) async throws -> Running {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try application(host: host, port: port, http1Only: http1Only) { port in continuation.yield(port) }
        let task = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw CancellationError() }
        return Running(port: bound, task: task, state: state)
    }

    /// A started emulator.
    public struct Running: Sendable {
        public let port: Int
        let task: Task<Void, any Error>
        public let state: EmulatorState

        /// `https://127.0.0.1:PORT/<vendor>`: the endpoint to configure for a vendor.
        public func endpoint(_ vendor: Vendor) -> String { "https://127.0.0.1:\(port)/\(vendor.rawValue)" }

        public func stop() async {
            task.cancel()
            _ = await task.result
        }
    }

    // MARK: Shared send pipeline

    /// A vendor's answer before it becomes an HTTP response.
    struct Answer {
        var status: HTTPResponse.Status
        var json: Any
        var headers: HTTPFields = [:]
        /// `ok` or the reason / code, for the recorder.
        var result: String
    }

    /// Reads the body, applies any fault for the vendor, answers, and records the exchange.
    func send(
        _ vendor: Vendor, _ request: Request, _ context: EmulatorContext, answer: (Data) async throws -> Answer
    ) async throws -> Response {
        state.inFlight(vendor, 1)
        defer { state.inFlight(vendor, -1) }
        let body = Data(buffer: try await request.body.collect(upTo: 1 << 20))
        // An HTTP/2 stream's parent is its connection, whose parent is the listener; an HTTP/1.1
        // connection has no grandparent, and asking it for a stream id would trap.
        let connection = context.channel.parent?.parent == nil ? nil : context.channel.parent
        if let connection, let streamID = try? await context.channel.getOption(HTTP2StreamChannelOptions.streamID).get(),
            !state.begin(stream: Int(streamID), connection: ObjectIdentifier(connection), closeFuture: connection.closeFuture)
        {
            // Above the last stream of a GOAWAY: reset, never processed, not recorded.
            context.channel.close(promise: nil)
            return Response(status: .serviceUnavailable)
        }
        let fault = state.takeFault(vendor: vendor)
        if let fault {
            if let latency = fault.latencyMillis { try await Task.sleep(for: .milliseconds(latency)) }
            if fault.drop == true {
                connection?.close(promise: nil)
                context.channel.close(promise: nil)
            }
            if fault.goaway == true, let connection { try await goAway(connection) }
            if fault.stall == true {
                let silent = connection ?? context.channel
                try await silent.setOption(ChannelOptions.autoRead, value: false)
                // Silent until the client gives up on the connection (or a minute passes).
                for _ in 0..<1_200 where silent.isActive { try await Task.sleep(for: .milliseconds(50)) }
                throw HTTPError(.serviceUnavailable)
            }
        }
        var result: Answer
        if let status = fault?.status {
            result = faultAnswer(vendor, status: status, reason: fault?.reason)
            if let retryAfter = fault?.retryAfter { result.headers[.retryAfter] = String(retryAfter) }
        } else {
            result = try await answer(body)
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        state.record(
            RecordedRequest(
                vendor: vendor, method: request.method.rawValue, path: request.uri.path, headers: headers,
                body: String(decoding: body, as: UTF8.self), status: Int(result.status.code), result: result.result,
                receivedAtMillis: state.clock.nowMillis(), connection: (connection ?? context.channel).remoteAddress?.port
            )
        )
        return Self.response(result)
    }

    /// Sends GOAWAY on the stream's connection, announcing the highest stream a handler has
    /// started as the last one processed, as APNs does: later streams are refused (the client
    /// retries them elsewhere), started ones complete, and the connection is left for the client to
    /// close, so no answered push loses its response.
    func goAway(_ connection: any Channel) async throws {
        let last = HTTP2StreamID(state.goAway(connection: ObjectIdentifier(connection)))
        let debug = ByteBuffer(string: #"{"reason":"Shutdown"}"#)
        let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: last, errorCode: .noError, opaqueData: debug))
        try await connection.writeAndFlush(frame)
    }

    static func response(_ answer: Answer) -> Response {
        var headers = answer.headers
        let data: Data
        if let empty = answer.json as? String, empty.isEmpty {
            data = Data()
        } else {
            headers[.contentType] = "application/json"
            data = (try? JSONSerialization.data(withJSONObject: answer.json, options: [.sortedKeys])) ?? Data()
        }
        return Response(status: answer.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The vendor-shaped error body for an injected fault.
    func faultAnswer(_ vendor: Vendor, status: Int, reason: String?) -> Answer {
        let code = HTTPResponse.Status(code: status)
        let reason = reason ?? (status >= 500 ? "ServiceUnavailable" : "BadRequest")
        switch vendor {
        case .apns:
            var headers = HTTPFields()
            headers[HTTPField.Name("apns-id")!] = UUID().uuidString.lowercased()
            return Answer(status: code, json: ["reason": reason], headers: headers, result: reason)
        case .fcm:
            return Answer(status: code, json: FCMErrors.body(status: status, errorCode: reason, message: reason), result: reason)
        case .huawei:
            return Answer(status: code, json: ["code": reason, "msg": "injected fault", "requestId": state.nextID()], result: reason)
        case .honor:
            return Answer(status: code, json: ["code": Int(reason) ?? status, "message": reason], result: reason)
        case .xiaomi:
            return Answer(
                status: code, json: ["result": "error", "code": Int(reason) ?? 10002, "description": "injected fault", "reason": reason],
                result: reason
            )
        case .oppo:
            return Answer(status: code, json: ["code": Int(reason) ?? -1, "message": "injected fault"], result: reason)
        case .vivo:
            return Answer(status: code, json: ["result": Int(reason) ?? 10050, "desc": "injected fault"], result: reason)
        case .meizu:
            return Answer(status: code, json: ["code": reason, "message": "injected fault", "value": [String: Any]()], result: reason)
        }
    }
}

/// Parses `application/x-www-form-urlencoded` bodies.
enum Form {
    static func parse(_ data: Data) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: data, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(String(parts[0]))
            fields[name] = parts.count > 1 ? decode(String(parts[1])) : ""
        }
        return fields
    }

    static func decode(_ text: String) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
    }
}

extension HTTPField.Name {
    static let retryAfter = HTTPField.Name("Retry-After")!
}

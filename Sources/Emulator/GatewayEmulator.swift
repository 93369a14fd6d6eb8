import Foundation
import HTTPTypes
import NIOCore
import NIOPosix
import PushCore

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

    /// The server for this emulator; `http1Only` serves HTTP/1.1 over TLS without offering `h2`,
    /// like a vendor that does not speak HTTP/2.
    public func server(
        host: String = "127.0.0.1", port: Int = 0, http1Only: Bool = false, maxConcurrentStreams: Int = 1000,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) -> EmulatorServer {
        EmulatorServer(emulator: self, host: host, port: port, http1Only: http1Only, maxConcurrentStreams: maxConcurrentStreams, group: group)
    }

    /// Starts the emulator on a free port in the background, for tests and benchmarks. With
    /// `threads`, it serves on event loops of its own, stopped with it: a benchmark's emulator then
    /// shares no thread with the client it measures, as a vendor's servers or a separate load
    /// generator would not. Otherwise it serves on NIO's shared loops.
    public func start(
        host: String = "127.0.0.1", port: Int = 0, http1Only: Bool = false, maxConcurrentStreams: Int = 1000, threads: Int? = nil
    ) async throws -> Running {
        let loops = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = server(
            host: host, port: port, http1Only: http1Only, maxConcurrentStreams: maxConcurrentStreams,
            group: loops ?? MultiThreadedEventLoopGroup.singleton
        )
        let task = Task {
            defer { continuation.finish() }
            try await server.run { port in continuation.yield(port) }
        }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else {
            try? await loops?.shutdownGracefully()
            try await task.value
            throw CancellationError()
        }
        return Running(port: bound, task: task, state: state, loops: loops)
    }

    /// A started emulator.
    public struct Running: Sendable {
        public let port: Int
        let task: Task<Void, any Error>
        public let state: EmulatorState
        /// Its own event loops, when it was started with them.
        let loops: MultiThreadedEventLoopGroup?

        /// `https://127.0.0.1:PORT/<vendor>`: the endpoint to configure for a vendor.
        public func endpoint(_ vendor: Vendor) -> String { "https://127.0.0.1:\(port)/\(vendor.rawValue)" }

        public func stop() async {
            task.cancel()
            _ = await task.result
            try? await loops?.shutdownGracefully()
        }
    }

    // MARK: Routing

    /// A vendor's answer before it becomes an HTTP response.
    struct Answer {
        var status: HTTPResponse.Status
        /// A JSON object, JSON already encoded (`Data`, the recorder's listing), or `""` for an
        /// empty body.
        var json: Any
        var headers: HTTPFields = [:]
        /// `ok` or the reason / code, for the recorder.
        var result: String

        func encodedBody() -> Data {
            if let encoded = json as? Data { return encoded }
            if let empty = json as? String, empty.isEmpty { return Data() }
            return (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data()
        }
    }

    /// A path the emulator serves: `:name` segments are parameters. A send route goes through the
    /// fault injector and the recorder; a plain one (auth, admin) answers directly.
    struct Route: Sendable {
        enum Handler: Sendable {
            case send(Vendor, @Sendable (GatewayEmulator, EmulatorRequest) -> Answer)
            case plain(@Sendable (GatewayEmulator, EmulatorRequest) throws -> Answer)
        }

        var method: String
        var segments: [String]
        var handler: Handler

        init(_ method: String, _ pattern: String, _ handler: Handler) {
            self.method = method
            segments = pattern.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            self.handler = handler
        }

        /// The parameters when `path` (split on `/`, without the leading one) matches.
        func match(_ path: [Substring]) -> [String: String]? {
            guard path.count == segments.count else { return nil }
            var parameters: [String: String] = [:]
            for (segment, part) in zip(segments, path) {
                if segment.first == ":" {
                    parameters[String(segment.dropFirst())] = String(part)
                } else if segment != part {
                    return nil
                }
            }
            return parameters
        }
    }

    static let routes: [Route] = apnsRoutes + fcmRoutes + huaweiHonorRoutes + chineseVendorRoutes + adminRoutes

    /// Answers one request; `reply` runs on the connection's event loop, now or after a fault's delay.
    func handle(_ request: EmulatorRequest, on connection: any EmulatorConnection, reply: @escaping (Answer) -> Void) {
        let path = request.path.utf8.drop(while: { $0 == UInt8(ascii: "/") })
            .split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { Substring($0) }
        var pathMatched = false
        for route in Self.routes {
            guard let parameters = route.match(path) else { continue }
            pathMatched = true
            guard route.method == request.method else { continue }
            var request = request
            request.parameters = parameters
            switch route.handler {
            case .plain(let answer):
                do {
                    reply(try answer(self, request))
                } catch {
                    reply(Answer(status: .badRequest, json: ["error": "\(error)"], result: "bad request"))
                }
            case .send(let vendor, let answer):
                send(vendor, request, connection, reply: reply) { answer(self, $0) }
            }
            return
        }
        // APNs answers routing errors with a reason; the others with an empty body.
        let apns = path.first == "apns"
        if pathMatched {
            reply(Answer(status: .methodNotAllowed, json: apns ? ["reason": "MethodNotAllowed"] : "", result: "MethodNotAllowed"))
        } else {
            reply(Answer(status: .notFound, json: apns ? ["reason": "BadPath"] : "", result: "BadPath"))
        }
    }

    // MARK: Shared send pipeline

    /// Applies any fault for the vendor, answers, and records the exchange.
    func send(
        _ vendor: Vendor, _ request: EmulatorRequest, _ connection: any EmulatorConnection, reply: @escaping (Answer) -> Void,
        answer: @escaping (EmulatorRequest) -> Answer
    ) {
        if let move = state.takeChaos() {
            switch move {
            case .reset:
                connection.drop()
                return
            case .goAway:
                connection.goAway()
            case .answer(let status, let retryAfter, let body):
                var answer = Answer(status: HTTPResponse.Status(code: status), json: body, result: "chaos \(status)")
                if let retryAfter { answer.headers[.retryAfter] = retryAfter }
                reply(recorded(vendor, request, connection, answer))
                return
            }
        }
        guard let fault = state.takeFault(vendor: vendor) else {
            reply(recorded(vendor, request, connection, answer(request)))
            return
        }
        // Only a fault can hold a request, so only those count towards the peak in flight.
        state.inFlight(vendor, 1)
        let reply = { [state] (answer: Answer) in
            state.inFlight(vendor, -1)
            reply(answer)
        }
        let proceed = { [self] in
            if fault.drop == true { connection.drop() }
            if fault.goaway == true { connection.goAway() }
            if fault.stall == true {
                connection.stall()
                // Silent until the client gives up on the connection (or a minute passes).
                connection.eventLoop.assumeIsolated().scheduleTask(in: .seconds(60)) {
                    reply(Answer(status: .serviceUnavailable, json: "", result: "stalled"))
                }
                return
            }
            var result: Answer
            if let status = fault.status {
                result = faultAnswer(vendor, status: status, reason: fault.reason)
                if let retryAfter = fault.retryAfter { result.headers[.retryAfter] = String(retryAfter) }
            } else {
                result = answer(request)
            }
            reply(recorded(vendor, request, connection, result))
        }
        if fault.hold == true {
            let loop = connection.eventLoop
            let bound = NIOLoopBound(proceed, eventLoop: loop)
            state.hold(vendor) { loop.execute { bound.value() } }
        } else if let latency = fault.latencyMillis {
            connection.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(latency))) { proceed() }
        } else {
            proceed()
        }
    }

    /// Records a send request and the answer it gets; returns the answer.
    func recorded(_ vendor: Vendor, _ request: EmulatorRequest, _ connection: any EmulatorConnection, _ answer: Answer) -> Answer {
        state.record(
            .init(
                vendor: vendor, method: request.method, path: request.path, headers: request.headers, body: request.body,
                status: Int(answer.status.code), result: answer.result, receivedAtMillis: state.clock.nowMillis(),
                connection: connection.remotePort
            )
        )
        return answer
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

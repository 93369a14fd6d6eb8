import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import Synchronization

/// The HTTP client shared by the vendor clients of one vendor and credential: HTTP/2 over TLS
/// (ALPN; HTTP/1.1 where a vendor only speaks that), a fixed number of connections, a limit on
/// requests in flight, and a deadline on every request.
public final class VendorTransport: Sendable {
    /// Connection and stream settings.
    public struct Settings: Sendable, Equatable {
        /// HTTP/2 connections per origin (each multiplexes many requests); HTTP/1.1 pools otherwise.
        public var connections: Int
        /// Requests in flight across all connections.
        public var maxInFlight: Int
        /// No request waits longer than this.
        public var timeout: Duration
        /// Extra PEM CA bundle trusted in addition to the system roots (`tls.ca_file`).
        public var caFile: String?
        /// Every connection goes through this proxy's `CONNECT` tunnel (`proxy`).
        public var proxy: HTTPProxy?

        public init(
            connections: Int = 2, maxInFlight: Int = 1000, timeout: Duration = .seconds(15), caFile: String? = nil, proxy: HTTPProxy? = nil
        ) {
            self.connections = max(1, connections)
            self.maxInFlight = max(1, maxInFlight)
            self.timeout = timeout
            self.caFile = caFile
            self.proxy = proxy
        }
    }

    /// What came back.
    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: Data

        public func header(_ name: String) -> String? { headers.first(name: name) }
        /// `Retry-After` in seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date); nil when absent,
        /// negative or unreadable. Clamped to a day here; the dispatcher applies its own cap.
        public var retryAfter: Int? { header("retry-after").flatMap { RetryAfter.seconds($0, now: Date()) } }
    }

    /// HTTP/1.1 (plain `http` URLs and origins whose ALPN does not offer `h2`), created on first use.
    private let http1: Mutex<[HTTPClient]?>
    private let http1Configuration: HTTPClient.Configuration
    private let next = Atomic<Int>(0)
    private let slots: AsyncSemaphore
    private let pools = Mutex<[HTTPSTarget.Origin: HTTP2Pool]>([:])
    private let sslContext: NIOSSLContext
    public let settings: Settings

    public init(settings: Settings = .init()) throws {
        self.settings = settings
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = settings.caFile, !caFile.isEmpty {
            tls.additionalTrustRoots = [.file(caFile)]
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        // Connect includes the TLS handshake: AsyncHTTPClient's default 10 s.
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool = .init(idleTimeout: .seconds(300))
        configuration.proxy = settings.proxy?.asyncHTTPClientProxy
        http1Configuration = configuration
        http1 = Mutex(nil)
        tls.applicationProtocols = ["h2", "http/1.1"]
        sslContext = try NIOSSLContext(configuration: tls)
        slots = AsyncSemaphore(permits: settings.maxInFlight)
    }

    /// Sends one request: over HTTP/2 on the origin's next connection in turn, or over HTTP/1.1
    /// where the origin does not speak HTTP/2.
    public func execute(method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8]) async throws -> Response {
        await slots.acquire()
        defer { slots.release() }
        let timeout = TimeAmount.nanoseconds(settings.timeout.nanoseconds)
        if let target = HTTPSTarget(url), let pool = pool(for: target) {
            do {
                return try await pool.execute(method: method, path: target.path, headers: headers, body: body, timeout: timeout)
            } catch HTTP2ConnectionError.notHTTP2 {
                pool.markHTTP1()
            }
        }
        return try await executeHTTP1(method: method, url: url, headers: headers, body: body, timeout: timeout)
    }

    /// Sends later requests to `url`'s origin on new connections (APNs after `ExpiredProviderToken`).
    public func renewConnections(to url: String) {
        guard let target = HTTPSTarget(url) else { return }
        pools.withLock { $0[target.origin] }?.retireConnections()
    }

    /// A config reload replaced this transport: its HTTP/2 connections close once the requests on
    /// them are answered, and a request that still comes (a send that looked its client up before
    /// the reload) gets a connection that closes behind it.
    public func retire() {
        for pool in pools.withLock({ Array($0.values) }) { pool.retire() }
    }

    /// HTTP/2 connections to `url`'s origin that take new requests.
    func usableConnections(to url: String) -> Int {
        guard let target = HTTPSTarget(url) else { return 0 }
        return pools.withLock { $0[target.origin] }?.usableConnections ?? 0
    }

    private func pool(for target: HTTPSTarget) -> HTTP2Pool? {
        let pool = pools.withLock { pools in
            if let pool = pools[target.origin] { return pool }
            let pool = HTTP2Pool(
                host: target.host, port: target.port, proxy: settings.proxy, connections: settings.connections, sslContext: sslContext,
                group: HTTPClient.defaultEventLoopGroup, connectTimeout: .seconds(10)
            )
            pools[target.origin] = pool
            return pool
        }
        return pool.speaksHTTP2 ? pool : nil
    }

    private func executeHTTP1(method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8], timeout: TimeAmount) async throws -> Response {
        let clients = http1.withLock { clients in
            if let clients { return clients }
            let made = (0..<settings.connections).map { _ in
                HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http1Configuration)
            }
            clients = made
            return made
        }
        let client = clients[next.wrappingAdd(1, ordering: .relaxed).oldValue % clients.count]
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: timeout)
        let data = try await response.body.collect(upTo: 4 << 20)
        return Response(status: Int(response.status.code), headers: response.headers, body: Data(buffer: data))
    }

    /// Sends a form (token endpoints).
    public func postForm(url: String, fields: [(String, String)], headers: HTTPHeaders = [:]) async throws -> Response {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "application/x-www-form-urlencoded")
        let body = fields.map { "\(FormEscape.escape($0.0))=\(FormEscape.escape($0.1))" }.joined(separator: "&")
        return try await execute(method: .POST, url: url, headers: headers, body: Array(body.utf8))
    }

    public func shutdown() async throws {
        for pool in pools.withLock({ Array($0.values) }) { await pool.close() }
        for client in http1.withLock({ $0 ?? [] }) { try await client.shutdown() }
    }
}

enum FormEscape {
    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// A counting semaphore for async code: at most `permits` holders at a time, the rest wait in order.
public final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    private let state: Mutex<State>

    public init(permits: Int) {
        state = Mutex(State(permits: permits))
    }

    public func acquire() async {
        let acquired = state.withLock { state -> Bool in
            guard state.permits > 0 else { return false }
            state.permits -= 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.permits > 0 {
                    state.permits -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    public func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.head < state.waiters.count {
                let waiter = state.waiters[state.head]
                state.head += 1
                if state.head > 1024, state.head * 2 > state.waiters.count {
                    state.waiters.removeFirst(state.head)
                    state.head = 0
                }
                return waiter
            }
            state.permits += 1
            return nil
        }
        waiter?.resume()
    }
}

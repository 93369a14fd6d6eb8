import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The HTTP/2 connections to one origin: a fixed number of slots, each connected on first use and
/// again after GOAWAY or a close; requests take the slots in turn. Concurrent requests to a slot
/// that is connecting wait for the same connection.
final class HTTP2Pool: Sendable {
    private struct Slot {
        var connection: HTTP2Connection?
        var connecting: Task<HTTP2Connection, any Error>?
    }

    private let host: String
    private let port: Int
    private let proxy: HTTPProxy?
    private let sslContext: NIOSSLContext
    private let group: any EventLoopGroup
    private let connectTimeout: TimeAmount
    private let slots: Mutex<[Slot]>
    private let count: Int
    private let next = Atomic<Int>(0)
    private let http2 = Atomic<Bool>(true)
    /// Set by ``retire()``: a request that still comes closes its connection behind it.
    private let retired = Atomic<Bool>(false)

    init(
        host: String, port: Int, proxy: HTTPProxy?, connections: Int, sslContext: NIOSSLContext, group: any EventLoopGroup,
        connectTimeout: TimeAmount
    ) {
        self.host = host
        self.port = port
        self.proxy = proxy
        self.sslContext = sslContext
        self.group = group
        self.connectTimeout = connectTimeout
        count = max(1, connections)
        slots = Mutex(Array(repeating: Slot(), count: count))
    }

    /// False once TLS negotiated HTTP/1.1 with this origin.
    var speaksHTTP2: Bool { http2.load(ordering: .relaxed) }

    func markHTTP1() { http2.store(false, ordering: .relaxed) }

    /// Slots holding a connection that takes new requests.
    var usableConnections: Int { slots.withLock { $0.count { $0.connection?.isUsable == true } } }

    func execute(method: HTTPMethod, path: String, headers: HTTPHeaders, body: [UInt8], timeout: TimeAmount) async throws -> VendorTransport.Response {
        let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue % count
        let connection = try await connection(in: slot)
        defer { if retired.load(ordering: .relaxed) { retireConnections() } }
        return try await connection.execute(method: method, path: path, headers: headers, body: body, timeout: timeout)
    }

    private enum Lookup {
        case ready(HTTP2Connection)
        case connecting(Task<HTTP2Connection, any Error>)
    }

    private func connection(in index: Int) async throws -> HTTP2Connection {
        let lookup = slots.withLock { slots -> Lookup in
            if let connection = slots[index].connection, connection.isUsable { return .ready(connection) }
            slots[index].connection = nil
            if let connecting = slots[index].connecting { return .connecting(connecting) }
            let connecting = Task { [host, port, proxy, sslContext, group, connectTimeout] in
                try await HTTP2Connection.connect(
                    host: host, port: port, proxy: proxy, sslContext: sslContext, group: group, connectTimeout: connectTimeout
                )
            }
            slots[index].connecting = connecting
            return .connecting(connecting)
        }
        let task: Task<HTTP2Connection, any Error>
        switch lookup {
        case .ready(let connection): return connection
        case .connecting(let connecting): task = connecting
        }
        do {
            let connection = try await task.value
            slots.withLock { slots in
                if slots[index].connecting == task {
                    slots[index].connecting = nil
                    slots[index].connection = connection
                }
            }
            return connection
        } catch {
            slots.withLock { slots in
                if slots[index].connecting == task { slots[index].connecting = nil }
            }
            throw error
        }
    }

    /// The pool's owner was replaced (a config reload): the connections close once their requests
    /// are answered, and so does any connection a late request still opens.
    func retire() {
        retired.store(true, ordering: .relaxed)
        retireConnections()
    }

    /// Later requests go on new connections; the current ones finish what they carry, then close.
    func retireConnections() {
        for connection in takeConnections() { connection.retire() }
    }

    func close() async {
        for connection in takeConnections() { await connection.close() }
    }

    /// Empties the slots and hands back the connections they held.
    private func takeConnections() -> [HTTP2Connection] {
        slots.withLock { slots in
            defer { for index in slots.indices { slots[index].connection = nil } }
            return slots.compactMap(\.connection)
        }
    }
}

/// The parts of an `https` URL a request needs: host, port and path (with the query). Parsed on the
/// URL's bytes: every push parses its URL, and walking `Character`s cost about 10,000 instructions.
struct HTTPSTarget {
    var host: String
    var port: Int
    var path: String

    /// Where the connections go; the key of the transport's pools.
    struct Origin: Hashable {
        var host: String
        var port: Int
    }

    var origin: Origin { Origin(host: host, port: port) }

    init?(_ url: String) {
        var url = url
        guard let parsed = url.withUTF8({ Self.parse($0) }) else { return nil }
        (host, port, path) = parsed
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (host: String, port: Int, path: String)? {
        let scheme = "https://".utf8
        guard bytes.count > scheme.count, bytes.prefix(scheme.count).elementsEqual(scheme) else { return nil }
        let authorityStart = scheme.count
        let slash = bytes[authorityStart...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
        let authority = UnsafeBufferPointer(rebasing: bytes[authorityStart..<slash])
        let path = slash == bytes.endIndex ? "/" : String(decoding: UnsafeBufferPointer(rebasing: bytes[slash...]), as: UTF8.self)
        let hostBytes: Slice<UnsafeBufferPointer<UInt8>>
        let portBytes: Slice<UnsafeBufferPointer<UInt8>>?
        if authority.first == UInt8(ascii: "[") {
            // [IPv6]:port
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostBytes = authority[1..<close]
            let after = authority[(close + 1)...]
            if after.isEmpty {
                portBytes = nil
            } else {
                guard after.first == UInt8(ascii: ":") else { return nil }
                portBytes = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: UInt8(ascii: ":")) {
            hostBytes = authority[..<colon]
            portBytes = authority[(colon + 1)...]
        } else {
            hostBytes = authority[...]
            portBytes = nil
        }
        var port = 443
        if let portBytes {
            guard !portBytes.isEmpty, portBytes.count <= 5 else { return nil }
            port = 0
            for byte in portBytes {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                port = port * 10 + Int(byte - UInt8(ascii: "0"))
            }
        }
        guard !hostBytes.isEmpty, (1...65535).contains(port) else { return nil }
        return (String(decoding: UnsafeBufferPointer(rebasing: hostBytes), as: UTF8.self), port, path)
    }
}

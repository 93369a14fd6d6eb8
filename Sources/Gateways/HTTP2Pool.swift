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
    private let sslContext: NIOSSLContext
    private let group: any EventLoopGroup
    private let connectTimeout: TimeAmount
    private let slots: Mutex<[Slot]>
    private let count: Int
    private let next = Atomic<Int>(0)
    private let http2 = Atomic<Bool>(true)

    init(host: String, port: Int, connections: Int, sslContext: NIOSSLContext, group: any EventLoopGroup, connectTimeout: TimeAmount) {
        self.host = host
        self.port = port
        self.sslContext = sslContext
        self.group = group
        self.connectTimeout = connectTimeout
        count = max(1, connections)
        slots = Mutex(Array(repeating: Slot(), count: count))
    }

    /// False once TLS negotiated HTTP/1.1 with this origin.
    var speaksHTTP2: Bool { http2.load(ordering: .relaxed) }

    func markHTTP1() { http2.store(false, ordering: .relaxed) }

    func execute(method: HTTPMethod, path: String, headers: HTTPHeaders, body: [UInt8], timeout: TimeAmount) async throws -> VendorTransport.Response {
        let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue % count
        let connection = try await connection(in: slot)
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
            let connecting = Task { [host, port, sslContext, group, connectTimeout] in
                try await HTTP2Connection.connect(host: host, port: port, sslContext: sslContext, group: group, connectTimeout: connectTimeout)
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

/// The parts of an `https` URL a request needs: host, port and path (with the query).
struct HTTPSTarget {
    var host: String
    var port: Int
    var path: String

    var origin: String { "\(host):\(port)" }

    init?(_ url: String) {
        guard url.hasPrefix("https://") else { return nil }
        let rest = url.dropFirst(8)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if authority.hasPrefix("[") {
            // [IPv6]:port
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 443
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        } else {
            host = String(authority)
            port = 443
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }
}

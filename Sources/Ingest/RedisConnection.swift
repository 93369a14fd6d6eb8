import CHiredis
import Foundation

/// A Redis reply, copied out of hiredis's reply tree.
enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case array([RedisValue])
    case integer(Int64)
    case null
    case status(String)
    case error(String)

    var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    var array: [RedisValue]? {
        if case .array(let items) = self { items } else { nil }
    }

    /// A stream entry's `[field, value, …]` list as a dictionary of its string values; nil when
    /// this is not a list (the entry was deleted while pending).
    var fields: [String: [UInt8]]? {
        guard let items = array else { return nil }
        var result: [String: [UInt8]] = [:]
        var index = 0
        while index + 1 < items.count {
            if let name = items[index].text, case .string(let value) = items[index + 1] { result[name] = value }
            index += 2
        }
        return result
    }
}

/// One synchronous hiredis connection (`redis://[user:pass@]host:port[/db]`): commands as argument
/// vectors, so no value is ever parsed as part of a command. Not thread safe: its owner keeps it on
/// one thread.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects, authenticates and selects the database; `readTimeout` bounds every reply.
    init(url: String, readTimeout: Duration) throws {
        guard let parts = URLComponents(string: url), parts.scheme?.lowercased() == "redis", let host = parts.host, !host.isEmpty else {
            throw BrokerError("redis: not a redis:// URL")
        }
        let port = parts.port ?? 6379
        guard (1...65_535).contains(port) else { throw BrokerError("redis: port \(port) is out of range") }
        guard let context = redisConnectWithTimeout(host, Int32(port), timeval(tv_sec: 5, tv_usec: 0)) else {
            throw BrokerError("redis: out of memory")
        }
        self.context = context
        if context.pointee.err != 0 {
            let reason = Self.errorText(context)
            redisFree(context)
            throw BrokerError("redis connect to \(host):\(port): \(reason)")
        }
        let timeout = readTimeout.components
        _ = redisSetTimeout(context, timeval(tv_sec: Int(clamping: timeout.seconds), tv_usec: Int(timeout.attoseconds / 1_000_000_000_000)))
        if let password = parts.password.flatMap({ $0.removingPercentEncoding }), !password.isEmpty {
            let user = parts.user.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
            try expectOK(command(["AUTH"] + (user.map { [$0] } ?? []) + [password]), "AUTH")
        }
        let database = parts.path.drop { $0 == "/" }
        if !database.isEmpty {
            guard let index = Int(database), index >= 0 else { throw BrokerError("redis: database \(database) is not a number") }
            try expectOK(command(["SELECT", String(index)]), "SELECT")
        }
    }

    deinit { redisFree(context) }

    /// Whether the connection failed: it cannot be used again.
    var isBroken: Bool { context.pointee.err != 0 }

    func command(_ arguments: [String]) throws -> RedisValue {
        try command(arguments.map { Array($0.utf8) })
    }

    /// One command; a connection failure throws, an error reply is returned.
    func command(_ arguments: [[UInt8]]) throws -> RedisValue {
        let reply = withArgv(arguments) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
        guard let reply else { throw BrokerError("redis: \(Self.errorText(context))") }
        defer { freeReplyObject(reply) }
        return Self.value(reply.assumingMemoryBound(to: redisReply.self))
    }

    /// Several commands in one round trip; their replies in order.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisValue] {
        for arguments in commands {
            let status = withArgv(arguments) { argc, argv, lengths in redisAppendCommandArgv(context, argc, argv, lengths) }
            guard status == REDIS_OK else { throw BrokerError("redis: \(Self.errorText(context))") }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var reply: UnsafeMutableRawPointer?
            guard redisGetReply(context, &reply) == REDIS_OK, let reply else { throw BrokerError("redis: \(Self.errorText(context))") }
            replies.append(Self.value(reply.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(reply)
        }
        return replies
    }

    private func withArgv<T>(_ arguments: [[UInt8]], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T) -> T {
        // Never empty, so the buffers below have a base address.
        let lengths = arguments.isEmpty ? [0] : arguments.map(\.count)
        // One buffer holds every argument; argv points into it.
        var joined = arguments.flatMap { $0 }
        if joined.isEmpty { joined = [0] }
        return joined.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                var offset = 0
                var argv: [UnsafePointer<CChar>?] = lengths.map { length in
                    defer { offset += length }
                    return chars.baseAddress.map { UnsafePointer($0 + offset) }
                }
                return argv.withUnsafeMutableBufferPointer { pointers in
                    lengths.withUnsafeBufferPointer { body(Int32(clamping: arguments.count), pointers.baseAddress!, $0.baseAddress!) }
                }
            }
        }
    }

    private func expectOK(_ value: RedisValue, _ what: String) throws {
        if case .error(let text) = value { throw BrokerError("redis \(what): \(text)") }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func value(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        func bytes() -> [UInt8] {
            guard let str = r.str else { return [] }
            return str.withMemoryRebound(to: UInt8.self, capacity: r.len) { Array(UnsafeBufferPointer(start: $0, count: r.len)) }
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .string(bytes())
        case REDIS_REPLY_INTEGER: return .integer(r.integer)
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            guard let elements = r.element else { return .array([]) }
            return .array((0..<r.elements).map { index in elements[index].map(value) ?? .null })
        default: return .null
        }
    }
}

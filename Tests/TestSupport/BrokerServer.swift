import Emulator
import Foundation

/// Debian's `nats-server` (JetStream on, its store in a temporary folder) or `redis-server` (no
/// persistence), started on a free loopback port for ingest tests and benchmarks. `restart()`
/// brings it back on the same port and folder: a broker that went away and returned.
public final class BrokerServer: @unchecked Sendable {
    public enum Kind: String, Sendable {
        case nats
        case redis
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    public let kind: Kind
    public let port: Int
    public let folder: URL
    private var process: Process?

    public init(_ kind: Kind) throws {
        self.kind = kind
        let binary = Self.binary(kind)
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Unavailable(description: "\(binary) is not installed (apt-get install \(kind == .nats ? "nats-server" : "redis-server"); scripts/test does)")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-\(kind.rawValue)-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var lastPort = 0
        for _ in 0..<5 {
            lastPort = try LoopbackPort.free()
            if let process = try Self.launch(kind, port: lastPort, folder: folder) {
                self.port = lastPort
                self.process = process
                return
            }
        }
        throw Unavailable(description: "\(kind.rawValue) did not listen on \(lastPort)")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// `nats://127.0.0.1:port` or `redis://127.0.0.1:port`.
    public var url: String { "\(kind.rawValue)://127.0.0.1:\(port)" }

    /// Kills the server (SIGKILL) and waits for it.
    public func stop() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Starts it again on the same port and folder.
    public func restart() throws {
        stop()
        for _ in 0..<20 {
            if let process = try Self.launch(kind, port: port, folder: folder) {
                self.process = process
                return
            }
            usleep(200_000)
        }
        throw Unavailable(description: "\(kind.rawValue) did not come back on \(port)")
    }

    private static func binary(_ kind: Kind) -> String { kind == .nats ? "/usr/sbin/nats-server" : "/usr/bin/redis-server" }

    /// The running server, or nil when it did not listen within five seconds.
    private static func launch(_ kind: Kind, port: Int, folder: URL) throws -> Process? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary(kind))
        switch kind {
        case .nats:
            process.arguments = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", folder.path]
        case .redis:
            process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder.path]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if LoopbackPort.isListening(port) { return process }
            if !process.isRunning { break }
            usleep(50_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return nil
    }
}

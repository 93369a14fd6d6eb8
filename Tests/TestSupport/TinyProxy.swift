import Emulator
import Foundation

/// Debian's `tinyproxy`, started on a free loopback port with Basic authentication, for tests of
/// the outbound proxy. Its log (level Connect) shows every `CONNECT` it tunnelled.
public final class TinyProxy: Sendable {
    public let port: Int
    public let username = "pushd"
    public let password = "proxy-secret"
    private let process: Process
    private let folder: URL

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    public init() throws {
        let binary = "/usr/bin/tinyproxy"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Unavailable(description: "tinyproxy is not installed (apt-get install tinyproxy; scripts/test does)")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-tinyproxy-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try LoopbackPort.free()
            let config = """
                Port \(port)
                Listen 127.0.0.1
                Timeout 60
                MaxClients 200
                LogFile "\(folder.path)/tinyproxy.log"
                LogLevel Connect
                Allow 127.0.0.1
                BasicAuth \(username) \(password)
                DisableViaHeader Yes

                """
            let configFile = folder.appendingPathComponent("tinyproxy.conf")
            try config.write(to: configFile, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-d", "-c", configFile.path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if Self.waitUntilListening(port) {
                self.port = port
                self.process = process
                return
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            lastError = Unavailable(description: "tinyproxy did not listen on \(port)")
        }
        throw lastError ?? Unavailable(description: "tinyproxy did not start")
    }

    /// `http://user:password@127.0.0.1:port`, or without credentials.
    public func url(authenticated: Bool = true) -> String {
        authenticated ? "http://\(username):\(password)@127.0.0.1:\(port)" : "http://127.0.0.1:\(port)"
    }

    /// The targets of the `CONNECT` requests it received, as `host:port`, in order.
    public func connectTargets() -> [String] {
        let log = (try? String(contentsOf: folder.appendingPathComponent("tinyproxy.log"), encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "): CONNECT ") else { return nil }
            return line[range.upperBound...].split(separator: " ").first.map(String.init)
        }
    }

    /// Five seconds at most, without suspending (the initializer is synchronous).
    private static func waitUntilListening(_ port: Int) -> Bool {
        for _ in 0..<100 {
            if LoopbackPort.isListening(port) { return true }
            usleep(50_000)
        }
        return false
    }

    public func stop() {
        if process.isRunning {
            // SIGKILL: the test process may pass SIGTERM on ignored (swift-service-lifecycle
            // traps it), and tinyproxy has nothing to save.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    deinit { stop() }
}

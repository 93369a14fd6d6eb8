import Foundation
import Testing

/// The `pushd` binary built beside the test bundle, run as a child process.
struct Child {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var binary: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("pushd").path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("pushd")
    }

    let process: Process
    let logFile: String
    /// Kills the process when the last copy of this child goes away still running: a test that
    /// throws leaves no daemon behind.
    private let reaper: Reaper

    final class Reaper: Sendable {
        let process: Process

        init(_ process: Process) { self.process = process }

        deinit {
            if process.isRunning {
                Foundation.kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    init(process: Process, logFile: String) {
        self.process = process
        self.logFile = logFile
        reaper = Reaper(process)
    }

    /// Starts `pushd arguments…` with output to `logFile`.
    static func start(_ arguments: [String], logFile: String) throws -> Child {
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = repoRoot
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return Child(process: process, logFile: logFile)
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// The port of `pushd serve`'s "listening on 127.0.0.1:PORT" line.
    static func port(of child: Child) throws -> Int {
        let line = try #require(child.log.split(separator: "\n").first { $0.contains("listening on") })
        return try #require(Int(line.components(separatedBy: "listening on 127.0.0.1:").last?.prefix { $0.isNumber } ?? ""))
    }

    /// Waits until the log contains `text`.
    func waitFor(_ text: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(text) { return }
            if !process.isRunning {
                Issue.record("pushd exited (\(process.terminationStatus)) before printing \"\(text)\":\n\(log)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("pushd did not print \"\(text)\" in time:\n\(log)")
        throw CancellationError()
    }

    func kill(_ signal: Int32) {
        _ = Foundation.kill(process.processIdentifier, signal)
    }

    /// Waits for the exit; nil when it did not exit in time (the child is then killed).
    func exitStatus(within timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Runs blocking work (a child process, a pipe read) on a thread of its own, so it does not hold
    /// one of the few threads of Swift's cooperative pool that every async test shares.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    /// Runs `pushd arguments…` to completion with `stdin`.
    static func run(_ arguments: [String], stdin: String = "") async throws -> (status: Int32, stdout: String, stderr: String) {
        try await offPool { try runBlocking(arguments, stdin: stdin) }
    }

    static func runBlocking(_ arguments: [String], stdin: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = repoRoot
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

import Foundation
import Testing

/// The operator console in a real browser: Tests/Browser/console_test.py drives Debian's chromium
/// through chromium-driver (Python selenium) against a child `pushd serve --demo` with two apps:
/// signing in (a refused password, an app admin's UserSig scoped to their app, a form without the
/// CSRF token refused, the console password), a test push previewed, sent and found in the lookup
/// with the request that was sent, a campaign followed to 100 %, and a dead letter replayed until
/// the emulator receives the push. `scripts/test` installs chromium, chromium-driver and selenium.
@Suite struct ConsoleBrowserTests {
    @Test(.timeLimit(.minutes(5))) func theConsoleWorksInChromium() throws {
        let script = Child.repoRoot.appendingPathComponent("Tests/Browser/console_test.py").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-console-browser-\(UUID()).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["python3", script, Child.binary.path]
        // `PUSHD_CONSOLE_SCREENSHOTS=docs/console scripts/test --filter theConsoleWorksInChromium` remakes the README's pictures.
        if let folder = ProcessInfo.processInfo.environment["PUSHD_CONSOLE_SCREENSHOTS"] { arguments += ["--screenshots", folder] }
        process.arguments = arguments
        process.currentDirectoryURL = Child.repoRoot
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        try output.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("all 5 browser checks passed"), "\(text)")
    }
}

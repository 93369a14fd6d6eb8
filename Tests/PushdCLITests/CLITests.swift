import Foundation
import Testing
import UserSig

/// The command line of interface.md section 1, run as a child process.
@Suite("pushd command line")
struct CLITests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `pushd` built beside the test bundle.
    static var binary: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("pushd").path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("pushd")
    }

    static func run(_ arguments: [String], stdin: String = "", environment: [String: String] = [:], in directory: URL = repoRoot) throws -> Run {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self)
        )
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// Issue 28: there was no `--version`.
    @Test("--version prints the version and the git commit the binary was built from")
    func version() throws {
        let result = try Self.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.wholeMatch(of: /pushd \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(\+dirty)?|unknown)\)/) != nil, "\(line)")
        // In a git checkout, the commit is the checkout's (the tests and the binary are built together).
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        git.arguments = ["-C", Self.repoRoot.path, "rev-parse", "--short=12", "HEAD"]
        let output = Pipe()
        git.standardOutput = output
        git.standardError = Pipe()
        if (try? git.run()) != nil {
            let head = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            git.waitUntilExit()
            if git.terminationStatus == 0 { #expect(line.contains("(commit \(head)"), "\(line) vs \(head)") }
        }
    }

    /// Issue 28 and interface.md section 2: from another working directory, `--config` found the
    /// file but not the templates it names.
    @Test("config check from another working directory finds the shipped config's templates")
    func configFromElsewhere() throws {
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-cwd-\(UUID())")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let config = Self.repoRoot.appendingPathComponent("Config/pushd.yaml").path
        let result = try Self.run(["config", "check", "--config", config], environment: ["PUSHD_1400000000_SECRET_KEY": "s3cret"], in: elsewhere)
        #expect(result.status == 0 && result.stdout == "\(config): OK (1 app(s))\n", "stdout: \(result.stdout) stderr: \(result.stderr)")
    }

    @Test("render prints the worked example's APNs request")
    func renderWorkedExample() throws {
        let example = try String(contentsOf: Self.repoRoot.appendingPathComponent("Examples/worked-example.json"), encoding: .utf8)
        let result = try Self.run(["render", "--vendor", "apns"], stdin: example)
        #expect(result.status == 0, "\(result.stderr)")
        let requests = try #require(try Self.json(result.stdout) as? [[String: Any]])
        #expect(requests.count == 1)
        let aps = (requests[0]["body"] as? [String: Any])?["aps"] as? [String: Any]
        #expect(aps?["alert"] as? String == "Nickname:helloworld")
        #expect(aps?["badge"] as? Int == 5)
        #expect(aps?["sound"] as? String == "dingdong.aiff")
        #expect((requests[0]["body"] as? [String: Any])?["ext"] as? String == "www.qq.com")
        #expect((requests[0]["headers"] as? [String: String])?["apns-push-type"] == "alert")
    }

    @Test("render --vendor all prints one request per vendor")
    func renderAll() throws {
        let example = try String(contentsOf: Self.repoRoot.appendingPathComponent("Examples/group-location.json"), encoding: .utf8)
        let result = try Self.run(["render", "--vendor", "all"], stdin: example)
        #expect(result.status == 0, "\(result.stderr)")
        let requests = try #require(try Self.json(result.stdout) as? [[String: Any]])
        #expect(requests.compactMap { $0["vendor"] as? String } == ["apns", "fcm", "huawei", "xiaomi", "oppo", "vivo", "meizu", "honor"])
        let alert = ((requests[0]["body"] as? [String: Any])?["aps"] as? [String: Any])?["alert"] as? [String: Any]
        #expect(alert?["body"] as? String == "Alice(产品组):[Location]")
    }

    /// Issue 25: the 002 example gives no `Title`; the shipped config has no app name yet, so the
    /// preview says what it shows, and no vendor that refuses an empty title gets one.
    @Test("render of the 002 worked example with no title: every Android vendor that needs a title has one")
    func renderUntitled() throws {
        let example = try String(contentsOf: Self.repoRoot.appendingPathComponent("Examples/worked-example.json"), encoding: .utf8)
        let result = try Self.run(["render", "--vendor", "all"], stdin: example)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("the app has no app_name; showing \"Example IM\" as the title of last resort"))
        let requests = try #require(try Self.json(result.stdout) as? [[String: Any]])
        func object(_ any: Any?) -> [String: Any]? {
            if let text = any as? String { return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] }
            return any as? [String: Any]
        }
        for request in requests {
            let body = object(request["body"])
            let form = request["form"] as? [String: String]
            let vendor = request["vendor"] as? String ?? "?"
            if vendor == "apns" || vendor == "fcm" { continue }  // they may go without a title (push-rules.md 3.4)
            let title: String? =
                switch vendor {
                case "huawei": ((object(body?["message"])?["android"] as? [String: Any])?["notification"] as? [String: Any])?["title"] as? String
                case "honor": ((body?["android"] as? [String: Any])?["notification"] as? [String: Any])?["title"] as? String
                case "xiaomi": form?["title"]
                case "oppo": (object(form?["message"])?["notification"] as? [String: Any])?["title"] as? String
                case "vivo": body?["title"] as? String
                case "meizu": (object(form?["messageJson"])?["noticeBarInfo"] as? [String: Any])?["title"] as? String
                default: nil
                }
            #expect(title == "Example IM", "\(vendor)")
        }
        #expect(requests.count == 8 && requests.allSatisfy { $0["failure"] == nil })
    }

    @Test("render says why a message gets no push")
    func renderSkipped() throws {
        let result = try Self.run(
            ["render", "--vendor", "fcm"], stdin: #"{"MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"x"}}]}"#
        )
        #expect(result.status == 0)
        #expect(try Self.json(result.stdout) as? [String: String] == ["skipped": "NoPushText"])
    }

    @Test("render refuses bad input with a Tencent code naming the field, and exits 1")
    func renderBadInput() throws {
        let wrongType = try Self.run(["render", "--vendor", "apns"], stdin: #"{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":1}}]}"#)
        #expect(wrongType.status == 1)
        #expect(wrongType.stderr.contains("error 90002: MsgBody[0].MsgContent.Text must be a string"))
        let notJSON = try Self.run(["render", "--vendor", "apns"], stdin: "{not json")
        #expect(notJSON.status == 1)
        #expect(notJSON.stderr.contains("error 90001"))
        let unknownVendor = try Self.run(["render", "--vendor", "nokia"], stdin: "{}")
        #expect(unknownVendor.status != 0)
    }

    @Test("config check prints one line per problem and exits non-zero; the environment can fix it")
    func configCheck() throws {
        let missing = try Self.run(["config", "check"], environment: ["PUSHD_1400000000_SECRET_KEY": ""])
        #expect(missing.status == 1)
        #expect(missing.stdout == "Config/pushd.yaml: apps[0].secret_key: missing (set it in the file or PUSHD_1400000000_SECRET_KEY)\n")
        let fixed = try Self.run(["config", "check"], environment: ["PUSHD_1400000000_SECRET_KEY": "s3cret"])
        #expect(fixed.status == 0, "\(fixed.stdout)")
        let absent = try Self.run(["config", "check", "--config", "/nonexistent.yaml"])
        #expect(absent.status == 1 && absent.stdout.contains("cannot read the config file"))
    }

    @Test("usersig prints a signature that verifies")
    func usersig() throws {
        let result = try Self.run(["usersig", "--sdkappid", "1400000000", "--key", "k3y", "--identifier", "administrator", "--expire", "3600"])
        #expect(result.status == 0)
        let sig = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let claims = try UserSig.verify(
            sig, sdkAppID: 1_400_000_000, identifier: "administrator", key: "k3y", now: Int64(Date().timeIntervalSince1970)
        )
        #expect(claims.expire == 3600)
    }
}

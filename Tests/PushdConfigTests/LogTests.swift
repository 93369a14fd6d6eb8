import Foundation
import Logging
import PushdConfig
import PushdRuntime
import Synchronization
import Testing

/// Issue 28, interface.md section 2 `log:`: logs as one JSON object a line for log collectors.
@Suite("Log format")
struct LogTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    @Test("log: format and level are read and checked")
    func config() throws {
        let loaded = try ConfigLoader(environment: [:]).parse("log: { format: json, level: warning }")
        #expect(loaded.config.log == PushdConfig.Log(format: .json, level: "warning") && loaded.problems.isEmpty)
        #expect(try ConfigLoader(environment: [:]).parse("listen: x").config.log == PushdConfig.Log(format: .text, level: "info"))
        let bad = try ConfigLoader(environment: [:]).parse("log: { format: xml, level: loud, colour: red }")
        #expect(bad.problems.map(\.description).sorted() == [
            "line 1: log.colour: unknown key \"colour\"",
            "line 1: log.format: must be text or json, got \"xml\"",
            "line 1: log.level: must be one of trace, debug, info, notice, warning, error, critical, got \"loud\"",
        ])
    }

    @Test("json: one object a line with timestamp, level, label, message and the metadata; secrets redacted; quotes and newlines escaped")
    func jsonLines() throws {
        let sink = Lines()
        var logger = Logger(label: "pushd.test") { label in
            JSONLogHandler(label: label) { line in sink.lines.withLock { $0.append(line) } }
        }
        logger[metadataKey: "app"] = "1400000000"
        logger.info(
            "token \"invalid\"\nnext line",
            metadata: ["vendor": "apns", "device": "phone", "client_secret": "hunter2", "counts": ["a": "1"], "tags": ["x", "y"]]
        )
        logger.debug("below the level")
        #expect(sink.all.count == 1)
        let line = try #require(sink.all.first)
        #expect(line.hasSuffix("\n") && line.dropLast().contains("\n") == false, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "token \"invalid\"\nnext line")
        #expect(object["level"] as? String == "info" && object["label"] as? String == "pushd.test")
        #expect(object["app"] as? String == "1400000000" && object["vendor"] as? String == "apns" && object["device"] as? String == "phone")
        #expect(object["client_secret"] as? String == "[redacted]" && !line.contains("hunter2"))
        #expect((object["counts"] as? [String: String]) == ["a": "1"] && (object["tags"] as? [String]) == ["x", "y"])
        let timestamp = try #require(object["timestamp"] as? String)
        #expect(timestamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(timestamp)")
    }
}

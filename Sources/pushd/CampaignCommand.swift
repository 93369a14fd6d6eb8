import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import PushdConfig
import PushdRuntime
import UserSig

struct CampaignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign", abstract: "Follow broadcast campaigns.", subcommands: [CampaignWatchCommand.self]
    )
}

/// `pushd campaign watch TASKID`: polls `pushd/get_task` as the app admin (UserSig from the
/// config's secret key) and draws a progress bar with rate and ETA until the campaign is over.
struct CampaignWatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Show a campaign's progress, rate and ETA until it is finished or cancelled."
    )

    @Argument(help: "The campaign's TaskId.") var taskID: String
    @Option(help: "The config file (the app's secret key and admin, the listen address).") var config = "Config/pushd.yaml"
    @Option(help: "pushd's base URL (default: http:// and the config's listen address).") var url: String?
    @Option(help: "The app's SDKAppID (default: the config's first app).") var sdkappid: UInt64?
    @Option(help: "Seconds between polls.") var interval: Double = 1

    func run() throws {
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader().load(path: config)
        } catch {
            throw ValidationError(error.description)
        }
        guard let app = sdkappid.map({ loaded.config.app($0) }) ?? loaded.config.apps.first else {
            throw ValidationError("no app \(sdkappid.map(String.init) ?? "") in \(config)")
        }
        let base = url ?? "http://\(loaded.config.listen)"
        let watcher = CampaignWatcher(base: base, app: app, taskID: taskID, interval: interval, isTerminal: isatty(STDOUT_FILENO) != 0)
        let state = try runBlocking { try await watcher.run() }
        if state != "Finished" { throw ExitCode(state == "Cancelled" ? 3 : 1) }
    }
}

struct CampaignWatcher: Sendable {
    var base: String
    var app: PushdConfig.App
    var taskID: String
    var interval: Double
    var isTerminal: Bool

    /// Polls until the campaign is over; its final state.
    func run() async throws -> String {
        var previous: (at: ContinuousClock.Instant, done: Int)?
        var rate = 0.0
        while true {
            let status = try await fetch()
            guard status["ErrorCode"] as? Int == 0 else {
                throw ValidationError("get_task failed: \(status["ErrorCode"] ?? "?") \(status["ErrorInfo"] ?? "")")
            }
            let progress = CampaignProgress(status)
            let now = ContinuousClock.now
            if let previous, now > previous.at {
                let instant = Double(progress.usersDone - previous.done) / (now - previous.at).seconds
                rate = rate == 0 ? instant : 0.7 * rate + 0.3 * instant
            }
            previous = (now, progress.usersDone)
            let line = progress.line(usersPerSecond: rate)
            // Unbuffered: a redrawn line must show at once.
            write(isTerminal ? "\r\u{1B}[2K" + line : line + "\n")
            if progress.isOver {
                write((isTerminal ? "\n" : "") + progress.summary + "\n")
                return progress.state
            }
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    func fetch() async throws -> [String: Any] {
        let sig = UserSig.generate(sdkAppID: app.sdkAppID, key: app.secretKey, identifier: app.admin, expire: 3_600, time: Int64(Date().timeIntervalSince1970))
        var request = HTTPClientRequest(
            url: "\(base)/v4/pushd/get_task?sdkappid=\(app.sdkAppID)&identifier=\(app.admin)&usersig=\(sig)&random=\(UInt32.random(in: 1...UInt32.max))&contenttype=json"
        )
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: #"{"TaskId": \#(JSONString(taskID))}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
    }

    func JSONString(_ s: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: s, options: .fragmentsAllowed)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}

/// One `get_task` reply as progress: users finished (walked, and their pushes done) out of the
/// users the condition selected.
struct CampaignProgress {
    var state: String
    var users: Int
    var walked: Int
    var pending: Int
    var delivered: Int
    var failed: Int
    var invalid: Int
    var skipped: Int

    init(_ s: [String: Any]) {
        func int(_ key: String) -> Int { s[key] as? Int ?? 0 }
        state = s["State"] as? String ?? "?"
        users = int("Users")
        walked = int("UsersWalked")
        pending = int("Pending")
        delivered = int("Delivered")
        failed = int("Failed")
        invalid = int("InvalidTokens")
        skipped = int("Skipped")
    }

    var usersDone: Int { max(0, walked - pending) }
    var isOver: Bool { state == "Finished" || state == "Cancelled" }
    var fraction: Double { isOver && state == "Finished" ? 1 : users > 0 ? min(1, Double(usersDone) / Double(users)) : 0 }

    func line(usersPerSecond rate: Double, width: Int = 30) -> String {
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let eta: String
        if isOver {
            eta = state
        } else if rate > 0 {
            let seconds = Int((Double(max(0, users - usersDone)) / rate).rounded(.up))
            eta = String(format: "ETA %d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
        } else {
            eta = "ETA --"
        }
        return String(format: "%@ %5.1f%% %@/%@ users  %@ users/s  delivered %@  %@", bar, fraction * 100, group(usersDone), group(users), group(Int(rate)), group(delivered), eta)
    }

    var summary: String {
        "\(state): \(group(users)) users, \(group(delivered)) delivered, \(group(invalid)) invalid tokens, \(group(failed)) failed, \(group(skipped)) skipped"
    }

    func group(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0, i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
}

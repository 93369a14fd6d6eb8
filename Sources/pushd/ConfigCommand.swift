import ArgumentParser
import Foundation
import PushdConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the config file.", subcommands: [Check.self, Reload.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a config file: one line per problem, non-zero exit when there is one."
        )

        @Option(help: "The config file.") var config = "Config/pushd.yaml"

        func run() throws {
            let checked = try ConfigCommand.check(config)
            print("\(config): OK (\(checked.apps.count) app(s))")
        }
    }

    struct Reload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the config file, then have the running `pushd serve` reload it (SIGHUP).",
            discussion: """
                The file is checked first; with a problem nothing is sent. The process is the one in DATA/pushd.pid \
                (written by serve) unless --pid names it. The reload's result is in serve's log, in /readyz \
                (config.last_reload) and in pushd_config_reloads_total{result}.
                """
        )

        @OptionGroup var store: StoreOptions
        @Option(help: "The serve process id (default: read from DATA/pushd.pid).") var pid: Int32?

        func run() throws {
            let file = store.pidFile(store.applying(to: try ConfigCommand.check(store.config)))
            let target: Int32
            if let pid {
                target = pid
            } else {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ValidationError("no pid file at \(file): is pushd serve running with this config and --data? (or pass --pid)")
                }
                guard let read = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw ValidationError("\(file) does not hold a process id")
                }
                target = read
            }
            // A stale file may name a process that is no longer pushd: never signal a stranger.
            guard target > 1, let command = try? String(contentsOfFile: "/proc/\(target)/cmdline", encoding: .utf8), command.contains("pushd") else {
                throw ValidationError("process \(target) is not a running pushd")
            }
            guard kill(target, SIGHUP) == 0 else {
                throw ValidationError("cannot signal process \(target): errno \(errno)")
            }
            print("sent SIGHUP to pushd serve (pid \(target)): see its log, /readyz or pushd_config_reloads_total for the result")
        }
    }

    /// Prints every problem of the file; throws exit code 1 when one is an error, else returns the config.
    static func check(_ path: String) throws -> PushdConfig {
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader().load(path: path)
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
        let unused = loaded.unusedEnvironment.map { ConfigProblem(.warning, "environment", "\($0) is set but configures nothing") }
        let problems = loaded.problems + ConfigValidator().validate(loaded.config) + unused
        for problem in problems { print("\(path): \(problem)") }
        if problems.contains(where: { $0.kind != .warning }) { throw ExitCode(1) }
        return loaded.config
    }
}

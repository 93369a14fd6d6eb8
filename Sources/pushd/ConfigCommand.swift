import ArgumentParser
import PushdConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the config file.", subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a config file: one line per problem, non-zero exit when there is one."
        )

        @Option(help: "The config file.") var config = "Config/pushd.yaml"

        func run() throws {
            let loaded: LoadedConfig
            do {
                loaded = try ConfigLoader().load(path: config)
            } catch {
                print(error.description)
                throw ExitCode(1)
            }
            let unused = loaded.unusedEnvironment.map { ConfigProblem(.warning, "environment", "\($0) is set but configures nothing") }
            let problems = loaded.problems + ConfigValidator().validate(loaded.config) + unused
            for problem in problems { print("\(config): \(problem)") }
            let errors = problems.filter { $0.kind != .warning }.count
            if errors > 0 { throw ExitCode(1) }
            print("\(config): OK (\(loaded.config.apps.count) app(s))")
        }
    }
}

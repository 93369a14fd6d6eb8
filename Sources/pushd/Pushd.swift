import ArgumentParser

@main
struct Pushd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushd",
        abstract: "Offline push dispatch for instant messaging.",
        subcommands: [RenderCommand.self, EmulateCommand.self, UserSigCommand.self, ConfigCommand.self, BenchCommand.self]
    )
}

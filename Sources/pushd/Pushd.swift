import ArgumentParser

@main
struct Pushd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushd",
        abstract: "Offline push dispatch for instant messaging.",
        subcommands: [
            ServeCommand.self, EnqueueCommand.self, DLQCommand.self, DeviceCommand.self, RenderCommand.self, EmulateCommand.self,
            UserSigCommand.self, ConfigCommand.self, CampaignCommand.self,
        ]
    )
}

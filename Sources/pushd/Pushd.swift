import ArgumentParser

@main
struct Pushd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushd",
        abstract: "Offline push dispatch for instant messaging.",
        version: "pushd \(pushdVersion) (commit \(buildCommit))",
        subcommands: [
            ServeCommand.self, EnqueueCommand.self, DLQCommand.self, DeviceCommand.self, RenderCommand.self, EmulateCommand.self,
            UserSigCommand.self, ConfigCommand.self, CampaignCommand.self,
        ]
    )
}

/// The release version; `--version` prints it with the git commit of the build.
let pushdVersion = "0.9.0"

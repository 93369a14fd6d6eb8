import ArgumentParser
import PushdRuntime

/// `pushd emulate`: the vendor gateway emulator as a server (also built alone as `pushd-emulator`).
struct EmulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulate", abstract: "Run the vendor gateway emulator (all 8 vendors, HTTP/2 over TLS).", discussion: EmulatorOptions.discussion
    )

    @OptionGroup var options: EmulatorOptions

    func run() throws { try options.run() }
}

import ArgumentParser
import PushdRuntime

/// `pushd-emulator`: the vendor gateway emulator alone, the same server as `pushd emulate`, for
/// tests, demos and benchmarks that run it apart from pushd.
@main
struct PushdEmulator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushd-emulator", abstract: "The vendor gateway emulator (all 8 vendors, HTTP/2 over TLS).", discussion: EmulatorOptions.discussion
    )

    @OptionGroup var options: EmulatorOptions

    func run() throws { try options.run() }
}

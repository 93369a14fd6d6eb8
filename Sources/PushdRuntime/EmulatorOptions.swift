import ArgumentParser
import Emulator
import Foundation
import Logging
import PushdConfig
import ServiceLifecycle

/// The vendor gateway emulator as a server: the options and the run of `pushd emulate` and of
/// `pushd-emulator`.
public struct EmulatorOptions: ParsableArguments {
    public static let discussion = """
        Writes its CA certificate (ca.pem), demo credentials and pushd-emulator.yaml, a pushd config whose vendors \
        all point at the emulator, to --cert-dir. Admin endpoints: POST/DELETE /admin/faults, POST /admin/release, \
        POST/DELETE /admin/chaos, POST /admin/tokens, GET/DELETE /admin/requests.
        """

    @Option(help: "HOST:PORT to listen on.") var listen = "127.0.0.1:9443"
    @Option(help: "Folder for the CA certificate, demo credentials and config.") var certDir = "data/emulator"
    @Flag(help: "Unknown device tokens are invalid (by default any well-formed token is valid).") var strictTokens = false

    public init() {}

    /// Serves until SIGTERM or SIGINT, which close the listener and the connections.
    public func run() throws {
        guard let address = HostPort(listen) else { throw ValidationError("--listen must be HOST:PORT") }
        let certificates = try EmulatorCertificates()
        let caFile = try certificates.writeCA(to: certDir)
        let state = EmulatorState(strictTokens: strictTokens)
        let demo = try DemoCredentials()
        demo.register(with: state)
        let emulator = GatewayEmulator(state: state, certificates: certificates)
        let certDir = self.certDir
        let server = emulator.server(host: address.host, port: address.port)
        let service = EmulatorService(server: server) { port in
            let base = "https://\(address.host):\(port)"
            do {
                let config = try demo.write(to: certDir, emulator: base, caFile: caFile)
                print("pushd emulator: \(base) (HTTP/2 and HTTP/1.1 over TLS)")
                print("  CA certificate: \(caFile)")
                print("  pushd config using it: \(config)")
                print("  vendors: \(base)/{apns,fcm,huawei,honor,xiaomi,oppo,vivo,meizu}; admin: \(base)/admin/requests")
                fflush(nil)
            } catch {
                print("cannot write the demo credentials: \(error)")
            }
        }
        try runBlocking {
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "pushd.emulator")
                )
            )
            try await group.run()
        }
    }
}

/// The emulator's server as a service: it stops when the group shuts down gracefully.
public struct EmulatorService: Service {
    let server: EmulatorServer
    let onRunning: @Sendable (Int) async -> Void

    public init(server: EmulatorServer, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.server = server
        self.onRunning = onRunning
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await server.run(onRunning: onRunning) }
    }
}

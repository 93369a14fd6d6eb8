import ArgumentParser
import Emulator
import Foundation
import Logging
import PushdConfig
import ServiceLifecycle
import Synchronization

/// `pushd emulate`: the vendor gateway emulator as a server.
struct EmulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulate",
        abstract: "Run the vendor gateway emulator (all 8 vendors, HTTP/2 over TLS).",
        discussion: """
            Writes its CA certificate (ca.pem), demo credentials and pushd-emulator.yaml, a pushd config whose vendors \
            all point at the emulator, to --cert-dir. Admin endpoints: POST/DELETE /admin/faults, POST /admin/tokens, \
            GET/DELETE /admin/requests.
            """
    )

    @Option(help: "HOST:PORT to listen on.") var listen = "127.0.0.1:9443"
    @Option(help: "Folder for the CA certificate, demo credentials and config.") var certDir = "data/emulator"
    @Flag(help: "Unknown device tokens are invalid (by default any well-formed token is valid).") var strictTokens = false

    func run() throws {
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
            // SIGTERM and SIGINT stop it cleanly: listener and connections closed.
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
struct EmulatorService: Service {
    let server: EmulatorServer
    let onRunning: @Sendable (Int) async -> Void

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await server.run(onRunning: onRunning) }
    }
}

/// Runs async work from a synchronous command and waits for its result. The root command stays
/// synchronous so valgrind-based tooling can run the binary (it cannot follow the dispatch-based
/// async main).
@discardableResult
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task {
        do {
            let value = try await body()
            box.result.withLock { $0 = .success(value) }
        } catch {
            box.result.withLock { $0 = .failure(error) }
        }
        done.signal()
    }
    done.wait()
    return try box.result.withLock { $0! }.get()
}

/// The result of a task, read by the thread that waited for it.
final class ResultBox<T: Sendable>: Sendable {
    let result = Mutex<Result<T, any Error>?>(nil)
}

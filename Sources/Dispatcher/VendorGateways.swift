import Crypto
import Foundation
import Gateways
import PushCore
import PushdConfig
import _CryptoExtras

/// The vendor clients of every configured app, built once from the config: one HTTP/2 transport
/// per app and vendor, so connection counts and in-flight limits hold per credential.
public final class VendorGateways: Sendable {
    private let clients: [Key: any VendorClient]
    private let transports: [VendorTransport]

    struct Key: Hashable {
        var app: UInt64
        var vendor: Vendor
    }

    /// A vendor whose credentials cannot be loaded.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(config: PushdConfig, clock: any EpochClock = SystemEpochClock()) throws {
        var clients: [Key: any VendorClient] = [:]
        var transports: [VendorTransport] = []
        let settings = VendorTransport.Settings(
            connections: config.dispatcher.connections, maxInFlight: config.dispatcher.maxInFlight,
            caFile: config.tls.caFile.isEmpty ? nil : config.tls.caFile
        )
        for app in config.apps {
            for (vendor, fields) in app.vendors {
                let transport = try VendorTransport(settings: settings)
                transports.append(transport)
                do {
                    clients[Key(app: app.sdkAppID, vendor: vendor)] = try Self.client(vendor, fields, transport: transport, clock: clock)
                } catch {
                    throw SetupError(description: "apps \(app.sdkAppID) vendors.\(vendor.rawValue): \(error)")
                }
            }
        }
        self.clients = clients
        self.transports = transports
    }

    /// The client for an app's vendor, nil when the app has not configured it.
    public func client(app: UInt64, vendor: Vendor) -> (any VendorClient)? {
        clients[Key(app: app, vendor: vendor)]
    }

    public func shutdown() async throws {
        for transport in transports { try await transport.shutdown() }
    }

    static func client(_ vendor: Vendor, _ v: VendorConfig, transport: VendorTransport, clock: any EpochClock) throws -> any VendorClient {
        switch vendor {
        case .apns:
            let pem = try String(contentsOfFile: v["private_key_file"], encoding: .utf8)
            return APNsClient(
                credentials: .init(
                    teamID: v["team_id"], keyID: v["key_id"], privateKey: try P256.Signing.PrivateKey(pemRepresentation: pem),
                    endpoint: v["endpoint"], sandboxEndpoint: v["sandbox_endpoint"]
                ),
                transport: transport, clock: clock
            )
        case .fcm:
            let account = try ServiceAccount.load(path: v["service_account_file"])
            return FCMClient(
                credentials: .init(
                    clientEmail: account.clientEmail, privateKey: try _RSA.Signing.PrivateKey(pemRepresentation: account.privateKey),
                    tokenURI: account.tokenURI, endpoint: v["endpoint"]
                ),
                transport: transport, clock: clock
            )
        case .huawei:
            return HuaweiClient(
                credentials: .init(clientID: v["app_id"], clientSecret: v["client_secret"], tokenEndpoint: v["token_endpoint"], endpoint: v["endpoint"]),
                transport: transport, clock: clock
            )
        case .honor:
            return HonorClient(
                credentials: .init(clientID: v["client_id"], clientSecret: v["client_secret"], tokenEndpoint: v["token_endpoint"], endpoint: v["endpoint"]),
                transport: transport, clock: clock
            )
        case .xiaomi:
            return XiaomiClient(appSecret: v["app_secret"], endpoint: v["endpoint"], transport: transport)
        case .oppo:
            return OPPOClient(appKey: v["app_key"], masterSecret: v["master_secret"], endpoint: v["endpoint"], transport: transport, clock: clock)
        case .vivo:
            return VivoClient(appID: v["app_id"], appKey: v["app_key"], appSecret: v["app_secret"], endpoint: v["endpoint"], transport: transport, clock: clock)
        case .meizu:
            return MeizuClient(appSecret: v["app_secret"], endpoint: v["endpoint"], transport: transport)
        }
    }
}

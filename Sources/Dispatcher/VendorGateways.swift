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
                var settings = settings
                settings.proxy = ProxyAddress.effective(global: config.proxy, vendor: fields).map {
                    HTTPProxy(host: $0.host, port: $0.port, username: $0.username, password: $0.password)
                }
                let transport = try VendorTransport(settings: settings)
                transports.append(transport)
                do {
                    clients[Key(app: app.sdkAppID, vendor: vendor)] = try Self.client(fields.settings, transport: transport, clock: clock)
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

    static func client(_ settings: VendorSettings, transport: VendorTransport, clock: any EpochClock) throws -> any VendorClient {
        switch settings {
        case .apns(let v):
            let pem = try String(contentsOfFile: v.privateKeyFile, encoding: .utf8)
            return APNsClient(
                credentials: .init(
                    teamID: v.teamID, keyID: v.keyID, privateKey: try P256.Signing.PrivateKey(pemRepresentation: pem),
                    endpoint: v.endpoint, sandboxEndpoint: v.sandboxEndpoint
                ),
                transport: transport, clock: clock
            )
        case .fcm(let v):
            let account = try ServiceAccount.load(path: v.serviceAccountFile)
            return FCMClient(
                credentials: .init(
                    clientEmail: account.clientEmail, privateKey: try _RSA.Signing.PrivateKey(pemRepresentation: account.privateKey),
                    tokenURI: account.tokenURI, endpoint: v.endpoint
                ),
                transport: transport, clock: clock
            )
        case .huawei(let v):
            return HuaweiClient(
                credentials: .init(clientID: v.appID, clientSecret: v.clientSecret, tokenEndpoint: v.tokenEndpoint, endpoint: v.endpoint),
                transport: transport, clock: clock
            )
        case .honor(let v):
            return HonorClient(
                credentials: .init(clientID: v.clientID, clientSecret: v.clientSecret, tokenEndpoint: v.tokenEndpoint, endpoint: v.endpoint),
                transport: transport, clock: clock
            )
        case .xiaomi(let v):
            return XiaomiClient(appSecret: v.appSecret, endpoint: v.endpoint, transport: transport)
        case .oppo(let v):
            return OPPOClient(appKey: v.appKey, masterSecret: v.masterSecret, endpoint: v.endpoint, transport: transport, clock: clock)
        case .vivo(let v):
            return VivoClient(appID: v.appID, appKey: v.appKey, appSecret: v.appSecret, endpoint: v.endpoint, transport: transport, clock: clock)
        case .meizu(let v):
            return MeizuClient(appSecret: v.appSecret, endpoint: v.endpoint, transport: transport)
        }
    }
}

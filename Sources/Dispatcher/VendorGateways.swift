import Crypto
import Foundation
import Gateways
import PushCore
import PushdConfig
import Synchronization
import _CryptoExtras

/// The vendor clients of every configured app: one HTTP/2 transport per app and vendor, so
/// connection counts and in-flight limits hold per credential. A config reload swaps in new
/// clients where an app's vendor settings, key files or transport settings changed, and keeps the
/// others with their open connections.
public final class VendorGateways: Sendable {
    typealias Key = VendorThrottle.Key

    /// What a client was built from: its fields (rate limits aside: the throttle applies those),
    /// the contents of its key files, and its transport's settings.
    struct Fingerprint: Equatable, Sendable {
        var fields: [String: String]
        var files: [String: [UInt8]]
        var transport: VendorTransport.Settings
    }

    struct Entry: Sendable {
        var fingerprint: Fingerprint
        var client: any VendorClient
        var transport: VendorTransport
    }

    private struct State {
        var entries: [Key: Entry]
        /// Transports replaced by a reload: their connections close as their requests finish; the
        /// transports themselves are shut down with the rest.
        var retired: [VendorTransport] = []
    }

    /// The clients a reload would switch to (``stage(_:)``), not in use until ``commit(_:)``.
    public struct Staged: Sendable {
        let entries: [Key: Entry]
        /// Apps and vendors whose client is new, replaced or gone.
        public let changed: Set<VendorThrottle.Key>
    }

    private let state: Mutex<State>
    private let clock: any EpochClock

    /// A vendor whose credentials cannot be loaded.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(config: PushdConfig, clock: any EpochClock = SystemEpochClock()) throws {
        self.clock = clock
        state = Mutex(State(entries: [:]))
        let staged = try stage(config)
        state.withLock { $0.entries = staged.entries }
    }

    /// The client for an app's vendor, nil when the app has not configured it.
    public func client(app: UInt64, vendor: Vendor) -> (any VendorClient)? {
        state.withLock { $0.entries[Key(app: app, vendor: vendor)]?.client }
    }

    /// The vendors each app has a client for, in `Vendor.allCases` order.
    public func configuredVendors() -> [UInt64: [Vendor]] {
        let keys = state.withLock { Array($0.entries.keys) }
        var vendors: [UInt64: [Vendor]] = [:]
        for vendor in Vendor.allCases {
            for key in keys where key.vendor == vendor { vendors[key.app, default: []].append(vendor) }
        }
        return vendors
    }

    /// Builds the clients `config` needs, reusing every one whose fingerprint is unchanged; throws
    /// (changing nothing) when a credential cannot be loaded. Apps the config no longer lists keep
    /// their clients, so their queued jobs still go out.
    public func stage(_ config: PushdConfig) throws -> Staged {
        let current = state.withLock { $0.entries }
        var entries = current
        var changed: Set<Key> = []
        let base = VendorTransport.Settings(
            connections: config.dispatcher.connections, maxInFlight: config.dispatcher.maxInFlight,
            caFile: config.tls.caFile.isEmpty ? nil : config.tls.caFile
        )
        for app in config.apps {
            for vendor in Vendor.allCases {
                let key = Key(app: app.sdkAppID, vendor: vendor)
                guard let fields = app.vendors[vendor] else {
                    if entries.removeValue(forKey: key) != nil { changed.insert(key) }
                    continue
                }
                var settings = base
                settings.proxy = ProxyAddress.effective(global: config.proxy, vendor: fields).map {
                    HTTPProxy(host: $0.host, port: $0.port, username: $0.username, password: $0.password)
                }
                let fingerprint = Self.fingerprint(fields, transport: settings)
                if current[key]?.fingerprint == fingerprint { continue }
                do {
                    let transport = try VendorTransport(settings: settings)
                    entries[key] = Entry(
                        fingerprint: fingerprint, client: try Self.client(fields.settings, transport: transport, clock: clock), transport: transport
                    )
                    changed.insert(key)
                } catch {
                    throw SetupError(description: "apps \(app.sdkAppID) vendors.\(vendor.rawValue): \(error)")
                }
            }
        }
        return Staged(entries: entries, changed: changed)
    }

    /// Switches to the staged clients. A replaced client's connections close once the requests in
    /// flight on them are answered (``VendorTransport/retire()``).
    public func commit(_ staged: Staged) {
        let replaced = state.withLock { state -> [VendorTransport] in
            let replaced = state.entries.compactMap { key, entry in staged.entries[key]?.transport === entry.transport ? nil : entry.transport }
            state.entries = staged.entries
            state.retired += replaced
            return replaced
        }
        for transport in replaced { transport.retire() }
    }

    public func shutdown() async throws {
        let transports = state.withLock { $0.entries.values.map(\.transport) + $0.retired }
        for transport in transports { try await transport.shutdown() }
    }

    static func fingerprint(_ fields: VendorConfig, transport: VendorTransport.Settings) -> Fingerprint {
        var files: [String: [UInt8]] = [:]
        for field in VendorSchema.fields(fields.vendor) where field.isFile && !fields[field.name].isEmpty {
            files[field.name] = FileManager.default.contents(atPath: fields[field.name]).map { Array($0) } ?? []
        }
        return Fingerprint(fields: fields.fields.filter { $0.key != "rate_limit" && $0.key != "burst" }, files: files, transport: transport)
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

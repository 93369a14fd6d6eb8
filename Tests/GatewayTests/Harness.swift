import Crypto
import Emulator
import Foundation
@testable import Gateways
import PushCore
import Testing
import TestSupport
import VendorAuth
import _CryptoExtras

/// An emulator on a free port with registered credentials, and clients for all eight vendors that
/// trust its CA (and nothing else extra), sharing one manual clock.
final class Harness: Sendable {
    static let rsaKey: _RSA.Signing.PrivateKey = {
        do { return try _RSA.Signing.PrivateKey(keySize: .bits2048) } catch { fatalError("RSA key: \(error)") }
    }()
    static let bundleID = "com.example.im"
    static let teamID = "TEAM123456"
    static let keyID = "KEY1234567"
    static let serviceAccount = "pushd@demo.iam.gserviceaccount.com"

    let clock: ManualEpochClock
    let state: EmulatorState
    let running: GatewayEmulator.Running
    let transport: VendorTransport
    let apnsKey = P256.Signing.PrivateKey()
    let folder: URL
    /// The emulator's CA, for more transports.
    let caFile: String

    init(maxConcurrentStreams: Int = 1000, proxy: HTTPProxy? = nil) async throws {
        clock = ManualEpochClock(millis: SystemEpochClock().nowMillis())
        state = EmulatorState(clock: clock)
        let certificates = try EmulatorCertificates()
        running = try await GatewayEmulator(state: state, certificates: certificates).start(maxConcurrentStreams: maxConcurrentStreams)
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-gw-\(UUID())")
        caFile = try certificates.writeCA(to: folder.path)
        transport = try VendorTransport(settings: .init(connections: 2, maxInFlight: 256, timeout: .seconds(10), caFile: caFile, proxy: proxy))
        state.registerAPNsKey(keyID: Self.keyID, teamID: Self.teamID, publicKey: apnsKey.publicKey, topics: [Self.bundleID])
        state.registerServiceAccount(email: Self.serviceAccount, publicKey: Self.rsaKey.publicKey)
        state.registerOAuthClient(vendor: .huawei, clientID: "10086", secret: "hw-secret")
        state.registerOAuthClient(vendor: .honor, clientID: "honor-client", secret: "honor-secret")
        state.registerXiaomi(appSecret: "mi-secret", packageName: Self.bundleID)
        state.registerOPPO(appKey: "oppo-key", masterSecret: "oppo-master")
        state.registerVivo(appID: "1001", appKey: "vivo-key", appSecret: "vivo-secret")
        state.registerMeizu(appID: "2002", appSecret: "meizu-secret")
    }

    /// Runs `body` with a fresh harness and always shuts it down.
    static func with(maxConcurrentStreams: Int = 1000, proxy: HTTPProxy? = nil, _ body: (Harness) async throws -> Void) async throws {
        let harness = try await Harness(maxConcurrentStreams: maxConcurrentStreams, proxy: proxy)
        do {
            try await body(harness)
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }

    func shutdown() async {
        try? await transport.shutdown()
        await running.stop()
        try? FileManager.default.removeItem(at: folder)
    }

    func endpoint(_ vendor: Vendor) -> String { running.endpoint(vendor) }

    // MARK: Clients

    func apns(key: P256.Signing.PrivateKey? = nil, keyID: String = Harness.keyID, transport: VendorTransport? = nil) -> APNsClient {
        APNsClient(
            credentials: .init(
                teamID: Self.teamID, keyID: keyID, privateKey: key ?? apnsKey, endpoint: endpoint(.apns), sandboxEndpoint: endpoint(.apns)
            ),
            transport: transport ?? self.transport, clock: clock
        )
    }

    /// A Xiaomi client on its own transport: one connection, 500 ms per request.
    func impatientXiaomi() throws -> (XiaomiClient, VendorTransport) {
        let transport = try VendorTransport(settings: .init(connections: 1, timeout: .milliseconds(500), caFile: caFile))
        return (XiaomiClient(appSecret: "mi-secret", endpoint: endpoint(.xiaomi), transport: transport), transport)
    }

    func fcm(email: String = Harness.serviceAccount) -> FCMClient {
        FCMClient(
            credentials: .init(clientEmail: email, privateKey: Self.rsaKey, tokenURI: endpoint(.fcm) + "/token", endpoint: endpoint(.fcm)),
            transport: transport, clock: clock
        )
    }

    func huawei(secret: String = "hw-secret") -> HuaweiClient {
        HuaweiClient(
            credentials: .init(clientID: "10086", clientSecret: secret, tokenEndpoint: endpoint(.huawei) + "/oauth2/v3/token", endpoint: endpoint(.huawei)),
            transport: transport, clock: clock
        )
    }

    func honor() -> HonorClient {
        HonorClient(
            credentials: .init(clientID: "honor-client", clientSecret: "honor-secret", tokenEndpoint: endpoint(.honor) + "/token", endpoint: endpoint(.honor)),
            transport: transport, clock: clock
        )
    }

    func xiaomi(secret: String = "mi-secret") -> XiaomiClient {
        XiaomiClient(appSecret: secret, endpoint: endpoint(.xiaomi), transport: transport)
    }

    func oppo(master: String = "oppo-master") -> OPPOClient {
        OPPOClient(appKey: "oppo-key", masterSecret: master, endpoint: endpoint(.oppo), transport: transport, clock: clock)
    }

    func vivo(secret: String = "vivo-secret") -> VivoClient {
        VivoClient(appID: "1001", appKey: "vivo-key", appSecret: secret, endpoint: endpoint(.vivo), transport: transport, clock: clock)
    }

    func meizu(secret: String = "meizu-secret") -> MeizuClient {
        MeizuClient(appSecret: secret, endpoint: endpoint(.meizu), transport: transport)
    }

    // MARK: Rendering

    static let app = AppPushSettings(
        defaultTitle: "Example IM", apns: .init(bundleID: bundleID), fcm: .init(projectID: "demo-project", defaultChannelID: "chat"),
        huawei: .init(appID: "10086", defaultChannelID: "chat", defaultCategory: "IM"),
        xiaomi: .init(packageName: bundleID, defaultChannelID: "chat"), oppo: .init(defaultChannelID: "chat", defaultCategory: "IM"),
        vivo: .init(appID: "1001", defaultCategory: "IM"), meizu: .init(appID: "2002"), honor: .init(appID: "3003")
    )

    static let content = PushContent(body: "Alice:hello", title: "Alice", ext: #"{"entity":1}"#, lifetime: 3600)

    /// A device token in each vendor's usual shape.
    static func token(_ vendor: Vendor, _ n: Int = 0) -> String {
        vendor == .apns ? String(format: "%064x", n + 1) : "\(vendor.rawValue)-token-\(n)"
    }

    /// Renders the standard content for one device.
    func request(_ vendor: Vendor, token: String, content: PushContent = Harness.content, pushID: String = UUID().uuidString.lowercased())
        throws -> VendorRequest
    {
        try PushRenderer(app: Self.app).render(
            content, vendor: vendor, to: PushTarget(token: token, badge: 1, pushID: pushID, nowMillis: clock.nowMillis())
        )
    }

    func client(_ vendor: Vendor) -> any VendorClient {
        switch vendor {
        case .apns: apns()
        case .fcm: fcm()
        case .huawei: huawei()
        case .honor: honor()
        case .xiaomi: xiaomi()
        case .oppo: oppo()
        case .vivo: vivo()
        case .meizu: meizu()
        }
    }

    /// Renders and sends one push.
    func send(_ vendor: Vendor, token: String? = nil, client: (any VendorClient)? = nil) async throws -> PushOutcome {
        let token = token ?? Self.token(vendor)
        return await (client ?? self.client(vendor)).send(try request(vendor, token: token), token: token)
    }
}

/// Requests sent with the transport alone, to see the emulator's raw answers.
struct RawClient {
    let harness: Harness

    init(_ harness: Harness) { self.harness = harness }

    func post(_ vendor: Vendor, _ request: VendorRequest, extraHeaders: [String: String]) async throws -> (status: Int, reason: String?) {
        var headers = request.headers.map { ($0.name, $0.value) }
        headers += extraHeaders.map { ($0.key, $0.value) }
        let response = try await harness.transport.execute(
            method: .POST, url: harness.endpoint(vendor) + request.path, headers: .init(headers), body: request.body.bytes
        )
        return (response.status, response.decoded(APNsAnswer.self)?.reason)
    }
}

enum VendorAuthTestSupport {
    /// An APNs provider token issued at a given time.
    static func apnsToken(key: P256.Signing.PrivateKey, issuedAt: Int64) throws -> String {
        try JWT.es256(kid: Harness.keyID, claims: ["iss": Harness.teamID, "iat": issuedAt], key: key)
    }
}

extension PushOutcome {
    var isDelivered: Bool { if case .delivered = self { true } else { false } }
    var isTokenInvalid: Bool { if case .tokenInvalid = self { true } else { false } }
    var isConfigAlarm: Bool { if case .configAlarm = self { true } else { false } }
    var retryAfter: Int?? { if case .retry(_, let after) = self { after } else { nil } }
}

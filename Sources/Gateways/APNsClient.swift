import Crypto
import Foundation
import PushCore
import Synchronization
import VendorAuth

/// APNs with token auth: one ES256 provider token per key, shared by all connections, refreshed
/// after `refreshAfter` (between APNs's 20 and 60 minutes), never per request.
public final class APNsClient: VendorClient {
    public let vendor = Vendor.apns

    public struct Credentials: Sendable {
        public var teamID: String
        public var keyID: String
        public var privateKey: P256.Signing.PrivateKey
        public var endpoint: String
        public var sandboxEndpoint: String

        public init(teamID: String, keyID: String, privateKey: P256.Signing.PrivateKey, endpoint: String, sandboxEndpoint: String) {
            self.teamID = teamID
            self.keyID = keyID
            self.privateKey = privateKey
            self.endpoint = endpoint
            self.sandboxEndpoint = sandboxEndpoint
        }
    }

    private let credentials: Credentials
    private let transport: VendorTransport
    private let clock: any EpochClock
    private let refreshAfterSeconds: Int64
    private let providerToken = Mutex<(jwt: String, issuedAt: Int64)?>(nil)

    public init(credentials: Credentials, transport: VendorTransport, clock: any EpochClock = SystemEpochClock(), refreshAfterSeconds: Int64 = 50 * 60) {
        self.credentials = credentials
        self.transport = transport
        self.clock = clock
        self.refreshAfterSeconds = min(max(refreshAfterSeconds, 20 * 60), 60 * 60)
    }

    /// The current provider token; a new one when it is older than the refresh age, or when APNs
    /// called `rejected` expired and it is still current.
    func currentProviderToken(rejected: String? = nil) throws -> String {
        let now = clock.nowSeconds()
        return try providerToken.withLock { current in
            if let current, current.jwt != rejected, now - current.issuedAt < refreshAfterSeconds { return current.jwt }
            let jwt = try JWT.es256(
                kid: credentials.keyID, claims: ["iss": credentials.teamID, "iat": now], key: credentials.privateKey
            )
            current = (jwt, now)
            return jwt
        }
    }

    public func send(_ request: VendorRequest, token: String, sandbox: Bool) async -> PushOutcome {
        let url = joinURL(sandbox ? credentials.sandboxEndpoint : credentials.endpoint, request.path)
        return await sendWithCredential(
            credential: { rejected in
                // The retry after ExpiredProviderToken goes on a fresh connection, as APNs asks.
                if rejected != nil { transport.renewConnections(to: url) }
                do {
                    return try currentProviderToken(rejected: rejected)
                } catch {
                    throw AuthRejected(description: "cannot sign the APNs provider token: \(error)")
                }
            },
            send: { jwt in
                var headers = httpHeaders(request)
                headers.add(name: "authorization", value: "bearer " + jwt)
                return try await transport.execute(method: .POST, url: url, headers: headers, body: request.body.bytes)
            },
            isRejected: { $0.status == 403 && $0.decoded(APNsAnswer.self)?.reason == "ExpiredProviderToken" },
            classify: { response in
                let answer = response.decoded(APNsAnswer.self)
                return OutcomeTables.apns(
                    status: response.status, reason: answer?.reason, timestampMillis: answer?.timestampMillis, retryAfter: response.retryAfter,
                    apnsID: response.header("apns-id")
                )
            }
        )
    }
}

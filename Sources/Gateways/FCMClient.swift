import Foundation
import PushCore
import VendorAuth
import _CryptoExtras

/// FCM HTTP v1 with a service account: an RS256 assertion exchanged at the account's `token_uri`
/// for an access token, cached and refreshed before expiry; one refresh-and-retry on 401.
public final class FCMClient: VendorClient {
    public let vendor = Vendor.fcm

    public struct Credentials: Sendable {
        public var clientEmail: String
        public var privateKey: _RSA.Signing.PrivateKey
        public var tokenURI: String
        public var endpoint: String

        public init(clientEmail: String, privateKey: _RSA.Signing.PrivateKey, tokenURI: String, endpoint: String) {
            self.clientEmail = clientEmail
            self.privateKey = privateKey
            self.tokenURI = tokenURI
            self.endpoint = endpoint
        }
    }

    private let credentials: Credentials
    private let transport: VendorTransport
    private let tokens: AccessTokenCache

    public init(credentials: Credentials, transport: VendorTransport, clock: any EpochClock = SystemEpochClock()) {
        self.credentials = credentials
        self.transport = transport
        tokens = AccessTokenCache(clock: clock) {
            let now = clock.nowSeconds()
            let assertion = try JWT.rs256(
                claims: [
                    "iss": credentials.clientEmail, "scope": "https://www.googleapis.com/auth/firebase.messaging",
                    "aud": credentials.tokenURI, "iat": now, "exp": now + 3600,
                ],
                key: credentials.privateKey
            )
            let response = try await transport.postForm(
                url: credentials.tokenURI,
                fields: [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)]
            )
            guard response.status == 200, let answer = response.decoded(OAuthTokenAnswer.self), let token = answer.accessToken else {
                throw AuthRejected(description: "token_uri answered \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
            }
            return .init(value: token, expiresIn: answer.expiresIn, nowMillis: clock.nowMillis())
        }
    }

    public func send(_ request: VendorRequest, token: String, sandbox: Bool) async -> PushOutcome {
        await sendWithBearer(
            request, url: joinURL(credentials.endpoint, request.path), transport: transport, tokens: tokens,
            tokenExpired: { $0.status == 401 },
            classify: { response in
                let answer = response.decoded(FCMAnswer.self)
                return OutcomeTables.fcm(
                    status: response.status, errorCode: answer?.errorCode, tokenBlamed: answer?.tokenBlamed ?? false,
                    retryAfter: response.retryAfter, messageName: answer?.name
                )
            }
        )
    }
}

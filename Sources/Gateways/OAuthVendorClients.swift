import Foundation
import PushCore

/// OAuth client-credentials settings (Huawei, Honor).
public struct OAuthCredentials: Sendable {
    public var clientID: String
    public var clientSecret: String
    public var tokenEndpoint: String
    public var endpoint: String

    public init(clientID: String, clientSecret: String, tokenEndpoint: String, endpoint: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tokenEndpoint = tokenEndpoint
        self.endpoint = endpoint
    }
}

extension AccessTokenCache {
    /// A client-credentials token cache for one vendor credential.
    convenience init(oauth credentials: OAuthCredentials, transport: VendorTransport, clock: any EpochClock) {
        self.init(clock: clock) {
            let response = try await transport.postForm(
                url: credentials.tokenEndpoint,
                fields: [
                    ("grant_type", "client_credentials"), ("client_id", credentials.clientID), ("client_secret", credentials.clientSecret),
                ]
            )
            guard response.status == 200, let answer = response.decoded(OAuthTokenAnswer.self), let token = answer.accessToken else {
                throw AuthRejected(description: "token endpoint answered \(response.status)")
            }
            return .init(value: token, expiresIn: answer.expiresIn, nowMillis: clock.nowMillis())
        }
    }
}

/// Sends with a bearer token from `tokens`; on 401 (or a vendor code meaning the token expired)
/// fetches a new token once and retries.
func sendWithBearer(
    _ request: VendorRequest, url: String, transport: VendorTransport, tokens: AccessTokenCache,
    tokenExpired: (ParsedResponse) -> Bool, classify: (ParsedResponse) -> PushOutcome
) async -> PushOutcome {
    await sendWithCredential(
        credential: { try await tokens.token(rejected: $0) },
        send: { try await bearerPost(request, url: url, transport: transport, accessToken: $0) },
        isRejected: tokenExpired, classify: classify
    )
}

/// Posts a rendered request with `Authorization: Bearer`.
func bearerPost(_ request: VendorRequest, url: String, transport: VendorTransport, accessToken: String) async throws -> VendorTransport.Response {
    var headers = httpHeaders(request)
    headers.add(name: "authorization", value: "Bearer " + accessToken)
    return try await transport.execute(method: .POST, url: url, headers: headers, body: request.body.bytes)
}

/// What Huawei and Honor share: OAuth client credentials, bearer sends, one outcome per token.
struct OAuthSender: Sendable {
    let credentials: OAuthCredentials
    let transport: VendorTransport
    let tokens: AccessTokenCache

    init(credentials: OAuthCredentials, transport: VendorTransport, clock: any EpochClock) {
        self.credentials = credentials
        self.transport = transport
        tokens = AccessTokenCache(oauth: credentials, transport: transport, clock: clock)
    }

    /// Sends; `classify` reads a response once and returns each token's outcome.
    func send(
        _ request: VendorRequest, tokens deviceTokens: [String], tokenExpired: (ParsedResponse) -> Bool,
        classify: (ParsedResponse) -> (String) -> PushOutcome
    ) async -> [String: PushOutcome] {
        let url = joinURL(credentials.endpoint, request.path)
        return await sendForTokens(
            deviceTokens, credential: { try await tokens.token(rejected: $0) },
            send: { try await bearerPost(request, url: url, transport: transport, accessToken: $0) },
            isRejected: tokenExpired, classify: classify
        )
    }
}

/// Huawei Push Kit v1.
public final class HuaweiClient: BatchVendorClient {
    public let vendor = Vendor.huawei
    private let sender: OAuthSender

    public init(credentials: OAuthCredentials, transport: VendorTransport, clock: any EpochClock = SystemEpochClock()) {
        sender = OAuthSender(credentials: credentials, transport: transport, clock: clock)
    }

    public func send(_ request: VendorRequest, tokens: [String]) async -> [String: PushOutcome] {
        await sender.send(
            request, tokens: tokens,
            tokenExpired: { response in
                let code = response.decoded(HuaweiAnswer.self)?.code
                return response.status == 401 || code == "80200003" || code == "80200001"
            },
            classify: { response in
                let answer = response.decoded(HuaweiAnswer.self)
                let illegal = answer?.illegalTokens ?? []
                return { token in
                    OutcomeTables.huawei(
                        status: response.status, code: answer?.code, token: token, illegalTokens: illegal,
                        requestID: answer?.requestID, retryAfter: response.retryAfter
                    )
                }
            }
        )
    }
}

/// Honor Push.
public final class HonorClient: BatchVendorClient {
    public let vendor = Vendor.honor
    private let sender: OAuthSender

    public init(credentials: OAuthCredentials, transport: VendorTransport, clock: any EpochClock = SystemEpochClock()) {
        sender = OAuthSender(credentials: credentials, transport: transport, clock: clock)
    }

    public func send(_ request: VendorRequest, tokens: [String]) async -> [String: PushOutcome] {
        await sender.send(
            request, tokens: tokens,
            tokenExpired: { $0.status == 401 || $0.decoded(HonorAnswer.self)?.code == 80200003 },
            classify: { response in
                let answer = response.decoded(HonorAnswer.self)
                return { token in
                    OutcomeTables.honor(
                        status: response.status, code: answer?.code, token: token, expiredTokens: answer?.expiredTokens ?? [],
                        requestID: answer?.requestID, retryAfter: response.retryAfter
                    )
                }
            }
        )
    }
}

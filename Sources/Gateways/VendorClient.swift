import Foundation
import NIOHTTP1
import PushCore
import Synchronization

/// Delivers rendered requests to one vendor for one app credential.
public protocol VendorClient: Sendable {
    var vendor: Vendor { get }
    /// Sends one push and says what became of it; never throws: transport failures are retries.
    func send(_ request: VendorRequest, token: String, sandbox: Bool) async -> PushOutcome
}

extension VendorClient {
    public func send(_ request: VendorRequest, token: String) async -> PushOutcome {
        await send(request, token: token, sandbox: false)
    }
}

/// A vendor that takes many tokens in one request (Huawei, Honor and Xiaomi up to 1000, Meizu up to
/// 100) and says which of them failed.
public protocol BatchVendorClient: VendorClient {
    /// Sends one request rendered for `tokens`; the outcome of each token.
    func send(_ request: VendorRequest, tokens: [String]) async -> [String: PushOutcome]
}

extension BatchVendorClient {
    public func send(_ request: VendorRequest, token: String, sandbox: Bool) async -> PushOutcome {
        await send(request, tokens: [token])[token] ?? .permanent(reason: "no outcome for the token")
    }
}

/// The same outcome for every token of a batch.
func everyToken(_ tokens: [String], _ outcome: PushOutcome) -> [String: PushOutcome] {
    perToken(tokens) { _ in outcome }
}

/// Each token's outcome from a per-token classifier.
func perToken(_ tokens: [String], _ classify: (String) -> PushOutcome) -> [String: PushOutcome] {
    Dictionary(tokens.map { ($0, classify($0)) }, uniquingKeysWith: { a, _ in a })
}

/// `endpoint` + `path`, with exactly one slash between.
func joinURL(_ endpoint: String, _ path: String) -> String {
    (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + path
}

/// The request's headers as NIO headers.
func httpHeaders(_ request: VendorRequest) -> HTTPHeaders {
    HTTPHeaders(request.headers.map { ($0.name, $0.value) })
}

/// A vendor's answer as the credential check and the classifier read it: status, headers and the
/// body decoded as the vendor's typed answer (`VendorAnswers.swift`).
struct ParsedResponse {
    let raw: VendorTransport.Response

    init(_ raw: VendorTransport.Response) {
        self.raw = raw
    }

    /// The body as `T`; nil when empty (APNs's 200) or not a JSON object.
    func decoded<T: Decodable>(_ type: T.Type) -> T? { raw.decoded(type) }

    var status: Int { raw.status }
    var retryAfter: Int? { raw.retryAfter }
    func header(_ name: String) -> String? { raw.header(name) }
}

/// An HTTP 5xx: the vendor is failing, not refusing; retry after its `Retry-After`. Vendors that
/// put business codes in HTTP 200 bodies say nothing more in a 5xx.
func serverFailure(_ response: ParsedResponse) -> PushOutcome? {
    response.status >= 500 ? .retry(reason: "HTTP \(response.status)", afterSeconds: response.retryAfter) : nil
}

/// A retry for a request that did not complete (connection refused or reset, GOAWAY, deadline).
func transportFailure(_ error: any Error) -> PushOutcome {
    .retry(reason: "TransportError: \(String(describing: error).prefix(200))", afterSeconds: nil)
}

/// An access token fetched from a vendor's auth endpoint, refreshed before it expires. One fetch at
/// a time: concurrent callers wait for the same refresh.
final class AccessTokenCache: Sendable {
    struct Token: Sendable {
        var value: String
        var expiresAtMillis: Int64

        /// Lifetimes a token endpoint's `expires_in` is trusted for: a negative, zero or tiny value
        /// would fetch a token per send, an absurd one would keep a dead token for ever.
        static let lifetimeSeconds: ClosedRange<Int64> = 600...86_400

        init(value: String, expiresAtMillis: Int64) {
            self.value = value
            self.expiresAtMillis = expiresAtMillis
        }

        /// A token from an OAuth answer: `expiresIn` as the endpoint sent it (3600 when absent
        /// or not a number), clamped to `lifetimeSeconds`.
        init(value: String, expiresIn: Double?, nowMillis: Int64) {
            var seconds: Int64 = 3600
            if let expiresIn, expiresIn.isFinite {
                // Clamped as a Double first: converting an out-of-range Double to Int64 traps.
                let range = Self.lifetimeSeconds
                seconds = Int64(expiresIn.clamped(to: Double(range.lowerBound)...Double(range.upperBound)))
            }
            self.init(value: value, expiresAtMillis: nowMillis.addingSaturating(seconds * 1000))
        }
    }

    private struct State {
        var token: Token?
        var refreshing: Task<Token, any Error>?
    }

    private let state = Mutex(State())
    private let clock: any EpochClock
    /// Refresh this long before expiry.
    private let marginMillis: Int64
    private let fetch: @Sendable () async throws -> Token

    init(clock: any EpochClock, marginSeconds: Int64 = 300, fetch: @escaping @Sendable () async throws -> Token) {
        self.clock = clock
        self.marginMillis = marginSeconds * 1000
        self.fetch = fetch
    }

    /// A valid token. With `rejected`, the vendor refused that token: fetch a new one unless
    /// another caller already did.
    func token(rejected: String? = nil) async throws -> String {
        let now = clock.nowMillis()
        let task = state.withLock { state -> Task<Token, any Error>? in
            if let token = state.token, token.value != rejected, token.expiresAtMillis - marginMillis > now { return nil }
            if let refreshing = state.refreshing { return refreshing }
            let fetch = self.fetch
            let task = Task { try await fetch() }
            state.refreshing = task
            return task
        }
        guard let task else { return state.withLock { $0.token!.value } }
        do {
            let token = try await task.value
            state.withLock { state in
                state.token = token
                state.refreshing = nil
            }
            return token.value
        } catch {
            state.withLock { $0.refreshing = nil }
            throw error
        }
    }
}

/// The vendor's auth endpoint refused the credentials: a configuration alarm, not a retry.
struct AuthRejected: Error, CustomStringConvertible {
    var description: String
}

/// An auth-endpoint failure as an outcome.
func authFailure(_ error: any Error) -> PushOutcome {
    if let rejected = error as? AuthRejected { return .configAlarm(reason: "auth rejected: \(rejected.description)") }
    return transportFailure(error)
}

/// The one send loop of credentialed vendors: send with the current credential; when the vendor
/// rejects it, ask for a new one once and send again.
///
/// - Parameters:
///   - credential: the credential to use, given the one just rejected (nil on the first try).
///   - send: sends the request with a credential.
///   - isRejected: whether the vendor refused the credential (401, `ExpiredProviderToken`, OPPO 11 …).
///   - classify: the outcome of any other answer.
///   - failed: the result when no answer can be classified (one outcome for a whole batch).
func sendWithCredential<Result>(
    credential: (_ rejected: String?) async throws -> String,
    send: (String) async throws -> VendorTransport.Response,
    isRejected: (ParsedResponse) -> Bool,
    classify: (ParsedResponse) -> Result,
    failed: (PushOutcome) -> Result
) async -> Result {
    var rejected: String?
    for _ in 0..<2 {
        let current: String
        do {
            current = try await credential(rejected)
        } catch {
            return failed(authFailure(error))
        }
        let response: ParsedResponse
        do {
            response = ParsedResponse(try await send(current))
        } catch {
            return failed(transportFailure(error))
        }
        if isRejected(response), rejected == nil {
            rejected = current
            continue
        }
        return classify(response)
    }
    return failed(.configAlarm(reason: "credential refused again after a refresh"))
}

func sendWithCredential(
    credential: (_ rejected: String?) async throws -> String,
    send: (String) async throws -> VendorTransport.Response,
    isRejected: (ParsedResponse) -> Bool,
    classify: (ParsedResponse) -> PushOutcome
) async -> PushOutcome {
    await sendWithCredential(credential: credential, send: send, isRejected: isRejected, classify: classify, failed: { $0 })
}

/// The send loop for a request carrying several tokens: a 5xx or a failure applies to all of them,
/// any other answer is read once by `classify` and gives each token its outcome.
func sendForTokens(
    _ tokens: [String],
    credential: (_ rejected: String?) async throws -> String,
    send: (String) async throws -> VendorTransport.Response,
    isRejected: (ParsedResponse) -> Bool = { _ in false },
    classify: (ParsedResponse) -> (String) -> PushOutcome
) async -> [String: PushOutcome] {
    await sendWithCredential(
        credential: credential, send: send, isRejected: isRejected,
        classify: { response in serverFailure(response).map { everyToken(tokens, $0) } ?? perToken(tokens, classify(response)) },
        failed: { everyToken(tokens, $0) }
    )
}

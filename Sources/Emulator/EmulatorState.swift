import Crypto
import Foundation
import HTTPTypes
import PushCore
import Synchronization
import _CryptoExtras

/// Everything the emulator knows: registered credentials, device tokens, issued access tokens,
/// injected faults and the requests it received. Thread-safe; time comes from an injectable clock.
public final class EmulatorState: Sendable {
    public let clock: any EpochClock
    /// OAuth access tokens (FCM, Huawei, Honor) live this long.
    public let accessTokenLifetime: Int64
    /// OPPO `auth_token` and vivo `authToken` live this long.
    public let signedTokenLifetime: Int64
    /// When false, a well-formed token nobody registered is valid (handy for demos and benchmarks);
    /// when true it is unknown to the vendor.
    public let strictTokens: Bool

    private let data = Mutex(Data())

    public init(
        clock: any EpochClock = SystemEpochClock(), accessTokenLifetime: Int64 = 3600,
        signedTokenLifetime: Int64 = 86_400, strictTokens: Bool = false, recordLimit: Int = 100_000
    ) {
        self.clock = clock
        self.accessTokenLifetime = accessTokenLifetime
        self.signedTokenLifetime = signedTokenLifetime
        self.strictTokens = strictTokens
        data.withLock { $0.recordLimit = recordLimit }
    }

    // MARK: Credentials

    struct APNsKey {
        var teamID: String
        var key: P256.Signing.PublicKey
        var topics: Set<String>
    }

    struct Data {
        var apnsKeys: [String: APNsKey] = [:]
        /// Provider tokens already verified.
        var verifiedProviderTokens: [String: VerifiedProviderToken] = [:]
        var serviceAccounts: [String: _RSA.Signing.PublicKey] = [:]
        var oauthClients: [Vendor: [String: String]] = [:]
        var xiaomiSecrets: [String: String] = [:]
        var oppoApps: [String: String] = [:]
        var vivoApps: [String: (appKey: String, appSecret: String)] = [:]
        var meizuApps: [String: String] = [:]
        /// Issued access tokens → (vendor, expiry in ms).
        var accessTokens: [String: (vendor: Vendor, expiresAt: Int64)] = [:]
        var tokens: [Vendor: [String: TokenState]] = [:]
        var faults: [Fault] = []
        var chaos: Chaos?
        var chaosRandom = SplitMix64(seed: 0)
        var chaosAnswers = 0
        var records: [Exchange] = []
        var recordLimit = 100_000
        var sequence = 0
        var listTasks: Set<String> = []
    }

    func rememberListTask(_ id: String) { _ = data.withLock { $0.listTasks.insert(id) } }
    func isListTask(_ id: String) -> Bool { data.withLock { $0.listTasks.contains(id) } }

    /// Registers an APNs signing key (`.p8`) for a team and the topics (bundle ids) it may push to.
    public func registerAPNsKey(keyID: String, teamID: String, publicKey: P256.Signing.PublicKey, topics: Set<String>) {
        data.withLock { $0.apnsKeys[keyID] = APNsKey(teamID: teamID, key: publicKey, topics: topics) }
    }

    /// Registers an FCM service account by its `client_email`.
    public func registerServiceAccount(email: String, publicKey: _RSA.Signing.PublicKey) {
        data.withLock { $0.serviceAccounts[email] = publicKey }
    }

    /// Registers an OAuth client-credentials client (Huawei, Honor).
    public func registerOAuthClient(vendor: Vendor, clientID: String, secret: String) {
        data.withLock { $0.oauthClients[vendor, default: [:]][clientID] = secret }
    }

    public func registerXiaomi(appSecret: String, packageName: String) {
        data.withLock { $0.xiaomiSecrets[appSecret] = packageName }
    }

    public func registerOPPO(appKey: String, masterSecret: String) {
        data.withLock { $0.oppoApps[appKey] = masterSecret }
    }

    public func registerVivo(appID: String, appKey: String, appSecret: String) {
        data.withLock { $0.vivoApps[appID] = (appKey, appSecret) }
    }

    public func registerMeizu(appID: String, appSecret: String) {
        data.withLock { $0.meizuApps[appID] = appSecret }
    }

    func apnsKey(_ keyID: String) -> APNsKey? { data.withLock { $0.apnsKeys[keyID] } }
    /// An APNs provider token whose signature checked out: verified once, not per request.
    struct VerifiedProviderToken {
        var keyID: String
        var issuedAt: Int64
    }

    func verifiedProviderToken(_ token: String) -> VerifiedProviderToken? { data.withLock { $0.verifiedProviderTokens[token] } }
    func rememberVerified(providerToken token: String, _ verified: VerifiedProviderToken) {
        data.withLock { $0.verifiedProviderTokens[token] = verified }
    }
    func serviceAccountKey(_ email: String) -> _RSA.Signing.PublicKey? { data.withLock { $0.serviceAccounts[email] } }
    func oauthSecret(vendor: Vendor, clientID: String) -> String? { data.withLock { $0.oauthClients[vendor]?[clientID] } }
    func xiaomiPackage(forSecret secret: String) -> String? { data.withLock { $0.xiaomiSecrets[secret] } }
    func oppoMasterSecret(appKey: String) -> String? { data.withLock { $0.oppoApps[appKey] } }
    func vivoApp(_ appID: String) -> (appKey: String, appSecret: String)? { data.withLock { $0.vivoApps[appID] } }
    func meizuSecret(appID: String) -> String? { data.withLock { $0.meizuApps[appID] } }

    // MARK: Access tokens

    /// Issues an access token for a vendor, valid for `lifetime` seconds (also used by benchmarks to
    /// give an outside client such as h2load a valid bearer token).
    public func issueAccessToken(vendor: Vendor, lifetime: Int64) -> String {
        let token = vendor.rawValue + "." + UUID().uuidString.lowercased()
        let expiresAt = clock.nowMillis() + lifetime * 1000
        data.withLock { $0.accessTokens[token] = (vendor, expiresAt) }
        return token
    }

    /// Whether an access token was issued for this vendor and has not expired.
    func isValidAccessToken(_ token: String, vendor: Vendor) -> Bool {
        let now = clock.nowMillis()
        return data.withLock { state in
            guard let entry = state.accessTokens[token] else { return false }
            return entry.vendor == vendor && entry.expiresAt > now
        }
    }

    /// Access tokens issued for a vendor and not revoked (expired ones included).
    public func accessTokensIssued(vendor: Vendor) -> Int {
        data.withLock { $0.accessTokens.values.count { $0.vendor == vendor } }
    }

    /// Forgets every issued access token, as a vendor does when it rotates or revokes them.
    public func revokeAccessTokens() {
        data.withLock { $0.accessTokens.removeAll() }
    }

    // MARK: Device tokens

    /// What the vendor knows about a device token.
    public enum TokenState: Sendable, Equatable {
        case valid
        /// Uninstalled or expired, since this time (APNs 410 with `timestamp`, FCM `UNREGISTERED`, ...).
        case unregistered(sinceMillis: Int64)
        /// Not a token of this app (APNs `BadDeviceToken`, FCM `INVALID_ARGUMENT` on `message.token`).
        case invalid
    }

    public func setToken(_ token: String, vendor: Vendor, state: TokenState) {
        data.withLock { $0.tokens[vendor, default: [:]][token] = state }
    }

    /// The state of a token; unknown tokens are valid unless `strictTokens`.
    public func tokenState(_ token: String, vendor: Vendor) -> TokenState {
        data.withLock { $0.tokens[vendor]?[token] } ?? (strictTokens ? .invalid : .valid)
    }

    // MARK: Faults

    public func addFault(_ fault: Fault) {
        data.withLock { $0.faults.append(fault) }
    }

    public func clearFaults() {
        data.withLock { $0.faults.removeAll() }
    }

    /// Turns chaos mode on (or off, with nil).
    public func setChaos(_ chaos: Chaos?) {
        data.withLock { state in
            state.chaos = chaos
            state.chaosRandom = SplitMix64(seed: chaos?.seed ?? 0)
        }
    }

    /// Requests answered chaotically so far.
    public var chaosAnswers: Int { data.withLock { $0.chaosAnswers } }

    /// A chaotic move for this request, when chaos mode picks it.
    func takeChaos() -> Chaos.Move? {
        data.withLock { state in
            guard let chaos = state.chaos, state.chaosRandom.chance(chaos.share) else { return nil }
            state.chaosAnswers += 1
            return Chaos.move(&state.chaosRandom)
        }
    }

    /// The `expires_in` of an access token answer: the real lifetime, or in chaos mode sometimes an absurd one.
    func tokenExpiresIn() -> Any {
        data.withLock { state in
            guard let chaos = state.chaos, state.chaosRandom.chance(chaos.share) else { return accessTokenLifetime }
            state.chaosAnswers += 1
            return Chaos.expiresIn(&state.chaosRandom)
        }
    }

    /// The fault that applies to the next request to `vendor`, consuming one use of it.
    func takeFault(vendor: Vendor) -> Fault? {
        data.withLock { state in
            for index in state.faults.indices where state.faults[index].vendor == nil || state.faults[index].vendor == vendor {
                var fault = state.faults[index]
                if let share = fault.share, Double.random(in: 0..<1) >= share { continue }
                if let remaining = fault.remaining {
                    if remaining <= 1 { state.faults.remove(at: index) } else { state.faults[index].remaining = remaining - 1 }
                    fault.remaining = nil
                }
                return fault
            }
            return nil
        }
    }

    // MARK: Recorder

    /// A send request as received, kept as it came off the wire; the recorder's JSON form is built
    /// only when someone asks for it.
    struct Exchange {
        var vendor: Vendor
        var method: String
        var path: String
        var headers: HTTPFields
        var body: Foundation.Data
        var status: Int
        var result: String
        var receivedAtMillis: Int64
        var connection: Int?

        var recorded: RecordedRequest {
            var fields: [String: String] = [:]
            for field in headers { fields[field.name.canonicalName] = field.value }
            return RecordedRequest(
                vendor: vendor, method: method, path: path, headers: fields, body: String(decoding: body, as: UTF8.self),
                status: status, result: result, receivedAtMillis: receivedAtMillis, connection: connection
            )
        }
    }

    func record(_ request: Exchange) {
        data.withLock { state in
            if state.records.count >= state.recordLimit { state.records.removeFirst(state.records.count / 2) }
            state.records.append(request)
        }
    }

    /// The requests received, oldest first; only those of one vendor when given.
    public func requests(vendor: Vendor? = nil) -> [RecordedRequest] {
        let records = data.withLock { state in vendor.map { v in state.records.filter { $0.vendor == v } } ?? state.records }
        return records.map(\.recorded)
    }

    public func clearRequests() {
        data.withLock { $0.records.removeAll() }
    }

    private let concurrency = Mutex<[Vendor: (now: Int, peak: Int)]>([:])
    private let held = Mutex<[(vendor: Vendor, answer: @Sendable () -> Void)]>([])

    /// Keeps a request held by a `hold` fault until `releaseHeld`.
    func hold(_ vendor: Vendor, answer: @escaping @Sendable () -> Void) {
        held.withLock { $0.append((vendor, answer)) }
    }

    /// The requests of `vendor` (or of every vendor) a `hold` fault keeps unanswered now.
    public func held(_ vendor: Vendor? = nil) -> Int {
        held.withLock { $0.count { vendor == nil || $0.vendor == vendor } }
    }

    /// Answers the requests held by `hold` faults (of `vendor`, or of every vendor), in arrival
    /// order; they proceed as if the fault had no hold. Returns how many were released.
    @discardableResult
    public func releaseHeld(_ vendor: Vendor? = nil) -> Int {
        let released = held.withLock { held in
            let (out, kept) = (held.filter { vendor == nil || $0.vendor == vendor }, held.filter { vendor != nil && $0.vendor != vendor })
            held = kept
            return out
        }
        for request in released { request.answer() }
        return released.count
    }

    /// A send request of `vendor` started (`delta` 1) or was answered (`delta` -1).
    func inFlight(_ vendor: Vendor, _ delta: Int) {
        concurrency.withLock { counts in
            var count = counts[vendor] ?? (0, 0)
            count.now += delta
            count.peak = max(count.peak, count.now)
            counts[vendor] = count
        }
    }

    /// The send requests of `vendor` held by a fault (latency, stall, hold) right now.
    public func inFlight(_ vendor: Vendor) -> Int {
        concurrency.withLock { $0[vendor]?.now ?? 0 }
    }

    /// The most send requests of `vendor` the emulator was handling at once since it started.

    public func peakInFlight(_ vendor: Vendor) -> Int {
        concurrency.withLock { $0[vendor]?.peak ?? 0 }
    }

    /// A fresh id for vendor message ids.
    func nextID() -> String {
        let n = data.withLock { state -> Int in
            state.sequence += 1
            return state.sequence
        }
        return String(n)
    }
}

/// A request the emulator received, and how it answered.
public struct RecordedRequest: Sendable, Codable {
    public var vendor: Vendor
    public var method: String
    public var path: String
    public var headers: [String: String]
    public var body: String
    public var status: Int
    /// The vendor-level result: `ok`, or the reason / error code returned.
    public var result: String
    public var receivedAtMillis: Int64
    /// The client port of the connection that carried the request (equal: the same connection).
    public var connection: Int? = nil
}

/// A fault to inject into the responses of one vendor (or all).
public struct Fault: Sendable, Codable, Equatable {
    /// Only this vendor's send requests; all vendors when nil.
    public var vendor: Vendor?
    /// Applies to this many requests, then disappears; forever when nil.
    public var remaining: Int?
    /// Applies to this share of requests (0 to 1); to all when nil.
    public var share: Double?
    /// Answer with this HTTP status and vendor error (APNs reason, FCM errorCode, vendor code).
    public var status: Int?
    public var reason: String?
    /// `Retry-After` seconds on the error response.
    public var retryAfter: Int?
    /// Delay before answering.
    public var latencyMillis: Int?
    /// Send GOAWAY on the connection (graceful: streams already opened complete).
    public var goaway: Bool?
    /// Close the connection without answering.
    public var drop: Bool?
    /// Stop reading the connection and never answer, like a peer behind a dead NAT mapping: the
    /// client sees silence, not a close.
    public var stall: Bool?
    /// Keep the request unanswered until `EmulatorState.releaseHeld`: a gate a test opens
    /// explicitly, where a latency would race the machine's speed.
    public var hold: Bool?

    public init(
        vendor: Vendor? = nil, remaining: Int? = nil, share: Double? = nil, status: Int? = nil, reason: String? = nil,
        retryAfter: Int? = nil, latencyMillis: Int? = nil, goaway: Bool? = nil, drop: Bool? = nil, stall: Bool? = nil,
        hold: Bool? = nil
    ) {
        self.vendor = vendor
        self.remaining = remaining
        self.share = share
        self.status = status
        self.reason = reason
        self.retryAfter = retryAfter
        self.latencyMillis = latencyMillis
        self.goaway = goaway
        self.drop = drop
        self.stall = stall
        self.hold = hold
    }
}

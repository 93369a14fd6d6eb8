import Foundation
import NIOHTTP1
import PushCore
import VendorAuth

/// Xiaomi MiPush: `Authorization: key=<AppSecret>`.
public final class XiaomiClient: BatchVendorClient {
    public let vendor = Vendor.xiaomi
    private let appSecret: String
    private let endpoint: String
    private let transport: VendorTransport

    public init(appSecret: String, endpoint: String, transport: VendorTransport) {
        self.appSecret = appSecret
        self.endpoint = endpoint
        self.transport = transport
    }

    public func send(_ request: VendorRequest, tokens: [String]) async -> [String: PushOutcome] {
        await sendForTokens(
            tokens, credential: { [appSecret] _ in appSecret },
            send: { secret in
                var headers = httpHeaders(request)
                headers.add(name: "authorization", value: "key=" + secret)
                return try await transport.execute(method: .POST, url: joinURL(endpoint, request.path), headers: headers, body: request.body.bytes)
            },
            classify: { response in
                let answer = response.decoded(XiaomiAnswer.self)
                return { token in
                    OutcomeTables.xiaomi(
                        result: answer?.result, code: answer?.code, token: token, badRegIDs: answer?.badRegIDs ?? [], messageID: answer?.messageID
                    )
                }
            }
        )
    }
}

/// OPPO Push: an `auth_token` from `/server/v1/auth` (sha256 sign, valid 24 h) in every form.
public final class OPPOClient: VendorClient {
    public let vendor = Vendor.oppo
    private let endpoint: String
    private let transport: VendorTransport
    private let tokens: AccessTokenCache

    public init(appKey: String, masterSecret: String, endpoint: String, transport: VendorTransport, clock: any EpochClock = SystemEpochClock()) {
        self.endpoint = endpoint
        self.transport = transport
        tokens = AccessTokenCache(clock: clock, marginSeconds: 3600) {
            let timestamp = clock.nowMillis()
            let response = try await transport.postForm(
                url: joinURL(endpoint, "/server/v1/auth"),
                fields: [
                    ("app_key", appKey), ("timestamp", String(timestamp)),
                    ("sign", VendorSigns.oppo(appKey: appKey, timestampMillis: timestamp, masterSecret: masterSecret)),
                ]
            )
            guard let answer = response.decoded(OPPOAnswer.self), answer.code == 0, let token = answer.authToken
            else { throw AuthRejected(description: "OPPO auth answered \(String(decoding: response.body.prefix(200), as: UTF8.self))") }
            return .init(value: token, expiresAtMillis: timestamp + 86_400_000)
        }
    }

    public func send(_ request: VendorRequest, token: String, sandbox: Bool) async -> PushOutcome {
        guard case .form(let fields) = request.body else { return .permanent(reason: "OPPO needs a form body") }
        return await sendWithCredential(
            credential: { try await tokens.token(rejected: $0) },
            send: { authToken in
                let body = VendorRequest.Body.form(fields + [.init("auth_token", authToken)])
                return try await transport.execute(method: .POST, url: joinURL(endpoint, request.path), headers: httpHeaders(request), body: body.bytes)
            },
            isRejected: { $0.decoded(OPPOAnswer.self)?.code == 11 },
            classify: { response in
                if let failure = serverFailure(response) { return failure }
                let answer = response.decoded(OPPOAnswer.self)
                return OutcomeTables.oppo(code: answer?.code, messageID: answer?.messageID)
            }
        )
    }
}

/// vivo Push: an `authToken` header from `/message/auth` (md5 sign, valid 1 day).
public final class VivoClient: BatchVendorClient {
    public let vendor = Vendor.vivo
    private let endpoint: String
    private let transport: VendorTransport
    private let tokens: AccessTokenCache

    public init(
        appID: String, appKey: String, appSecret: String, endpoint: String, transport: VendorTransport,
        clock: any EpochClock = SystemEpochClock()
    ) {
        self.endpoint = endpoint
        self.transport = transport
        tokens = AccessTokenCache(clock: clock, marginSeconds: 3600) {
            let timestamp = clock.nowMillis()
            let body = VivoAuthRequest(
                appId: appID, appKey: appKey, timestamp: timestamp,
                sign: VendorSigns.vivo(appID: appID, appKey: appKey, timestampMillis: timestamp, appSecret: appSecret)
            )
            let response = try await transport.execute(
                method: .POST, url: joinURL(endpoint, "/message/auth"), headers: ["content-type": "application/json"],
                body: Array(try JSONEncoder().encode(body))
            )
            guard let answer = response.decoded(VivoAnswer.self), answer.result == 0, let token = answer.authToken else {
                throw AuthRejected(description: "vivo auth answered \(String(decoding: response.body.prefix(200), as: UTF8.self))")
            }
            return .init(value: token, expiresAtMillis: timestamp + 86_400_000)
        }
    }

    /// One device through `/message/send`; several through the list push: `saveListPayload`, then
    /// `pushToList` with the tokens and the payload's `taskId`.
    public func send(_ request: VendorRequest, tokens deviceTokens: [String]) async -> [String: PushOutcome] {
        let list = request.path == VivoRenderer.listPayloadPath
        let response: ParsedResponse
        switch await post(request.path, request.body.bytes, request) {
        case .failure(let failure): return everyToken(deviceTokens, failure.outcome)
        case .success(let answer): response = answer
        }
        let answer = response.decoded(VivoAnswer.self)
        let result = answer?.result
        guard list else {
            return perToken(deviceTokens) { _ in
                OutcomeTables.vivo(result: result, invalidUserStatus: answer?.invalidUser?.status, taskID: answer?.taskID)
            }
        }
        guard result == 0, let taskID = answer?.taskID else {
            return everyToken(deviceTokens, OutcomeTables.vivo(result: result, invalidUserStatus: nil, taskID: nil))
        }
        let body = VivoListRequest(regIds: deviceTokens, taskId: taskID, requestId: UUID().uuidString.lowercased())
        let bytes = (try? JSONEncoder().encode(body)).map(Array.init) ?? []
        switch await post("/message/pushToList", bytes, request) {
        case .failure(let failure): return everyToken(deviceTokens, failure.outcome)
        case .success(let response):
            let answer = response.decoded(VivoAnswer.self)
            var invalid: [String: Int] = [:]
            for user in answer?.invalidUsers ?? [] {
                if let id = user.userID { invalid[id] = user.status }
            }
            let result = answer?.result
            return perToken(deviceTokens) { token in
                OutcomeTables.vivo(result: result, invalidUserStatus: invalid[token], taskID: taskID)
            }
        }
    }

    /// Posts JSON with the current `authToken`, fetching a new one once when vivo refuses it.
    private func post(_ path: String, _ body: [UInt8], _ request: VendorRequest) async -> Result<ParsedResponse, PushOutcomeFailure> {
        await sendWithCredential(
            credential: { try await tokens.token(rejected: $0) },
            send: { authToken in
                var headers = httpHeaders(request)
                headers.add(name: "authToken", value: authToken)
                return try await transport.execute(method: .POST, url: joinURL(endpoint, path), headers: headers, body: body)
            },
            isRejected: { $0.decoded(VivoAnswer.self)?.result == 10000 },
            classify: { response in serverFailure(response).map { .failure(PushOutcomeFailure($0)) } ?? .success(response) },
            failed: { .failure(PushOutcomeFailure($0)) }
        )
    }
}

/// vivo's `/message/auth` body.
struct VivoAuthRequest: Encodable {
    var appId: String
    var appKey: String
    var timestamp: Int64
    var sign: String
}

/// vivo's `/message/pushToList` body.
struct VivoListRequest: Encodable {
    var regIds: [String]
    var taskId: String
    var requestId: String
}

/// An outcome that ends a multi-step send early.
struct PushOutcomeFailure: Error {
    var outcome: PushOutcome
    init(_ outcome: PushOutcome) { self.outcome = outcome }
}

/// Meizu Push: every form signed with md5 over the sorted parameters and the app secret.
public final class MeizuClient: BatchVendorClient {
    public let vendor = Vendor.meizu
    private let appSecret: String
    private let endpoint: String
    private let transport: VendorTransport

    public init(appSecret: String, endpoint: String, transport: VendorTransport) {
        self.appSecret = appSecret
        self.endpoint = endpoint
        self.transport = transport
    }

    public func send(_ request: VendorRequest, tokens: [String]) async -> [String: PushOutcome] {
        guard case .form(let fields) = request.body else { return everyToken(tokens, .permanent(reason: "Meizu needs a form body")) }
        return await sendForTokens(
            tokens, credential: { [appSecret] _ in VendorSigns.meizu(parameters: fields.map { ($0.name, $0.value) }, appSecret: appSecret) },
            send: { sign in
                let body = VendorRequest.Body.form(fields + [.init("sign", sign)])
                return try await transport.execute(method: .POST, url: joinURL(endpoint, request.path), headers: httpHeaders(request), body: body.bytes)
            },
            classify: { response in
                let answer = response.decoded(MeizuAnswer.self)
                return { token in
                    OutcomeTables.meizu(code: answer?.code, value: answer?.value ?? [:], token: token, messageID: answer?.messageID)
                }
            }
        )
    }
}

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
                let json = response.json
                let data = json?["data"] as? [String: Any]
                let bad = (data?["bad_regids"] as? String)?.split(separator: ",").map(String.init) ?? []
                return { token in
                    OutcomeTables.xiaomi(
                        result: json?["result"] as? String, code: (json?["code"] as? NSNumber)?.intValue, token: token, badRegIDs: bad,
                        messageID: data?["id"] as? String
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
            guard let json = response.json, (json["code"] as? NSNumber)?.intValue == 0,
                let token = (json["data"] as? [String: Any])?["auth_token"] as? String
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
            isRejected: { ($0.json?["code"] as? NSNumber)?.intValue == 11 },
            classify: { response in
                if let failure = serverFailure(response) { return failure }
                let json = response.json
                return OutcomeTables.oppo(
                    code: (json?["code"] as? NSNumber)?.intValue, messageID: (json?["data"] as? [String: Any])?["messageId"] as? String
                )
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
            let body: [String: Any] = [
                "appId": appID, "appKey": appKey, "timestamp": timestamp,
                "sign": VendorSigns.vivo(appID: appID, appKey: appKey, timestampMillis: timestamp, appSecret: appSecret),
            ]
            let response = try await transport.execute(
                method: .POST, url: joinURL(endpoint, "/message/auth"), headers: ["content-type": "application/json"],
                body: Array(try JSONSerialization.data(withJSONObject: body))
            )
            guard let json = response.json, (json["result"] as? NSNumber)?.intValue == 0, let token = json["authToken"] as? String else {
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
        let json = response.json
        let result = (json?["result"] as? NSNumber)?.intValue
        guard list else {
            return perToken(deviceTokens) { _ in
                OutcomeTables.vivo(
                    result: result, invalidUserStatus: ((json?["invalidUser"] as? [String: Any])?["status"] as? NSNumber)?.intValue,
                    taskID: json?["taskId"] as? String
                )
            }
        }
        guard result == 0, let taskID = json?["taskId"] as? String else {
            return everyToken(deviceTokens, OutcomeTables.vivo(result: result, invalidUserStatus: nil, taskID: nil))
        }
        let body: [String: Any] = ["regIds": deviceTokens, "taskId": taskID, "requestId": UUID().uuidString.lowercased()]
        let bytes = (try? JSONSerialization.data(withJSONObject: body)).map(Array.init) ?? []
        switch await post("/message/pushToList", bytes, request) {
        case .failure(let failure): return everyToken(deviceTokens, failure.outcome)
        case .success(let response):
            let json = response.json
            var invalid: [String: Int] = [:]
            for user in json?["invalidUsers"] as? [[String: Any]] ?? [] {
                if let id = user["userid"] as? String { invalid[id] = (user["status"] as? NSNumber)?.intValue }
            }
            let result = (json?["result"] as? NSNumber)?.intValue
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
            isRejected: { ($0.json?["result"] as? NSNumber)?.intValue == 10000 },
            classify: { response in serverFailure(response).map { .failure(PushOutcomeFailure($0)) } ?? .success(response) },
            failed: { .failure(PushOutcomeFailure($0)) }
        )
    }
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
                let json = response.json
                let value = (json?["value"] as? [String: Any])?.compactMapValues { $0 as? [String] } ?? [:]
                return { token in
                    OutcomeTables.meizu(code: json?["code"] as? String, value: value, token: token, messageID: json?["msgId"] as? String)
                }
            }
        )
    }
}

import Foundation
import HTTPTypes
import PushCore

/// Huawei Push Kit v1 and Honor Push: OAuth client credentials, then sends with per-token results
/// (`illegal_tokens` in Huawei's 80100000 message, Honor's `expireTokens`).
extension GatewayEmulator {
    static let huaweiHonorRoutes = [
        Route("POST", "huawei/oauth2/v3/token", .plain { $0.oauthToken(.huawei, Form.parse($1.body)) }),
        Route("POST", "honor/token", .plain { $0.oauthToken(.honor, Form.parse($1.body)) }),
        Route("POST", "huawei/v1/:appId/messages:send", .send(.huawei) { $0.huaweiSend(request: $1, body: $1.body) }),
        Route("POST", "huawei/v1/:appId/messages:revoke", .send(.huawei) { $0.huaweiRevoke(request: $1, body: $1.body) }),
        Route("POST", "honor/api/v1/:appId/sendMessage", .send(.honor) { $0.honorSend(request: $1, body: $1.body) }),
    ]

    func oauthToken(_ vendor: Vendor, _ form: [String: String]) -> Answer {
        guard form["grant_type"] == "client_credentials", let id = form["client_id"], let secret = form["client_secret"],
            state.oauthSecret(vendor: vendor, clientID: id) == secret
        else {
            return Answer(
                status: .badRequest, json: ["error": "invalid_client", "error_description": "client authentication failed"],
                result: "invalid_client"
            )
        }
        let token = state.issueAccessToken(vendor: vendor, lifetime: state.accessTokenLifetime)
        return Answer(status: .ok, json: ["access_token": token, "expires_in": state.tokenExpiresIn(), "token_type": "Bearer"], result: "ok")
    }

    func bearerIsValid(_ request: EmulatorRequest, _ vendor: Vendor) -> Bool {
        guard let authorization = request.header("authorization"), authorization.hasPrefix("Bearer ") else { return false }
        return state.isValidAccessToken(String(authorization.dropFirst(7)), vendor: vendor)
    }

    /// Splits tokens into valid and invalid (unregistered or unknown).
    /// Huawei, Honor, Xiaomi, OPPO, vivo and Meizu refuse a notification without a title.
    func hasTitle(_ value: Any?) -> Bool {
        guard let title = value as? String else { return false }
        return !title.isEmpty
    }

    /// A click action Huawei and Honor take: type 1 (in-app page) names an intent URI or an action;
    /// 2 a URL; 3 opens the app.
    func opensSomething(_ value: Any?) -> Bool {
        guard let click = value as? [String: Any], let type = click["type"] as? Int else { return false }
        switch type {
        case 1:
            if let intent = click["intent"] as? String, !intent.isEmpty {
                // An intent that names no action, component or scheme resolves to no activity.
                let names = ["action=", "component=", "scheme="].contains { intent.contains(";" + $0) }
                return intent.contains("#Intent;") && intent.hasSuffix(";end") && names
            }
            return (click["action"] as? String).map { !$0.isEmpty } ?? false
        case 2: return (click["url"] as? String).map { $0.hasPrefix("https://") } ?? false
        case 3: return true
        default: return false
        }
    }

    func partition(_ tokens: [String], _ vendor: Vendor) -> (valid: [String], invalid: [String]) {
        var valid: [String] = []
        var invalid: [String] = []
        for token in tokens {
            if state.tokenState(token, vendor: vendor) == .valid { valid.append(token) } else { invalid.append(token) }
        }
        return (valid, invalid)
    }

    /// Huawei's answer: `{"code", "msg", "requestId"}`, 80000000 for success.
    func huaweiAnswer(_ code: String, _ msg: String, status: HTTPResponse.Status = .ok) -> Answer {
        Answer(status: status, json: ["code": code, "msg": msg, "requestId": state.nextID()], result: code == "80000000" ? "ok" : code)
    }

    func huaweiSend(request: EmulatorRequest, body: Data) -> Answer {
        func code(_ code: String, _ msg: String, status: HTTPResponse.Status = .ok) -> Answer { huaweiAnswer(code, msg, status: status) }
        guard bearerIsValid(request, .huawei) else { return code("80200003", "OAuth token expired.", status: .unauthorized) }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let message = object["message"] as? [String: Any]
        else { return code("80100003", "Illegal payload, invalid message structure", status: .badRequest) }
        if let data = message["data"], !(data is String) {
            return code("80100003", "Illegal payload, data must be a JSON string", status: .badRequest)
        }
        guard let tokens = message["token"] as? [String], !tokens.isEmpty else {
            return code("80100001", "Some request parameters are incorrect: token", status: .badRequest)
        }
        let notification = (message["android"] as? [String: Any])?["notification"] as? [String: Any]
        if let notification, !hasTitle(notification["title"]) {
            return code("80100001", "Some request parameters are incorrect: title", status: .badRequest)
        }
        if let notification, !opensSomething(notification["click_action"]) {
            return code("80100003", "Illegal payload, click_action", status: .badRequest)
        }
        // notify_id is an Integer; pushd keeps it to 31 bits, as MiPush needs.
        if let notification, let id = notification["notify_id"], !Self.isNotifyID(id) {
            return code("80100001", "Some request parameters are incorrect: notify_id", status: .badRequest)
        }
        if tokens.count > 1000 { return code("80300010", "The number of tokens in the message body exceeds the default value") }
        let tokenBytes = tokens.reduce(0) { $0 + $1.utf8.count }
        if body.count - tokenBytes > 4096 { return code("80300008", "The message body size exceeds the default value") }
        let (valid, invalid) = partition(tokens, .huawei)
        if valid.isEmpty { return code("80300007", "All the tokens are invalid") }
        if !invalid.isEmpty {
            let detail: [String: Any] = ["success": valid.count, "failure": invalid.count, "illegal_tokens": invalid]
            let text = String(decoding: (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
            return code("80100000", text)
        }
        return code("80000000", "Success")
    }

    static func isNotifyID(_ value: Any) -> Bool {
        guard !(value is Bool), let id = value as? Int else { return false }
        return (0...2_147_483_647).contains(id)
    }

    /// Huawei's revoke (`messages:revoke`): `push-type` 0 (notification) or 2 (text-to-speech),
    /// `notifyId` an integer, `token` 1 to 1000 push tokens; 80000000 on success.
    func huaweiRevoke(request: EmulatorRequest, body: Data) -> Answer {
        func code(_ code: String, _ msg: String, status: HTTPResponse.Status = .ok) -> Answer { huaweiAnswer(code, msg, status: status) }
        guard bearerIsValid(request, .huawei) else { return code("80200003", "OAuth token expired.", status: .unauthorized) }
        guard let type = request.header("push-type"), type == "0" || type == "2" else {
            return code("80100003", "Illegal payload, The header does not contain valid push-type", status: .badRequest)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], let id = object["notifyId"], Self.isNotifyID(id) else {
            return code("80100001", "Some request parameters are incorrect: notifyId", status: .badRequest)
        }
        guard let tokens = object["token"] as? [String], (1...1000).contains(tokens.count) else {
            return code("80100001", "Some request parameters are incorrect: token", status: .badRequest)
        }
        if body.count - tokens.reduce(0, { $0 + $1.utf8.count }) > 4096 { return code("80300008", "The message body size exceeds the default value") }
        return code("80000000", "Success")
    }

    func honorSend(request: EmulatorRequest, body: Data) -> Answer {
        func reply(_ code: Int, _ message: String, data: [String: Any]? = nil, status: HTTPResponse.Status = .ok) -> Answer {
            var json: [String: Any] = ["code": code, "message": message]
            if let data { json["data"] = data }
            return Answer(status: status, json: json, result: code == 200 ? "ok" : String(code))
        }
        guard bearerIsValid(request, .honor) else { return reply(80200003, "access token expired", status: .unauthorized) }
        guard request.header("timestamp").flatMap({ Int64($0) }) != nil else {
            return reply(80100001, "timestamp header is required", status: .badRequest)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let tokens = object["token"] as? [String], !tokens.isEmpty
        else { return reply(80100001, "token is required", status: .badRequest) }
        if let notification = (object["android"] as? [String: Any])?["notification"] as? [String: Any] {
            if !hasTitle(notification["title"]) { return reply(80100001, "title is required", status: .badRequest) }
            if !opensSomething(notification["clickAction"]) { return reply(80100003, "clickAction is invalid", status: .badRequest) }
        }
        let (valid, invalid) = partition(tokens, .honor)
        return reply(
            200, "success",
            data: ["sendResult": !valid.isEmpty, "requestId": state.nextID(), "failTokens": [String](), "expireTokens": invalid]
        )
    }
}

import Foundation
import HTTPTypes
import PushCore
import VendorAuth

/// FCM HTTP v1: the OAuth token endpoint (`POST /fcm/token`, RS256 assertion) and
/// `POST /fcm/v1/projects/<project>/messages:send` with google.rpc error bodies.
extension GatewayEmulator {
    static let fcmRoutes = [
        Route("POST", "fcm/token", .plain { $0.fcmToken(Form.parse($1.body)) }),
        Route("POST", "fcm/v1/projects/:project/messages:send", .send(.fcm) { $0.fcmSend(request: $1, project: $1.parameters["project"] ?? "", body: $1.body) }),
    ]

    func fcmToken(_ form: [String: String]) -> Answer {
        func fail(_ description: String) -> Answer {
            Answer(status: .badRequest, json: ["error": "invalid_grant", "error_description": description], result: "invalid_grant")
        }
        guard form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" else {
            return Answer(status: .badRequest, json: ["error": "unsupported_grant_type"], result: "unsupported_grant_type")
        }
        guard let assertion = form["assertion"], let jwt = try? JWT.parse(assertion) else { return fail("Invalid JWT") }
        guard let email = jwt.stringClaim("iss"), let key = state.serviceAccountKey(email) else {
            return fail("Invalid JWT Signature.")
        }
        guard (try? JWT.verifyRS256(jwt, key: key)) != nil else { return fail("Invalid JWT Signature.") }
        let scopes = (jwt.stringClaim("scope") ?? "").split(separator: " ")
        guard scopes.contains("https://www.googleapis.com/auth/firebase.messaging")
            || scopes.contains("https://www.googleapis.com/auth/cloud-platform")
        else { return fail("Invalid scope") }
        guard let aud = jwt.stringClaim("aud"), aud.hasSuffix("/token") else { return fail("Invalid audience") }
        let now = state.clock.nowSeconds()
        guard let iat = jwt.integerClaim("iat"), let exp = jwt.integerClaim("exp"), exp - iat <= 3600, exp > now, iat <= now + 300
        else { return fail("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.") }
        let token = state.issueAccessToken(vendor: .fcm, lifetime: state.accessTokenLifetime)
        return Answer(status: .ok, json: ["access_token": token, "expires_in": state.tokenExpiresIn(), "token_type": "Bearer"], result: "ok")
    }

    func fcmSend(request: EmulatorRequest, project: String, body: Data) -> Answer {
        func error(_ status: Int, _ errorCode: String, _ message: String, field: String? = nil) -> Answer {
            Answer(
                status: .init(code: status), json: FCMErrors.body(status: status, errorCode: errorCode, message: message, field: field),
                result: errorCode
            )
        }
        guard let authorization = request.header("authorization"), authorization.hasPrefix("Bearer "),
            state.isValidAccessToken(String(authorization.dropFirst(7)), vendor: .fcm)
        else {
            return Answer(
                status: .unauthorized,
                json: ["error": ["code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"]],
                result: "UNAUTHENTICATED"
            )
        }
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let message = object["message"] as? [String: Any]
        else { return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.") }
        guard let token = message["token"] as? String, !token.isEmpty else {
            return error(400, "INVALID_ARGUMENT", "Exactly one of token, topic or condition is required", field: "message")
        }
        if let data = message["data"] as? [String: Any], data.values.contains(where: { !($0 is String) }) {
            return error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data': values must be strings", field: "message.data")
        }
        let sized = ["notification", "data"].compactMap { message[$0] }.compactMap { try? JSONSerialization.data(withJSONObject: $0) }
        if sized.reduce(0, { $0 + $1.count }) > 4096 {
            return error(400, "INVALID_ARGUMENT", "Request contains an invalid argument: message is too big", field: "message")
        }
        switch state.tokenState(token, vendor: .fcm) {
        case .valid: break
        case .invalid:
            return error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", field: "message.token")
        case .unregistered: return error(404, "UNREGISTERED", "Requested entity was not found.")
        }
        if object["validate_only"] as? Bool == true {
            return Answer(status: .ok, json: ["name": "projects/\(project)/messages/fake_message_id"], result: "ok")
        }
        return Answer(status: .ok, json: ["name": "projects/\(project)/messages/0:\(state.nextID())"], result: "ok")
    }
}

/// google.rpc.Status bodies with an FcmError detail.
enum FCMErrors {
    static func body(status: Int, errorCode: String, message: String, field: String? = nil) -> [String: Any] {
        var details: [[String: Any]] = [["@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode]]
        if let field {
            details.append([
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [["field": field, "description": message]],
            ])
        }
        return ["error": ["code": status, "message": message, "status": rpcStatus(status), "details": details]]
    }

    static func rpcStatus(_ status: Int) -> String {
        switch status {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 429: "RESOURCE_EXHAUSTED"
        case 503: "UNAVAILABLE"
        default: "INTERNAL"
        }
    }
}

import Crypto
import Foundation
import HTTPTypes
import PushCore
import VendorAuth

/// APNs: `POST /apns/3/device/<token>` with Apple's checks and error reasons (vendor-protocols.md 1.7, 11).
extension GatewayEmulator {
    static let pushTypes: Set<String> = [
        "alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity", "pushtotalk", "widgets",
    ]

    static let apnsRoutes = [
        Route("POST", "apns/3/device/:token", .send(.apns) { $0.apnsAnswer(request: $1, token: $1.parameters["token"] ?? "", body: $1.body) })
    ]

    /// An ASCII hex digit in lower case.
    static func isLowerHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// An ASCII hex digit, either case.
    static func isHexDigit(_ byte: UInt8) -> Bool {
        isLowerHexDigit(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    /// `apns-id`: a UUID in its canonical lower-case form (8-4-4-4-12 hex digits).
    static func isLowercaseUUID(_ id: String) -> Bool {
        let bytes = id.utf8
        guard bytes.count == 36 else { return false }
        for (offset, byte) in bytes.enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                if byte != UInt8(ascii: "-") { return false }
            } else if !isLowerHexDigit(byte) {
                return false
            }
        }
        return true
    }

    func apnsAnswer(request: EmulatorRequest, token: String, body: Data) -> Answer {
        let sentID = request.header("apns-id")
        let pushType = request.header("apns-push-type")
        let apnsID = sentID ?? UUID().uuidString.lowercased()
        func reject(_ status: Int, _ reason: String, timestamp: Int64? = nil) -> Answer {
            var json: [String: Any] = ["reason": reason]
            if let timestamp { json["timestamp"] = timestamp }
            var headers = HTTPFields()
            headers[HTTPField.Name("apns-id")!] = apnsID
            return Answer(status: .init(code: status), json: json, headers: headers, result: reason)
        }
        // Provider token.
        guard let authorization = request.header("authorization"), authorization.prefix(7).lowercased() == "bearer " else {
            return reject(403, "MissingProviderToken")
        }
        let jwt = String(authorization.dropFirst("bearer ".count))
        let verified: EmulatorState.VerifiedProviderToken
        if let known = state.verifiedProviderToken(jwt) {
            verified = known
        } else {
            guard let parsed = try? JWT.parse(jwt), let kid = parsed.header["kid"], let key = state.apnsKey(kid),
                (try? JWT.verifyES256(parsed, key: key.key)) != nil, parsed.stringClaim("iss") == key.teamID,
                let iat = parsed.integerClaim("iat")
            else { return reject(403, "InvalidProviderToken") }
            verified = .init(keyID: kid, issuedAt: iat)
            state.rememberVerified(providerToken: jwt, verified)
        }
        guard let key = state.apnsKey(verified.keyID) else { return reject(403, "InvalidProviderToken") }
        if state.clock.nowSeconds() - verified.issuedAt > 3600 { return reject(403, "ExpiredProviderToken") }
        // Headers.
        guard let topic = request.header("apns-topic") else { return reject(400, "MissingTopic") }
        guard key.topics.contains(topic) else { return reject(400, "TopicDisallowed") }
        if let id = sentID, !Self.isLowercaseUUID(id) {
            return reject(400, "BadMessageId")
        }
        if let priority = request.header("apns-priority"), !["1", "5", "10"].contains(priority) {
            return reject(400, "BadPriority")
        }
        if let pushType, !Self.pushTypes.contains(pushType) {
            return reject(400, "InvalidPushType")
        }
        if let collapse = request.header("apns-collapse-id"), collapse.utf8.count > 64 {
            return reject(400, "BadCollapseId")
        }
        if let expiration = request.header("apns-expiration"), Int64(expiration) == nil {
            return reject(400, "BadExpirationDate")
        }
        // Token and payload.
        guard !token.isEmpty else { return reject(400, "MissingDeviceToken") }
        guard token.utf8.count >= 64, token.utf8.allSatisfy(Self.isHexDigit) else { return reject(400, "BadDeviceToken") }
        guard !body.isEmpty else { return reject(400, "PayloadEmpty") }
        let limit = pushType == "voip" ? 5120 : 4096
        if body.count > limit { return reject(413, "PayloadTooLarge") }
        switch state.tokenState(token, vendor: .apns) {
        case .valid: break
        case .invalid: return reject(400, "BadDeviceToken")
        case .unregistered(let since): return reject(410, "Unregistered", timestamp: since)
        }
        var headers = HTTPFields()
        headers[HTTPField.Name("apns-id")!] = apnsID
        return Answer(status: .ok, json: "", headers: headers, result: "ok")
    }
}

import Foundation
import PushCore

/// Vendor responses to ``PushOutcome``: one table per vendor (vendor-protocols.md section 9).
/// Pure functions of what the vendor answered, so each row is unit-tested.
public enum OutcomeTables {
    /// APNs: HTTP status + `reason` (+ `timestamp` in ms for 410).
    public static func apns(status: Int, reason: String?, timestampMillis: Int64?, retryAfter: Int?, apnsID: String?) -> PushOutcome {
        let reason = reason ?? "HTTP \(status)"
        switch (status, reason) {
        case (200, _): return .delivered(messageID: apnsID)
        case (410, _): return .tokenInvalid(reason: reason, invalidatedAtMillis: timestampMillis)
        case (400, "BadDeviceToken"), (400, "DeviceTokenNotForTopic"):
            return .tokenInvalid(reason: reason, invalidatedAtMillis: nil)
        case (400, "IdleTimeout"): return .retry(reason: reason, afterSeconds: nil)
        case (400, "BadTopic"), (400, "TopicDisallowed"), (400, "MissingTopic"): return .configAlarm(reason: reason)
        case (403, "ExpiredProviderToken"), (403, "UnrelatedKeyIdInToken"): return .retry(reason: reason, afterSeconds: nil)
        case (403, _): return .configAlarm(reason: reason)
        case (429, _), (500...599, _): return .retry(reason: reason, afterSeconds: retryAfter)
        default: return .permanent(reason: reason)
        }
    }

    /// FCM v1: HTTP status + `FcmError.errorCode` (else the google.rpc status), and whether the
    /// bad argument is the token (`fieldViolations` on `message.token`).
    public static func fcm(status: Int, errorCode: String?, tokenBlamed: Bool, retryAfter: Int?, messageName: String?) -> PushOutcome {
        if status == 200 { return .delivered(messageID: messageName) }
        let code = errorCode ?? "HTTP \(status)"
        switch code {
        case "UNREGISTERED", "SENDER_ID_MISMATCH": return .tokenInvalid(reason: code, invalidatedAtMillis: nil)
        case "INVALID_ARGUMENT": return tokenBlamed ? .tokenInvalid(reason: code, invalidatedAtMillis: nil) : .permanent(reason: code)
        case "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED": return .retry(reason: code, afterSeconds: retryAfter ?? 60)
        case "UNAVAILABLE", "INTERNAL", "UNSPECIFIED_ERROR": return .retry(reason: code, afterSeconds: retryAfter)
        case "THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR", "UNAUTHENTICATED", "PERMISSION_DENIED": return .configAlarm(reason: code)
        default: return status >= 500 || status == 429 ? .retry(reason: code, afterSeconds: retryAfter) : .permanent(reason: code)
        }
    }

    /// Huawei v1: HTTP status + business `code` (a string) + the `illegal_tokens` of 80100000.
    public static func huawei(status: Int, code: String?, token: String, illegalTokens: [String], requestID: String?, retryAfter: Int?)
        -> PushOutcome
    {
        if status == 502 || status == 503 || status == 500 { return .retry(reason: "HTTP \(status)", afterSeconds: retryAfter) }
        let code = code ?? "HTTP \(status)"
        switch code {
        case "80000000": return .delivered(messageID: requestID)
        case "80100000":
            return illegalTokens.contains(token)
                ? .tokenInvalid(reason: "80100000 illegal_tokens", invalidatedAtMillis: nil) : .delivered(messageID: requestID)
        case "80300007": return .tokenInvalid(reason: code, invalidatedAtMillis: nil)
        case "80200001", "80200003", "81000001": return .retry(reason: code, afterSeconds: retryAfter)
        case "80600003", "80300002", "80300011": return .configAlarm(reason: code)
        case "80300008": return .permanent(reason: "PayloadTooLarge (80300008)")
        default: return status == 401 ? .configAlarm(reason: code) : .permanent(reason: code)
        }
    }

    /// Honor: business `code` + `data.expireTokens`.
    public static func honor(status: Int, code: Int?, token: String, expiredTokens: [String], requestID: String?, retryAfter: Int?)
        -> PushOutcome
    {
        if status >= 500 || status == 429 { return .retry(reason: "HTTP \(status)", afterSeconds: retryAfter) }
        switch code {
        case 200?:
            return expiredTokens.contains(token)
                ? .tokenInvalid(reason: "expireTokens", invalidatedAtMillis: nil) : .delivered(messageID: requestID)
        case 80200003?, 80200001?: return .retry(reason: String(code!), afterSeconds: retryAfter)
        case let code?: return status == 401 ? .configAlarm(reason: String(code)) : .permanent(reason: String(code))
        case nil: return .permanent(reason: "HTTP \(status)")
        }
    }

    /// Xiaomi: `result` + `code` + `data.bad_regids`.
    public static func xiaomi(result: String?, code: Int?, token: String, badRegIDs: [String], messageID: String?) -> PushOutcome {
        if result == "ok" {
            return badRegIDs.contains(token) ? .tokenInvalid(reason: "bad_regids", invalidatedAtMillis: nil) : .delivered(messageID: messageID)
        }
        let reason = code.map(String.init) ?? "error"
        switch code {
        case 10002?, 10003?, 10027?, 10037?, 1?, 10001?: return .retry(reason: reason, afterSeconds: nil)
        case 10034?: return .retry(reason: reason, afterSeconds: 3600)
        case 21301?, 22000?, 22006?, 22022?, 10031?, 21303?: return .configAlarm(reason: reason)
        case 65009?: return .permanent(reason: "PayloadTooLarge (65009)")
        default: return .permanent(reason: reason)
        }
    }

    /// OPPO: `code` (+ `data.messageId`).
    public static func oppo(code: Int?, messageID: String?) -> PushOutcome {
        let reason = code.map(String.init) ?? "no code"
        switch code {
        case 0?: return .delivered(messageID: messageID)
        case .some(-2), .some(-1), 11?, 13?, 33?, 55?: return .retry(reason: reason, afterSeconds: code == 33 ? 3600 : nil)
        case 10000?: return .tokenInvalid(reason: reason, invalidatedAtMillis: nil)
        case 12?, 14?, 15?, 16?, 17?, 18?, 19?, 26?, 27?, 28?, 29?, 30?: return .configAlarm(reason: reason)
        default: return .permanent(reason: reason)
        }
    }

    /// vivo: `result` + `invalidUser.status` (1 unknown, 2 uninstalled or unsubscribed).
    public static func vivo(result: Int?, invalidUserStatus: Int?, taskID: String?) -> PushOutcome {
        let reason = result.map(String.init) ?? "no result"
        switch result {
        case 0?:
            if let status = invalidUserStatus, status == 1 || status == 2 {
                return .tokenInvalid(reason: "invalidUser \(status)", invalidatedAtMillis: nil)
            }
            return .delivered(messageID: taskID)
        case 10000?: return .retry(reason: reason, afterSeconds: nil)
        case 10200?, 10201?, 10202?: return .configAlarm(reason: reason)
        default: return .permanent(reason: reason)
        }
    }

    /// Meizu: top-level `code` (a string) and the `value` map of failed pushIds by code.
    public static func meizu(code: String?, value: [String: [String]], token: String, messageID: String?) -> PushOutcome {
        switch code {
        case "200"?:
            guard let failed = value.first(where: { $0.value.contains(token) })?.key else { return .delivered(messageID: messageID) }
            switch failed {
            case "110002", "110003", "110005": return .tokenInvalid(reason: failed, invalidatedAtMillis: nil)
            case "501", "513", "519", "520": return .retry(reason: failed, afterSeconds: nil)
            case "110011": return .retry(reason: failed, afterSeconds: 3600)
            default: return .permanent(reason: failed)
            }
        case "1003"?, "110010"?, "500"?, "1001"?: return .retry(reason: code!, afterSeconds: nil)
        case "110019"?: return .retry(reason: code!, afterSeconds: 3600)
        case "1006"?, "110000"?, "110001"?, "110009"?, "110031"?, "110033"?: return .configAlarm(reason: code!)
        default: return .permanent(reason: code ?? "no code")
        }
    }
}

import Gateways
import PushCore
import Testing
import VendorAuth

/// The outcome taxonomy, row by row (vendor-protocols.md section 9).
@Suite("Outcome tables")
struct OutcomeTableTests {
    @Test(
        "APNs statuses and reasons",
        arguments: [
            (200, nil, PushOutcome.delivered(messageID: "id")),
            (410, "Unregistered", .tokenInvalid(reason: "Unregistered", invalidatedAtMillis: 5)),
            (410, "ExpiredToken", .tokenInvalid(reason: "ExpiredToken", invalidatedAtMillis: 5)),
            (400, "BadDeviceToken", .tokenInvalid(reason: "BadDeviceToken", invalidatedAtMillis: nil)),
            (400, "DeviceTokenNotForTopic", .tokenInvalid(reason: "DeviceTokenNotForTopic", invalidatedAtMillis: nil)),
            (400, "IdleTimeout", .retry(reason: "IdleTimeout", afterSeconds: nil)),
            (400, "TopicDisallowed", .configAlarm(reason: "TopicDisallowed")),
            (400, "BadPriority", .permanent(reason: "BadPriority")),
            (403, "ExpiredProviderToken", .retry(reason: "ExpiredProviderToken", afterSeconds: nil)),
            (403, "InvalidProviderToken", .configAlarm(reason: "InvalidProviderToken")),
            (403, "BadCertificateEnvironment", .configAlarm(reason: "BadCertificateEnvironment")),
            (413, "PayloadTooLarge", .permanent(reason: "PayloadTooLarge")),
            (429, "TooManyRequests", .retry(reason: "TooManyRequests", afterSeconds: 3)),
            (500, "InternalServerError", .retry(reason: "InternalServerError", afterSeconds: 3)),
            (503, "Shutdown", .retry(reason: "Shutdown", afterSeconds: 3)),
            (405, "MethodNotAllowed", .permanent(reason: "MethodNotAllowed")),
        ] as [(Int, String?, PushOutcome)]
    )
    func apns(status: Int, reason: String?, expected: PushOutcome) {
        let timestamp: Int64? = status == 410 ? 5 : nil
        #expect(OutcomeTables.apns(status: status, reason: reason, timestampMillis: timestamp, retryAfter: 3, apnsID: "id") == expected)
    }

    @Test("FCM error codes")
    func fcm() {
        #expect(OutcomeTables.fcm(status: 404, errorCode: "UNREGISTERED", tokenBlamed: false, retryAfter: nil, messageName: nil).isTokenInvalid)
        #expect(OutcomeTables.fcm(status: 400, errorCode: "INVALID_ARGUMENT", tokenBlamed: true, retryAfter: nil, messageName: nil).isTokenInvalid)
        #expect(
            OutcomeTables.fcm(status: 400, errorCode: "INVALID_ARGUMENT", tokenBlamed: false, retryAfter: nil, messageName: nil)
                == .permanent(reason: "INVALID_ARGUMENT")
        )
        #expect(OutcomeTables.fcm(status: 403, errorCode: "SENDER_ID_MISMATCH", tokenBlamed: false, retryAfter: nil, messageName: nil).isTokenInvalid)
        #expect(
            OutcomeTables.fcm(status: 429, errorCode: "QUOTA_EXCEEDED", tokenBlamed: false, retryAfter: nil, messageName: nil)
                == .retry(reason: "QUOTA_EXCEEDED", afterSeconds: 60)
        )
        #expect(
            OutcomeTables.fcm(status: 503, errorCode: "UNAVAILABLE", tokenBlamed: false, retryAfter: 9, messageName: nil)
                == .retry(reason: "UNAVAILABLE", afterSeconds: 9)
        )
        #expect(
            OutcomeTables.fcm(status: 401, errorCode: "THIRD_PARTY_AUTH_ERROR", tokenBlamed: false, retryAfter: nil, messageName: nil)
                == .configAlarm(reason: "THIRD_PARTY_AUTH_ERROR")
        )
    }

    @Test("Huawei, Honor, Xiaomi, OPPO, vivo and Meizu codes")
    func chineseVendors() {
        #expect(OutcomeTables.huawei(status: 200, code: "80100000", token: "t", illegalTokens: ["t"], requestID: nil, retryAfter: nil).isTokenInvalid)
        #expect(OutcomeTables.huawei(status: 200, code: "80100000", token: "u", illegalTokens: ["t"], requestID: "r", retryAfter: nil) == .delivered(messageID: "r"))
        #expect(OutcomeTables.huawei(status: 200, code: "80300007", token: "t", illegalTokens: [], requestID: nil, retryAfter: nil).isTokenInvalid)
        #expect(OutcomeTables.huawei(status: 503, code: nil, token: "t", illegalTokens: [], requestID: nil, retryAfter: 2) == .retry(reason: "HTTP 503", afterSeconds: 2))
        #expect(OutcomeTables.huawei(status: 200, code: "80600003", token: "t", illegalTokens: [], requestID: nil, retryAfter: nil).isConfigAlarm)
        #expect(OutcomeTables.honor(status: 200, code: 200, token: "t", expiredTokens: ["t"], requestID: nil, retryAfter: nil).isTokenInvalid)
        #expect(OutcomeTables.xiaomi(result: "ok", code: 0, token: "t", badRegIDs: ["t"], messageID: nil).isTokenInvalid)
        #expect(OutcomeTables.xiaomi(result: "error", code: 10027, token: "t", badRegIDs: [], messageID: nil) == .retry(reason: "10027", afterSeconds: nil))
        #expect(OutcomeTables.xiaomi(result: "error", code: 21301, token: "t", badRegIDs: [], messageID: nil).isConfigAlarm)
        #expect(OutcomeTables.oppo(code: -2, messageID: nil) == .retry(reason: "-2", afterSeconds: nil))
        #expect(OutcomeTables.oppo(code: 16, messageID: nil).isConfigAlarm)
        #expect(OutcomeTables.vivo(result: 0, invalidUserStatus: 2, taskID: nil).isTokenInvalid)
        #expect(OutcomeTables.vivo(result: 0, invalidUserStatus: 4, taskID: "x") == .delivered(messageID: "x"))
        #expect(OutcomeTables.meizu(code: "200", value: ["110002": ["t"]], token: "t", messageID: nil).isTokenInvalid)
        #expect(OutcomeTables.meizu(code: "200", value: ["519": ["t"]], token: "t", messageID: nil) == .retry(reason: "519", afterSeconds: nil))
        #expect(OutcomeTables.meizu(code: "110010", value: [:], token: "t", messageID: nil) == .retry(reason: "110010", afterSeconds: nil))
        #expect(OutcomeTables.meizu(code: "1006", value: [:], token: "t", messageID: nil).isConfigAlarm)
    }

    /// Expected values computed independently with Python's hashlib.
    @Test("Vendor signs match independently computed digests")
    func signs() {
        #expect(
            VendorSigns.oppo(appKey: "appkey1", timestampMillis: 1_763_600_000_000, masterSecret: "master1")
                == "5750b2233d37be265a4d136052dc1941374b32d9ba4ad3fead29f3a0a174c89c"
        )
        #expect(
            VendorSigns.vivo(appID: "10086", appKey: "vkey", timestampMillis: 1_763_600_000_000, appSecret: "vsecret")
                == "289ace6c43f7d62152494a8079829708"
        )
        #expect(
            VendorSigns.meizu(parameters: [("pushIds", "p1,p2"), ("appId", "2002"), ("messageJson", #"{"a":1}"#)], appSecret: "msecret")
                == "12a22fa6bb210b5a0f5ec760648cc57b"
        )
    }
}

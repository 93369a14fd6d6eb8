import Foundation

// The vendors' answers as typed values. Every field is optional and read leniently: a field of an
// unexpected type reads as absent instead of failing the whole answer, so a vendor's (or the chaos
// emulator's) odd answer still gets classified by what it does say.

extension VendorTransport.Response {
    /// The body decoded as `T`; nil when empty (APNs's 200) or not a JSON object.
    func decoded<T: Decodable>(_ type: T.Type) -> T? {
        body.isEmpty ? nil : try? JSONDecoder().decode(type, from: body)
    }
}

extension KeyedDecodingContainer {
    /// The value at `key` when it is present and a `T`; nil otherwise.
    func lenient<T: Decodable>(_ key: Key) -> T? {
        (try? decodeIfPresent(T.self, forKey: key)) ?? nil
    }
}

/// A JSON number of any size or form, as vendors write codes, timestamps and lifetimes.
struct VendorNumber: Decodable, Sendable {
    var value: Double

    init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(Double.self)
    }

    /// The number as an integer when it is a finite value that fits.
    var int: Int? { value.isFinite && abs(value) < 0x1p62 ? Int(value) : nil }
    var int64: Int64? { int.map(Int64.init) }
}

/// A list of strings, empty when the field holds anything else.
struct VendorStrings: Decodable, Sendable {
    var values: [String]

    init(from decoder: any Decoder) throws {
        values = (try? decoder.singleValueContainer().decode([String].self)) ?? []
    }
}

/// An OAuth token answer (FCM, Huawei, Honor): `access_token`, `expires_in`.
struct OAuthTokenAnswer: Decodable {
    var accessToken: String?
    var expiresIn: Double?

    enum CodingKeys: String, CodingKey { case accessToken = "access_token", expiresIn = "expires_in" }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        accessToken = c.lenient(.accessToken)
        expiresIn = (c.lenient(.expiresIn) as VendorNumber?)?.value
    }
}

/// APNs's error body: `{"reason": "...", "timestamp": ms}`.
struct APNsAnswer: Decodable {
    var reason: String?
    var timestampMillis: Int64?

    enum CodingKeys: String, CodingKey { case reason, timestamp }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        reason = c.lenient(.reason)
        timestampMillis = (c.lenient(.timestamp) as VendorNumber?)?.int64
    }
}

/// FCM v1: `name` on success; `error.status`, `error.message` and `error.details[].errorCode` /
/// `fieldViolations[].field` on failure.
struct FCMAnswer: Decodable {
    struct Failure: Decodable {
        var status: String?
        var message: String?
        var details: [Detail]

        enum CodingKeys: String, CodingKey { case status, message, details }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = c.lenient(.status)
            message = c.lenient(.message)
            details = c.lenient(.details) ?? []
        }
    }

    struct Detail: Decodable {
        var errorCode: String?
        var fields: [String]

        enum CodingKeys: String, CodingKey { case errorCode, fieldViolations }
        struct Violation: Decodable { var field: String? }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            errorCode = c.lenient(.errorCode)
            fields = ((c.lenient(.fieldViolations) as [Violation]?) ?? []).compactMap(\.field)
        }
    }

    var name: String?
    var error: Failure?

    enum CodingKeys: String, CodingKey { case name, error }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = c.lenient(.name)
        error = c.lenient(.error)
    }

    /// The most specific error code: the first detail's, else the status.
    var errorCode: String? { error?.details.lazy.compactMap(\.errorCode).first ?? error?.status }

    /// Whether FCM blamed the token itself.
    var tokenBlamed: Bool {
        error?.details.contains { $0.fields.contains("message.token") } == true
            || error?.message?.contains("not a valid FCM registration token") == true
    }
}

/// Huawei Push Kit: `code` (a string), `msg`, `requestId`; with code 80100000 `msg` is itself JSON
/// naming `illegal_tokens`.
struct HuaweiAnswer: Decodable {
    var code: String?
    var msg: String?
    var requestID: String?

    enum CodingKeys: String, CodingKey { case code, msg, requestID = "requestId" }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = c.lenient(.code)
        msg = c.lenient(.msg)
        requestID = c.lenient(.requestID)
    }

    struct PartialFailure: Decodable {
        var illegalTokens: VendorStrings?
        enum CodingKeys: String, CodingKey { case illegalTokens = "illegal_tokens" }
    }

    /// The tokens Huawei refused in a partly successful send.
    var illegalTokens: [String] {
        guard code == "80100000", let msg, let detail = try? JSONDecoder().decode(PartialFailure.self, from: Data(msg.utf8)) else { return [] }
        return detail.illegalTokens?.values ?? []
    }
}

/// Honor Push: `code` (a number), `data.expireTokens`, `data.requestId`.
struct HonorAnswer: Decodable {
    var code: Int?
    var expiredTokens: [String]
    var requestID: String?

    enum CodingKeys: String, CodingKey { case code, data }
    enum DataKeys: String, CodingKey { case expireTokens, requestID = "requestId" }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = (c.lenient(.code) as VendorNumber?)?.int
        let data = try? c.nestedContainer(keyedBy: DataKeys.self, forKey: .data)
        expiredTokens = (data?.lenient(.expireTokens) as VendorStrings?)?.values ?? []
        requestID = data?.lenient(.requestID)
    }
}

/// Xiaomi MiPush: `result` ("ok"/"error"), `code`, `data.id`, `data.bad_regids` (comma-separated).
struct XiaomiAnswer: Decodable {
    var result: String?
    var code: Int?
    var messageID: String?
    var badRegIDs: [String]

    enum CodingKeys: String, CodingKey { case result, code, data }
    enum DataKeys: String, CodingKey { case id, badRegIDs = "bad_regids" }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        result = c.lenient(.result)
        code = (c.lenient(.code) as VendorNumber?)?.int
        let data = try? c.nestedContainer(keyedBy: DataKeys.self, forKey: .data)
        messageID = data?.lenient(.id)
        badRegIDs = (data?.lenient(.badRegIDs) as String?)?.split(separator: ",").map(String.init) ?? []
    }
}

/// OPPO Push: `code`, `data.messageId` (send) or `data.auth_token` (auth).
struct OPPOAnswer: Decodable {
    var code: Int?
    var messageID: String?
    var authToken: String?

    enum CodingKeys: String, CodingKey { case code, data }
    enum DataKeys: String, CodingKey { case messageID = "messageId", authToken = "auth_token" }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = (c.lenient(.code) as VendorNumber?)?.int
        let data = try? c.nestedContainer(keyedBy: DataKeys.self, forKey: .data)
        messageID = data?.lenient(.messageID)
        authToken = data?.lenient(.authToken)
    }
}

/// vivo Push: `result`, `authToken` (auth), `taskId`, `invalidUser.status` (one device) and
/// `invalidUsers[].userid` / `status` (a list push).
struct VivoAnswer: Decodable {
    struct InvalidUser: Decodable {
        var userID: String?
        var status: Int?

        enum CodingKeys: String, CodingKey { case userID = "userid", status }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            userID = c.lenient(.userID)
            status = (c.lenient(.status) as VendorNumber?)?.int
        }
    }

    var result: Int?
    var authToken: String?
    var taskID: String?
    var invalidUser: InvalidUser?
    var invalidUsers: [InvalidUser]

    enum CodingKeys: String, CodingKey { case result, authToken, taskID = "taskId", invalidUser, invalidUsers }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        result = (c.lenient(.result) as VendorNumber?)?.int
        authToken = c.lenient(.authToken)
        taskID = c.lenient(.taskID)
        invalidUser = c.lenient(.invalidUser)
        invalidUsers = c.lenient(.invalidUsers) ?? []
    }
}

/// Meizu Push: `code` (a string), `msgId`, `value` (the tokens per failure code).
struct MeizuAnswer: Decodable {
    var code: String?
    var messageID: String?
    var value: [String: [String]]

    enum CodingKeys: String, CodingKey { case code, messageID = "msgId", value }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = c.lenient(.code)
        messageID = c.lenient(.messageID)
        value = ((c.lenient(.value) as [String: VendorStrings]?) ?? [:]).mapValues(\.values)
    }
}

/// A push vendor gateway.
public enum Vendor: String, Sendable, CaseIterable, Codable, Hashable {
    case apns, fcm, huawei, xiaomi, oppo, vivo, meizu, honor

    /// Vendors that refuse a notification with an empty title (push-rules.md 3.4); FCM and APNs
    /// may go without one.
    public var requiresTitle: Bool {
        switch self {
        case .apns, .fcm: false
        case .huawei, .xiaomi, .oppo, .vivo, .meizu, .honor: true
        }
    }
}

/// Exactly what goes on the wire for one push, minus the vendor credentials the gateway client adds
/// (APNs `authorization`, FCM/Huawei/Honor bearer token, vivo `authToken`, OPPO `auth_token`,
/// Meizu `sign`, Xiaomi `Authorization: key=`).
public struct VendorRequest: Sendable, Equatable {
    public var vendor: Vendor
    public var method: String
    /// Relative to the vendor endpoint configured for the app, starting with `/`.
    public var path: String
    public var headers: [Header]
    public var body: Body

    public init(vendor: Vendor, method: String = "POST", path: String, headers: [Header], body: Body) {
        self.vendor = vendor
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// One HTTP header field.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One field of an `application/x-www-form-urlencoded` body.
    public struct FormField: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The request body: JSON bytes, or form fields kept apart so a gateway can sign them.
    public enum Body: Sendable, Equatable {
        case json([UInt8])
        case form([FormField])

        /// The body as sent.
        public var bytes: [UInt8] {
            switch self {
            case .json(let bytes): bytes
            case .form(let fields): Array(FormEncoding.encode(fields).utf8)
            }
        }
    }

    /// The value of the first header with that name (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// `application/x-www-form-urlencoded` encoding.
public enum FormEncoding {
    /// Encodes fields as `a=1&b=2`, percent-encoding everything but `A-Z a-z 0-9 - . _ ~`.
    public static func encode(_ fields: [VendorRequest.FormField]) -> String {
        var out = ""
        for (i, field) in fields.enumerated() {
            if i > 0 { out += "&" }
            out += escape(field.name)
            out += "="
            out += escape(field.value)
        }
        return out
    }

    static func escape(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                bytes.append(byte)
            default:
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The devices of one send: who receives, with which badge, under which id, at what time.
///
/// Usually one device. When devices share the same content and badge (campaigns), Huawei, Honor,
/// Xiaomi and vivo (list push) take up to 1000 tokens and Meizu up to 100; see
/// ``PushRenderer/maxTokens(_:)``. The other vendors take one.
public struct PushTarget: Sendable, Equatable {
    /// The vendor's device tokens (APNs hex token, FCM registration token, regId, pushId, ...).
    public var tokens: [String]
    /// The absolute badge, when the app keeps one (APNs; Huawei and Honor when configured).
    public var badge: Int?
    /// Stable id of the logical push, reused on every retry: `apns-id`, vivo `requestId`.
    public var pushID: String
    /// Send time in milliseconds since 1970, for `apns-expiration` and Honor's `timestamp`.
    public var nowMillis: Int64
    /// APNs `apns-collapse-id` (at most 64 bytes).
    public var collapseID: String?
    /// The key of the message's push to this user (the job's key): Huawei's `notify_id` is derived
    /// from it, so a withdrawal can name the notification to revoke. Nil: the vendor picks one.
    public var revocationKey: String?

    /// The first (usually the only) token.
    public var token: String {
        get { tokens.first ?? "" }
        set { tokens = [newValue] }
    }

    public init(token: String, badge: Int? = nil, pushID: String, nowMillis: Int64, collapseID: String? = nil, revocationKey: String? = nil) {
        self.init(tokens: [token], badge: badge, pushID: pushID, nowMillis: nowMillis, collapseID: collapseID, revocationKey: revocationKey)
    }

    public init(
        tokens: [String], badge: Int? = nil, pushID: String, nowMillis: Int64, collapseID: String? = nil, revocationKey: String? = nil
    ) {
        self.tokens = tokens
        self.badge = badge
        self.pushID = pushID
        self.nowMillis = nowMillis
        self.collapseID = collapseID
        self.revocationKey = revocationKey
    }
}

/// Why a push cannot be rendered. Both are permanent: retrying cannot help.
public enum RenderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The payload exceeds the vendor's limit even with the text shortened (e.g. `Ext` alone is too large).
    case payloadTooLarge(vendor: Vendor, limit: Int, size: Int)
    /// The app has no settings for this vendor.
    case vendorNotConfigured(Vendor)
    /// A field the vendor refuses, e.g. an `apns-collapse-id` over 64 bytes.
    case invalidField(vendor: Vendor, field: String, reason: String)

    /// The reason recorded with the permanent failure.
    public var reason: String {
        switch self {
        case .payloadTooLarge: "PayloadTooLarge"
        case .vendorNotConfigured: "VendorNotConfigured"
        case .invalidField: "InvalidField"
        }
    }

    public var description: String {
        switch self {
        case .payloadTooLarge(let vendor, let limit, let size):
            "PayloadTooLarge: \(vendor.rawValue) payload is \(size) bytes, the limit is \(limit)"
        case .vendorNotConfigured(let vendor): "VendorNotConfigured: \(vendor.rawValue)"
        case .invalidField(let vendor, let field, let reason): "InvalidField: \(vendor.rawValue) \(field) \(reason)"
        }
    }
}

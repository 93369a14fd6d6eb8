import CompressNIO
import Crypto
import Foundation
import NIOCore

/// Tencent's UserSig (tls-sig-api-v2, HMAC-SHA256): generation and verification.
///
/// A UserSig is `base64*(zlib(JSON))` where `base64*` is standard base64 with `+` → `*`, `/` → `-`,
/// `=` → `_`, and the JSON carries `TLS.ver`, `TLS.identifier`, `TLS.sdkappid`, `TLS.time`,
/// `TLS.expire` and `TLS.sig` = base64(HMAC-SHA256(secret key, content lines)).
public enum UserSig {
    /// The fields of a verified UserSig.
    public struct Claims: Sendable, Equatable {
        public var identifier: String
        /// `TLS.sdkappid` as decimal text (some generators send it as a string).
        public var sdkAppID: String
        /// Issue time, seconds since 1970.
        public var time: Int64
        /// Validity in seconds from `time`.
        public var expire: Int64
        public var userbuf: [UInt8]?

        public init(identifier: String, sdkAppID: String, time: Int64, expire: Int64, userbuf: [UInt8]? = nil) {
            self.identifier = identifier
            self.sdkAppID = sdkAppID
            self.time = time
            self.expire = expire
            self.userbuf = userbuf
        }

        /// The moment the signature stops being valid, seconds since 1970. Both fields come from the
        /// (not yet verified) signature, so the sum saturates instead of trapping.
        public var expiresAt: Int64 {
            let (sum, overflow) = time.addingReportingOverflow(expire)
            return overflow ? (expire > 0 ? .max : .min) : sum
        }
    }

    /// Why a UserSig was refused, with Tencent's error code.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// 70001: `TLS.time + TLS.expire` is in the past.
        case expired
        /// 70003: not decodable (base64, zlib or JSON), or fields missing.
        case malformed(String)
        /// 70009: the HMAC does not match: signed with another key.
        case badSignature
        /// 70013: signed for another identifier.
        case identifierMismatch
        /// 70014: signed for another SDKAppID.
        case sdkAppIDMismatch

        public var code: Int {
            switch self {
            case .expired: 70001
            case .malformed: 70003
            case .badSignature: 70009
            case .identifierMismatch: 70013
            case .sdkAppIDMismatch: 70014
            }
        }

        public var description: String {
            switch self {
            case .expired: "UserSig expired"
            case .malformed(let why): "UserSig could not be parsed: \(why)"
            case .badSignature: "UserSig verification failed"
            case .identifierMismatch: "UserSig was not issued for this identifier"
            case .sdkAppIDMismatch: "UserSig was not issued for this SDKAppID"
            }
        }
    }

    /// Issues a UserSig.
    ///
    /// - Parameters:
    ///   - time: issue time, seconds since 1970.
    ///   - expire: validity in seconds (Tencent's generators default to 180 days).
    ///   - compressionLevel: zlib level 0 to 9; any level verifies.
    public static func generate(
        sdkAppID: UInt64, key: String, identifier: String, expire: Int64 = 180 * 86_400, time: Int64,
        userbuf: [UInt8]? = nil, compressionLevel: Int32 = 6
    ) -> String {
        let userbufText = userbuf.map { Data($0).base64EncodedString() }
        let sig = signature(
            key: key, identifier: identifier, sdkAppID: String(sdkAppID), time: time, expire: expire, userbuf: userbufText
        )
        var document: [String: Any] = [
            "TLS.ver": "2.0", "TLS.identifier": identifier, "TLS.sdkappid": sdkAppID, "TLS.expire": expire,
            "TLS.time": time, "TLS.sig": sig,
        ]
        if let userbufText { document["TLS.userbuf"] = userbufText }
        // A dictionary of strings and integers always serialises.
        let json = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data()
        var input = ByteBuffer(bytes: json)
        let level = ZlibConfiguration.CompressionLevel(rawValue: min(max(compressionLevel, 0), 9)) ?? .defaultCompressionLevel
        let compressed = (try? input.compress(with: .zlib(configuration: .init(compressionLevel: level)))) ?? ByteBuffer()
        return encode(Array(compressed.readableBytesView))
    }

    /// Verifies a UserSig for the identifier and SDKAppID of a request.
    ///
    /// Checks in the order of Tencent's verifier: SDKAppID, identifier, expiry, then the HMAC.
    /// - Parameter now: seconds since 1970.
    public static func verify(
        _ userSig: String, sdkAppID: UInt64, identifier: String, key: String, now: Int64
    ) throws(Failure) -> Claims {
        let claims = try decode(userSig)
        guard claims.claims.sdkAppID == String(sdkAppID) else { throw .sdkAppIDMismatch }
        // Bytes, not canonical equivalence: `josé` precomposed and decomposed are two accounts.
        guard claims.claims.identifier.utf8.elementsEqual(identifier.utf8) else { throw .identifierMismatch }
        guard now <= claims.claims.expiresAt else { throw .expired }
        let content = content(
            identifier: claims.claims.identifier, sdkAppID: claims.claims.sdkAppID, time: claims.claims.time,
            expire: claims.claims.expire, userbuf: claims.userbufText
        )
        guard let mac = Data(base64Encoded: claims.sig),
            HMAC<SHA256>.isValidAuthenticationCode(
                mac, authenticating: Data(content.utf8), using: SymmetricKey(data: Data(key.utf8))
            )
        else { throw .badSignature }
        return claims.claims
    }

    /// The content string the HMAC covers.
    static func content(identifier: String, sdkAppID: String, time: Int64, expire: Int64, userbuf: String?) -> String {
        var text = "TLS.identifier:\(identifier)\nTLS.sdkappid:\(sdkAppID)\nTLS.time:\(time)\nTLS.expire:\(expire)\n"
        if let userbuf { text += "TLS.userbuf:\(userbuf)\n" }
        return text
    }

    /// `TLS.sig` for the given fields.
    public static func signature(
        key: String, identifier: String, sdkAppID: String, time: Int64, expire: Int64, userbuf: String? = nil
    ) -> String {
        let text = content(identifier: identifier, sdkAppID: sdkAppID, time: time, expire: expire, userbuf: userbuf)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: Data(key.utf8)))
        return Data(mac).base64EncodedString()
    }

    // MARK: Wire format

    private struct Decoded {
        var claims: Claims
        var sig: String
        var userbufText: String?
    }

    private static func decode(_ userSig: String) throws(Failure) -> Decoded {
        var text = String(userSig.map { c -> Character in
            switch c {
            case "*": "+"
            case "-": "/"
            case "_": "="
            default: c
            }
        })
        text = text.filter { !$0.isWhitespace }
        while text.count % 4 != 0 { text += "=" }
        guard let compressed = Data(base64Encoded: text), !compressed.isEmpty else {
            throw .malformed("not base64")
        }
        var buffer = ByteBuffer(bytes: compressed)
        let json: ByteBuffer
        do {
            json = try buffer.decompress(with: .zlib(), maxSize: 64 * 1024)
        } catch {
            throw .malformed("not zlib data")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.readableBytesView)),
            let fields = object as? [String: Any]
        else { throw .malformed("not a JSON object") }
        guard let identifier = fields["TLS.identifier"] as? String else { throw .malformed("TLS.identifier missing") }
        guard let sdkAppID = decimalText(fields["TLS.sdkappid"]) else { throw .malformed("TLS.sdkappid missing") }
        guard let time = decimalText(fields["TLS.time"]).flatMap({ Int64($0) }) else { throw .malformed("TLS.time missing") }
        guard let expire = decimalText(fields["TLS.expire"]).flatMap({ Int64($0) }) else {
            throw .malformed("TLS.expire missing")
        }
        guard let sig = fields["TLS.sig"] as? String else { throw .malformed("TLS.sig missing") }
        let userbufText = fields["TLS.userbuf"] as? String
        let userbuf = userbufText.flatMap { Data(base64Encoded: $0) }.map { Array($0) }
        return Decoded(
            claims: Claims(identifier: identifier, sdkAppID: sdkAppID, time: time, expire: expire, userbuf: userbuf),
            sig: sig, userbufText: userbufText
        )
    }

    /// A JSON number or string as decimal text.
    private static func decimalText(_ value: Any?) -> String? {
        switch value {
        case let text as String: return text
        case let number as NSNumber:
            // JSONSerialization gives integers as NSNumber; reject fractions.
            let integer = number.int64Value
            return NSNumber(value: integer) == number ? String(integer) : nil
        default: return nil
        }
    }

    /// Standard base64 with Tencent's URL-safe substitutions.
    static func encode(_ bytes: [UInt8]) -> String {
        String(Data(bytes).base64EncodedString().map { c -> Character in
            switch c {
            case "+": "*"
            case "/": "-"
            case "=": "_"
            default: c
            }
        })
    }
}

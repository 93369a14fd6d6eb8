import Crypto
import Foundation
import _CryptoExtras

/// Compact JSON Web Tokens as the vendors use them: APNs provider tokens (ES256) and Google
/// service-account assertions (RS256).
///
/// Written on swift-crypto directly: a JWT is two base64url JSON segments and one signature, and
/// the vendors need nothing of a general JWT library (no JWKS, no claim validation policies).
public enum JWT {
    /// A decoded token whose signature has not been checked yet.
    public struct Parsed: Sendable {
        public var header: [String: String]
        /// Claims as JSON values (numbers, strings).
        public var claims: [String: Sendable]
        /// `header.payload`, the bytes the signature covers.
        public var signingInput: String
        public var signature: Data

        /// A claim as an integer, accepting a number or a numeric string (APNSwift sends `iat` as a string).
        public func integerClaim(_ name: String) -> Int64? {
            switch claims[name] {
            case let number as NSNumber: number.int64Value
            case let text as String: Int64(text)
            default: nil
            }
        }

        public func stringClaim(_ name: String) -> String? { claims[name] as? String }
    }

    public enum Failure: Error, Sendable, Equatable {
        case malformed
        case badSignature
    }

    /// Signs an ES256 token (APNs): header `{"alg":"ES256","kid":…}`.
    public static func es256(kid: String, claims: [String: Sendable], key: P256.Signing.PrivateKey) throws -> String {
        let input = try signingInput(header: ["alg": "ES256", "kid": kid], claims: claims)
        let signature = try key.signature(for: Data(input.utf8))
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }

    /// Signs an RS256 token (Google OAuth assertion): header `{"alg":"RS256","typ":"JWT"}`.
    public static func rs256(claims: [String: Sendable], key: _RSA.Signing.PrivateKey, kid: String? = nil) throws -> String {
        var header = ["alg": "RS256", "typ": "JWT"]
        if let kid { header["kid"] = kid }
        let input = try signingInput(header: header, claims: claims)
        let signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }

    /// Splits and decodes a token without checking its signature.
    public static func parse(_ token: String) throws(Failure) -> Parsed {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerData = Base64URL.decode(String(parts[0])),
            let claimsData = Base64URL.decode(String(parts[1])),
            let signature = Base64URL.decode(String(parts[2])),
            let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any],
            let claims = (try? JSONSerialization.jsonObject(with: claimsData)) as? [String: Any]
        else { throw .malformed }
        return Parsed(
            header: header.compactMapValues { $0 as? String },
            claims: claims.compactMapValues { value -> Sendable? in
                switch value {
                case let text as String: text
                case let number as NSNumber: number
                default: nil
                }
            },
            signingInput: parts[0] + "." + parts[1], signature: signature
        )
    }

    /// Checks an ES256 signature.
    public static func verifyES256(_ token: Parsed, key: P256.Signing.PublicKey) throws(Failure) {
        guard token.header["alg"] == "ES256",
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: token.signature),
            key.isValidSignature(signature, for: Data(token.signingInput.utf8))
        else { throw .badSignature }
    }

    /// Checks an RS256 signature.
    public static func verifyRS256(_ token: Parsed, key: _RSA.Signing.PublicKey) throws(Failure) {
        guard token.header["alg"] == "RS256",
            key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: token.signature), for: Data(token.signingInput.utf8),
                padding: .insecurePKCS1v1_5
            )
        else { throw .badSignature }
    }

    private static func signingInput(header: [String: String], claims: [String: Sendable]) throws -> String {
        let headerJSON = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let claimsJSON = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        return Base64URL.encode(headerJSON) + "." + Base64URL.encode(claimsJSON)
    }
}

/// Base64 with the URL alphabet and no padding (RFC 7515).
public enum Base64URL {
    public static func encode(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

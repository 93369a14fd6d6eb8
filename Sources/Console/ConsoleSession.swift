import Crypto
import Foundation
import PushCore
import VendorAuth

/// Who signed in to the console, and until when: an app's admin sees that app only; the console
/// password opens every app.
public struct ConsoleSession: Sendable, Equatable {
    public enum Scope: Sendable, Equatable {
        case everyApp
        case app(UInt64)
    }

    public var scope: Scope
    /// The admin identifier, or "console" for the password.
    public var who: String
    public var expiresAtSeconds: Int64
    /// Random per sign-in; the CSRF token is derived from it.
    public var nonce: String

    /// Whether the session may see and act on `sdkAppID`.
    public func sees(_ sdkAppID: UInt64) -> Bool {
        switch scope {
        case .everyApp: true
        case .app(let app): app == sdkAppID
        }
    }
}

/// Signs sessions into cookie values and checks them back (HMAC-SHA256 over the fields, compared in
/// constant time), and derives each session's CSRF token. The key is given by the operator
/// (`PUSHD_CONSOLE_SESSION_KEY`, so sessions survive a restart and are shared by several
/// instances) or made at random when pushd starts.
public struct SessionSigner: Sendable {
    let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    /// A key from the operator's secret (any length: it is hashed), or a random one.
    public init(secret: String?) {
        if let secret, !secret.isEmpty {
            key = SymmetricKey(data: SHA256.hash(data: Data(secret.utf8)))
        } else {
            key = SymmetricKey(size: .bits256)
        }
    }

    /// The cookie value of a session: its fields, then their signature, both base64url.
    public func cookie(for session: ConsoleSession) -> String {
        let scope: String
        switch session.scope {
        case .everyApp: scope = "*"
        case .app(let app): scope = String(app)
        }
        let fields = Data([scope, String(session.expiresAtSeconds), session.nonce, session.who].joined(separator: "\n").utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: fields, using: key)
        return Base64URL.encode(fields) + "." + Base64URL.encode(Data(mac))
    }

    /// The session a cookie value carries, when its signature is ours and it has not expired.
    public func session(fromCookie value: String, nowSeconds: Int64) -> ConsoleSession? {
        guard value.utf8.count <= 2048 else { return nil }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let fields = Base64URL.decode(String(parts[0])), let mac = Base64URL.decode(String(parts[1])) else { return nil }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: fields, using: key) else { return nil }
        let items = String(decoding: fields, as: UTF8.self).split(separator: "\n", maxSplits: 3, omittingEmptySubsequences: false)
        guard items.count == 4, let expires = Int64(items[1]), expires > nowSeconds else { return nil }
        let scope: ConsoleSession.Scope
        if items[0] == "*" {
            scope = .everyApp
        } else if let app = UInt64(items[0]) {
            scope = .app(app)
        } else {
            return nil
        }
        return ConsoleSession(scope: scope, who: String(items[3]), expiresAtSeconds: expires, nonce: String(items[2]))
    }

    /// The token every state-changing form of this session carries.
    public func csrfToken(for session: ConsoleSession) -> String {
        Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Data("csrf\n\(session.nonce)".utf8), using: key)))
    }

    /// Whether `token` is the session's CSRF token (compared in constant time).
    public func checks(csrf token: String, for session: ConsoleSession) -> Bool {
        guard let mac = Base64URL.decode(token) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data("csrf\n\(session.nonce)".utf8), using: key)
    }

    /// Whether two secrets are equal, in time that does not depend on where they differ (their
    /// HMACs under a fresh key are compared).
    static func sameSecret(_ given: String, _ expected: String) -> Bool {
        let key = SymmetricKey(size: .bits256)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(expected.utf8), using: key)
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(given.utf8), using: key)
    }

    /// A fresh random nonce.
    static func nonce() -> String {
        Base64URL.encode(Data(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }))
    }
}

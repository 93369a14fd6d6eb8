import Crypto
import Foundation

/// The `Sign` query parameter of a callback: HMAC-SHA256, keyed with the app's `callback.key`,
/// of the decimal `RequestTime` (seconds) followed by the raw request body, in lower-case hex.
/// Tencent signs `sha256(Token + RequestTime)`, which leaves the body unsigned; this one covers it.
public enum CallbackSignature {
    public static func sign(key: String, requestTime: Int64, body: some DataProtocol) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(key.utf8)))
        mac.update(data: Data(String(requestTime).utf8))
        mac.update(data: Data(body))
        return mac.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Whether `sign` is the signature of `body` at `requestTime`, compared in constant time.
    public static func isValid(_ sign: String, key: String, requestTime: Int64, body: some DataProtocol) -> Bool {
        let expected = Array(self.sign(key: key, requestTime: requestTime, body: body).utf8)
        let given = Array(sign.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

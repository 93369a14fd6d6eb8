import Crypto
import Foundation

/// The request signatures of the Chinese vendors (vendor-protocols.md sections 6 to 8).
public enum VendorSigns {
    /// OPPO `/server/v1/auth`: hex(sha256(appKey + timestamp + masterSecret)).
    public static func oppo(appKey: String, timestampMillis: Int64, masterSecret: String) -> String {
        hex(SHA256.hash(data: Data((appKey + String(timestampMillis) + masterSecret).utf8)))
    }

    /// vivo `/message/auth`: lower-case hex(md5(appId + appKey + timestamp + appSecret)).
    public static func vivo(appID: String, appKey: String, timestampMillis: Int64, appSecret: String) -> String {
        hex(Insecure.MD5.hash(data: Data((appID + appKey + String(timestampMillis) + appSecret).utf8)))
    }

    /// Meizu: md5 of the parameters sorted by name, concatenated as `key=value` with no separator,
    /// followed by the app secret; raw (not URL-encoded) values.
    public static func meizu(parameters: [(name: String, value: String)], appSecret: String) -> String {
        let text = parameters.sorted { $0.name < $1.name }.map { "\($0.name)=\($0.value)" }.joined() + appSecret
        return hex(Insecure.MD5.hash(data: Data(text.utf8)))
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

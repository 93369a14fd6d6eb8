import CompressNIO
import Foundation
import NIOCore
import Testing
import UserSig

/// tls-sig-api-v2 against the vectors of reference/tencent-rest-api.md section 2.4.
@Suite("UserSig")
struct UserSigTests {
    static let sampleKey = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"

    @Test("HMAC golden value (third-party vector)")
    func hmacGolden() {
        let sig = UserSig.signature(
            key: "test-secret-key-1234567890abcdef", identifier: "user_42", sdkAppID: "20030819", time: 1_718_764_800,
            expire: 604_800
        )
        #expect(sig == "8y4PAvIKGCmKvubBW+DGnAa/LQ9VpBWp4fEjtiQ/VHQ=")
    }

    @Test("Tencent sample key: signature with and without userbuf")
    func tencentSample() {
        #expect(
            UserSig.signature(key: Self.sampleKey, identifier: "xiaojun", sdkAppID: "1400000000", time: 1_600_000_000, expire: 15_552_000)
                == "1Z5PngDjGaufeSiPoBuxdHY7EK3JTdAjMP93S4KvV3M="
        )
        #expect(
            UserSig.signature(
                key: Self.sampleKey, identifier: "xiaojun", sdkAppID: "1400000000", time: 1_600_000_000, expire: 15_552_000,
                userbuf: "YWJj"
            ) == "9tvdyuu11RSxrIwX0xC05oW7LdPxVnzkzBpcRT/UqfM="
        )
    }

    static let referenceToken =
        "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMikVhRkFqUCxU1NTY3goiWZuSAxM1S1xZnpQJMNo0wD8tJdstwTS9NSgzMD8p1KK1I8Is1dvY29QlIcs3wDLI2DTbzLwox9bZVqAaoDMbs_"

    @Test("The reference token verifies while valid and decodes to its fields")
    func referenceTokenVerifies() throws {
        let claims = try UserSig.verify(
            Self.referenceToken, sdkAppID: 1_400_000_000, identifier: "xiaojun", key: Self.sampleKey, now: 1_600_000_100
        )
        #expect(claims == UserSig.Claims(identifier: "xiaojun", sdkAppID: "1400000000", time: 1_600_000_000, expire: 15_552_000))
    }

    @Test("Generated signatures verify at every zlib level", arguments: Array(Int32(0)...9))
    func everyCompressionLevel(level: Int32) throws {
        let sig = UserSig.generate(sdkAppID: 1_400_000_000, key: "k", identifier: "alice", expire: 3600, time: 1000, compressionLevel: level)
        let claims = try UserSig.verify(sig, sdkAppID: 1_400_000_000, identifier: "alice", key: "k", now: 2000)
        #expect(claims.identifier == "alice" && claims.expiresAt == 4600)
    }

    @Test("A userbuf round-trips")
    func userbufRoundTrip() throws {
        let sig = UserSig.generate(sdkAppID: 7, key: "k", identifier: "a", expire: 60, time: 10, userbuf: Array("abc".utf8))
        #expect(try UserSig.verify(sig, sdkAppID: 7, identifier: "a", key: "k", now: 20).userbuf == Array("abc".utf8))
    }

    /// A token some generators produce: `TLS.sdkappid` as a string, spaces in the JSON, no padding.
    @Test("A string TLS.sdkappid is accepted and its decimal text signed")
    func stringSdkAppID() throws {
        let sig = UserSig.signature(key: "k", identifier: "u", sdkAppID: "1400000001", time: 100, expire: 86_400)
        let json = #"{"TLS.ver": "2.0", "TLS.identifier": "u", "TLS.sdkappid": "1400000001", "TLS.expire": 86400, "TLS.time": 100, "TLS.sig": "\#(sig)"}"#
        let token = try Self.wrap(json).replacingOccurrences(of: "_", with: "")
        let claims = try UserSig.verify(token, sdkAppID: 1_400_000_001, identifier: "u", key: "k", now: 200)
        #expect(claims.sdkAppID == "1400000001")
    }

    // Tencent's Go test shape: sdkappid 1, key "2", identifier "3", expire 4.
    static let goTestSig = UserSig.generate(sdkAppID: 1, key: "2", identifier: "3", expire: 4, time: 1_000_000)

    @Test("Failures map to Tencent's codes")
    func failureCodes() {
        let cases: [(String, UInt64, String, String, Int64, Int)] = [
            (Self.goTestSig, 1, "3", "2", 1_000_000 + 3600, 70001),  // expired after an hour
            ("not-a-usersig!!", 1, "3", "2", 1_000_000, 70003),  // garbage
            (String(Self.goTestSig.dropLast(12)), 1, "3", "2", 1_000_000, 70003),  // truncated
            (Self.goTestSig, 1, "3", "wrong key", 1_000_000, 70009),
            (Self.goTestSig, 1, "someone else", "2", 1_000_000, 70013),
            (Self.goTestSig, 2, "3", "2", 1_000_000, 70014),
        ]
        for (sig, app, identifier, key, now, code) in cases {
            do {
                _ = try UserSig.verify(sig, sdkAppID: app, identifier: identifier, key: key, now: now)
                Issue.record("accepted a UserSig that should fail with \(code)")
            } catch {
                #expect(error.code == code, "\(error)")
            }
        }
    }

    @Test("A UserSig is valid up to and including its last second")
    func expiryBoundary() throws {
        _ = try UserSig.verify(Self.goTestSig, sdkAppID: 1, identifier: "3", key: "2", now: 1_000_004)
        #expect(throws: UserSig.Failure.expired) {
            try UserSig.verify(Self.goTestSig, sdkAppID: 1, identifier: "3", key: "2", now: 1_000_005)
        }
    }

    @Test("A forged signature over edited fields is refused")
    func editedFields() throws {
        let sig = UserSig.generate(sdkAppID: 1, key: "k", identifier: "alice", expire: 60, time: 100)
        var buffer = ByteBuffer(bytes: try Self.unwrap(sig))
        let json = try buffer.decompress(with: .zlib())
        let edited = String(buffer: json).replacingOccurrences(of: "\"TLS.expire\":60", with: "\"TLS.expire\":999999")
        #expect(edited.contains("999999"))
        #expect(throws: UserSig.Failure.badSignature) {
            try UserSig.verify(try Self.wrap(edited), sdkAppID: 1, identifier: "alice", key: "k", now: 1000)
        }
    }

    /// Issue 24: `TLS.time + TLS.expire` overflowed and crashed the server before the HMAC check,
    /// with nothing but a configured SDKAppID. Every extreme pair is now an answer, not a trap.
    @Test("forged extreme TLS.time and TLS.expire are refused, never trap", arguments: [
        ("9223372036854775807", "15552000"), ("9223372036854775807", "9223372036854775807"), ("-9223372036854775808", "-1"),
        ("1", "-9223372036854775808"), ("1e300", "60"), ("100", "1.5"), ("18446744073709551616", "60"), ("\"9223372036854775807\"", "\"1\""),
    ])
    func extremeTimes(time: String, expire: String) throws {
        let json = #"{"TLS.ver":"2.0","TLS.identifier":"alice","TLS.sdkappid":1400000000,"TLS.time":\#(time),"TLS.expire":\#(expire),"TLS.sig":"AAAA"}"#
        #expect(throws: UserSig.Failure.self) {
            try UserSig.verify(try Self.wrap(json), sdkAppID: 1_400_000_000, identifier: "alice", key: "k", now: 1_800_000_000)
        }
        #expect(UserSig.Claims(identifier: "a", sdkAppID: "1", time: .max, expire: .max).expiresAt == .max)
        #expect(UserSig.Claims(identifier: "a", sdkAppID: "1", time: .min, expire: -1).expiresAt == .min)
    }

    /// Canonically equivalent spellings are different accounts (tencent-rest-api.md: a UserID is bytes).
    @Test("a UserSig for josé (U+00E9) does not authenticate jose + U+0301")
    func identifierBytes() throws {
        let sig = UserSig.generate(sdkAppID: 1, key: "k", identifier: "jos\u{E9}", expire: 60, time: 100)
        #expect(try UserSig.verify(sig, sdkAppID: 1, identifier: "jos\u{E9}", key: "k", now: 120).identifier == "jos\u{E9}")
        #expect(throws: UserSig.Failure.identifierMismatch) {
            try UserSig.verify(sig, sdkAppID: 1, identifier: "jose\u{301}", key: "k", now: 120)
        }
    }

    static func wrap(_ json: String) throws -> String {
        var input = ByteBuffer(string: json)
        let compressed = try input.compress(with: .zlib())
        return Data(compressed.readableBytesView).base64EncodedString()
            .replacingOccurrences(of: "+", with: "*").replacingOccurrences(of: "/", with: "-")
            .replacingOccurrences(of: "=", with: "_")
    }

    static func unwrap(_ sig: String) throws -> [UInt8] {
        let text = sig.replacingOccurrences(of: "*", with: "+").replacingOccurrences(of: "-", with: "/")
            .replacingOccurrences(of: "_", with: "=")
        return Array(try #require(Data(base64Encoded: text)))
    }
}

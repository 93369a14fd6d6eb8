import Foundation
import Testing

@testable import Gateways

/// The vendors' answers as their documentation shows them, and odd variants: a field of an
/// unexpected type reads as absent, never as a failed answer.
@Suite("Vendor answers")
struct VendorAnswerTests {
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(json.utf8))
    }

    @Test("APNs: reason and timestamp; a timestamp that is not a number is absent")
    func apns() {
        let gone = Self.decode(APNsAnswer.self, #"{"reason":"Unregistered","timestamp":1795143600000}"#)
        #expect(gone?.reason == "Unregistered" && gone?.timestampMillis == 1_795_143_600_000)
        let odd = Self.decode(APNsAnswer.self, #"{"reason":"Unregistered","timestamp":"yesterday"}"#)
        #expect(odd?.reason == "Unregistered" && odd?.timestampMillis == nil)
        #expect(Self.decode(APNsAnswer.self, #"{"timestamp":1e300}"#)?.timestampMillis == nil, "too large for milliseconds")
    }

    @Test("FCM: the detail's errorCode wins over the status; a field violation on message.token blames the token")
    func fcm() {
        let body = #"""
            {"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT",
             "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},
                        {"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token"}]}]}}
            """#
        let answer = Self.decode(FCMAnswer.self, body)
        #expect(answer?.errorCode == "INVALID_ARGUMENT" && answer?.tokenBlamed == true)
        let unregistered = Self.decode(FCMAnswer.self, #"{"error":{"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#)
        #expect(unregistered?.errorCode == "UNREGISTERED" && unregistered?.tokenBlamed == false)
        #expect(Self.decode(FCMAnswer.self, #"{"error":{"status":"UNAVAILABLE","details":"none"}}"#)?.errorCode == "UNAVAILABLE")
        #expect(Self.decode(FCMAnswer.self, #"{"name":"projects/p/messages/0:1"}"#)?.name == "projects/p/messages/0:1")
    }

    @Test("Huawei: 80100000 names its illegal tokens inside msg; Honor and Xiaomi numbers and lists")
    func chineseVendors() {
        let partial = Self.decode(
            HuaweiAnswer.self, #"{"code":"80100000","msg":"{\"success\":1,\"failure\":1,\"illegal_tokens\":[\"t2\"]}","requestId":"r1"}"#
        )
        #expect(partial?.illegalTokens == ["t2"] && partial?.requestID == "r1")
        #expect(Self.decode(HuaweiAnswer.self, #"{"code":"80000000","msg":"Success"}"#)?.illegalTokens == [])
        let honor = Self.decode(HonorAnswer.self, #"{"code":80300007,"data":{"expireTokens":["t1"],"requestId":"h1"}}"#)
        #expect(honor?.code == 80_300_007 && honor?.expiredTokens == ["t1"] && honor?.requestID == "h1")
        #expect(Self.decode(HonorAnswer.self, #"{"code":"oops","data":{"expireTokens":"t1"}}"#)?.expiredTokens == [])
        let xiaomi = Self.decode(XiaomiAnswer.self, #"{"result":"ok","code":0,"data":{"id":"m1","bad_regids":"a,b"}}"#)
        #expect(xiaomi?.messageID == "m1" && xiaomi?.badRegIDs == ["a", "b"] && xiaomi?.code == 0)
    }

    @Test("OAuth: expires_in as sent; an absurd or non-numeric lifetime is clamped or ignored by the token cache")
    func oauth() {
        #expect(Self.decode(OAuthTokenAnswer.self, #"{"access_token":"a","expires_in":3599}"#)?.expiresIn == 3599)
        #expect(Self.decode(OAuthTokenAnswer.self, #"{"access_token":"a","expires_in":"soon"}"#)?.expiresIn == nil)
        let absurd = AccessTokenCache.Token(value: "a", expiresIn: 9.3e18, nowMillis: 0)
        #expect(absurd.expiresAtMillis == AccessTokenCache.Token.lifetimeSeconds.upperBound * 1000)
    }
}

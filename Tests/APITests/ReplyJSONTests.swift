import Foundation
import Testing

@testable import API

/// The writer of the replies' free-form fields.
@Suite("Reply JSON")
struct ReplyJSONTests {
    func parsed(_ json: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
    }

    func text(_ value: Any, sorted: Bool = true) -> String? {
        ReplyJSON.data(value, sortedKeys: sorted).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("parsed JSON comes back byte for byte when it was compact with sorted keys")
    func roundTrip() throws {
        for json in [
            #"{"a":1,"b":true,"c":1.5,"d":"x\"y\\z\n\u0001","e":null,"f":[1,false,[],{}],"g":12345678901234567890,"h":-3,"i":0.1,"j":"中文 🚀"}"#,
            #"[{"MsgContent":{"Text":"hi"},"MsgType":"TIMTextElem"},{"MsgContent":{"Data":"{\"k\":1}","Desc":""},"MsgType":"TIMCustomElem"}]"#,
            #"-922337203685477580"#, #"1e+20"#, #""a/b""#, #"false"#,
        ] {
            let written = text(try parsed(json))
            #expect(written == json)
        }
    }

    @Test("key order: sorted when asked, so equal objects give equal bytes")
    func order() throws {
        let a = try parsed(#"{"b":{"y":1,"x":2},"a":[{"d":0,"c":0}]}"#)
        let b = try parsed(#"{ "a" : [ { "c" : 0, "d" : 0 } ], "b" : { "x" : 2, "y" : 1 } }"#)
        #expect(text(a) == #"{"a":[{"c":0,"d":0}],"b":{"x":2,"y":1}}"#)
        #expect(text(a) == text(b))
        let unsorted = try #require(text(a, sorted: false))
        #expect(try (parsed(unsorted) as? NSDictionary) == (a as? NSDictionary))
    }

    @Test("values built in Swift: integers of every width, booleans, doubles, nested Sendable dictionaries")
    func swiftValues() {
        let reply: [String: Any] = [
            "Int": 7, "Int64": Int64(-8), "UInt64": UInt64.max, "Bool": true, "Double": 2.5,
            "List": [["To_Account": "u1", "ErrorCode": 70107]] as [[String: any Sendable]],
        ]
        #expect(
            text(reply) == #"{"Bool":true,"Double":2.5,"Int":7,"Int64":-8,"List":[{"ErrorCode":70107,"To_Account":"u1"}],"UInt64":18446744073709551615}"#
        )
    }

    @Test("what JSON cannot hold is refused, not written")
    func refused() {
        #expect(ReplyJSON.data(["x": Double.nan]) == nil)
        #expect(ReplyJSON.data([Double.infinity]) == nil)
        #expect(ReplyJSON.data(["x": Date()]) == nil)
    }
}

import Foundation
import PropertyBased
import PushCore
import Testing

/// push-rules.md section 6 and the vendors' byte and character limits.
@Suite("Limits and truncation")
struct LimitsTests {
    static let family = "👨‍👩‍👧‍👦"  // one grapheme cluster of 25 UTF-8 bytes

    static func isWholeGraphemePrefix(_ result: String, of input: String) -> Bool {
        let kept = result.hasSuffix(String(Truncation.ellipsis)) && result != input ? String(result.dropLast()) : result
        return Array(input).starts(with: Array(kept))
    }

    @Test("6: an APNs alert that does not fit is shortened at a grapheme boundary and ends with …")
    func apnsShortening() throws {
        let body = String(repeating: "消息" + Self.family + "\"quote\"\n", count: 200)
        let request = try Fixtures.render(PushContent(body: body, ext: #"{"k":"v"}"#), .apns)
        #expect(request.body.bytes.count <= 4096)
        let alert = try #require(try Fixtures.json(request)["aps", "alert"] as? String)
        #expect(alert.hasSuffix("…"))
        #expect(Self.isWholeGraphemePrefix(alert, of: body))
        #expect(request.body.bytes.count > 4096 - 30, "should use the room it has")
    }

    @Test("6: when Ext alone makes the APNs payload too large, the push is a permanent PayloadTooLarge")
    func apnsExtTooLarge() {
        let content = PushContent(body: "hi", ext: String(repeating: "x", count: 4100))
        #expect {
            try Fixtures.render(content, .apns)
        } throws: { error in
            guard case .payloadTooLarge(.apns, 4096, let size)? = error as? RenderError else { return false }
            return size > 4096 && (error as? RenderError)?.reason == "PayloadTooLarge"
        }
    }

    @Test("6: FCM counts notification + data against 4096 bytes")
    func fcmLimit() throws {
        let body = String(repeating: "é", count: 3000)
        let request = try Fixtures.render(PushContent(body: body, ext: String(repeating: "e", count: 1000)), .fcm)
        // The bytes FCM counts: from "notification" up to "android", as written on the wire.
        let wire = String(decoding: request.body.bytes, as: UTF8.self)
        let start = try #require(wire.range(of: #""notification":"#)).lowerBound
        let end = try #require(wire.range(of: #","android":"#)).lowerBound
        let counted = wire[start..<end].utf8.count
        #expect(counted <= 4096 && counted > 4096 - 16, "counted \(counted)")
        let json = try Fixtures.json(request)
        #expect((json["message", "notification", "body"] as? String)?.hasSuffix("…") == true)
        #expect((json["message", "data", "ext"] as? String)?.count == 1000)
        #expect(throws: RenderError.self) { try Fixtures.render(PushContent(body: "x", ext: String(repeating: "e", count: 5000)), .fcm) }
    }

    @Test("6: Huawei shortens body and big body together to fit 4096 bytes without the tokens")
    func huaweiBigTextLimit() throws {
        var android = AndroidInfo()
        android.pushStyle = 1
        let request = try Fixtures.render(PushContent(body: String(repeating: "长", count: 2000), android: android), .huawei)
        let json = try Fixtures.json(request)
        let body = try #require(json["message", "android", "notification", "body"] as? String)
        #expect(body.hasSuffix("…"))
        #expect(json["message", "android", "notification", "big_body"] as? String == body)
        #expect(request.body.bytes.count - Fixtures.target.token.utf8.count <= 4096)
    }

    @Test(
        "6: Chinese vendors' character limits: Xiaomi <50/<128, OPPO 50/200, vivo 20/50 Chinese characters, Meizu 32/100",
        arguments: [(Vendor.xiaomi, 49, 127), (.oppo, 50, 200), (.vivo, 20, 50), (.meizu, 32, 100)]
    )
    func characterLimits(vendor: Vendor, titleLimit: Int, bodyLimit: Int) throws {
        let title = String(repeating: "标", count: 60) + Self.family
        let body = String(repeating: "文", count: 250)
        let request = try Fixtures.render(PushContent(body: body, title: title), vendor)
        let (gotTitle, gotBody): (String?, String?)
        switch vendor {
        case .xiaomi:
            let form = try Fixtures.form(request)
            (gotTitle, gotBody) = (form["title"], form["description"])
        case .oppo:
            let message = try Fixtures.object(try #require(try Fixtures.form(request)["message"]))
            (gotTitle, gotBody) = (message["notification", "title"] as? String, message["notification", "content"] as? String)
        case .vivo:
            let json = try Fixtures.json(request)
            (gotTitle, gotBody) = (json["title"] as? String, json["content"] as? String)
        default:
            let message = try Fixtures.object(try #require(try Fixtures.form(request)["messageJson"]))
            (gotTitle, gotBody) = (message["noticeBarInfo", "title"] as? String, message["noticeBarInfo", "content"] as? String)
        }
        let t = try #require(gotTitle)
        let b = try #require(gotBody)
        #expect(t.utf16.count == titleLimit && t.hasSuffix("…"))
        #expect(b.utf16.count == bodyLimit && b.hasSuffix("…"))
        #expect(Self.isWholeGraphemePrefix(t, of: title) && Self.isWholeGraphemePrefix(b, of: body))
    }

    @Test("6: vivo counts an English character one unit and a Chinese one two: title 40 units, content 100")
    func vivoUnits() throws {
        let json = try Fixtures.json(Fixtures.render(PushContent(body: "ab" + String(repeating: "文", count: 60), title: String(repeating: "a", count: 45)), .vivo))
        // The ellipsis is not ASCII: two units.
        #expect(json["title"] as? String == String(repeating: "a", count: 38) + "…")
        #expect(json["content"] as? String == "ab" + String(repeating: "文", count: 48) + "…")
        let fits = try Fixtures.json(Fixtures.render(PushContent(body: String(repeating: "文", count: 50), title: String(repeating: "标", count: 20)), .vivo))
        #expect(fits["title"] as? String == String(repeating: "标", count: 20) && fits["content"] as? String == String(repeating: "文", count: 50))
    }

    @Test("6: OPPO long text (PushStyle 1) allows 128 characters")
    func oppoLongText() throws {
        var android = AndroidInfo()
        android.pushStyle = 1
        let request = try Fixtures.render(PushContent(body: String(repeating: "a", count: 200), android: android), .oppo)
        let message = try Fixtures.object(try #require(try Fixtures.form(request)["message"]))
        #expect((message["notification", "content"] as? String)?.utf16.count == 128)
        #expect(message["notification", "style"] as? Int == 2)
    }

    @Test("6: a Xiaomi payload of 4 KB or more is PayloadTooLarge")
    func xiaomiPayload() {
        #expect(throws: RenderError.payloadTooLarge(vendor: .xiaomi, limit: 4095, size: 4096)) {
            try Fixtures.render(PushContent(body: "x", ext: String(repeating: "p", count: 4096)), .xiaomi)
        }
    }

    @Test("Truncation never splits a grapheme cluster")
    func graphemeBoundary() {
        let text = "ab" + Self.family + "cdef"
        #expect(Truncation.truncate(text, toFit: 2 + 25 + 3, measuredIn: .utf8) == "ab" + Self.family + "…")
        #expect(Truncation.truncate(text, toFit: 2 + 24 + 3, measuredIn: .utf8) == "ab…")
        #expect(Truncation.truncate(text, toFit: 2, measuredIn: .utf8) == nil)
        #expect(Truncation.truncate(text, toFit: 100, measuredIn: .utf8) == text)
    }

    // MARK: Properties

    /// Awkward pieces: combining marks, ZWJ sequences, flags, CJK, escapes, controls, 4-byte scalars.
    static let pieces: [String] = [
        "a", "Z", " ", "\"", "\\", "\n", "\u{0}", "\u{1F}", "é", "e\u{301}", "中", "文", "😀", "👍🏽", family,
        "🇨🇳", "🇺🇸", "\u{1F1E6}", "ก\u{E49}", "𝄞", "\u{200D}", "…", "\r\n",
    ]
    static let text = Gen.element(of: pieces).array(of: 0...120).map { $0.compactMap { $0 }.joined() }

    @Test("Property: for any text and limit the result fits, is valid UTF-8 and keeps whole graphemes")
    func truncationProperty() async {
        await propertyCheck(count: 400, input: Self.text, Gen.int(in: 0...300), Gen.element(of: [0, 1, 2])) { text, limit, which in
            let measure: Truncation.Measure = [.utf8, .utf16, .jsonEscaped][which ?? 0]
            guard let result = Truncation.truncate(text, toFit: limit, measuredIn: measure) else {
                #expect(measure.cost(of: "…") > limit)
                return
            }
            #expect(measure.cost(of: result) <= limit)
            #expect(String(validating: Array(result.utf8), as: UTF8.self) == result)
            #expect(Self.isWholeGraphemePrefix(result, of: text))
        }
    }

    @Test("Property: any APNs body renders within 4096 bytes as valid JSON, or is refused as too large")
    func apnsProperty() async {
        await propertyCheck(count: 200, input: Self.text, Gen.int(in: 1...60), Gen.int(in: 0...4200)) { piece, repeats, extSize in
            let body = String(repeating: piece.isEmpty ? "x" : piece, count: repeats * 10)
            let content = PushContent(body: body, title: "T", apnsTitle: "T", ext: String(repeating: "e", count: extSize))
            do {
                let request = try Fixtures.render(content, .apns)
                #expect(request.body.bytes.count <= 4096)
                let alert = (try? Fixtures.json(request))?["aps", "alert", "body"] as? String
                #expect(alert.map { Self.isWholeGraphemePrefix($0, of: body) } == true)
            } catch let error as RenderError {
                #expect(error.reason == "PayloadTooLarge")
                #expect(extSize > 4000, "refused a payload whose ext leaves room: ext \(extSize)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}

@Suite("JSON string escaping")
struct EscapingTests {
    @Test("Property: every string renders as a JSON string that parses back to itself")
    func roundTrip() async {
        await propertyCheck(count: 500, input: LimitsTests.text, Gen.int(in: 0...9)) { text, shift in
            // Shift the text so every escape lands at every offset within an 8-byte word.
            let value = String(repeating: "a", count: shift) + text
            let request = try? Fixtures.render(PushContent(body: value, ext: value), .apns)
            let json = request.flatMap { try? Fixtures.json($0) }
            #expect(json?["aps", "alert"] as? String == value)
            // An empty Ext is not sent at all.
            #expect(json?["ext"] as? String == (value.isEmpty ? nil : value))
        }
    }

    @Test("Every control character, quote and backslash is escaped at every position of a word")
    func everyEscapeEveryOffset() throws {
        for scalar in (0..<0x20).map({ Character(Unicode.Scalar(UInt8($0))) }) + ["\"", "\\", "é", "中"] {
            for offset in 0..<9 {
                let value = String(repeating: "x", count: offset) + String(scalar) + String(repeating: "y", count: 9)
                let json = try Fixtures.json(Fixtures.render(PushContent(body: value), .apns))
                #expect(json["aps", "alert"] as? String == value, "\(scalar.unicodeScalars.first!.value) at \(offset)")
            }
        }
    }
}

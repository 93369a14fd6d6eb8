import Foundation
import PushCore
import PushdConfig
import Testing

@Suite("Push text templates")
struct TemplateTests {
    static func sources(_ overrides: [String: String] = [:]) -> [PushLocale: [String: String]] {
        var base: [String: String] = [:]
        for name in PushTextTemplates.Name.allCases { base[name.rawValue] = "[\(name.rawValue)]" }
        base["c2c"] = "{{#nick}}{{nick}}:{{/nick}}{{text}}"
        base["group"] = "{{#nick}}{{nick}}{{/nick}}({{group}}):{{text}}"
        base.merge(overrides) { $1 }
        return [.zh: base, .en: base]
    }

    @Test("An operator's format with sections and inverted sections is honoured for both nickname cases")
    func customFormat() throws {
        let templates = try PushTextTemplates(
            sources: Self.sources(["c2c": "{{#nick}}【{{nick}}】{{/nick}}{{^nick}}新消息：{{/nick}}{{text}}\n"])
        )
        let composer = PushComposer(templates: templates)
        let message = PushMessage(body: try Fixtures.body(#"[{"MsgType":"TIMLocationElem","MsgContent":{"Latitude":1,"Longitude":2}}]"#))
        #expect(composer.compose(message, in: .c2c(senderNick: "Bob"), locale: .zh) == .push(PushContent(body: "【Bob】[TIMLocationElem]")))
        #expect(composer.compose(message, in: .c2c(senderNick: nil), locale: .zh) == .push(PushContent(body: "新消息：[TIMLocationElem]")))
    }

    @Test("A template missing from the default locale is reported by locale and name; another locale borrows it")
    func missingTemplate() throws {
        var sources = Self.sources()
        sources[.zh]?["TIMFaceElem"] = nil
        #expect(throws: PushTextTemplates.Failure(locale: .zh, name: "TIMFaceElem", reason: "missing")) {
            try PushTextTemplates(sources: sources)
        }
        sources = Self.sources()
        sources[.en]?["TIMFaceElem"] = nil
        #expect(try PushTextTemplates(sources: sources).borrowed == [.en: [.face]])
    }

    /// Issue 25, part 4: only zh and en were known; any other device locale got the app default.
    @Test("language tags: canonical case, _ read as -, refused when malformed; fallbacks drop one subtag at a time")
    func languageTags() throws {
        #expect(PushLocale(rawValue: "zh_hant_tw")?.rawValue == "zh-Hant-TW")
        #expect(PushLocale(rawValue: "EN-us")?.rawValue == "en-US")
        #expect(PushLocale(rawValue: "es-419")?.rawValue == "es-419")
        for bad in ["", "z", "zh-", "-zh", "zh--TW", "1a", "zh-Hant-TW-abcdefghi", "zh Hant", "日本", String(repeating: "a", count: 36)] {
            #expect(PushLocale(rawValue: bad) == nil, "\(bad)")
        }
        #expect(try #require(PushLocale(rawValue: "zh-Hant-TW")).fallbacks.map(\.rawValue) == ["zh-Hant-TW", "zh-Hant", "zh"])
        #expect(PushLocale.en.fallbacks == [.en])
    }

    @Test("a device locale uses its own templates, else its shorter tags', else the app default's; a partial folder borrows the rest")
    func localeFallback() throws {
        var sources = Self.sources()
        let hant = try #require(PushLocale(rawValue: "zh-Hant"))
        let ja = try #require(PushLocale(rawValue: "ja"))
        sources[hant] = ["TIMLocationElem": "[位置·繁]"]
        sources[ja] = Self.sources()[.zh]?.mapValues { $0.replacingOccurrences(of: "[", with: "「").replacingOccurrences(of: "]", with: "」") }
        let templates = try PushTextTemplates(sources: sources, defaultLocale: .en)
        let composer = PushComposer(templates: templates)
        let message = PushMessage(
            body: try Fixtures.body(#"[{"MsgType":"TIMLocationElem","MsgContent":{"Latitude":1,"Longitude":2}},{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}}]"#)
        )
        func text(_ tag: String) throws -> PushDecision {
            composer.compose(message, in: .c2c(senderNick: "Bob"), locale: try #require(PushLocale(rawValue: tag)))
        }
        #expect(try text("zh-Hant-TW") == .push(PushContent(body: "Bob:[位置·繁][TIMFaceElem]")), "zh-Hant's own, the rest from zh")
        #expect(try text("ja-JP") == .push(PushContent(body: "Bob:「TIMLocationElem」「TIMFaceElem」")))
        #expect(try text("ko") == .push(PushContent(body: "Bob:[TIMLocationElem][TIMFaceElem]")), "no ko templates: the app default")
        #expect(templates.resolve(try #require(PushLocale(rawValue: "zh-Hant-HK"))) == hant)
        #expect(templates.borrowed[hant]?.count == PushTextTemplates.Name.allCases.count - 1 && templates.borrowed[ja] == nil)
        #expect(templates.parent(of: hant) == .zh)
    }

    @Test("A template that does not parse is reported")
    func badTemplate() {
        #expect(throws: PushTextTemplates.Failure.self) { try PushTextTemplates(sources: Self.sources(["group": "{{#nick}}unclosed"])) }
    }

    @Test("An app's template folder overrides the defaults file by file")
    func appFolderOverrides() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-templates-\(UUID())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("en"), withIntermediateDirectories: true)
        try "[Map]\n".write(to: folder.appendingPathComponent("en/TIMLocationElem.mustache"), atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: folder) }
        let templates = try TemplateLoader.load(defaultFolder: Fixtures.repoRoot + "/Templates", appFolder: folder.path)
        let composer = PushComposer(templates: templates)
        let message = PushMessage(
            body: try Fixtures.body(#"[{"MsgType":"TIMLocationElem","MsgContent":{"Latitude":1,"Longitude":2}},{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}}]"#)
        )
        #expect(composer.compose(message, in: .c2c(senderNick: nil), locale: .en) == .push(PushContent(body: "[Map][Face]")))
        #expect(composer.compose(message, in: .c2c(senderNick: nil), locale: .zh) == .push(PushContent(body: "[位置][表情]")))
    }
}

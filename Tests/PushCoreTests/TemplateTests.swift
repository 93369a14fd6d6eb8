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

    @Test("A missing template is reported by locale and name")
    func missingTemplate() {
        var sources = Self.sources()
        sources[.en]?["TIMFaceElem"] = nil
        #expect(throws: PushTextTemplates.Failure(locale: .en, name: "TIMFaceElem", reason: "missing")) {
            try PushTextTemplates(sources: sources)
        }
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

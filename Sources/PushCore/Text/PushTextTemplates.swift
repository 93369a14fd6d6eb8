import Mustache

/// Device locale for push text.
public enum PushLocale: String, Sendable, CaseIterable, Codable {
    case zh, en
}

/// The push text templates of one app: element placeholders and prefix formats per locale,
/// compiled once.
///
/// Sources are swift-mustache templates (plain text, nothing is HTML-escaped). Placeholders take no
/// variables. The prefix formats `c2c` and `group` see `nick` (absent when the sender has none),
/// `group` (the group name, or its GroupId) and `text` (the push text).
///
/// Compiling renders each format once per nickname presence with marker values and keeps the
/// literal pieces between the markers, so a push costs a few string appends, not a template walk.
/// That is exact for any logic-less template: its output depends on whether a value is present,
/// never on what the value is.
public struct PushTextTemplates: Sendable {
    /// Template names, also the file names under `Templates/<locale>/` (with `.mustache`).
    public enum Name: String, Sendable, CaseIterable {
        case location = "TIMLocationElem"
        case face = "TIMFaceElem"
        case image = "TIMImageElem"
        case sound = "TIMSoundElem"
        case file = "TIMFileElem"
        case video = "TIMVideoFileElem"
        case relay = "TIMRelayElem"
        case c2c
        case group
    }

    /// A template that failed to compile or is missing.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var locale: PushLocale
        public var name: String
        public var reason: String
        public init(locale: PushLocale, name: String, reason: String) {
            self.locale = locale
            self.name = name
            self.reason = reason
        }

        public var description: String { "template \(locale.rawValue)/\(name).mustache: \(reason)" }
    }

    let zh: LocaleTemplates
    let en: LocaleTemplates

    /// Compiles templates from sources keyed by locale and template name.
    ///
    /// - Parameter sources: `[locale: [name: mustache source]]`; every name of ``Name`` is required
    ///   for both locales.
    public init(sources: [PushLocale: [String: String]]) throws(Failure) {
        zh = try LocaleTemplates(locale: .zh, sources: sources[.zh] ?? [:])
        en = try LocaleTemplates(locale: .en, sources: sources[.en] ?? [:])
    }

    
    func templates(for locale: PushLocale) -> LocaleTemplates {
        switch locale {
        case .zh: zh
        case .en: en
        }
    }
}

/// The compiled templates of one locale.
struct LocaleTemplates: Sendable {
    let location, face, image, sound, file, video, relay: String
    let c2cWithNick, c2cWithoutNick, groupWithNick, groupWithoutNick: TextFormat

    init(locale: PushLocale, sources: [String: String]) throws(PushTextTemplates.Failure) {
        func template(_ name: PushTextTemplates.Name) throws(PushTextTemplates.Failure) -> MustacheTemplate {
            guard var source = sources[name.rawValue] else {
                throw .init(locale: locale, name: name.rawValue, reason: "missing")
            }
            // A template file ends with a newline that is not part of the text.
            if source.hasSuffix("\r\n") { source.removeLast(2) } else if source.hasSuffix("\n") { source.removeLast() }
            do {
                return try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source)
            } catch {
                throw .init(locale: locale, name: name.rawValue, reason: "does not parse: \(error)")
            }
        }
        func constant(_ name: PushTextTemplates.Name) throws(PushTextTemplates.Failure) -> String {
            try template(name).render([String: String]())
        }
        location = try constant(.location)
        face = try constant(.face)
        image = try constant(.image)
        sound = try constant(.sound)
        file = try constant(.file)
        video = try constant(.video)
        relay = try constant(.relay)
        let c2c = try template(.c2c)
        let group = try template(.group)
        c2cWithNick = TextFormat(compiling: c2c, withNick: true)
        c2cWithoutNick = TextFormat(compiling: c2c, withNick: false)
        groupWithNick = TextFormat(compiling: group, withNick: true)
        groupWithoutNick = TextFormat(compiling: group, withNick: false)
    }
}

/// A prefix format reduced to literal pieces and holes for the nickname, group and text.
struct TextFormat: Sendable {
    enum Piece: Sendable, Equatable {
        case literal(String)
        case nick, group, text
    }

    let pieces: [Piece]
    private let literalLength: Int

    private static let markers: [(Unicode.Scalar, Piece)] = [
        ("\u{F0000}", .nick), ("\u{F0001}", .group), ("\u{F0002}", .text),
    ]

    init(compiling template: MustacheTemplate, withNick: Bool) {
        var context: [String: String] = ["group": "\u{F0001}", "text": "\u{F0002}"]
        if withNick { context["nick"] = "\u{F0000}" }
        let rendered = template.render(context)
        var pieces: [Piece] = []
        var literal = String.UnicodeScalarView()
        for scalar in rendered.unicodeScalars {
            if let marker = Self.markers.first(where: { $0.0 == scalar }) {
                if !literal.isEmpty { pieces.append(.literal(String(literal))) }
                literal = String.UnicodeScalarView()
                pieces.append(marker.1)
            } else {
                literal.append(scalar)
            }
        }
        if !literal.isEmpty { pieces.append(.literal(String(literal))) }
        self.pieces = pieces
        literalLength = pieces.reduce(0) { if case .literal(let s) = $1 { $0 + s.utf8.count } else { $0 } }
    }

    /// Fills the holes.
    func apply(nick: String, group: String, text: String) -> String {
        var out = ""
        out.reserveCapacity(literalLength + nick.utf8.count + group.utf8.count + text.utf8.count)
        for piece in pieces {
            switch piece {
            case .literal(let s): out += s
            case .nick: out += nick
            case .group: out += group
            case .text: out += text
            }
        }
        return out
    }
}

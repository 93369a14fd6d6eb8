import Mustache

/// The locale of a device or an app's default: a BCP 47 language tag (`zh`, `en`, `ja`,
/// `zh-Hant`, `zh-Hant-TW`), kept in its canonical case (language lower, script title, region
/// upper) with `-` between subtags; `_` is read as `-`.
public struct PushLocale: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public static let zh = PushLocale(canonical: "zh")
    public static let en = PushLocale(canonical: "en")
    /// At most 35 characters, as BCP 47's longest registered tags.
    public static let maxLength = 35

    private init(canonical: String) { rawValue = canonical }

    /// Nil unless `rawValue` is a language (2 to 8 ASCII letters) followed by subtags of 1 to 8 ASCII
    /// letters or digits.
    public init?(rawValue: String) {
        guard (2...Self.maxLength).contains(rawValue.utf8.count) else { return nil }
        let subtags = rawValue.split(separator: "-", omittingEmptySubsequences: false).flatMap {
            $0.split(separator: "_", omittingEmptySubsequences: false)
        }
        guard let language = subtags.first, (2...8).contains(language.utf8.count), language.utf8.allSatisfy(Self.isLetter) else { return nil }
        var canonical = language.lowercased()
        for subtag in subtags.dropFirst() {
            guard (1...8).contains(subtag.utf8.count), subtag.utf8.allSatisfy({ Self.isLetter($0) || (48...57).contains($0) }) else { return nil }
            let text = String(subtag)
            switch text.utf8.count {
            case 4 where text.utf8.allSatisfy(Self.isLetter): canonical += "-" + text.prefix(1).uppercased() + text.dropFirst().lowercased()
            case 2 where text.utf8.allSatisfy(Self.isLetter): canonical += "-" + text.uppercased()
            default: canonical += "-" + text.lowercased()
            }
        }
        self.rawValue = canonical
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }

    /// Itself, then each shorter tag down to the language: `zh-Hant-TW`, `zh-Hant`, `zh`.
    public var fallbacks: [PushLocale] {
        var tags = [self]
        var text = rawValue[...]
        while let dash = text.lastIndex(of: "-") {
            text = text[..<dash]
            tags.append(PushLocale(canonical: String(text)))
        }
        return tags
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let locale = PushLocale(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a language tag: \(text)"))
        }
        self = locale
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
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

    private let byLocale: [PushLocale: LocaleTemplates]
    private let fallback: LocaleTemplates
    /// The app's default locale: what a locale without templates of its own falls back to.
    public let defaultLocale: PushLocale
    /// Per locale, the templates it lacks and takes from a shorter tag or the default locale.
    public let borrowed: [PushLocale: [Name]]

    /// Compiles templates from sources keyed by locale and template name.
    ///
    /// - Parameter sources: `[locale: [name: mustache source]]`. Every name of ``Name`` is required
    ///   for `defaultLocale`; another locale takes a name it lacks from its shorter tags
    ///   (`zh-Hant-TW` from `zh-Hant`, then `zh`), else from the default locale.
    public init(sources: [PushLocale: [String: String]], defaultLocale: PushLocale = .zh) throws(Failure) {
        self.defaultLocale = defaultLocale
        let base = sources[defaultLocale] ?? [:]
        var compiled: [PushLocale: LocaleTemplates] = [:]
        var borrowed: [PushLocale: [Name]] = [:]
        fallback = try LocaleTemplates(locale: defaultLocale, sources: base)
        compiled[defaultLocale] = fallback
        for (locale, own) in sources where locale != defaultLocale {
            var merged = base
            for tag in locale.fallbacks.reversed() { merged.merge(sources[tag] ?? [:]) { $1 } }
            let lacking = Name.allCases.filter { own[$0.rawValue] == nil }
            if !lacking.isEmpty { borrowed[locale] = lacking }
            compiled[locale] = try LocaleTemplates(locale: locale, sources: merged)
        }
        byLocale = compiled
        self.borrowed = borrowed
    }

    /// The locales with templates of their own.
    public var locales: [PushLocale] { byLocale.keys.sorted { $0.rawValue < $1.rawValue } }

    /// The templates for a device's locale: its own, else those of its shorter tags, else the
    /// default locale's.
    func templates(for locale: PushLocale) -> LocaleTemplates {
        byLocale[resolve(locale)] ?? fallback
    }

    /// The locale whose templates a device's locale uses.
    public func resolve(_ locale: PushLocale) -> PushLocale {
        locale.fallbacks.first { byLocale[$0] != nil } ?? defaultLocale
    }

    /// Where a locale's missing templates come from: its nearest shorter tag with templates, else
    /// the default locale.
    public func parent(of locale: PushLocale) -> PushLocale {
        locale.fallbacks.dropFirst().first { byLocale[$0] != nil } ?? defaultLocale
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

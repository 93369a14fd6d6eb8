/// Shortening text to a vendor's limit without splitting a UTF-8 sequence or a grapheme cluster.
public enum Truncation {
    /// Appended to shortened text.
    public static let ellipsis: Character = "…"

    /// How a limit counts text.
    public enum Measure: Sendable {
        /// UTF-16 code units, as Java's `String.length()` counts the "characters" of the Android
        /// vendors' limits; never fewer than the grapheme clusters, so a fit here fits there too.
        case utf16
        /// Bytes of UTF-8.
        case utf8
        /// Bytes inside a JSON string literal (escapes included).
        case jsonEscaped
        /// vivo's units: an ASCII character one, any other character two per UTF-16 unit (a
        /// Chinese character two; the strict reading for emoji).
        case wideAsTwo

        
        /// The cost of one grapheme cluster.
        public func cost(of character: Character) -> Int {
            switch self {
            case .utf16: character.utf16.count
            case .utf8: character.utf8.count
            case .jsonEscaped: JSONWriter.escapedLength(of: character)
            case .wideAsTwo: character.isASCII ? 1 : 2 * character.utf16.count
            }
        }

        
        /// The cost of a whole text.
        public func cost(of text: String) -> Int {
            switch self {
            case .utf16: text.utf16.count
            case .utf8: text.utf8.count
            case .jsonEscaped: JSONWriter.escapedLength(of: text)
            case .wideAsTwo: text.reduce(0) { $0 + cost(of: $1) }
            }
        }
    }

    /// `text` itself when it fits `budget`; otherwise its longest prefix of whole grapheme clusters
    /// that fits together with ``ellipsis``. `nil` when not even the ellipsis fits.
    public static func truncate(_ text: String, toFit budget: Int, measuredIn measure: Measure) -> String? {
        if measure.cost(of: text) <= budget { return text }
        let room = budget - measure.cost(of: ellipsis)
        if room < 0 { return nil }
        var used = 0
        var end = text.startIndex
        for index in text.indices {
            let cost = measure.cost(of: text[index])
            if used + cost > room { break }
            used += cost
            end = text.index(after: index)
        }
        var shortened = String(text[..<end])
        shortened.append(ellipsis)
        return shortened
    }

    /// Shortens to a character limit; an empty budget yields an empty string.
    static func limit(_ text: String, to maxUnits: Int, measuredIn measure: Measure = .utf16) -> String {
        truncate(text, toFit: maxUnits, measuredIn: measure) ?? ""
    }
}

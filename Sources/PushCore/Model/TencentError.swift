/// A refusal with a Tencent-style error code and a message that names the offending field.
///
/// Codes follow Tencent IM's REST API: 90001 (bad JSON), 90002 (`MsgBody` not valid),
/// 90005 (`MsgRandom`), and so on. The HTTP layer turns it into the `ActionStatus`/`ErrorCode`/
/// `ErrorInfo` envelope.
public struct TencentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var message: String

    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// JSON that does not parse, or a field of the wrong type outside `MsgBody`.
    public static let jsonParseCode = 90001
    /// `MsgBody` is not a valid list of message elements.
    public static let invalidMsgBodyCode = 90002

    /// Maps a `DecodingError` to a Tencent error naming the field path, e.g. `MsgBody[1].MsgContent.Text`.
    public init(decoding error: DecodingError) {
        let (path, detail): ([any CodingKey], String)
        switch error {
        case .typeMismatch(let type, let context):
            path = context.codingPath
            detail = "must be \(Self.article(for: type))"
        case .valueNotFound(let type, let context):
            path = context.codingPath
            detail = "must be \(Self.article(for: type)), found null"
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
            detail = "is required"
        case .dataCorrupted(let context):
            path = context.codingPath
            detail = path.isEmpty ? "body is not valid JSON" : "is not valid: \(context.debugDescription)"
        @unknown default:
            path = []
            detail = "is not valid"
        }
        let field = FieldPath.render(path)
        let code = field.hasPrefix("MsgBody") ? Self.invalidMsgBodyCode : Self.jsonParseCode
        self.init(code: code, message: field.isEmpty ? detail : "\(field) \(detail)")
    }

    private static func article(for type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is UInt32.Type, is UInt64.Type, is Int32.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a valid \(name)"
        }
    }
}

/// Renders a coding path the way Tencent's docs name fields: `MsgBody[0].MsgContent.Text`.
enum FieldPath {
    static func render(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out
    }
}

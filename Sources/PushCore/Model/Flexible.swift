/// An integer that some SDKs send as a JSON string (`"1"`), e.g. `VIVOClassification`.
public struct FlexibleInt: Codable, Sendable, Equatable, ExpressibleByIntegerLiteral {
    public var value: Int

    public init(_ value: Int) { self.value = value }
    public init(integerLiteral value: Int) { self.value = value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            value = number
        } else if let text = try? container.decode(String.self),
            let number = Int(text)
        {
            value = number
        } else {
            throw DecodingError.typeMismatch(
                Int.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected an integer or a numeric string")
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

extension Optional where Wrapped == String {
    /// The string when it is present and not empty.
    var nonEmpty: String? {
        switch self {
        case .some(let s) where !s.isEmpty: return s
        default: return nil
        }
    }
}

extension String {
    /// The string unless it is empty.
    var nonEmpty: String? { isEmpty ? nil : self }
}

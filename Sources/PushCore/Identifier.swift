/// Identifiers (user IDs, group IDs, device IDs, tokens) are the same only when their UTF-8 bytes
/// are, as SQLite and PostgreSQL compare them. Swift's `==` on `String` is canonical equivalence:
/// `"josé"` (U+00E9) equals `"jose\u{301}"`, two different accounts.
extension StringProtocol {
    /// True when both strings are the same UTF-8 bytes.
    @inlinable public func sameBytes(as other: some StringProtocol) -> Bool {
        utf8.elementsEqual(other.utf8)
    }
}

/// A string used as a key by its bytes: for sets and dictionaries of identifiers, where `String`'s
/// own hashing would fold canonically equivalent but different accounts into one entry.
public struct ExactString: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var value: String

    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }

    public var description: String { value }

    public static func == (a: ExactString, b: ExactString) -> Bool { a.value.sameBytes(as: b.value) }

    public func hash(into hasher: inout Hasher) {
        // One call over the contiguous UTF-8 of a native string (the common case), not one per byte.
        let hashed: Void? = value.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { Array(value.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
        hasher.combine(value.utf8.count)
    }
}

extension Sequence<String> {
    /// The strings as a set compared by bytes.
    public var exactSet: Set<ExactString> { Set(map { ExactString($0) }) }
}

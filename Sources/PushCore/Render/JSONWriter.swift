/// Writes compact JSON straight into a raw byte buffer, for vendor payloads on the hot path.
///
/// Hand-written rather than `JSONEncoder` because rendering runs once per device: it must not box
/// values, sort keys, or pay an `Array` uniqueness and capacity check per byte. Each token makes
/// one capacity check and then plain stores. Commas are inserted automatically; call sites read
/// like the payload they produce. Noncopyable: the buffer has exactly one owner and is freed once.
public struct JSONWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written so far.
    private(set) var count = 0
    private var needsComma = false

    public init(capacity: Int = 512) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The JSON written.
    public consuming func finish() -> [UInt8] {
        Array(UnsafeBufferPointer(start: base, count: count))
    }

    /// The JSON written, as a string (for JSON embedded in a form field or another JSON string).
    consuming func finishString() -> String {
        String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }

    public mutating func beginObject() { punctuation(UInt8(ascii: "{")) }
    public mutating func endObject() { closing(UInt8(ascii: "}")) }
    public mutating func beginArray() { punctuation(UInt8(ascii: "[")) }
    public mutating func endArray() { closing(UInt8(ascii: "]")) }

    /// Writes `"key":` for a key known only at run time.
    public mutating func key(_ key: String) {
        string(key)
        reserve(1)
        put(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a value that is JSON already: a number's text, `null`, or a serialised fragment.
    public mutating func raw(_ json: some Collection<UInt8>) {
        reserve(json.count + 1)
        if needsComma { put(UInt8(ascii: ",")) }
        let copied = json.withContiguousStorageIfAvailable { bytes in
            if let start = bytes.baseAddress { (base + count).update(from: start, count: bytes.count) }
            count += bytes.count
        }
        if copied == nil {
            for byte in json { put(byte) }
        }
        needsComma = true
    }

    /// Writes `"key":` and leaves the writer ready for the value.
    mutating func key(_ key: StaticString) {
        let length = key.utf8CodeUnitCount
        reserve(length + 4)
        if needsComma { put(UInt8(ascii: ",")) }
        put(UInt8(ascii: "\""))
        (base + count).update(from: key.utf8Start, count: length)
        count += length
        put(UInt8(ascii: "\""))
        put(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            reserve(utf8.count * 6 + 3)
            // A local cursor: stores through it cannot be mistaken for stores to `count`.
            var out = base + count
            if needsComma {
                out.pointee = UInt8(ascii: ",")
                out += 1
            }
            out.pointee = UInt8(ascii: "\"")
            out += 1
            var runStart = 0
            var i = 0
            let raw = UnsafeRawPointer(utf8.baseAddress!)
            while i < utf8.count {
                // Eight bytes at a time while none needs escaping.
                if i + 8 <= utf8.count, !Self.needsEscape(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                    i += 8
                    continue
                }
                let byte = utf8[i]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    i += 1
                    continue
                }
                out.update(from: utf8.baseAddress! + runStart, count: i - runStart)
                out += i - runStart
                out = Self.writeEscape(byte, at: out)
                i += 1
                runStart = i
            }
            if runStart < utf8.count {
                out.update(from: utf8.baseAddress! + runStart, count: utf8.count - runStart)
                out += utf8.count - runStart
            }
            out.pointee = UInt8(ascii: "\"")
            count = out + 1 - base
        }
        needsComma = true
    }

    public mutating func int(_ value: Int) {
        reserve(22)
        if needsComma { put(UInt8(ascii: ",")) }
        count += Self.writeDecimal(value, to: base + count)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        reserve(6)
        if needsComma { put(UInt8(ascii: ",")) }
        let text: StaticString = value ? "true" : "false"
        (base + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
        needsComma = true
    }

    mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// Writes `"name":["token",…]`, a vendor's token list.
    mutating func field(_ name: StaticString, tokenList tokens: [String]) {
        key(name)
        beginArray()
        for token in tokens { string(token) }
        endArray()
    }

    /// Writes the field only when the value is present and not empty.
    mutating func field(_ name: StaticString, ifPresent value: String?) {
        if let value, !value.isEmpty { field(name, value) }
    }

    // MARK: Buffer

    private mutating func punctuation(_ byte: UInt8) {
        reserve(2)
        if needsComma { put(UInt8(ascii: ",")) }
        put(byte)
        needsComma = false
    }

    private mutating func closing(_ byte: UInt8) {
        reserve(1)
        put(byte)
        needsComma = true
    }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(extra) }
    }

    /// The only place the buffer grows.
    @inline(never)
    private mutating func grow(_ extra: Int) {
        let newCapacity = max(capacity * 2, count + extra)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Stores one byte; the caller has reserved room.
    @inline(__always)
    private mutating func put(_ byte: UInt8) {
        base[count] = byte
        count += 1
    }

    /// Whether any of eight bytes is a control character, `"` or `\` (exact word-at-a-time tests
    /// for "has a byte less than 0x20" and "has a zero byte" after XOR with the quote and backslash).
    @inline(__always)
    static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let quoteZero = (quote &- ones) & ~quote & highs
        let backslashZero = (backslash &- ones) & ~backslash & highs
        return (control | quoteZero | backslashZero) != 0
    }

    /// Writes the escape sequence of `byte` at `out`; returns the position after it.
    private static func writeEscape(_ byte: UInt8, at out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        out[0] = UInt8(ascii: "\\")
        let short: UInt8
        switch byte {
        case UInt8(ascii: "\""): short = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): short = UInt8(ascii: "\\")
        case 0x0A: short = UInt8(ascii: "n")
        case 0x0D: short = UInt8(ascii: "r")
        case 0x09: short = UInt8(ascii: "t")
        case 0x08: short = UInt8(ascii: "b")
        case 0x0C: short = UInt8(ascii: "f")
        default:
            let hex: StaticString = "0123456789abcdef"
            out[1] = UInt8(ascii: "u")
            out[2] = UInt8(ascii: "0")
            out[3] = UInt8(ascii: "0")
            out[4] = hex.utf8Start[Int(byte >> 4)]
            out[5] = hex.utf8Start[Int(byte & 0xF)]
            return out + 6
        }
        out[1] = short
        return out + 2
    }

    // MARK: Helpers

    /// Writes the decimal digits of `value` at `out` (room for 20 digits and a sign); returns the length.
    static func writeDecimal(_ value: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, no allocation
        return withUnsafeMutableBytes(of: &digits) { scratch in
            var index = 24
            repeat {
                index -= 1
                scratch[index] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            var length = 0
            if value < 0 {
                out[0] = UInt8(ascii: "-")
                length = 1
            }
            for i in index..<24 {
                out[length] = scratch[i]
                length += 1
            }
            return length
        }
    }

    /// Decimal text of an integer without going through `description` (hot path: headers, ttl).
    static func decimal(_ value: Int) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            let length = writeDecimal(value, to: buffer.baseAddress!)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<length]), as: UTF8.self)
        }
    }

    /// The bytes one character takes inside a JSON string literal.
    static func escapedLength(of character: Character) -> Int {
        escapedLength(of: character.utf8)
    }

    /// The bytes `value` takes inside a JSON string literal, quotes excluded.
    static func escapedLength(of value: String) -> Int {
        escapedLength(of: value.utf8)
    }

    private static func escapedLength(of utf8: some Sequence<UInt8>) -> Int {
        var length = 0
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09, 0x08, 0x0C: length += 2
            case 0..<0x20: length += 6
            default: length += 1
            }
        }
        return length
    }
}

/// JSON string literals for code outside the renderers that splices JSON by hand.
public enum JSONText {
    /// `value` as a quoted, escaped JSON string literal.
    public static func quoted(_ value: String) -> String {
        var writer = JSONWriter(capacity: value.utf8.count + 8)
        writer.string(value)
        return writer.finishString()
    }
}

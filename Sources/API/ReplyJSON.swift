import Foundation
import PushCore

/// The free-form fields of a reply (`ErrorList`, `MsgList`, statistics) as commands build them
/// from Swift values, or as `JSONSerialization.jsonObject` parsed them (a roamed `MsgBody` is
/// echoed as it was stored), written as compact JSON.
///
/// Not `JSONSerialization.data`: on Linux that bridges every dictionary to `NSDictionary` and
/// casts every value through Objective-C bridging.
enum ReplyJSON {

    /// The JSON of `value`, with keys sorted when asked (equal trees give equal bytes); nil when
    /// it holds something JSON cannot (a non-finite number, a non-JSON type).
    static func data(_ value: Any, sortedKeys: Bool = false) -> Data? {
        var writer = JSONWriter(capacity: 256)
        guard write(value, to: &writer, sortedKeys: sortedKeys) else { return nil }
        return Data(writer.finish())
    }

    static func write(_ value: Any, to writer: inout JSONWriter, sortedKeys: Bool) -> Bool {
        switch value {
        case let text as String:
            writer.string(text)
        case let object as [String: Any]:
            writer.beginObject()
            if sortedKeys {
                for (key, item) in object.sorted(by: { $0.key < $1.key }) {
                    writer.key(key)
                    guard write(item, to: &writer, sortedKeys: true) else { return false }
                }
            } else {
                for (key, item) in object {
                    writer.key(key)
                    guard write(item, to: &writer, sortedKeys: false) else { return false }
                }
            }
            writer.endObject()
        case let array as [Any]:
            writer.beginArray()
            for item in array {
                guard write(item, to: &writer, sortedKeys: sortedKeys) else { return false }
            }
            writer.endArray()
        case let number as NSNumber:
            return write(number, to: &writer)
        case is NSNull:
            writer.raw("null".utf8)
        default:
            return false
        }
        return true
    }

    /// Booleans as `true`/`false`, integers exactly, other numbers in their shortest round-trip form.
    static func write(_ number: NSNumber, to writer: inout JSONWriter) -> Bool {
        switch UInt8(bitPattern: number.objCType.pointee) {
        case UInt8(ascii: "c"), UInt8(ascii: "B"):
            writer.bool(number.boolValue)
        case UInt8(ascii: "d"), UInt8(ascii: "f"):
            let double = number.doubleValue
            guard double.isFinite else { return false }
            writer.raw(double.description.utf8)
        case UInt8(ascii: "Q"), UInt8(ascii: "L"), UInt8(ascii: "I"), UInt8(ascii: "S"), UInt8(ascii: "C"):
            writer.raw(String(number.uint64Value).utf8)
        default:
            writer.int(Int(number.int64Value))
        }
        return true
    }
}

import CNGHTTP2
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// A request's header fields, copied once into one buffer and handed to nghttp2 as name-value
/// pairs pointing into it (nghttp2 copies them when the request is submitted).
struct HeaderBlock {
    private var bytes: [UInt8] = []
    private var fields: [(nameLength: Int, valueLength: Int, flags: UInt8)] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity * 48)
        fields.reserveCapacity(capacity)
    }

    mutating func add(_ name: String, _ value: String, flags: UInt8 = 0) {
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: value.utf8)
        fields.append((name.utf8.count, value.utf8.count, flags))
    }

    /// Calls `body` with the fields as nghttp2 name-value pairs, valid for the call.
    mutating func withNameValuePairs<R>(_ body: (UnsafeBufferPointer<nghttp2_nv>) -> R) -> R {
        let fields = fields
        return bytes.withUnsafeMutableBufferPointer { storage in
            var pairs: [nghttp2_nv] = []
            pairs.reserveCapacity(fields.count)
            var next = storage.baseAddress!
            for field in fields {
                pairs.append(nghttp2_nv(name: next, value: next + field.nameLength, namelen: field.nameLength, valuelen: field.valueLength, flags: field.flags))
                next += field.nameLength + field.valueLength
            }
            return pairs.withUnsafeBufferPointer(body)
        }
    }
}

/// Fits a JSON payload to a byte limit by shortening the notification text.
enum PayloadFitting {
    /// Writes the payload with `text`; while the bytes the vendor counts exceed `limit`, shortens
    /// the text by the overflow and writes again. Text that appears twice (body and big body)
    /// converges in a second round.
    ///
    /// - Parameter write: renders the payload and says how many of its bytes count toward the limit
    ///   (all of them for APNs; `notification` + `data` for FCM; all but the tokens for Huawei).
    static func fit(
        _ text: String, vendor: Vendor, limit: Int, write: (String) -> (bytes: [UInt8], counted: Int)
    ) throws(RenderError) -> [UInt8] {
        var text = text
        var (bytes, counted) = write(text)
        var rounds = 0
        while counted > limit {
            let overflow = counted - limit
            let budget = JSONWriter.escapedLength(of: text) - overflow
            guard rounds < 4, budget >= 0,
                let shorter = Truncation.truncate(text, toFit: budget, measuredIn: .jsonEscaped), shorter != text
            else {
                throw .payloadTooLarge(vendor: vendor, limit: limit, size: counted)
            }
            text = shorter
            (bytes, counted) = write(text)
            rounds += 1
        }
        return bytes
    }

    /// The passthrough as Android vendors receive it: `{"ext":"<Ext>"}`.
    static func extObject(_ ext: String) -> String {
        var writer = JSONWriter(capacity: ext.utf8.count + 16)
        writer.beginObject()
        writer.field("ext", ext)
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

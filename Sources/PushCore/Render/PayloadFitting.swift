/// Fits a JSON payload to a byte limit by shortening the notification text.
enum PayloadFitting {
    /// Writes the payload with `text`; when the bytes the vendor counts exceed `limit`, shortens
    /// the text to what is left once the rest of the payload is paid for, shared among the places
    /// the text appears (body and big body), and writes again.
    ///
    /// - Parameter write: renders the payload and says how many of its bytes count toward the limit
    ///   (all of them for APNs; `notification` + `data` for FCM; all but the tokens for Huawei).
    static func fit(
        _ text: String, vendor: Vendor, limit: Int, write: (String) -> (bytes: [UInt8], counted: Int)
    ) throws(RenderError) -> [UInt8] {
        let (bytes, counted) = write(text)
        if counted <= limit { return bytes }
        let fixed = write("").counted
        let textCost = max(JSONWriter.escapedLength(of: text), 1)
        let occurrences = max(1, (counted - fixed + textCost / 2) / textCost)
        let budget = (limit - fixed) / occurrences
        guard budget >= 0, let shorter = Truncation.truncate(text, toFit: budget, measuredIn: .jsonEscaped) else {
            throw .payloadTooLarge(vendor: vendor, limit: limit, size: counted)
        }
        let fitted = write(shorter)
        guard fitted.counted <= limit else {
            throw .payloadTooLarge(vendor: vendor, limit: limit, size: fitted.counted)
        }
        return fitted.bytes
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

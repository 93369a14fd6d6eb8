/// A renderer whose JSON payload has a byte limit that the notification text must fit.
protocol SizedPayloadRenderer {
    static var vendor: Vendor { get }
    static var payloadLimit: Int { get }
    /// The payload with `body` as the notification text, and how many of its bytes count toward the
    /// limit (all of them for APNs; `notification` + `data` for FCM; all but the tokens for Huawei).
    func payload(_ content: PushContent, body: String, target: PushTarget) -> (bytes: [UInt8], counted: Int)
}

/// Fits a JSON payload to a byte limit by shortening the notification text.
enum PayloadFitting {
    /// Writes the payload with the full text; when the bytes the vendor counts exceed its limit,
    /// shortens the text to what is left once the rest of the payload is paid for, shared among the
    /// places the text appears (body and big body), and writes again.
    static func fit<R: SizedPayloadRenderer>(
        _ renderer: R, _ content: PushContent, _ target: PushTarget
    ) throws(RenderError) -> [UInt8] {
        let (bytes, counted) = renderer.payload(content, body: content.body, target: target)
        let limit = R.payloadLimit
        if counted <= limit { return bytes }
        let fixed = renderer.payload(content, body: "", target: target).counted
        let textCost = max(JSONWriter.escapedLength(of: content.body), 1)
        let occurrences = max(1, (counted - fixed + textCost / 2) / textCost)
        let budget = (limit - fixed) / occurrences
        guard budget >= 0, let shorter = Truncation.truncate(content.body, toFit: budget, measuredIn: .jsonEscaped) else {
            throw .payloadTooLarge(vendor: R.vendor, limit: limit, size: counted)
        }
        let fitted = renderer.payload(content, body: shorter, target: target)
        guard fitted.counted <= limit else {
            throw .payloadTooLarge(vendor: R.vendor, limit: limit, size: fitted.counted)
        }
        return fitted.bytes
    }

    /// The passthrough as Android vendors receive it: `{"ext":"<Ext>"}`.
    static func extObject(_ ext: String) -> String {
        var writer = JSONWriter(capacity: ext.utf8.count + 16)
        writer.beginObject()
        writer.field("ext", ext)
        writer.endObject()
        return writer.finishString()
    }
}

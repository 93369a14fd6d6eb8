import Foundation
import PushCore

/// A vendor request as JSON for people: headers as an object, JSON bodies parsed, form bodies as fields.
public enum RequestPreview {
    public static func json(_ request: VendorRequest) -> [String: Any] {
        var headers: [String: String] = [:]
        for header in request.headers { headers[header.name] = header.value }
        var out: [String: Any] = [
            "vendor": request.vendor.rawValue, "method": request.method, "path": request.path, "headers": headers,
            "size": request.body.bytes.count,
        ]
        switch request.body {
        case .json(let bytes):
            out["body"] = (try? JSONSerialization.jsonObject(with: Data(bytes))) ?? String(decoding: bytes, as: UTF8.self)
        case .form(let fields):
            var form: [String: String] = [:]
            for field in fields { form[field.name] = field.value }
            out["form"] = form
            out["body"] = FormEncoding.encode(fields)
        }
        return out
    }
}

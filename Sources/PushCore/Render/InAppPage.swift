/// The in-app page a Huawei or Honor notification opens (`click_action` type 1), from the app's
/// settings: an intent URI (`intent://…#Intent;…;end`), an action name, or both. Without one a
/// notification opens the app (type 3) and `Ext` travels in `data` only.
public struct InAppPage: Sendable, Equatable {
    public var intent: String
    public var action: String

    public init(intent: String = "", action: String = "") {
        self.intent = intent
        self.action = action
    }

    /// What a click does.
    public enum Click: Sendable, Equatable {
        case openApp
        case intent(String)
        case action(String)
    }

    /// The click for a push (002 `ExtAsHuaweiIntentParam`): `1` puts `Ext` in the page's intent as
    /// the string extra `ext`; `0` (the default) opens the page by its action, `Ext` staying in
    /// `data`. A page given only as an intent opens by that intent, with `Ext`, either way.
    public func click(ext: String?, extAsIntentParameter: Bool) -> Click {
        guard !intent.isEmpty || !action.isEmpty else { return .openApp }
        if !action.isEmpty, !extAsIntentParameter { return .action(action) }
        return .intent(intentURI(ext: ext))
    }

    /// The page's intent URI with `S.ext=<Ext>` before its closing `end`; one built from the action
    /// when the settings give no intent.
    func intentURI(ext: String?) -> String {
        let base = intent.isEmpty ? "intent:#Intent;action=\(action);launchFlags=0x4000000;end" : intent
        guard let ext, base.hasSuffix(";end") else { return base }
        return String(base.dropLast(3)) + "S.ext=" + FormEncoding.escape(ext) + ";end"
    }

    /// Whether `text` is an intent URI Android's `Intent.parseUri` takes and that opens a page: a
    /// `#Intent;…;end` part naming an action, a component or a scheme.
    public static func isIntentURI(_ text: String) -> Bool {
        guard let marker = text.range(of: "#Intent;"), text.hasSuffix(";end"), !text.contains(where: \.isWhitespace) else { return false }
        return text[marker.upperBound...].split(separator: ";").contains { part in
            part.hasPrefix("action=") || part.hasPrefix("component=") || part.hasPrefix("scheme=")
        }
    }

    /// Whether `text` is an Android action name: dot-separated letters, digits and underscores.
    public static func isActionName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default: false
            }
        }
    }
}

extension JSONWriter {
    /// Huawei's `click_action` and Honor's `clickAction` object: type 1 with `intent` or `action`,
    /// type 3 to open the app.
    mutating func click(_ click: InAppPage.Click) {
        beginObject()
        switch click {
        case .openApp:
            field("type", 3)
        case .intent(let intent):
            field("type", 1)
            field("intent", intent)
        case .action(let action):
            field("type", 1)
            field("action", action)
        }
        endObject()
    }
}

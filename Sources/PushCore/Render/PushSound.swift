/// Push sounds as the vendors take them (push-rules.md section 4).
public enum PushSound {
    /// Tencent's name for "no sound at all".
    public static let silent = "push.no_sound"

    /// The APNs `sound`: the given name, `default` (the system sound, Tencent's default) when none
    /// was given, nil (no `sound` key) for `push.no_sound`.
    public static func apns(_ name: String?) -> String? {
        guard let name, !name.isEmpty else { return "default" }
        return name == silent ? nil : name
    }

    /// The Android raw resource of a sound file: its name without the extension (`android.mp3` →
    /// `android`); nil when none was given, for `push.no_sound`, or when nothing is left.
    public static func androidResource(_ name: String?) -> String? {
        guard let name, !name.isEmpty, name != silent else { return nil }
        let base = name.utf8.lastIndex(of: UInt8(ascii: ".")).map { String(name[..<$0]) } ?? name
        return base.isEmpty ? nil : base
    }
}

import Foundation
import PushCore

/// Reads push text templates from disk: `<folder>/<locale>/<name>.mustache`.
public enum TemplateLoader {
    /// Compiles the default templates, overridden file by file by an app's own folder.
    public static func load(defaultFolder: String, appFolder: String = "") throws(PushTextTemplates.Failure) -> PushTextTemplates {
        var sources: [PushLocale: [String: String]] = [:]
        for locale in PushLocale.allCases {
            var files: [String: String] = [:]
            for name in PushTextTemplates.Name.allCases {
                let file = "\(locale.rawValue)/\(name.rawValue).mustache"
                if !appFolder.isEmpty, let text = read(appFolder + "/" + file) {
                    files[name.rawValue] = text
                } else if let text = read(defaultFolder + "/" + file) {
                    files[name.rawValue] = text
                }
            }
            sources[locale] = files
        }
        do {
            return try PushTextTemplates(sources: sources)
        } catch {
            var failure = error
            if failure.reason == "missing" { failure.reason = "missing from \(defaultFolder)" }
            throw failure
        }
    }

    private static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}

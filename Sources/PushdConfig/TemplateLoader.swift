import Foundation
import PushCore

/// Reads push text templates from disk: `<folder>/<locale>/<name>.mustache`, one folder per
/// locale (`zh`, `en`, `ja`, `zh-Hant`, …).
public enum TemplateLoader {
    /// Compiles the default templates, overridden file by file by an app's own folder. Every
    /// locale folder found in either is loaded; `defaultLocale` must have every template, another
    /// locale takes what it lacks from its shorter tags, then from `defaultLocale`.
    public static func load(
        defaultFolder: String, appFolder: String = "", defaultLocale: PushLocale = .zh
    ) throws(PushTextTemplates.Failure) -> PushTextTemplates {
        let folders = [defaultFolder] + (appFolder.isEmpty ? [] : [appFolder])
        var locales = Set(folders.flatMap(localeFolders))
        locales.insert(defaultLocale)
        var sources: [PushLocale: [String: String]] = [:]
        for locale in locales {
            var files: [String: String] = [:]
            for name in PushTextTemplates.Name.allCases {
                let file = "\(locale.rawValue)/\(name.rawValue).mustache"
                if !appFolder.isEmpty, let text = read(appFolder + "/" + file) {
                    files[name.rawValue] = text
                } else if let text = read(defaultFolder + "/" + file) {
                    files[name.rawValue] = text
                }
            }
            if !files.isEmpty || locale == defaultLocale { sources[locale] = files }
        }
        do {
            return try PushTextTemplates(sources: sources, defaultLocale: defaultLocale)
        } catch {
            var failure = error
            if failure.reason == "missing" { failure.reason = "missing from \(defaultFolder)" }
            throw failure
        }
    }

    /// The subfolders of `folder` whose names are language tags.
    static func localeFolders(_ folder: String) -> [PushLocale] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue,
                let locale = PushLocale(rawValue: name), locale.rawValue == name
            else { return nil }
            return locale
        }
    }

    private static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}

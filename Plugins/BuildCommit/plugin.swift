import Foundation
import PackagePlugin

/// Writes `BuildCommit.swift` (`let buildCommit = "<git commit>"`) into the target before each
/// build, from the package's git checkout, or "unknown" outside one (a source tarball). The file
/// is rewritten only when the commit changed, so an unchanged checkout recompiles nothing.
@main
struct BuildCommit: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let file = output.appending(path: "BuildCommit.swift").path
        let root = context.package.directoryURL.path
        let script = """
            set -e
            mkdir -p '\(output.path)'
            commit=$(git -C '\(root)' rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            [ -z "$(git -C '\(root)' status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit+dirty"
            printf '/// The git commit pushd was built from.\\nlet buildCommit = "%s"\\n' "$commit" > '\(file).new'
            if cmp -s '\(file).new' '\(file)'; then rm '\(file).new'; else mv '\(file).new' '\(file)'; fi
            """
        return [
            .prebuildCommand(
                displayName: "Recording the git commit", executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script],
                outputFilesDirectory: output
            )
        ]
    }
}

/// One thing wrong with a config file, printed as one line.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A key pushd does not know: an error for `config check`, a warning for `serve`.
        case unknownKey
        /// A value that stops pushd from working as configured.
        case error
        /// Worth fixing, but pushd can run.
        case warning
    }

    public var kind: Kind
    /// Where: `apps[0].vendors.apns.team_id`, with the file line when known.
    public var location: String
    public var message: String

    public init(_ kind: Kind, _ location: String, _ message: String) {
        self.kind = kind
        self.location = location
        self.message = message
    }

    public var description: String {
        let prefix = kind == .warning ? "warning: " : ""
        return location.isEmpty ? prefix + message : "\(prefix)\(location): \(message)"
    }
}

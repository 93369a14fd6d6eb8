import Foundation

/// The fields pushd uses from an FCM service-account JSON file.
public struct ServiceAccount: Sendable, Equatable {
    public var projectID: String
    public var clientEmail: String
    /// PEM of the RSA key that signs the RS256 assertion.
    public var privateKey: String
    /// Where the assertion is exchanged for an access token.
    public var tokenURI: String

    /// Reads a service-account file; the error says which field is missing.
    public static func load(path: String) throws(ConfigLoadError) -> ServiceAccount {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigLoadError(description: "cannot read \(path)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ConfigLoadError(description: "\(path) is not a JSON object")
        }
        func field(_ name: String) throws(ConfigLoadError) -> String {
            guard let value = object[name] as? String, !value.isEmpty else {
                throw ConfigLoadError(description: "\(path) has no \(name)")
            }
            return value
        }
        return ServiceAccount(
            projectID: try field("project_id"), clientEmail: try field("client_email"),
            privateKey: try field("private_key"), tokenURI: try field("token_uri")
        )
    }
}

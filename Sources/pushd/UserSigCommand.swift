import ArgumentParser
import Foundation
import UserSig

struct UserSigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usersig", abstract: "Print a UserSig (tls-sig-api-v2, HMAC-SHA256)."
    )

    @Option(help: "The app's SDKAppID.") var sdkappid: UInt64
    @Option(help: "The app's secret key.") var key: String
    @Option(help: "The user (or admin) identifier.") var identifier: String
    @Option(help: "Validity in seconds.") var expire: Int64 = 180 * 86_400

    func validate() throws {
        if key.isEmpty { throw ValidationError("--key must not be empty") }
        if identifier.isEmpty { throw ValidationError("--identifier must not be empty") }
        if expire <= 0 { throw ValidationError("--expire must be positive") }
    }

    func run() {
        let now = Int64(Date().timeIntervalSince1970)
        print(UserSig.generate(sdkAppID: sdkappid, key: key, identifier: identifier, expire: expire, time: now))
    }
}

import API
import Foundation
import PushCore
import PushJob
import PushdConfig
import Storage

/// What one broker event asks for (README, Broker ingest): a push job exactly as `pushd enqueue`
/// takes it, or a Tencent REST command run as the app's admin,
/// `{"Command": "openim/sendmsg", "SdkAppID": 1400000000, "Body": {…}, "IdempotencyKey": "…"}`.
public enum IngestEvent: Sendable, Equatable {
    case job(NewJob)
    /// `key`: the event's `IdempotencyKey`, else its source and stream position (the same on
    /// every redelivery).
    case command(sdkAppID: UInt64, name: String, body: Data, key: String)

    /// Whether the bytes hold `"Command"` anywhere: only then can the event be a command.
    static func mentionsCommand(_ data: [UInt8]) -> Bool {
        let needle = Array(#""Command""#.utf8)
        guard data.count >= needle.count else { return false }
        return data.withUnsafeBufferPointer { bytes in
            var index = 0
            while index + needle.count <= bytes.count {
                if bytes[index] == 0x22, bytes[index + 1] == 0x43, Array(bytes[index..<index + needle.count]) == needle { return true }
                index += 1
            }
            return false
        }
    }

    /// An event's idempotency key is at most this long.
    public static let maxKeyBytes = 128

    public var sdkAppID: UInt64 {
        switch self {
        case .job(let job): job.sdkAppID
        case .command(let app, _, _, _): app
        }
    }

    /// The event, or the Tencent error that makes it a dead letter (naming the field).
    public static func decode(_ data: [UInt8], source: IngestSource, position: String) throws(TencentError) -> IngestEvent {
        let bytes = Data(data)
        let event: IngestEvent
        if !mentionsCommand(data) {
            // A push job, parsed once by its own decoder: the common event pays for no generic parse.
            do {
                event = .job(try PushJobSpec.decode(bytes).newJob(payload: bytes))
            } catch {
                guard (try? JSONSerialization.jsonObject(with: bytes)) is [String: Any] else {
                    throw TencentError(code: TencentError.jsonParseCode, message: "the event is not a JSON object")
                }
                throw error
            }
        } else {
            guard let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any] else {
                throw TencentError(code: TencentError.jsonParseCode, message: "the event is not a JSON object")
            }
            if let command = object["Command"] {
                event = try Self.command(command, object: object, bytes: bytes, source: source, position: position)
            } else {
                event = .job(try PushJobSpec.decode(bytes).newJob(payload: bytes))
            }
        }
        if let only = source.sdkAppID, event.sdkAppID != only {
            throw TencentError(code: RestCode.unknownSDKAppID, message: "SdkAppID \(event.sdkAppID) is not this source's app \(only)")
        }
        return event
    }

    /// The app of a command event, read strictly.
    private struct AppField: Decodable {
        var SdkAppID: UInt64?
        var SdkAppid: UInt64?
    }

    private static func command(
        _ command: Any, object: [String: Any], bytes: Data, source: IngestSource, position: String
    ) throws(TencentError) -> IngestEvent {
        guard let name = command as? String, name.utf8.count <= 100, name.split(separator: "/", omittingEmptySubsequences: false).count == 2 else {
            throw TencentError(code: TencentError.jsonParseCode, message: "Command must be a string service/command")
        }
        let app: UInt64
        if object["SdkAppID"] != nil || object["SdkAppid"] != nil {
            // JSONDecoder's integer: no Bool, fraction, string or out-of-range number passes.
            guard let field = try? JSONDecoder().decode(AppField.self, from: bytes), let given = field.SdkAppID ?? field.SdkAppid, given > 0,
                given <= UInt64(Int64.max)
            else {
                throw TencentError(code: TencentError.jsonParseCode, message: "SdkAppID must be a positive integer")
            }
            app = given
        } else if let only = source.sdkAppID {
            app = only
        } else {
            throw TencentError(code: RestCode.missingSDKAppID, message: "SdkAppID is required: this source serves every app")
        }
        guard let body = object["Body"] as? [String: Any], let encoded = try? JSONSerialization.data(withJSONObject: body) else {
            throw TencentError(code: TencentError.jsonParseCode, message: "Body must be the command's JSON object")
        }
        let key: String
        if let given = object["IdempotencyKey"] {
            guard let text = given as? String, (1...maxKeyBytes).contains(text.utf8.count) else {
                throw TencentError(code: TencentError.jsonParseCode, message: "IdempotencyKey must be a string of 1 to \(maxKeyBytes) bytes")
            }
            key = text
        } else {
            key = "\(source.name):\(position)"
        }
        return .command(sdkAppID: app, name: name, body: encoded, key: key)
    }
}

import ArgumentParser
import Dispatcher
import Foundation
import Messaging
import PushCore
import PushJob
import PushdRuntime
import Storage

/// `pushd enqueue`: push jobs from stdin into the queue (until the REST API feeds it).
struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue push jobs read from stdin: one JSON job, an array of them, or one per line.",
        discussion: """
            A job: {"SdkAppID": 1400000000, "To_Account": "bob", "IdempotencyKey": "m1", "Lane": "chat", \
            "MsgBody": [...], "OfflinePushInfo": {...}, "SenderNick": "Alice"} (README: Push jobs). \
            Prints a Tencent-style result; a malformed job enqueues nothing and exits 1.
            """
    )

    @OptionGroup var store: StoreOptions

    func run() throws {
        let (config, _) = try store.load()
        let input = FileHandle.standardInput.readDataToEndOfFile()
        let jobs: [NewJob]
        do {
            jobs = try Self.parse(input)
        } catch {
            print(#"{"ActionStatus":"FAIL","ErrorCode":\#(error.code),"ErrorInfo":\#(jsonString(error.message))}"#)
            throw ExitCode(1)
        }
        let inserted = try runBlocking { try await withStore(config) { try await $0.enqueue(jobs) } }
        let new = inserted.filter { $0 }.count
        print(#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","Enqueued":\#(new),"Duplicates":\#(jobs.count - new)}"#)
    }

    /// Jobs from an object, an array, or JSON lines; the error names the job and field.
    static func parse(_ input: Data) throws(TencentError) -> [NewJob] {
        let trimmed = input.drop { [0x20, 0x0a, 0x0d, 0x09].contains($0) }
        var documents: [Data] = []
        if trimmed.first == UInt8(ascii: "[") {
            guard let array = (try? JSONSerialization.jsonObject(with: Data(trimmed))) as? [Any] else {
                throw TencentError(code: TencentError.jsonParseCode, message: "stdin is not a JSON array of jobs")
            }
            for item in array {
                guard let data = try? JSONSerialization.data(withJSONObject: item) else {
                    throw TencentError(code: TencentError.jsonParseCode, message: "a job is not a JSON object")
                }
                documents.append(data)
            }
        } else if let whole = try? JSONSerialization.jsonObject(with: Data(trimmed)), whole is [String: Any] {
            documents = [Data(trimmed)]
        } else {
            documents = trimmed.split(separator: 0x0a).map { Data($0) }.filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0d } }
        }
        guard !documents.isEmpty else { throw TencentError(code: TencentError.jsonParseCode, message: "no job on stdin") }
        var jobs: [NewJob] = []
        for (index, document) in documents.enumerated() {
            do {
                jobs.append(try PushJobSpec.decode(document).newJob(payload: document))
            } catch {
                throw TencentError(code: error.code, message: documents.count > 1 ? "job \(index): \(error.message)" : error.message)
            }
        }
        return jobs
    }
}

/// `pushd dlq list|replay|purge`.
struct DLQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "Dead letters: pushes that will not be retried.", subcommands: [List.self, Replay.self, Purge.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print dead letters, oldest first, one JSON object per line.")
        @OptionGroup var store: StoreOptions
        @Option(help: "At most this many.") var limit = 100
        @Option(help: "Only ids above this.") var after: Int64 = 0

        func run() throws {
            let (config, _) = try store.load()
            let (limit, after) = (limit, after)
            let letters = try runBlocking { try await withStore(config) { try await $0.deadLetters(afterID: after, limit: limit) } }
            for l in letters {
                print(
                    #"{"Id":\#(l.id),"SdkAppID":\#(l.sdkAppID),"Job":\#(jsonString(l.idempotencyKey)),"Lane":"\#(l.lane)","UserID":\#(jsonString(l.userID)),"DeviceId":\#(jsonString(l.deviceID)),"Vendor":\#(jsonString(l.vendor)),"Token":\#(jsonString(l.token)),"LastError":\#(jsonString(l.lastError)),"Attempts":\#(l.attempts),"CreatedAt":\#(l.createdAtMillis),"Job":\#(String(decoding: l.payload, as: UTF8.self))}"#
                )
            }
        }
    }

    /// `--id N …` or `--all`.
    struct Selection: ParsableArguments {
        @Option(name: .customLong("id"), help: "A dead letter id (repeatable).") var ids: [Int64] = []
        @Flag(help: "Every dead letter.") var all = false

        /// The ids, nil for all.
        func chosen() throws -> [Int64]? {
            guard all != !ids.isEmpty else { throw ValidationError("give --id N (repeatable) or --all") }
            return all ? nil : ids
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put dead letters back in the queue for their device.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var selection: Selection

        func run() throws {
            let ids = try selection.chosen()
            let (config, _) = try store.load()
            let n = try runBlocking { try await withStore(config) { try await $0.replayDeadLetters(ids: ids) } }
            print("replayed \(n) dead letter(s)")
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead letters.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var selection: Selection

        func run() throws {
            let ids = try selection.chosen()
            let (config, _) = try store.load()
            let n = try runBlocking { try await withStore(config) { try await $0.purgeDeadLetters(ids: ids) } }
            print("purged \(n) dead letter(s)")
        }
    }
}

/// `pushd device register|state|list`: the device table by hand, for demos and operators, until the
/// REST API's `pushd/register_device` and `report_state`.
struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device", abstract: "Register devices and set their state.", subcommands: [Register.self, State.self, List.self]
    )

    struct Target: ParsableArguments {
        @Option(help: "The app.") var sdkappid: UInt64 = 1_400_000_000
        @Option(help: "The user.") var user: String
        @Option(help: "The device id.") var device: String
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a device (PushOnline) or replace its token.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var target: Target
        @Option(help: "apns, fcm, huawei, xiaomi, oppo, vivo, meizu or honor.") var vendor: Vendor
        @Option(help: "The vendor's device token.") var token: String
        @Option(help: "zh or en.") var locale: String?
        @Flag(help: "APNs sandbox.") var sandbox = false

        func run() throws {
            let (config, _) = try store.load()
            let device = Device(
                sdkAppID: target.sdkappid, userID: target.user, deviceID: target.device, vendor: vendor, token: token,
                locale: locale.flatMap(PushLocale.init(rawValue:)), sandbox: sandbox, registeredAtMillis: SystemEpochClock().nowMillis()
            )
            try runBlocking { try await withStore(config) { try await $0.upsertDevice(device) } }
            print("registered \(target.user)/\(target.device) (\(vendor.rawValue), PushOnline)")
        }
    }

    struct State: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a device's state; --unread sets the badge base.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var target: Target
        @Option(help: "Online, PushOnline or Offline.") var state: String
        @Option(help: "Unread count reported with PushOnline.") var unread: Int?

        func run() throws {
            guard let state = DeviceState(rawValue: state) else { throw ValidationError("--state must be Online, PushOnline or Offline") }
            let (config, _) = try store.load()
            let (t, unread) = (target, unread)
            let found = try runBlocking {
                try await withStore(config) {
                    try await $0.setDeviceState(sdkAppID: t.sdkappid, userID: t.user, deviceID: t.device, state: state, unread: unread)
                }
            }
            guard found else { throw ValidationError("no device \(t.user)/\(t.device) in app \(t.sdkappid)") }
            print("\(t.user)/\(t.device): \(state.rawValue)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's devices.")
        @OptionGroup var store: StoreOptions
        @Option(help: "The app.") var sdkappid: UInt64 = 1_400_000_000
        @Option(help: "The user.") var user: String

        func run() throws {
            let (config, _) = try store.load()
            let (app, user) = (sdkappid, user)
            let devices = try runBlocking { try await withStore(config) { try await $0.devices(sdkAppID: app, userIDs: [user]) } }
            for d in devices {
                print(
                    #"{"DeviceId":\#(jsonString(d.deviceID)),"Vendor":"\#(d.vendor.rawValue)","Token":\#(jsonString(d.token)),"State":"\#(d.state.rawValue)","Badge":\#(d.badge)\#(d.invalidatedAtMillis.map { ",\"InvalidatedAt\":\($0)" } ?? "")}"#
                )
            }
        }
    }
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}

import ArgumentParser
import Dispatcher
import Foundation
import Gateways
import Messaging
import PushCore
import PushdRuntime
import Storage

struct MulticastBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multicast",
        abstract: "A message to many users with one device each, through the queue: one request per device against the vendor's multicast.",
        discussion: """
            Each round enqueues --messages messages to --users users (one job per recipient, as batchsendmsg's fan-out \
            writes them), each user with one device of --vendor, into a fresh SQLite store, and drains it with a \
            dispatcher in this process against the emulator: once sending one request per device (the reference), \
            once with multicast, alternated. Prints pushes/s, vendor requests and the ratio.
            """
    )

    @Option(help: "Recipients of each message.") var users = 1_000
    @Option(help: "Messages per round.") var messages = 20
    @Option(help: "Rounds of each mode, alternated.") var rounds = 3
    @Option(help: "huawei, honor, xiaomi, vivo or meizu.") var vendor = "huawei"

    func run() throws {
        guard let vendor = Vendor(rawValue: vendor), PushRenderer.maxTokens(vendor) > 1 else {
            throw ValidationError("--vendor takes huawei, honor, xiaomi, vivo or meizu")
        }
        guard users > 0, messages > 0, rounds > 0 else { throw ValidationError("--users, --messages and --rounds must be positive") }
        let bench = MulticastBench(users: users, messages: messages, rounds: rounds, vendor: vendor)
        try runBlocking { try await bench.run() }
    }
}

struct MulticastBench: Sendable {
    var users: Int
    var messages: Int
    var rounds: Int
    var vendor: Vendor

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-multicast-bench-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let rig = try await DispatchBench.rig(folder: folder, recordLimit: users * messages + 1_000)
        defer { Task { await rig.running.stop() } }
        let dispatch = DispatchBench(
            backend: "sqlite", n: 0, serverURL: nil, processCounts: [], memoryJobs: 0, latencySeconds: 0, connections: 2, streams: 100, workers: 8, batch: 64
        )
        print(
            "pushd-bench multicast: \(messages) messages × \(users) users with one \(vendor.rawValue) device each per round, SQLite, "
                + "default dispatcher settings, emulator in this process."
        )
        var table = BenchTable(header: ["round", "one request per device, pushes/s", "requests", "multicast, pushes/s", "requests", "ratio"])
        for round in 1...rounds {
            let single = try await drain(rig: rig, dispatch: dispatch, folder: folder + "/single-\(round)", multicast: false)
            let multi = try await drain(rig: rig, dispatch: dispatch, folder: folder + "/multi-\(round)", multicast: true)
            table.add([
                "\(round)", String(format: "%.0f", single.rate), "\(single.requests)", String(format: "%.0f", multi.rate), "\(multi.requests)",
                String(format: "%.2f", multi.rate / single.rate),
            ])
        }
        print(table.render())
    }

    /// A fresh store with the users' devices and every message's jobs, drained by one dispatcher:
    /// pushes/s from its start to an empty queue, and the requests the emulator answered.
    func drain(rig: DispatchBench.Rig, dispatch: DispatchBench, folder: String, multicast: Bool) async throws -> (rate: Double, requests: Int) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = try dispatch.config(rig, storage: "storage: { backend: sqlite, path: \(folder)/pushd.sqlite }")
        let store = try await openStore(config)
        let now = SystemEpochClock().nowMillis()
        let recipients = (0..<users).map { "u\($0)" }
        try await store.upsertDevices(
            recipients.enumerated().map { i, user in
                Device(sdkAppID: DispatchBench.app, userID: user, deviceID: "d", vendor: vendor, token: DispatchBench.token(i), locale: .en, registeredAtMillis: now)
            }
        )
        for m in 0..<messages {
            // One payload per message, keys `<message key>:<user>` as the fan-out writes them.
            let payload = Data(
                #"{"SdkAppID":\#(DispatchBench.app),"IdempotencyKey":"m\#(m)","SenderNick":"Alice","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"news \#(m)"}}]}"#
                    .utf8
            )
            for chunk in stride(from: 0, to: users, by: 500) {
                try await store.enqueue(
                    recipients[chunk..<min(chunk + 500, users)].map { NewJob(sdkAppID: DispatchBench.app, idempotencyKey: "m\(m):\($0)", userID: $0, payload: payload) }
                )
            }
        }
        rig.state.clearRequests()
        let gateways = try VendorGateways(config: config)
        var settings = Dispatcher.Settings(config.dispatcher)
        settings.multicast = multicast
        let dispatcher = try Dispatcher(store: store, gateways: gateways, config: config, settings: settings)
        let started = ContinuousClock.now
        let task = Task { try await dispatcher.run() }
        try await dispatch.waitDrained(store)
        let elapsed = (ContinuousClock.now - started).seconds
        task.cancel()
        _ = await task.result
        try await gateways.shutdown()
        try await store.close()
        let answered = rig.state.requests(vendor: vendor).filter { $0.status == 200 }
        let tokens = answered.reduce(0) { $0 + Self.tokenCount($1.body, vendor: vendor) }
        if tokens < users * messages { print("warning: \(tokens) of \(users * messages) pushes reached the emulator") }
        return (Double(users * messages) / elapsed, answered.count)
    }

    /// How many device tokens one answered request carried: Huawei's `message.token`, Honor's
    /// `token`, vivo's `regIds` (its `saveListPayload` carries none), Xiaomi's `registration_id`
    /// and Meizu's `pushIds` (comma-separated form fields); 1 for a request to one device.
    static func tokenCount(_ body: String, vendor: Vendor) -> Int {
        if let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] {
            let message = json["message"] as? [String: Any]
            if let list = (message?["token"] ?? json["token"] ?? json["regIds"]) as? [Any] { return list.count }
            return vendor == .vivo && json["regId"] == nil ? 0 : 1
        }
        for field in body.split(separator: "&") {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "registration_id" || parts[0] == "pushIds" else { continue }
            return (parts[1].removingPercentEncoding ?? String(parts[1])).split(separator: ",").count
        }
        return 1
    }
}

import API
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import PropertyBased
import PushdConfig
import RequestFuzzing
import Synchronization
import Testing

/// Issue 24: generated calls to every REST command, with the values that do harm (extreme
/// integers, floats, strings at and past each limit, invalid Unicode, wrong types, arrays one past
/// their limit, unknown fields). Every call gets HTTP 200 and a Tencent envelope, nothing traps, and
/// a refused call changes no state. A failure prints the seed (`.fixedSeed(...)` replays it).
@Suite("REST API: generated hostile calls")
struct PropertyFuzzTests {
    static let calls = 10_000

    @Test("the generator covers every command the API serves")
    func coverage() throws {
        let f = try RestAPITests.Fixture()
        let api = RestAPI(config: PushdConfig(), store: f.store)
        #expect(Set(HostileRequests.commandNames) == Set(api.commandNames), "\(Set(api.commandNames).subtracting(HostileRequests.commandNames))")
    }

    @Test("10,000 generated calls: HTTP 200 and an envelope every time; a refused call changes nothing")
    func generatedCalls() async throws {
        let f = try RestAPITests.Fixture()
        for (command, body) in HostileRequests.setup {
            #expect(RestAPITests.code(try await f.call(command, body)) == 0, "setup \(command)")
        }
        let reader = try DatabaseQueue(path: f.path)
        let sigs = Dictionary(uniqueKeysWithValues: ["administrator", "bob", "alice", "jos\u{E9}"].map { ($0, f.sig($0)) })
        let tally = Tally()
        try await Application(router: f.router).test(.router) { client in
            await propertyCheck(count: Self.calls, input: Gen.uint64()) { seed in
                let call = HostileRequests.call(seed: seed)
                let identifier = call.identifier.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? call.identifier
                let uri = "/v4/\(call.command)?sdkappid=\(RestAPITests.app)&identifier=\(identifier)&usersig=\(sigs[call.identifier] ?? "")&random=1&contenttype=json"
                let before = try FuzzTests.dataVersion(reader)
                let (status, data) = try await client.execute(uri: uri, method: .post, body: ByteBuffer(bytes: call.body)) { response in
                    (response.status, Data(buffer: response.body))
                }
                #expect(status == .ok, "\(call)")
                let reply = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                let actionStatus = reply?["ActionStatus"] as? String, code = reply?["ErrorCode"] as? Int
                let wellFormed = (actionStatus == "OK" && code == 0 || actionStatus == "FAIL" && (code ?? 0) != 0) && reply?["ErrorInfo"] is String
                #expect(wellFormed, "\(call) → \(String(decoding: data.prefix(300), as: UTF8.self))")
                guard actionStatus == "FAIL" else {
                    tally.record(refused: false, changed: false)
                    return
                }
                let changed = try FuzzTests.dataVersion(reader) != before
                #expect(!changed, "refused (\(code ?? -1)) but changed state: \(call)")
                tally.record(refused: true, changed: changed)
            }
        }
        let (accepted, refused, changed) = tally.counts
        print("generated REST calls: \(accepted + refused) tried, \(accepted) accepted, \(refused) refused, \(changed) refused calls changed state, 0 crashes")
        #expect(accepted + refused == Self.calls)
        #expect(accepted > Self.calls / 20 && refused > Self.calls / 5, "the generator reaches both outcomes: \(accepted) accepted, \(refused) refused")
    }

    /// Counts across the property check's iterations.
    final class Tally: Sendable {
        private let state = Mutex((accepted: 0, refused: 0, changed: 0))

        func record(refused: Bool, changed: Bool) {
            state.withLock { s in
                if refused { s.refused += 1 } else { s.accepted += 1 }
                if changed { s.changed += 1 }
            }
        }

        var counts: (accepted: Int, refused: Int, changed: Int) { state.withLock { $0 } }
    }
}

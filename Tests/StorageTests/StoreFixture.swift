import Foundation
import Logging
import Messaging
import PushCore
import Storage
import Testing
import TestSupport

/// A backend under the contract suite.
enum Backend: String, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// The PostgreSQL server for the tests (`scripts/start-postgres.sh` prints it).
    static let postgresURL = ProcessInfo.processInfo.environment["PUSHD_TEST_POSTGRES_URL"]

    /// SQLite always; PostgreSQL when a server is given, else a loud skip.
    static let available: [Backend] = {
        if postgresURL == nil {
            print(
                """
                ************************************************************************************
                ** PostgreSQL contract tests SKIPPED: PUSHD_TEST_POSTGRES_URL is not set.         **
                ** Run `eval "$(scripts/start-postgres.sh)"` first (CI does).                     **
                ************************************************************************************
                """
            )
            return [.sqlite]
        }
        return [.sqlite, .postgres]
    }()
}

/// A fresh, empty store of one backend (a new SQLite file, or a new PostgreSQL database), with a
/// manual clock. `open()` gives another handle on the same database, as a second process would.
struct StoreFixture: Sendable {
    let backend: Backend
    let clock = ManualEpochClock()
    /// The SQLite file or the PostgreSQL URL.
    let location: String

    static func make(_ backend: Backend) async throws -> StoreFixture {
        switch backend {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pushd-queue-\(UUID().uuidString)").path
            return StoreFixture(backend: backend, location: folder + "/pushd.sqlite")
        case .postgres:
            let base = Backend.postgresURL!
            let name = "pushd_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
            return StoreFixture(backend: backend, location: try await PostgresStore.createDatabase(name, serverURL: base))
        }
    }

    func open() async throws -> any PushStore {
        switch backend {
        case .sqlite: try SQLiteStore(path: location, clock: clock)
        case .postgres: try await PostgresStore(url: location, clock: clock)
        }
    }
}

/// Runs `body` with a fresh store and closes it afterwards.
func withStore(_ backend: Backend, _ body: (StoreFixture, any PushStore) async throws -> Void) async throws {
    let fixture = try await StoreFixture.make(backend)
    let store = try await fixture.open()
    do {
        try await body(fixture, store)
    } catch {
        try? await store.close()
        throw error
    }
    try await store.close()
}

func job(_ key: String, user: String = "bob", lane: Lane = .chat, app: UInt64 = 1_400_000_000, counts: Bool = false) -> NewJob {
    NewJob(sdkAppID: app, idempotencyKey: key, lane: lane, userID: user, payload: Data("{\"k\":\"\(key)\"}".utf8), countsForBadge: counts)
}

func device(_ id: String, user: String = "bob", vendor: Vendor = .apns, token: String? = nil, at: Int64) -> Device {
    Device(
        sdkAppID: 1_400_000_000, userID: user, deviceID: id, vendor: vendor, token: token ?? "token-\(id)", locale: .en,
        registeredAtMillis: at
    )
}

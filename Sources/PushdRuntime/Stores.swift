import ArgumentParser
import Logging
import PushdConfig
import Storage

/// Opens the configured store (SQLite file or PostgreSQL URL) and runs its migrations.
public func openStore(_ config: PushdConfig, logger: Logger = Logger(label: "pushd.store")) async throws -> any PushStore {
    switch config.storage.backend {
    case "postgres": return try await PostgresStore(url: config.storage.url, logger: logger)
    case "sqlite": return try SQLiteStore(path: config.storage.path)
    default: throw ValidationError("storage.backend must be sqlite or postgres, not \(config.storage.backend)")
    }
}

/// Opens the store, runs `body`, closes the store.
public func withStore<T: Sendable>(_ config: PushdConfig, _ body: @Sendable (any PushStore) async throws -> T) async throws -> T {
    let store = try await openStore(config)
    do {
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
}

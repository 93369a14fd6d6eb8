import Foundation
import Storage
import Testing

/// `storage.url` against a real server without TLS (the test server): `sslmode` means what it
/// means in libpq, and no error shows the password.
@Suite("PostgreSQL URL: sslmode and secrets", .serialized)
struct PostgresURLTests {
    /// The test server's URL with `sslmode` and a password the server does not need (trust auth).
    static func url(sslmode: String?) -> String? {
        guard let base = Backend.postgresURL, var components = URLComponents(string: base) else { return nil }
        components.password = "s3cret-pw"
        if let sslmode { components.queryItems = [URLQueryItem(name: "sslmode", value: sslmode)] }
        return components.string
    }

    /// Opens a store, or gives up after `seconds` (a refused TLS handshake may be retried by the pool).
    static func open(_ url: String, seconds: Int = 3) async -> Result<Void, any Error> {
        await withTaskGroup(of: Result<Void, any Error>?.self) { group in
            group.addTask {
                do {
                    let store = try await PostgresStore(url: url)
                    try await store.close()
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(CancellationError())
        }
    }

    @Test("disable and prefer (the default) connect to a server without TLS; require, verify-ca and verify-full do not")
    func sslmodes() async throws {
        guard Backend.postgresURL != nil else { return }  // Backend.available prints the SKIPPED banner
        for mode in [nil, "disable", "prefer"] {
            let result = await Self.open(try #require(Self.url(sslmode: mode)))
            #expect((try? result.get()) != nil, "sslmode \(mode ?? "(default)"): \(result)")
        }
        for mode in ["require", "verify-ca", "verify-full"] {
            let result = await Self.open(try #require(Self.url(sslmode: mode)))
            #expect((try? result.get()) == nil, "sslmode \(mode) must not fall back to plain text")
        }
    }

    @Test("a bad sslmode or URL is refused by name, and no error or message shows the password")
    func secrets() async throws {
        let bad = "postgres://pushd:s3cret-pw@127.0.0.1:1/pushd?sslmode=sometimes"
        let error = await Self.open(bad)
        let text = "\(error)"
        #expect(text.contains("sslmode") && !text.contains("s3cret-pw"), "\(text)")
        let unparsable = await Self.open("mysql://pushd:s3cret-pw@127.0.0.1/pushd")
        #expect(!"\(unparsable)".contains("s3cret-pw"), "\(unparsable)")
        #expect(PostgresStore.redacted("postgres://pushd:s3cret-pw@db:5432/x?sslmode=require") == "postgres://pushd:***@db:5432/x?sslmode=require")
        #expect(!PostgresStore.redacted("postgres://u:p@ss w0rd@db/x").contains("w0rd"))
    }
}

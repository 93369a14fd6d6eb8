// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "pushd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pushd", targets: ["pushd"]),
        .executable(name: "pushd-bench", targets: ["pushd-bench"]),
        .executable(name: "pushd-emulator", targets: ["pushd-emulator"]),
        .library(name: "PushCore", targets: ["PushCore"]),
        .library(name: "UserSig", targets: ["UserSig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.0"),
        // OTLP over HTTP only: the gRPC exporter would add grpc-swift to every build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // Pure domain: message model, push text, overrides, badge, vendor payloads, limits. No I/O.
        .target(
            name: "PushCore",
            dependencies: [.product(name: "Mustache", package: "swift-mustache")]
        ),
        // tls-sig-api-v2 UserSig generation and verification.
        .target(
            name: "UserSig",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The YAML config file: loading, environment overrides, validation, templates on disk.
        .target(
            name: "PushdConfig",
            dependencies: [
                "PushCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Vendor credentials: compact JWTs (ES256, RS256) and the Chinese vendors' md5/sha256 signs.
        .target(
            name: "VendorAuth",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // nghttp2 (Debian's libnghttp2-dev), the HTTP/2 framing of the vendor client's connections.
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // Vendor clients over one shared HTTP/2 client: auth token caches, one outcome taxonomy.
        .target(
            name: "Gateways",
            dependencies: [
                "PushCore",
                "VendorAuth",
                "CNGHTTP2",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The vendor gateway emulator: all eight vendors over HTTP/2 and TLS, with auth, faults and a recorder.
        .target(
            name: "Emulator",
            dependencies: [
                "PushCore",
                "VendorAuth",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Devices and presence: who of a user's devices gets a push.
        .target(name: "Messaging", dependencies: ["PushCore"]),
        // Durable state, by concern (JobQueue, DeviceStore, MessageStore, Directory, CampaignStore), one
        // folder per dialect: SQLite (GRDB) and PostgreSQL.
        .target(
            name: "Storage",
            dependencies: [
                "PushCore",
                "Messaging",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The push job format: one message for one recipient (`PushJobSpec`), the jobs of a message's
        // recipients (`JobTemplate`) and the fan-out jobs that stand for many of them.
        .target(
            name: "PushJob",
            dependencies: [
                "PushCore", "Messaging", "Storage",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ]
        ),
        // Events to the IM servers: outcome events made where outcomes are decided, the outbox's sender.
        .target(
            name: "Callbacks",
            dependencies: [
                "PushCore",
                "Storage",
                "PushdConfig",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Workers that turn queued jobs into vendor sends: retries, dead letters, token cleanup, rate limits.
        .target(
            name: "Dispatcher",
            dependencies: [
                "PushCore",
                "Messaging",
                "Storage",
                "PushJob",
                "Gateways",
                "PushdConfig",
                "Callbacks",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The Tencent-compatible REST API: envelope, UserSig auth per app, the commands.
        .target(
            name: "API",
            dependencies: [
                "PushCore", "Messaging", "Storage", "PushdConfig", "UserSig", "PushJob",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The brokers' own C clients from Debian: NATS (JetStream) and Redis (Streams).
        .systemLibrary(name: "CNATS", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // Offline-message events consumed from a broker (NATS JetStream, Redis Streams): committed
        // to the queue or run as REST commands, then acknowledged; bad events to a dead-letter stream.
        .target(
            name: "Ingest",
            dependencies: [
                "PushCore", "Storage", "PushJob", "API", "PushdConfig", "CNATS", "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The operator web console at /console: server-rendered Mustache pages over the store, the
        // dispatcher and the REST commands; signed-cookie sessions and CSRF tokens.
        .target(
            name: "Console",
            dependencies: [
                "PushCore", "Messaging", "Storage", "PushJob", "Dispatcher", "API", "PushdConfig", "UserSig", "VendorAuth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the executables share: opening the configured store, running async work from a
        // synchronous command, the emulator's server command.
        .target(
            name: "PushdRuntime",
            dependencies: [
                "PushCore", "Storage", "PushdConfig", "Emulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The daemon and its operator commands (interface.md section 1).
        .executableTarget(
            name: "pushd",
            dependencies: [
                "PushCore", "UserSig", "PushdConfig", "Gateways", "Emulator", "Messaging", "Storage", "PushJob", "Dispatcher", "API", "PushdRuntime",
                "Callbacks", "Ingest", "Console",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            plugins: ["BuildCommit"]
        ),
        // Records the git commit for `pushd --version`.
        .plugin(name: "BuildCommit", capability: .buildTool(), path: "Plugins/BuildCommit"),
        // The benchmarks, apart from the daemon: tables with ratios against a reference in the same run.
        .executableTarget(
            name: "pushd-bench",
            dependencies: [
                "PushCore", "UserSig", "PushdConfig", "Gateways", "Emulator", "VendorAuth", "Messaging", "Storage", "PushJob", "Dispatcher", "API",
                "PushdRuntime", "Ingest", "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The vendor gateway emulator alone (the same server as `pushd emulate`).
        .executableTarget(
            name: "pushd-emulator",
            dependencies: ["PushdRuntime", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "PushCoreTests",
            dependencies: [
                "PushCore",
                "PushdConfig",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "UserSigTests",
            dependencies: [
                "UserSig",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "PushdCLITests", dependencies: ["pushd", "UserSig"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateways", "Emulator", "PushCore", "VendorAuth", "TestSupport", .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "MessagingTests", dependencies: ["Messaging", "PushCore"]),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage", "Messaging", "PushCore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "DispatcherTests",
            dependencies: [
                "Dispatcher", "PushJob", "Storage", "Messaging", "Gateways", "Emulator", "PushCore", "PushdConfig", "API", "UserSig", "TestSupport",
                "Callbacks",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "PushJob", "Storage", "Messaging", "PushCore", "PushdConfig", "UserSig", "RequestFuzzing", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // Test helpers: waiting for explicit conditions, a clock that moves only when told to.
        .target(
            name: "TestSupport",
            dependencies: [
                "PushCore", "Emulator", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        // Generated hostile REST calls, shared by the in-process and the daemon fuzz tests.
        .target(name: "RequestFuzzing", dependencies: ["PushCore"], path: "Tests/RequestFuzzing"),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "pushd", "Storage", "Messaging", "Emulator", "PushCore", "UserSig", "RequestFuzzing", "TestSupport", "Callbacks", "Ingest",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "API", "Storage", "Messaging", "PushCore", "PushdConfig", "PushJob", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ConsoleTests",
            dependencies: [
                "Console", "API", "Dispatcher", "Storage", "Messaging", "PushCore", "PushdConfig", "UserSig", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "PushdConfigTests",
            dependencies: [
                "PushdConfig", "PushdRuntime", "PushCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

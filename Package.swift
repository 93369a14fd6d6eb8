// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "pushd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pushd", targets: ["pushd"]),
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
        .executableTarget(
            name: "pushd",
            dependencies: [
                "PushCore",
                "UserSig",
                "PushdConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
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
            name: "PushdConfigTests",
            dependencies: ["PushdConfig", "PushCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

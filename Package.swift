// swift-tools-version:6.1
import PackageDescription

// Swift 6 language mode everywhere, with the upcoming features STYLE.md asks for.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// Numeric kernels are optimised even in debug builds: an unoptimised training
// loop is two orders of magnitude slower, which makes tests and the CLI crawl.
let numericSettings: [SwiftSetting] = swiftSettings + [
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]

let package = Package(
    name: "meshfl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meshfl", targets: ["meshfl"]),
        .library(name: "MeshTensor", targets: ["MeshTensor"]),
        .library(name: "MeshNN", targets: ["MeshNN"]),
        .library(name: "Libp2p", targets: ["Libp2p"]),
        .library(name: "MeshStorage", targets: ["MeshStorage"]),
        .library(name: "MeshLedger", targets: ["MeshLedger"]),
        .library(name: "MeshLearning", targets: ["MeshLearning"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        // MARK: Training engine
        .target(
            name: "MeshTensor",
            dependencies: ["COpenBLAS"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "MeshNN",
            dependencies: ["MeshTensor", "CZlib"],
            swiftSettings: numericSettings
        ),
        // Strategies, aggregation and verification of updates: pure ML, no network.
        .target(
            name: "MeshLearning",
            dependencies: [
                "MeshTensor",
                "MeshNN",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: numericSettings
        ),

        // MARK: Networking
        .target(
            name: "Libp2p",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Gossipsub",
            dependencies: [
                "Libp2p",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Kademlia",
            dependencies: [
                "Libp2p",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Storage
        .target(
            name: "MeshStorage",
            dependencies: [
                "Libp2p",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Ledger
        .target(
            name: "MeshLedger",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ],
            swiftSettings: swiftSettings
        ),
        // The ledger's sockets: gRPC over HTTP/2 to Hedera nodes, HTTP/1.1 (TLS optional) to the mirror node.
        .target(
            name: "MeshLedgerNetwork",
            dependencies: [
                "MeshLedger",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // Drives a LocalLedger file from another process in MeshLedgerTests.
        .executableTarget(
            name: "MeshLedgerWorker",
            dependencies: ["MeshLedger"],
            swiftSettings: swiftSettings
        ),

        // MARK: Node: roles and the job protocol, where the layers meet
        .target(
            name: "MeshNode",
            dependencies: [
                "MeshTensor",
                "MeshNN",
                "MeshLearning",
                "Libp2p",
                "Gossipsub",
                "MeshStorage",
                "MeshLedger",
                "MeshLedgerNetwork",
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Command line
        .executableTarget(
            name: "meshfl",
            dependencies: [
                "Libp2p",
                "MeshTensor",
                "MeshNN",
                "MeshLedger",
                "MeshLedgerNetwork",
                "MeshStorage",
                "MeshNode",
                "Gossipsub",
                "Kademlia",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks (make bench)
        .executableTarget(
            name: "meshfl-bench",
            dependencies: [
                "MeshTensor",
                "MeshNN",
                "MeshLearning",
                "Libp2p",
                "Gossipsub",
                "Kademlia",
                "MeshStorage",
                "MeshLedger",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/meshfl-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(
            name: "MeshTensorTests",
            dependencies: ["MeshTensor"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MeshNNTests",
            dependencies: ["MeshNN", "MeshTensor"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MeshLearningTests",
            dependencies: ["MeshLearning", "MeshNN", "MeshTensor"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MeshNodeTests",
            dependencies: ["MeshNode", "MeshNN", "MeshTensor", "MeshLearning", "MeshLedger", "MeshStorage", "Libp2p"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "meshflTests",
            dependencies: ["meshfl", "MeshStorage"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "Libp2pTests",
            dependencies: ["Libp2p"],
            swiftSettings: swiftSettings
        ),
        // Drives the py-libp2p gossipsub/DHT peer (tests/python/pubsub/peer.py) for the interop tests.
        .target(
            name: "PyPeerSupport",
            path: "Tests/PyPeerSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GossipsubTests",
            dependencies: ["Gossipsub", "Libp2p", "PyPeerSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KademliaTests",
            dependencies: ["Kademlia", "Libp2p", "PyPeerSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MeshStorageTests",
            dependencies: [
                "MeshStorage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MeshLedgerTests",
            dependencies: [
                "MeshLedger",
                "MeshLedgerNetwork",
                "MeshLedgerWorker",
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// MARK: Fuzz targets
// One libFuzzer target per decoder of bytes from the network or from disk, in
// Fuzz/<name>/. libFuzzer supplies `main`, so they exist only when
// MESHFL_FUZZ is set: `scripts/fuzz` (make fuzz) builds them with
// `--sanitize=fuzzer` in a scratch folder of their own.
let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
    ("safetensors", ["MeshNN"]),
    ("idx", ["MeshNN"]),
    ("shard", ["MeshNN"]),
    ("modelspec", ["MeshNN"]),
    ("csv", ["MeshNN"]),
    ("hapi", ["MeshLedger"]),
    ("cid", ["MeshStorage"]),
    ("manifest", ["MeshStorage"]),
    ("sealed", ["MeshStorage", .product(name: "Crypto", package: "swift-crypto")]),
    ("presigned", ["MeshStorage"]),
    ("multiaddr", ["Libp2p"]),
    ("peerid", ["Libp2p"]),
    ("protobuf", ["Libp2p"]),
    ("multistream", ["Libp2p", .product(name: "NIOCore", package: "swift-nio")]),
    ("noisepayload", ["Libp2p", .product(name: "NIOCore", package: "swift-nio")]),
    ("yamux", ["Libp2p", .product(name: "NIOCore", package: "swift-nio")]),
    ("mplex", ["Libp2p", .product(name: "NIOCore", package: "swift-nio")]),
    ("pubsubrpc", ["Gossipsub"]),
    ("kad", ["Kademlia"]),
]
if Context.environment["MESHFL_FUZZ"] != nil {
    for target in fuzzTargets {
        package.targets.append(.executableTarget(
            name: "fuzz-\(target.name)",
            dependencies: target.dependencies,
            path: "Fuzz/\(target.name)",
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        ))
    }
}

// swift-tools-version: 6.1
//
// The webhook gateway. Modules are layered by dependency direction; nothing depends upwards:
//
//   C (CYAML, COpenSSL, COpenSSLShims, CSystem, CChecksum, CByteScan)
//     -> GatewayCore          pure domain: JSON, events, classification, errors, logging API (no I/O)
//     -> GatewayConfig        YAML (libyaml) -> typed, validated configuration
//     -> GatewayCrypto        OpenSSL facade: digests, HMAC, SM2/SM3, constant-time compare
//     -> GatewaySignature     the provider's signing rule on top of GatewayCrypto
//     -> GatewayHTTP          HTTP/1.1 parser (I/O-free), epoll event loops, server, client (TLS via GatewayCrypto)
//     -> GatewayRuntime       wiring: ingress pipeline, admin endpoints, log sink, CLI commands
//     -> gateway              the executable (argument parsing only)
//
// Only GatewayConfig imports CYAML, only GatewayCrypto imports COpenSSL; CSystem (Linux calls
// Glibc's module lacks) is imported by GatewayHTTP, GatewayRuntime, the shell plugin and, for
// thread names only, GatewayCore. No Swift package dependencies, by design (see README).
import PackageDescription

let settings: [SwiftSetting] = [
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0335-existential-any.md
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "gateway",
    products: [
        .executable(name: "gateway", targets: ["gateway"]),
        // Handler plugins: one shared object each, loaded by the gateway with dlopen. The file
        // name carries the plugin name (libgwplugin-<name>.so), which is how the loader finds them.
        .library(name: "gwplugin-forward-http", type: .dynamic, targets: ["ForwardHTTPPlugin"]),
        .library(name: "gwplugin-file", type: .dynamic, targets: ["FilePlugin"]),
        .library(name: "gwplugin-shell", type: .dynamic, targets: ["ShellPlugin"]),
        .library(name: "gwplugin-metadata-filter", type: .dynamic, targets: ["MetadataFilterPlugin"]),
        // A plugin written in plain C, used by the tests to prove the ABI is C.
        .library(name: "gwplugin-c-echo", type: .dynamic, targets: ["CEchoPlugin"]),
        .library(name: "gwplugin-c-badabi", type: .dynamic, targets: ["CBadABIPlugin"]),
        // A pure filter in C that reads the transformed body (tests; bench/routes.sh).
        .library(name: "gwplugin-c-body-filter", type: .dynamic, targets: ["CBodyFilterPlugin"]),
    ],
    targets: [
        // MARK: C libraries and shims
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"]), .yum(["libyaml-devel"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .yum(["openssl-devel"])]
        ),
        .target(name: "COpenSSLShims", dependencies: ["COpenSSL"]),
        .target(name: "CSystem"),
        // CRC-32C with the SSE4.2 instruction when present (spool record checksums).
        .target(name: "CChecksum"),
        // Sixteen-byte scans (SSE2) for the JSON string scanner and the HTTP head checks, inlined.
        .target(name: "CByteScan"),
        // The plugin ABI: one C header (include/gateway_plugin.h), shared by host and plugins.
        .target(name: "CGatewayPluginABI"),

        // MARK: Swift modules, bottom-up
        .target(name: "GatewayCore", dependencies: ["CByteScan", "CChecksum", "CSystem"], swiftSettings: settings),
        .target(name: "GatewayConfig", dependencies: ["GatewayCore", "CYAML"], swiftSettings: settings),
        .target(name: "GatewayCrypto", dependencies: ["GatewayCore", "COpenSSL", "COpenSSLShims"],
                swiftSettings: settings),
        .target(name: "GatewaySignature", dependencies: ["GatewayCore", "GatewayCrypto"], swiftSettings: settings),
        .target(name: "GatewayHTTP", dependencies: ["GatewayCore", "GatewayCrypto", "CByteScan", "CSystem"], swiftSettings: settings),
        .target(name: "GatewaySpool", dependencies: ["GatewayCore"], swiftSettings: settings),
        .target(
            name: "GatewayPluginHost",
            dependencies: ["GatewayCore", "GatewayCrypto", "GatewayHTTP", "CGatewayPluginABI"],
            swiftSettings: settings
        ),
        .target(
            name: "GatewayRuntime",
            dependencies: [
                "GatewayCore", "GatewayConfig", "GatewayCrypto", "GatewaySignature", "GatewayHTTP", "GatewayPluginHost", "GatewaySpool",
                "CSystem",
            ],
            swiftSettings: settings
        ),
        .executableTarget(name: "gateway", dependencies: ["GatewayRuntime"], swiftSettings: settings),
        // Micro-benchmarks of the hot path (bench/micro); not shipped.
        .executableTarget(
            name: "gateway-microbench",
            dependencies: ["GatewayCore", "GatewayCrypto", "GatewaySignature", "GatewayHTTP", "GatewayPluginHost"],
            path: "bench/micro",
            swiftSettings: settings
        ),

        // MARK: Plugins (never a dependency of the gateway itself)
        .target(name: "GatewayPluginKit", dependencies: ["CGatewayPluginABI"], path: "Plugins/Kit", swiftSettings: settings),
        .target(name: "ForwardHTTPPlugin", dependencies: ["GatewayPluginKit", "CGatewayPluginABI"], path: "Plugins/ForwardHTTP", swiftSettings: settings),
        .target(name: "FilePlugin", dependencies: ["GatewayPluginKit", "CGatewayPluginABI"], path: "Plugins/File", swiftSettings: settings),
        .target(name: "ShellPlugin", dependencies: ["GatewayPluginKit", "CGatewayPluginABI", "CSystem"], path: "Plugins/Shell", swiftSettings: settings),
        .target(
            name: "MetadataFilterPlugin", dependencies: ["GatewayPluginKit", "CGatewayPluginABI", "GatewayCore"], path: "Plugins/MetadataFilter",
            swiftSettings: settings),
        .target(name: "CEchoPlugin", dependencies: ["CGatewayPluginABI"], path: "Tests/Plugins/CEcho"),
        .target(name: "CBadABIPlugin", dependencies: ["CGatewayPluginABI"], path: "Tests/Plugins/CBadABI"),
        .target(name: "CBodyFilterPlugin", dependencies: ["CGatewayPluginABI"], path: "Tests/Plugins/CBodyFilter"),

        // MARK: Tests
        .target(
            name: "GatewayTestKit",
            dependencies: ["GatewayCore", "GatewayCrypto", "GatewaySignature", "GatewayHTTP"],
            path: "Tests/GatewayTestKit",
            swiftSettings: settings
        ),
        .testTarget(name: "GatewayCoreTests", dependencies: ["GatewayCore", "CByteScan"], swiftSettings: settings),
        .testTarget(name: "GatewayConfigTests", dependencies: ["GatewayConfig"],
                    resources: [.copy("Fixtures")], swiftSettings: settings),
        .testTarget(name: "GatewaySignatureTests", dependencies: ["GatewaySignature", "GatewayCrypto"],
                    resources: [.copy("Fixtures")], swiftSettings: settings),
        .testTarget(name: "GatewayHTTPTests", dependencies: ["GatewayHTTP", "CByteScan"], swiftSettings: settings),
        .testTarget(name: "GatewaySpoolTests", dependencies: ["GatewaySpool", "GatewayTestKit"], swiftSettings: settings),
        .testTarget(name: "GatewayPluginHostTests", dependencies: ["GatewayPluginHost", "GatewayTestKit", "CGatewayPluginABI"], swiftSettings: settings),
        // Fuzz targets (Tests/Fuzz): shared by the libFuzzer driver (`make fuzz`) and the tests that
        // replay the seed corpus and every crasher found.
        .target(
            name: "GatewayFuzzTargets", dependencies: ["GatewayCore", "GatewayConfig", "GatewayHTTP", "MetadataFilterPlugin"],
            path: "Tests/Fuzz/Targets", swiftSettings: settings),
        .target(name: "CFuzzDriver", path: "Tests/Fuzz/CDriver"),
        .executableTarget(
            name: "gateway-fuzz", dependencies: ["GatewayFuzzTargets", "CFuzzDriver"], path: "Tests/Fuzz/Driver", swiftSettings: settings),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["GatewayFuzzTargets"], path: "Tests/Fuzz/Regression", swiftSettings: settings),
        .testTarget(name: "IntegrationTests", dependencies: ["GatewayTestKit"], exclude: ["Fixtures"], swiftSettings: settings),
    ]
)

// swift-tools-version: 6.2
import PackageDescription

// One module per room (see DESIGN.md): the CLI renders, KPSwitch decides, the
// adapters below it talk to the kernel and the API. Arrows point down only.
let package = Package(
    name: "kpswitch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kpswitch", targets: ["kpswitch"]),
        .executable(name: "kube-sim", targets: ["kube-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        .executableTarget(
            name: "kpswitch",
            dependencies: [
                "KPSwitch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "KPSwitch",
            dependencies: [
                "ProxyConfig", "KubeAPI", "NodeState", "IPVS", "Snapshot",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ProxyConfig",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "KubeAPI",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .target(
            name: "NodeState",
            dependencies: [
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "IPVS", dependencies: ["CNetlink"]),
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-genl-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-genl-3-dev"])]
        ),
        .target(
            name: "Snapshot",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "KubeSim",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "kube-sim",
            dependencies: [
                "KubeSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "CLITests", dependencies: ["kpswitch", "KubeSim"]),
        // Issue 11 end to end: the built kpswitch migrating kube-sim clusters (Scripts/test runs it as its own phase).
        .testTarget(name: "MigrationE2ETests", dependencies: ["kpswitch", "KubeSim", "KPSwitch"]),
        .testTarget(name: "KPSwitchTests", dependencies: ["KPSwitch"]),
        .testTarget(
            name: "NodeStateTests", dependencies: ["NodeState", "KPSwitch", "kube-proxy-ruleset", "kpswitch"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "IPVSTests", dependencies: ["IPVS"], exclude: ["Fixtures"]),
        // Test-only: runs the IPVS module inside the real-kernel VM (IPVSVMTests puts it in the guest).
        .executableTarget(name: "ipvs-probe", dependencies: ["IPVS"], path: "Tests/IPVSProbe"),
        .testTarget(
            name: "ProxyConfigTests",
            dependencies: ["ProxyConfig", .product(name: "Yams", package: "Yams")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "KubeAPITests", dependencies: ["KubeAPI", "KubeSim"], exclude: ["Fixtures"]),
        .testTarget(
            name: "KubeSimTests",
            dependencies: [
                "KubeSim",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        // The real-kernel test bed (Tests/VM): a library test targets use to run code in a QEMU guest.
        .target(name: "VMHarness", path: "Tests/VMHarness"),
        .testTarget(name: "VMTests", dependencies: ["VMHarness", "kpswitch"]),
        .testTarget(name: "KPSwitchVMTests", dependencies: ["VMHarness", "kpswitch", "KPSwitch"]),
        .testTarget(name: "IPVSVMTests", dependencies: ["VMHarness", "ipvs-probe"], exclude: ["Guest"]),
        .testTarget(name: "SnapshotTests", dependencies: ["Snapshot"]),
        // Writes kube-proxy's iptables layout for N services: NodeStateTests and Benchmarks/snapshot.sh.
        .executableTarget(
            name: "kube-proxy-ruleset",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Benchmarks/KubeProxyRuleset"
        ),
    ],
    swiftLanguageModes: [.v6]
)

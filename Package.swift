// swift-tools-version:6.0
// Host side of the project: osh, the symbolizer, and host builds of the ABI and of the kernel's pure logic
// (Sources/Kernel/Core), which the Makefile also compiles into the Embedded Swift kernel.
import PackageDescription

let package = Package(
    name: "osh",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "osh", targets: ["oshMain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // One vocabulary for kernel, servers and osh: syscalls, errors, rights, exit statuses.
        .target(name: "ABI", path: "Sources/ABI"),
        // The kernel's hardware-free logic, compiled for the host so `swift test` exercises it.
        // In the kernel build the same files are part of the kernel module (-D KERNEL).
        .target(name: "KernelCore", dependencies: ["ABI"], path: "Sources/Kernel/Core"),
        .systemLibrary(name: "CLibDW", path: "Sources/CLibDW"),
        .target(name: "Symbolizer", dependencies: ["CLibDW", "KernelCore"], path: "Sources/Symbolizer"),
        .systemLibrary(name: "CReadline", path: "Sources/CReadline"),
        // Pure formats read in the guest and on the host: the Zstandard decoder (initfs), xxHash64.
        .target(name: "Formats", dependencies: ["ABI", "KernelCore"], path: "Sources/Formats"),
        // libzstd, the reference the Formats decoder is tested and measured against (host only).
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        // make bench: the Swift decoder against libzstd on the real initfs.
        .executableTarget(name: "ZstdBench", dependencies: ["Formats", "CZstd"], path: "Sources/ZstdBench"),
        .target(
            name: "OSH",
            dependencies: [
                "ABI", "KernelCore", "Symbolizer", "CReadline", "Formats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/osh"),
        .executableTarget(name: "oshMain", dependencies: ["OSH"], path: "Sources/oshMain"),
        .testTarget(name: "ABITests", dependencies: ["ABI"], path: "Tests/ABITests"),
        .testTarget(name: "KernelCoreTests", dependencies: ["KernelCore"], path: "Tests/KernelCoreTests",
                    resources: [.copy("Resources")]),
        .testTarget(name: "SymbolizerTests", dependencies: ["Symbolizer"], path: "Tests/SymbolizerTests"),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "CZstd", "KernelCore"], path: "Tests/FormatsTests"),
        .testTarget(name: "OSHTests", dependencies: ["OSH"], path: "Tests/OSHTests"),
        .testTarget(name: "IntegrationTests", dependencies: ["OSH", "Symbolizer", "KernelCore", "Formats"], path: "Tests/IntegrationTests"),
    ]
)

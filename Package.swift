// swift-tools-version:6.1
import PackageDescription

// The release command-line binaries carry the Swift runtime and FoundationEssentials in
// themselves: no shared libraries to find and relocate at start-up (a third of the start-up
// cost). Debug builds and the test binaries link them dynamically as usual.
let staticRelease: [LinkerSetting] = [
    .unsafeFlags(
        ["-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims", "-lswiftSynchronization", "-Xlinker", "--no-export-dynamic"],
        .when(platforms: [.linux], configuration: .release)
    ),
]

let package = Package(
    name: "novaos",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SandboxCore", targets: ["SandboxCore"]),
        .executable(name: "novaos", targets: ["novaos"]),
        .executable(name: "novaos-team", targets: ["novaos-team"]),
        .executable(name: "novaos-server", targets: ["novaos-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // HTTP (`novaos serve`), in its own executable so no other command loads it. No traits:
        // neither swift-configuration nor full Foundation is wanted.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already Hummingbird's: named to run the server's services together (jobs stop first).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            path: "Modules/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(name: "SQLiteDB", dependencies: ["CSQLite"]),
        // The system libpq (team mode's production registry on PostgreSQL), the same way.
        .systemLibrary(
            name: "CPostgreSQL",
            path: "Modules/CPostgreSQL",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(name: "PostgresDB", dependencies: ["CPostgreSQL"]),
        // Team mode: the production registry on PostgreSQL (issue 15, in progress).
        .target(name: "TeamRegistry", dependencies: ["SandboxCore", "PostgresDB", "Supervision"]),
        // Spawning, isolation (bubblewrap), the supervise loop, capped logs, safe file operations: no SQL.
        .target(name: "Supervision"),
        // git, GitHub, test suites and code analysis of experiment repositories.
        .target(name: "ExperimentRepos", dependencies: ["Supervision"]),
        // The built-in price table is data, compiled into the binary (no resource bundle to lose).
        .target(
            name: "SandboxCore",
            dependencies: ["SQLiteDB", "Supervision", "ExperimentRepos"],
            resources: [.embedInCode("Pricing/prices.json")]
        ),
        // The command line (parsing and rendering only), for both executables.
        .target(
            name: "NovaCLI",
            dependencies: [
                "SandboxCore", "Dashboard", "Supervision",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "novaos",
            dependencies: ["NovaCLI"],
            linkerSettings: staticRelease
        ),
        // `novaos` with team mode (the production registry on PostgreSQL): the same commands,
        // with libpq, which only it loads at start-up. `novaos` hands over to it.
        .executableTarget(
            name: "novaos-team",
            dependencies: ["NovaCLI", "TeamRegistry"],
            linkerSettings: staticRelease
        ),
        // The dashboard's pages (HTML, inline SVG): served by NovaServer, written by `sandbox report`.
        .target(name: "Dashboard", dependencies: ["SandboxCore"]),
        // The HTTP API and dashboard over SandboxCore (Hummingbird), and the executable `novaos serve`
        // hands over to, so that no other command's start-up pays for SwiftNIO.
        .target(
            name: "NovaServer",
            dependencies: [
                "SandboxCore", "ExperimentRepos", "Dashboard", "Supervision",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The OpenAPI document is served as committed (GET /openapi.json).
            resources: [.embedInCode("openapi.json")]
        ),
        .executableTarget(name: "novaos-server", dependencies: ["NovaServer"]),
        // The benchmark: `swift build -c release && .build/release/novaos-bench` (see README).
        .executableTarget(name: "novaos-bench", dependencies: ["SandboxCore", "TeamRegistry"]),
        // The fuzz target: `scripts/fuzz SECONDS` (libFuzzer); built plainly, it replays inputs.
        .executableTarget(name: "novaos-fuzz", dependencies: ["SandboxCore"], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .testTarget(name: "SQLiteDBTests", dependencies: ["SQLiteDB"]),
        .target(name: "PostgresTestSupport", dependencies: ["PostgresDB"], path: "Tests/PostgresTestSupport"),
        .testTarget(name: "PostgresDBTests", dependencies: ["PostgresDB", "PostgresTestSupport"]),
        .testTarget(name: "TeamRegistryTests", dependencies: ["TeamRegistry", "PostgresDB", "PostgresTestSupport", "SandboxCore"]),
        .testTarget(name: "SupervisionTests", dependencies: ["Supervision"]),
        .testTarget(name: "SandboxCoreTests", dependencies: ["SandboxCore", "SQLiteDB", "ExperimentRepos", "Supervision", "TeamRegistry", "PostgresTestSupport"]),
        .testTarget(name: "novaosTests", dependencies: ["NovaCLI", "novaos", "novaos-team", "SandboxCore", "SQLiteDB", "PostgresTestSupport"]),
    ]
)

import Foundation

/// Paths and process helpers shared by the integration tests, which check the artifacts `make` built.
enum Repo {
    /// The package root, found from this file's path (Tests/IntegrationTests/Support.swift).
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let build = root.appendingPathComponent("build")
    static let kernel = build.appendingPathComponent("kernel.elf")
    static let iso = build.appendingPathComponent("os.iso")
    static let osh = build.appendingPathComponent("osh")

    /// The Swift toolchain's own bin directory (where swiftc is), whose LLVM tools are newer than the
    /// system's (Debian's llvm-symbolizer lacks --filter-markup).
    static let toolchainBin: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let swiftc = URL(fileURLWithPath: String(dir)).appendingPathComponent("swiftc")
            if FileManager.default.isExecutableFile(atPath: swiftc.path) {
                return swiftc.resolvingSymlinksInPath().deletingLastPathComponent().path
            }
        }
        return nil
    }()

    /// A tool from the toolchain when it has one, else from PATH.
    static func tool(_ name: String) -> String {
        if let bin = toolchainBin, FileManager.default.isExecutableFile(atPath: bin + "/" + name) {
            return bin + "/" + name
        }
        return name
    }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, its output streams going to temporary files (no pipe to fill up).
@discardableResult
/// Starts `osh` with `arguments` in the background, its standard streams on /dev/null (for tests that
/// act on the running VM; the caller waits for or terminates the process).
func startOSH(_ arguments: [String]) throws -> Process {
    let p = Process()
    p.executableURL = Repo.osh
    p.arguments = arguments
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
}

func run(_ executable: String, _ arguments: [String], stdin: Data? = nil, cwd: URL? = nil,
         environment: [String: String] = [:]) throws -> RunResult {
    let process = Process()
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    if let cwd { process.currentDirectoryURL = cwd }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let inURL = dir.appendingPathComponent("in")
        try stdin.write(to: inURL)
        process.standardInput = try FileHandle(forReadingFrom: inURL)
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return RunResult(status: process.terminationStatus,
                     stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                     stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Throws the command's standard error when it failed.
func must(_ r: RunResult) throws {
    if r.status != 0 { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: r.stderr]) }
}

/// A test initfs: the directory `tree` packed as the build packs it (ustar through `tar`, then zstd) into
/// `dir`/initfs.tar.zst, by way of `tar`.
func packInitfs(_ tree: URL, tar: URL, in dir: URL) throws -> URL {
    try must(run("tar", ["--format=ustar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0",
                         "-C", tree.path, "-cf", tar.path, "."]))
    let packed = dir.appendingPathComponent("initfs.tar.zst")
    try must(run("zstd", ["-3", "-q", "-f", tar.path, "-o", packed.path]))
    return packed
}

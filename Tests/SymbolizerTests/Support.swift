import Foundation
@testable import Symbolizer

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Tools {
    /// Directories to look for tools in: PATH, then the bin directory of the Swift toolchain this test
    /// runs on (found from where libswiftCore is mapped), which carries clang and llvm-symbolizer.
    static let searchPath: [String] = {
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        if let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8),
           let line = maps.split(separator: "\n").first(where: { $0.hasSuffix("/libswiftCore.so") }),
           let slash = line.firstIndex(of: "/") {
            // <toolchain>/usr/lib/swift/linux/libswiftCore.so -> <toolchain>/usr/bin
            var url = URL(fileURLWithPath: String(line[slash...]))
            for _ in 0..<4 { url.deleteLastPathComponent() }
            dirs.append(url.appendingPathComponent("bin").path)
        }
        return dirs
    }()

    static func find(_ name: String) -> String? {
        for dir in searchPath where !dir.isEmpty {
            let path = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func require(_ name: String) throws -> String {
        guard let path = find(name) else { throw TestFailure("\(name) not found on PATH or beside the Swift toolchain") }
        return path
    }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program, feeding `input` on standard input.
func run(_ executable: String, _ arguments: [String], input: String = "", in directory: String? = nil) throws -> ProcessResult {
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("symtest-io-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: tmp) }
    let inURL = tmp.appendingPathComponent("in"), outURL = tmp.appendingPathComponent("out"),
        errURL = tmp.appendingPathComponent("err")
    try Data(input.utf8).write(to: inURL)
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.standardInput = try FileHandle(forReadingFrom: inURL)
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// Small ELF files with DWARF, compiled once per test run into a temporary directory.
struct Fixtures: Sendable {
    var dir: String
    /// C with always-inline functions, -O2, DWARF with .debug_aranges (so eu-addr2line can use it), PIE.
    var cELF: String
    var cSource: String
    /// The same C without debug information.
    var cNoDebug: String
    /// Swift, -O, with an inlined method.
    var swiftELF: String

    static let shared: Result<Fixtures, TestFailure> = {
        do { return .success(try build()) } catch let error as TestFailure { return .failure(error) } catch {
            return .failure(TestFailure("\(error)"))
        }
    }()

    static func get() throws -> Fixtures { try shared.get() }

    static let cText = """
        static int counter;
        static inline __attribute__((always_inline)) int leaf(int x) {
            counter += x * 3;
            return counter ^ x;
        }
        static inline __attribute__((always_inline)) int middle(int x) {
            int y = leaf(x + 1);
            return y + leaf(y);
        }
        __attribute__((noinline)) int outer(int x) {
            int s = 0;
            for (int i = 0; i < x; i++) s += middle(i);
            return s;
        }
        int main(int argc, char **argv) {
            (void)argv;
            return outer(argc * 10) & 1;
        }

        """

    static let swiftText = """
        struct Accumulator {
            var total = 0
            @inline(__always) mutating func add(_ x: Int) {
                total &+= x &* 7
                if total > 1000 { total = total % 97 }
            }
        }
        @inline(never) func run(_ n: Int) -> Int {
            var a = Accumulator()
            for i in 0..<n { a.add(i) }
            return a.total
        }
        print(run(Int(CommandLine.arguments.count) * 100))

        """

    static func build() throws -> Fixtures {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("symbolizer-fixtures-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let clang = try Tools.require("clang")
        let swiftc = try Tools.require("swiftc")
        let cSource = dir + "/fixture.c"
        try cText.write(toFile: cSource, atomically: true, encoding: .utf8)
        try swiftText.write(toFile: dir + "/fixture.swift", atomically: true, encoding: .utf8)
        func compile(_ exe: String, _ args: [String]) throws {
            let result = try run(exe, args, in: dir)
            guard result.status == 0 else { throw TestFailure("\(exe) \(args): \(result.stderr)") }
        }
        let link = ["-fuse-ld=lld", "-Wl,--build-id"]
        try compile(clang, ["-g", "-gdwarf-aranges", "-O2", cSource, "-o", dir + "/fixture-c"] + link)
        try compile(clang, ["-g0", "-O2", cSource, "-o", dir + "/fixture-c-nodebug"] + link)
        try compile(swiftc, ["-g", "-O", "-module-name", "fixture", "-Xllvm", "-generate-arange-section", dir + "/fixture.swift",
                             "-o", dir + "/fixture-swift"])
        return Fixtures(dir: dir, cELF: dir + "/fixture-c", cSource: cSource, cNoDebug: dir + "/fixture-c-nodebug",
                        swiftELF: dir + "/fixture-swift")
    }
}

/// The package's root directory (this file is Tests/SymbolizerTests/Support.swift).
let packageRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The osh executable built alongside the tests.
func oshExecutable() throws -> String {
    var candidates: [String] = []
    if let first = CommandLine.arguments.first {
        var url = URL(fileURLWithPath: first)
        // .build/<triple>/debug/<package>PackageTests.xctest (a file, or a bundle directory)
        for _ in 0..<3 {
            url.deleteLastPathComponent()
            candidates.append(url.appendingPathComponent("osh").path)
        }
    }
    candidates.append(packageRoot + "/.build/debug/osh")
    for path in candidates {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
           FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw TestFailure("osh executable not found (build with swift build --build-tests)")
}

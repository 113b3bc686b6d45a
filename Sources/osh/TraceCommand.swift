import ArgumentParser
import Foundation
import Symbolizer

/// `osh trace [LOG]`: a serial log with symbolizer markup, made readable.
public struct TraceCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Symbolize the backtraces (symbolizer markup) of a saved serial log.",
        discussion: """
            LOG defaults to BUILD/run/latest/serial.log; '-' reads standard input. ELF files are found by \
            build ID in the log's run directory, each --symbols directory (also DIR/.build-id/xx/rest.debug \
            and DIR/servers), and the build directory with BUILD/servers (the user programs). CRLF line ends \
            are accepted; a line with malformed or truncated markup is kept as it is, with one warning \
            naming its line number. Text outside markup is printed unchanged.
            """)

    @Argument(help: "The serial log, or '-' for standard input.")
    var log: String?

    @Option(name: .customLong("symbols"), help: "Another directory to search for ELF files by build ID (repeatable).")
    var symbols: [String] = []

    @Option(name: .customLong("build"), help: "The build directory (default: the osh executable's directory if it holds kernel.elf, else ./build).")
    var build: String?

    @Flag(name: .customLong("strict"), help: "Fail on malformed markup instead of keeping the line as it is.")
    var strict = false

    public init() {}

    /// The default build directory: the one holding the osh executable if it has kernel.elf, else ./build.
    static func defaultBuildDirectory() -> String {
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            let dir = executable.deletingLastPathComponent().path
            if FileManager.default.fileExists(atPath: dir + "/kernel.elf") { return dir }
        }
        return "build"
    }

    public func run() throws {
        let buildDir = build ?? TraceCommand.defaultBuildDirectory()
        let logPath = log ?? buildDir + "/run/latest/serial.log"
        let data: Data
        var runDir: String? = nil
        if logPath == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
            let latest = buildDir + "/run/latest"
            if FileManager.default.fileExists(atPath: latest) { runDir = latest }
        } else {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: logPath, isDirectory: &isDir), !isDir.boolValue,
                  let contents = FileManager.default.contents(atPath: logPath) else {
                throw SymbolizerCLI.fail(SymbolizerError.missingFile(logPath).description)
            }
            data = contents
            runDir = (logPath as NSString).deletingLastPathComponent
            if runDir == "" { runDir = "." }
        }
        let what = logPath == "-" ? "standard input" : logPath
        guard TraceCommand.looksLikeText(data) else { throw SymbolizerCLI.fail(SymbolizerError.notText(what).description) }
        let text = String(decoding: data, as: UTF8.self)

        let directories = TraceCommand.searchDirectories(runDirectory: runDir, symbols: symbols, build: buildDir)
        let cwd = FileManager.default.currentDirectoryPath
        let rewriter = MarkupRewriter(finder: ELFFinder(directories: directories),
                                      pathPrefix: cwd.hasSuffix("/") ? cwd : cwd + "/")
        rewriter.strict = strict
        let output: String
        do {
            output = try rewriter.rewrite(log: text)
        } catch {
            throw SymbolizerCLI.fail("\(what): \(error.description)")
        }
        FileHandle.standardOutput.write(Data(output.utf8))
        for diagnostic in rewriter.diagnostics { SymbolizerCLI.warn("\(what): \(diagnostic)") }
    }

    /// Where ELF files are looked up by build ID, in order: the log's run directory, each --symbols
    /// directory and its servers/ subdirectory, the build directory of a log kept in BUILD/run/ID/, then
    /// the build directory and BUILD/servers (the user programs), so a copy of a run's log symbolizes
    /// the kernel and user programs without extra flags. Directories that do not exist are left out.
    static func searchDirectories(runDirectory: String?, symbols: [String], build: String) -> [String] {
        var candidates: [String] = []
        if let runDirectory {
            candidates.append(runDirectory)
            let parent = (runDirectory as NSString).deletingLastPathComponent
            if (parent as NSString).lastPathComponent == "run" {
                let owner = (parent as NSString).deletingLastPathComponent
                if FileManager.default.fileExists(atPath: owner + "/kernel.elf") {
                    candidates += [owner, owner + "/servers"]
                }
            }
        }
        for dir in symbols { candidates += [dir, dir + "/servers"] }
        candidates += [build, build + "/servers"]
        var seen = Set<String>()
        return candidates.filter { dir in
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { return false }
            return seen.insert((dir as NSString).standardizingPath).inserted
        }
    }

    /// Text, as serial logs are: no NUL bytes, and mostly printable or valid UTF-8.
    static func looksLikeText(_ data: Data) -> Bool {
        if data.isEmpty { return true }
        if data.contains(0) { return false }
        let decoded = String(decoding: data, as: UTF8.self)
        var bad = 0, total = 0
        for scalar in decoded.unicodeScalars {
            total += 1
            if scalar == "\u{FFFD}" || (scalar.value < 0x20 && scalar != "\n" && scalar != "\r" && scalar != "\t"
                                           && scalar != "\u{1b}") { bad += 1 }
        }
        return bad * 10 <= total
    }
}

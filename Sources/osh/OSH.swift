import ArgumentParser
import Foundation

/// The top-level `osh` command; subcommands are added by each command's file. Errors of every
/// subcommand reach standard error as lines starting `osh: error:` (see `main`).
public struct OSH: ParsableCommand {
    /// osh's version, printed by `osh --version`.
    public static let version = "0.2.0"

    public static let configuration = CommandConfiguration(
        commandName: "osh",
        abstract: "Boot the OS in QEMU and debug it: boot, trace, syscalls, attach.",
        discussion: """
            `osh` alone (no subcommand) opens the interactive shell when standard input is a terminal \
            (the same as `osh shell`; type 'help' there); otherwise it prints this help.
            """,
        version: "osh \(OSH.version)",
        subcommands: [Boot.self, TraceCommand.self, SymbolizeCommand.self, SyscallsCommand.self, AttachCommand.self, ShellCommand.self, AccelCommand.self, ManifestCommand.self, DumpCommand.self, ProfileCommand.self, RecordCommand.self, ReplayCommand.self])
    public init() {}

    /// `osh` alone: the interactive shell on a terminal, the help otherwise.
    public mutating func run() throws {
        if isatty(0) != 0 {
            var shell = try ShellCommand.parse([])
            try shell.run()
        } else {
            throw CleanExit.helpRequest(self)
        }
    }

    /// Parses and runs a command like ArgumentParser's `main`, but errors (bad options, failed
    /// validation, thrown errors) are printed as `osh: error: …` lines, the form every osh command
    /// uses for its own failures, with the usage hint after them.
    public static func main(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            exit(withError: nil)
        } catch {
            let status = exitCode(for: error)
            let message = fullMessage(for: error)
            guard status != .success, !(error is ExitCode), !message.isEmpty else { exit(withError: error) }
            FileHandle.standardError.write(Data(errorLines(message).utf8))
            Foundation.exit(status.rawValue)
        }
    }

    /// ArgumentParser's message with its first line as `osh: error: …` (its own `Error: ` dropped).
    static func errorLines(_ message: String) -> String {
        var lines = message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { return "" }
        var first = lines[0]
        if first.hasPrefix("Error: ") { first = String(first.dropFirst("Error: ".count)) }
        lines[0] = "osh: error: " + first
        return lines.joined(separator: "\n") + "\n"
    }
}

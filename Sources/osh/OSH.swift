import ArgumentParser
import Foundation

/// The top-level `osh` command; subcommands are added by each command's file.
public struct OSH: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "osh",
        abstract: "Boot the OS in QEMU and debug it: boot, trace, syscalls, attach.",
        subcommands: [Boot.self, TraceCommand.self, SymbolizeCommand.self, SyscallsCommand.self, AttachCommand.self, ShellCommand.self, AccelCommand.self, ManifestCommand.self])
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
}

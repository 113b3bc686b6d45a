import ArgumentParser
import Foundation

/// `osh shell` (and `osh` alone on a terminal): the interactive shell.
public struct ShellCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Interactive shell on a VM: boot (in the background), pause, reset, registers, x, bt, qmp, hmp, info, console… (type 'help').")

    @Option(name: .customLong("run"), help: "Run directory or run id (default: build/run/latest, followed as it changes).")
    var runDirectory: String?

    @Flag(name: .long, help: "Read commands from stdin without prompt or line editing (default when stdin is not a terminal).")
    var batch = false

    public init() {}

    public mutating func run() throws {
        let shell = Shell(runSpec: runDirectory)
        if batch || isatty(0) == 0 {
            let failures = shell.runBatch()
            if failures > 0 { throw ExitCode(1) }
        } else {
            shell.runInteractive()
        }
    }
}

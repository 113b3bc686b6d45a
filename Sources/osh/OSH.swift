import ArgumentParser

/// The top-level `osh` command; subcommands are added by each command's file.
public struct OSH: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "osh",
        abstract: "Boot the OS in QEMU and debug it: boot, trace, syscalls, attach.",
        subcommands: [AttachCommand.self])
    public init() {}
}

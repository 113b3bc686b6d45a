// `osh record [boot options]` and `osh replay [RUN]`: thin commands over `osh boot` with QEMU's
// record/replay (Boot/RecordReplay.swift says what QEMU needs for it).

import ArgumentParser
import Foundation

/// `osh record`: `osh boot` recording a deterministic replay log into the run directory.
public struct RecordCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Boot like `osh boot` (same options) and record the run for `osh replay` (TCG, direct boot).",
        discussion: """
            The run directory gets replay.bin (QEMU's event log) and rr.qcow2 (the VM snapshot 'init' \
            taken at the start, which reverse debugging needs). `osh replay RUN` runs it again with the \
            same serial output, byte for byte. Boot with panic=halt (or --dump-on-panic) to keep a \
            panicking kernel's last instructions in the recording for stepping back.
            """)

    @Argument(parsing: .captureForPassthrough, help: "Options for `osh boot`.")
    var bootArguments: [String] = []

    public init() {}

    public mutating func run() throws {
        let boot = try Boot.parse(bootArguments + ["--record"])
        try boot.run()
    }
}

/// `osh replay [RUN]`: the recording of RUN again, with the gdbstub open for reverse debugging.
public struct ReplayCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a run made by `osh record` (same serial output, gdbstub open; `osh attach` can step back).",
        discussion: """
            The replay is a new run directory (serial.log, sockets) that boots the recording's own copies \
            of the kernel and modules with its command line. --until-panic pauses the VM when the \
            kernel's panic report appears; then `osh attach` (with reverse-stepi, reverse-continue) \
            goes back from there.
            """)

    @Argument(help: "The recorded run (directory or id; default: build/run/latest).")
    var recording: String?

    @Flag(name: .long, help: "Pause the VM at the kernel's panic report.")
    var untilPanic = false

    @Flag(name: .long, help: "Start paused and wait for a debugger (osh attach).")
    var gdbWait = false

    @Option(name: .long, help: "Stop QEMU after this many seconds (0: none).")
    var timeout: Double?

    @Option(name: .long, help: "Build directory (default as for osh boot).")
    var buildDir: String?

    @Flag(name: .long, help: "Show symbolizer markup as it is.")
    var raw = false

    public init() {}

    public mutating func run() throws {
        var args = ["--replay", recording ?? "latest"]
        if untilPanic { args.append("--until-panic") }
        if gdbWait { args.append("--gdb-wait") }
        if raw { args.append("--raw") }
        if let timeout { args += ["--timeout", String(timeout)] }
        if let buildDir { args += ["--build-dir", buildDir] }
        let boot = try Boot.parse(args)
        try boot.run()
    }
}

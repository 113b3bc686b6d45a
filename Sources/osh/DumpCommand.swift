// `osh dump`: the guest's memory as an ELF core file in the run directory (QMP `dump-guest-memory`),
// which `osh attach --core RUN` opens in gdb with the run's symbols. `osh boot --dump-on-panic` takes one
// by itself when the kernel panics: it boots with `panic=halt`, waits for the kernel's "halted" line,
// dumps, then ends QEMU.
//
// QEMU facts this relies on (qapi/dump.json): `paging: true` walks the current CPU's page tables so the
// core's PT_LOAD segments carry guest *virtual* addresses, which is what gdb needs; the dump is
// synchronous unless `detach` is given; each CPU's registers go into an NT_PRSTATUS note, so gdb's `bt`
// starts at the stopped rip. Only what the current address space maps is in the core (the kernel half,
// and the user half of the process that was running).

import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Taking a core dump of a live VM.
public enum CoreDump {
    /// The core's file name in the run directory.
    public static let fileName = "core.elf"
    /// The serial line the kernel prints when it halts after a panic with `panic=halt`.
    public static let haltedLine = "halted (panic=halt)"

    /// Dumps the VM behind `qmpSocket` into `path` (absolute) as an ELF core with virtual addresses.
    /// Large guests take a while: `timeout` bounds the wait for QEMU's reply.
    public static func dump(qmpSocket: String, to path: String, timeout: Double = 300) throws {
        let qmp = try QMPClient(path: qmpSocket, timeout: timeout)
        defer { qmp.close() }
        try dump(qmp: qmp, to: path)
    }

    /// Dumps through an open QMP connection (the VM stays as it was: running or paused).
    public static func dump(qmp: QMPClient, to path: String) throws {
        unlink(path)   // QEMU opens the file itself; an old core of the same name goes first
        try qmp.execute("dump-guest-memory", ["paging": .bool(true), "protocol": .string("file:" + path)])
    }
}

/// `osh dump [RUN]`: an ELF core of a running VM into its run directory.
public struct DumpCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Write the guest's memory as an ELF core (RUN/core.elf) for `osh attach --core`.",
        discussion: """
            Uses QMP dump-guest-memory with paging on: the core holds what the CPU's current page tables \
            map (the kernel half and the running process's user half) at their virtual addresses, and \
            the CPUs' registers. The VM goes on running afterwards. `osh boot --dump-on-panic` dumps by \
            itself when the kernel panics.
            """)

    @Argument(help: "Run directory or run id (default: build/run/latest).")
    var runDirectory: String?

    @Option(name: .long, help: "Where to write the core (default: RUN/core.elf).")
    var output: String?

    public init() {}

    public mutating func run() throws {
        let dir: VMRun
        do { dir = try VMRun.resolve(runDirectory) } catch let e as RunError { throw ValidationErrorLine(e.description) }
        do { try AttachScript.checkRunning(dir) } catch let e as RunError { throw ValidationErrorLine(e.description) }
        let path = URL(fileURLWithPath: output ?? dir.url.appendingPathComponent(CoreDump.fileName).path).standardizedFileURL.path
        do { try CoreDump.dump(qmpSocket: dir.qmpSocket, to: path) } catch {
            throw ValidationErrorLine("dump-guest-memory failed: \(error)")
        }
        print(path)
    }
}

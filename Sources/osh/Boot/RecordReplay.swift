// `osh record` and `osh replay`: QEMU's deterministic record/replay (docs/system/replay.rst in QEMU).
//
// Recording runs the guest under `-icount shift=auto,rr=record,rrfile=RUN/replay.bin,rrsnapshot=init`
// with an otherwise unused qcow2 drive (`-drive file=RUN/rr.qcow2,if=none,id=rr`) that holds the VM
// snapshot `init` taken at the start: reverse debugging (gdb's reverse-stepi/reverse-continue through the
// gdbstub) loads the nearest snapshot before the target instruction and replays forward, so it needs one.
// Replaying runs the same QEMU argument vector with `rr=replay`: every non-deterministic input (clocks,
// interrupts timing, serial input) comes from the log, so the guest prints the same bytes. Facts from
// QEMU's documentation: the serial ports must be the same in number in both runs (backends may differ);
// block devices need the blkreplay driver, so only direct boots (`-kernel`, no CD-ROM) are recorded here;
// KVM cannot record (TCG only).
//
// A recording has no `kvmvapic` device (`-global apic-common.vapic=off`; the pc machine otherwise adds it,
// under TCG too, for its TPR-patching option ROM, which this kernel never uses). Every reverse command
// loads the snapshot, and loading resets the machine; kvmvapic's reset runs a function on the vCPU thread
// (`run_on_cpu`) and waits for it while the main thread still holds the replay mutex that the vCPU thread
// must take before it gets to run that function. When the vCPU thread is not parked at that moment the
// two wait for each other for ever (QEMU 10.0.2: main thread in gdb_read_byte → replay_reverse_step →
// load_snapshot → qemu_system_reset → do_run_on_cpu; vCPU thread in replay_mutex_lock), a hang that
// depends on timing and that ignores SIGTERM. Without the device no reset waits for the vCPU thread.

import Foundation
import KernelCore
#if canImport(Glibc)
import Glibc
#endif

public enum RecordReplay {
    /// The event log in the run directory.
    public static let logName = "replay.bin"
    /// The qcow2 image holding the VM snapshots (none of the guest's devices uses it).
    public static let snapshotDriveName = "rr.qcow2"
    /// The snapshot taken when recording starts.
    public static let snapshotName = "init"

    /// QEMU arguments added to record into `runDir`.
    public static func recordArguments(runDir: String) -> [String] {
        let log = (runDir as NSString).appendingPathComponent(logName)
        let drive = (runDir as NSString).appendingPathComponent(snapshotDriveName)
        return ["-icount", "shift=auto,rr=record,rrfile=\(log),rrsnapshot=\(snapshotName)",
                "-drive", "file=\(drive),if=none,id=rr"] + noVAPIC
    }

    /// Leaves out the `kvmvapic` device, whose reset deadlocks QEMU's reverse debugging (above). A replay
    /// runs the recorded argument vector, so recordings made before this replay with the device.
    public static let noVAPIC = ["-global", "apic-common.vapic=off"]

    /// Whether a recorded QEMU argument vector leaves out kvmvapic (recordings made by older osh do not).
    public static func hasNoVAPIC(_ argv: [String]) -> Bool {
        zip(argv, argv.dropFirst()).contains { [$0, $1] == noVAPIC }
    }

    /// Whether a recorded QEMU argument vector is a recording (has `rr=record`).
    public static func isRecording(_ argv: [String]) -> Bool {
        argv.contains { $0.contains("rr=record") }
    }

    /// The argument vector that replays a recording: the recorded one with `rr=replay`, and the recorded
    /// run's sockets moved to the new run's (`sockets`: old path → new path); `-S` with `gdbWait`.
    public static func replayArguments(recorded argv: [String], sockets: [String: String], gdbWait: Bool) -> [String] {
        var out = argv.map { arg -> String in
            var a = arg.replacingOccurrences(of: "rr=record", with: "rr=replay")
            for (old, new) in sockets { a = a.replacingOccurrences(of: old, with: new) }
            return a
        }
        if gdbWait && !out.contains("-S") { out.append("-S") }
        return out
    }

    /// The outcome of a replay, given how the recording ended. A replay whose VM stopped on a guest
    /// shutdown without a guest status, after replaying every serial byte of a recording that ended with
    /// a guest status, ended where the recording did: its status is the recording's (nil: the outcome
    /// stands). Seen in one CI run under a heavy host load: QEMU's replay raised the recorded shutdown
    /// while the vCPU was still a few instructions short of the guest's isa-debug-exit write (its rip in
    /// the kernel's serial output), with the serial log already identical; so the status never reached
    /// QEMU's exit code. The cause inside QEMU is not confirmed.
    public static func replayOutcome(_ outcome: RunOutcome, recordedGuestStatus: UInt8?, serialMatches: Bool) -> RunOutcome? {
        guard case .vmStopped(cause: .guestPoweredOff, _) = outcome, serialMatches,
              let status = recordedGuestStatus else { return nil }
        return .qemuExited(status: (Int32(status) << 1) | 1, errorLine: nil)
    }

    /// Creates the empty qcow2 image for the snapshots with qemu-img. Returns an error message.
    public static func createSnapshotDrive(at path: String, qemuImg: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemuImg)
        p.arguments = ["create", "-q", "-f", "qcow2", path, "64M"]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        do { try p.run() } catch { return "cannot run \(qemuImg): \(error.localizedDescription)" }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return p.terminationStatus == 0 ? nil : "qemu-img create failed: \(text.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// `osh replay --until-panic`: stops the replay exactly where the kernel starts a panic report or a user
/// fault report, and leaves the gdbstub free for `osh attach`. The replay starts paused (-S); a
/// background thread connects to the gdbstub, sets breakpoints on the report functions, lets the VM run,
/// and at the hit reads the instruction count (QMP `query-replay`), removes the breakpoints and closes
/// its connection without a detach packet (a detach would resume the VM; a closed connection leaves it
/// stopped), so the next debugger finds the VM at the report.
public enum UntilPanic {
    /// The kernel functions that start a report: panics (kernelPanic → Panic.panic), CPU exceptions in
    /// kernel mode (Panic.exception → writeStackOverflow, its first call) and user faults.
    public static let reportFunctions = [
        "$e6Kernel5PanicO5panic_4file4lines5NeverOs12StaticStringV_AJSutFZ",
        "$e6Kernel5PanicO18writeStackOverflow33_6DD9DECD62F3AD87EC8E160DE1B2618ELLyySo10trap_frameVFZ",
        "$e6Kernel10UserFaultsO6report_6threadySpySo10trap_frameVG_AA6ThreadCtFZ",
    ]

    /// The addresses of `reportFunctions` in the kernel ELF at `path` (names it lacks are left out).
    public static func breakpoints(kernelELF path: String) -> [UInt64] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.withUnsafeBytes { raw -> [UInt64] in
            guard let elf = try? ELFFile(raw) else { return [] }
            return reportFunctions.compactMap { (try? elf.symbol(named: Array($0.utf8)))??.value }
        }
    }

    /// Starts the thread; `note` prints one line to the user.
    public static func start(gdbSocket: String, qmpSocket: String, kernelELF: String, note: @escaping @Sendable (String) -> Void) {
        let addresses = breakpoints(kernelELF: kernelELF)
        let thread = Thread {
            do { note(try run(gdbSocket: gdbSocket, qmpSocket: qmpSocket, addresses: addresses, kernelELF: kernelELF)) } catch {
                note("--until-panic: \(error)")
            }
        }
        thread.start()
    }

    static func run(gdbSocket: String, qmpSocket: String, addresses: [UInt64], kernelELF: String) throws -> String {
        var gdb: GDBRemoteClient?
        let deadline = Date().addingTimeInterval(30)
        while gdb == nil {
            do { gdb = try GDBRemoteClient(path: gdbSocket, timeout: 10) } catch {
                if Date() > deadline { throw error }
                usleep(50_000)
            }
        }
        let stub = gdb!
        for a in addresses { try stub.insertBreakpoint(at: a, hardware: false) }
        // Go on until a report function is reached (a stop elsewhere is resumed); an exit means the
        // recording has no report.
        var rip: UInt64 = 0
        for _ in 0..<100 {
            try stub.cont()
            let stop = try stub.waitForStop(timeout: -1)
            if case .signal = stop {} else { throw ValidationErrorLine("the replay ended (\(stop)) without a panic or user fault report") }
            rip = (try? stub.readRegister("rip")) ?? 0
            if addresses.contains(rip) { break }
        }
        guard addresses.contains(rip) else { throw ValidationErrorLine("the replay kept stopping away from the report functions (rip 0x\(String(rip, radix: 16)))") }
        let function = FrameNamer(kernelELF: kernelELF, userELF: nil).name(rip, isReturnAddress: false)
        let qmp = try QMPClient(path: qmpSocket, timeout: 30)
        defer { qmp.close() }
        guard let icount = try qmp.execute("query-replay")["icount"]?.int else { throw ValidationErrorLine("query-replay gave no icount") }
        for a in addresses { try? stub.removeBreakpoint(at: a, hardware: false) }
        // Closing the connection without `D` leaves the VM stopped (QEMU resumes it only on a detach).
        stub.close()
        return "replay paused at the report: \(function) (rip 0x\(String(rip, radix: 16)), instruction \(icount)); `osh attach` steps back from there (reverse-stepi, reverse-finish, reverse-continue); Ctrl-A x quits"
    }
}

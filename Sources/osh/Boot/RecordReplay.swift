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

import Foundation
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
                "-drive", "file=\(drive),if=none,id=rr"]
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

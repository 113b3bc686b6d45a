// How a run ended, and the exit status osh reports for it. Pure; unit-tested.

import ABI
import Foundation

/// osh's exit statuses besides the guest's own (0...127 from isa-debug-exit).
public enum BootExitCode {
    /// The guest did not end within `--timeout`.
    public static let timeout: Int32 = 124
    /// QEMU is missing, failed to start, or ended without a guest status.
    public static let qemuFailure: Int32 = 125
    /// An option value is invalid.
    public static let usage: Int32 = 64
    /// A file the run needs (kernel, ISO, firmware) is missing or unreadable.
    public static let missingInput: Int32 = 66
    /// A tool the run needs besides QEMU (grub-mkrescue for a per-run ISO) is missing or failed.
    public static let toolFailure: Int32 = 69
    /// The VM stopped with an internal error (QMP `internal-error`, "KVM internal error" in qemu.log).
    public static let internalError: Int32 = 120
    /// The VM stopped as `guest-panicked`.
    public static let guestPanicked: Int32 = 121
    /// The guest reset (a triple fault) under -no-reboot, or powered off, without a guest status.
    public static let guestReset: Int32 = 122

    /// The exit status for a VM that stopped while QEMU ran on.
    public static func forStop(_ cause: VMStopCause) -> Int32 {
        switch cause {
        case .internalError: internalError
        case .guestPanicked: guestPanicked
        case .guestReset, .guestPoweredOff: guestReset
        }
    }
}

/// What happened to QEMU, as observed by the I/O loop.
public enum RunOutcome: Equatable, Sendable {
    /// QEMU exited by itself with this status; `errorLine` is the first error line of its stderr.
    case qemuExited(status: Int32, errorLine: String?)
    /// QEMU was killed by a signal osh did not send.
    case qemuSignaled(signal: Int32)
    /// The timeout expired; osh terminated QEMU.
    case timedOut(seconds: Double)
    /// The user pressed the quit key; osh terminated QEMU.
    case userQuit
    /// osh received SIGINT/SIGTERM/SIGHUP; it terminated QEMU.
    case interrupted(signal: Int32)
    /// QEMU could not be started at all.
    case spawnFailed(message: String)
    /// The VM stopped for good while QEMU still ran (osh then ended QEMU); `registers` is the one-line
    /// summary of CPU 0's registers read through QMP, when QEMU answered.
    case vmStopped(cause: VMStopCause, registers: String?)
    /// `--dump-on-panic`: the kernel panicked and halted (`panic=halt`); osh dumped the guest's memory to
    /// `core` (nil when the dump failed, with `error`) and ended QEMU.
    case panicDumped(core: String?, error: String?)
    /// `--exec`/`--script`: the command ended with this status (osh then ended QEMU).
    case execFinished(status: Int32)
}

/// The exit status and the words osh uses to describe a run's end.
public struct RunVerdict: Equatable, Sendable {
    /// osh's exit status.
    public var exitCode: Int32
    /// A short machine-readable reason for the manifest: guest-exit, timeout, user-quit, signal,
    /// qemu-error, qemu-exit, qemu-signal.
    public var reason: String
    /// The guest status from isa-debug-exit, when there is one.
    public var guestStatus: UInt8?
    /// One line for the user.
    public var message: String
    /// Whether the message is an error (printed as `osh: error: ...`).
    public var isError: Bool
}

public enum BootStatusMapping {
    public static func verdict(for outcome: RunOutcome) -> RunVerdict {
        switch outcome {
        case let .qemuExited(status, errorLine):
            // QEMU exits with 1 on its own errors, which is also what isa-debug-exit gives for guest
            // status 0. Startup errors always come with an error line on stderr; a guest exit does not.
            if status == 1, let errorLine {
                return RunVerdict(exitCode: BootExitCode.qemuFailure, reason: "qemu-error", guestStatus: nil,
                                  message: "QEMU failed: \(errorLine)", isError: true)
            }
            if let guest = GuestStatus.fromQEMUExitStatus(status) {
                return RunVerdict(exitCode: Int32(guest), reason: "guest-exit", guestStatus: guest,
                                  message: "guest status \(guest) (\(describe(guest: guest)))", isError: false)
            }
            var message = status == 0
                ? "QEMU exited without a guest status (the guest reset, triple-faulted or powered off)"
                : "QEMU exited with status \(status) without a guest status"
            if let errorLine { message += ": \(errorLine)" }
            return RunVerdict(exitCode: BootExitCode.qemuFailure, reason: "qemu-exit", guestStatus: nil,
                              message: message, isError: true)
        case let .qemuSignaled(signal):
            return RunVerdict(exitCode: BootExitCode.qemuFailure, reason: "qemu-signal", guestStatus: nil,
                              message: "QEMU was killed by signal \(signal)", isError: true)
        case let .timedOut(seconds):
            return RunVerdict(exitCode: BootExitCode.timeout, reason: "timeout", guestStatus: nil,
                              message: "timeout: the guest did not finish within \(formatSeconds(seconds)) s; QEMU terminated",
                              isError: false)
        case .userQuit:
            return RunVerdict(exitCode: 0, reason: "user-quit", guestStatus: nil,
                              message: "quit by user; QEMU terminated", isError: false)
        case let .interrupted(signal):
            return RunVerdict(exitCode: 128 + signal, reason: "signal", guestStatus: nil,
                              message: "interrupted by signal \(signal); QEMU terminated", isError: false)
        case let .spawnFailed(message):
            return RunVerdict(exitCode: BootExitCode.qemuFailure, reason: "qemu-error", guestStatus: nil,
                              message: message, isError: true)
        case let .execFinished(status):
            return RunVerdict(exitCode: status, reason: "exec", guestStatus: nil,
                              message: "the command exited with status \(status); QEMU terminated", isError: false)
        case let .panicDumped(core, error):
            let guest = GuestStatus.panic.rawValue
            let what = core.map { "core dump in \($0)" } ?? "core dump failed: \(error ?? "unknown error")"
            return RunVerdict(exitCode: Int32(guest), reason: "panic-dump", guestStatus: guest,
                              message: "guest status \(guest) (panic); \(what)", isError: core == nil)
        case let .vmStopped(cause, registers):
            let regs = registers.map { $0.isEmpty ? "" : "; registers: \($0)" } ?? "; registers unavailable"
            return RunVerdict(exitCode: BootExitCode.forStop(cause), reason: cause.reason, guestStatus: nil,
                              message: "VM stopped: \(cause.description)\(regs)", isError: true)
        }
    }

    static func describe(guest: UInt8) -> String {
        switch GuestStatus(rawValue: guest) {
        case .success: return "success"
        case .testsFailed: return "tests failed"
        case .panic: return "panic"
        case .rootFaulted: return "root process faulted"
        case .rootFailed: return "root process exited with an error"
        case .accelCheckFailed: return "accelerator check failed"
        case nil: return "unknown"
        }
    }

    static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    /// The line of QEMU's stderr that explains a failure: the first non-empty line that is not a
    /// warning and not one of QEMU's informational lines (`VNC server running on ...` with
    /// `--display vnc`, `terminating on signal ...`). QEMU prefixes its messages with its program
    /// name, which is kept.
    public static func qemuErrorLine(stderr text: String) -> String? {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.contains("warning:") || isInformational(trimmed) { continue }
            return trimmed
        }
        return nil
    }

    /// QEMU's stderr lines that report, not fail.
    static func isInformational(_ line: String) -> Bool {
        let informational = ["VNC server running on", "terminating on signal"]
        return informational.contains { line.hasPrefix($0) || line.contains(": " + $0) }
    }
}

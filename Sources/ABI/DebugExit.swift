// The contract between the kernel and the host about how a run ends.
//
// QEMU is started with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`. The kernel writes a status V to
// that port and QEMU exits with status (V << 1) | 1. osh turns QEMU's status back into V and exits with it.

/// I/O port of QEMU's isa-debug-exit device.
public let debugExitPort: UInt16 = 0xf4

/// What the kernel reports to the host when it ends the VM.
public enum GuestStatus: UInt8, CaseIterable, Sendable {
    /// Every in-kernel test passed (or a clean shutdown).
    case success = 0
    /// At least one in-kernel test failed.
    case testsFailed = 1
    /// The kernel panicked or took an unexpected CPU exception.
    case panic = 2
    /// The root process ended by a CPU exception (a normal boot; under `usertest` this is testsFailed).
    case rootFaulted = 3
    /// The root process exited with a non-zero code in a normal boot (not a test run).
    case rootFailed = 4
    /// `accelcheck`: a step of the accelerator check went wrong (the serial log names it).
    case accelCheckFailed = 5

    /// The exit status QEMU reports when the guest writes this status to the debug-exit port.
    public var qemuExitStatus: Int32 { (Int32(rawValue) << 1) | 1 }

    /// The guest status behind a QEMU exit status, or nil when QEMU exited for another reason
    /// (an even status never comes from isa-debug-exit).
    public static func fromQEMUExitStatus(_ status: Int32) -> UInt8? {
        guard status & 1 == 1, status > 0 else { return nil }
        return UInt8(truncatingIfNeeded: status >> 1)
    }
}

/// Log levels of the kernel's serial log, selected with `log=` on the kernel command line.
public enum LogLevel: UInt8, CaseIterable, Sendable {
    case trace = 0, debug, info, warn, error

    public var name: StaticString {
        switch self {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }

    /// Parses a level name as written after `log=`.
    public init?<S: Sequence>(utf8 name: S) where S.Element == UInt8 {
        for level in LogLevel.allCases where level.name.withUTF8Buffer({ $0.elementsEqual(name) }) {
            self = level
            return
        }
        return nil
    }
}

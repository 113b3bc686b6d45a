// The serial line's byte stream, rebuilt for a second screen (outputd's text console on the framebuffer)
// from the two sources the kernel interleaves on COM1: the console's own writes (console_write) and
// the kernel log (log_read's ring: kernel lines, programs' debug_log, panics). The kernel
// (Sources/Kernel/Debug/KernelLog.swift, Terminal) applies two rules as it writes: before the first byte
// of a kernel line it erases the line being edited (`\r ESC[K`, and the console redraws it after its
// redraw signal) or ends unfinished program output (`\r\n`); terminal output after an unfinished kernel
// line starts on a new line. ScreenMirror applies the same rules to the same bytes, in the order the
// console reads them, so the screen shows what the serial line shows, and each kernel line once.
// Pure logic: the console (Sources/Servers/console/Screen.swift) feeds it; host tests drive it
// (Tests/FormatsTests/ScreenMirrorTests.swift).

#if !USERSPACE
import ABI
#endif

public struct ScreenMirror: Sendable {
    /// What the screen's last line shows, as the console last told the kernel.
    public private(set) var state: KernelLog.TerminalState = .lineStart
    /// Whether the last kernel byte ended its line (the next one starts a kernel line).
    public private(set) var kernelAtLineStart = true

    public init() {}

    /// Kernel log bytes: the screen's bytes for them (an erase or a line end first where the kernel
    /// writes one on the serial line).
    public mutating func kernel(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 4)
        for b in bytes {
            if kernelAtLineStart {
                switch state {
                case .editing: out += [13, 27, 91, 75]
                case .output: out += [13, 10]
                case .lineStart: break
                }
                state = .lineStart
            }
            out.append(b)
            kernelAtLineStart = b == 10
        }
        return out
    }

    /// The terminal's bytes written with console_write and the state they leave: the screen's bytes
    /// (a line end first when a kernel line was left unfinished).
    public mutating func terminal(_ bytes: [UInt8], state newState: KernelLog.TerminalState) -> [UInt8] {
        var out: [UInt8] = []
        if !kernelAtLineStart {
            out = [13, 10]
            kernelAtLineStart = true
        }
        state = newState
        return out + bytes
    }
}

// The kernel log ring (log_read) and the serial terminal's cooperation with kernel lines
// (console_attach, console_write). Sources/ABI/Syscalls.swift (KernelLog) describes both.
//
// Every byte the kernel logs passes Console.write(_:), which calls `Terminal.beforeKernelByte` (erase the
// terminal's edit line, or end its unfinished output line, before a kernel line starts) and
// `LogRing.append`. Nothing here allocates or takes a lock of its own: the bytes are written with
// interrupts off on the one CPU that runs threads (Log.lock orders the lines of Log.write), as the
// syscall trace is.

#if !KERNEL
import ABI
#endif

enum LogRing {
    /// The sequence of the next byte (bytes logged since boot). Guarded by: interrupts off.
    static var head: UInt64 = 0

    static var ring: UnsafeMutablePointer<UInt8> { symbol_kernel_log_ring()! }

    /// One byte into the ring.
    @inline(__always)
    static func append(_ byte: UInt8) {
        ring[Int(head % KernelLog.ringSize)] = byte
        head &+= 1
    }

    /// The oldest sequence the ring still holds.
    static var oldest: UInt64 { head > KernelLog.ringSize ? head - KernelLog.ringSize : 0 }

    /// Up to `limit` bytes from `cursor` on (from the oldest when it is older): the bytes and the
    /// sequence after them.
    static func read(from cursor: UInt64, limit: UInt64) -> (bytes: [UInt8], next: UInt64) {
        let start = min(max(cursor, oldest), head)
        let count = Int(min(limit, head - start))
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count { bytes[i] = ring[Int((start + UInt64(i)) % KernelLog.ringSize)] }
        return (bytes, start + UInt64(count))
    }
}

/// The process serving the serial terminal (console_attach) and what its screen's last line shows.
enum Terminal {
    /// Guarded by: interrupts off (one CPU runs threads).
    static var owner: Process? = nil
    static var notify: Notify? = nil
    static var bits: UInt64 = 0
    static var state: KernelLog.TerminalState = .lineStart
    /// Whether the kernel's last byte ended its line (a new kernel line starts with the next byte).
    static var kernelAtLineStart = true
    /// A kernel line erased the terminal's edit line: signal it at the next safe point.
    static var redrawPending = false

    /// The attached terminal, when its process still lives.
    static var live: Process? {
        guard let o = owner, !o.exited else { return nil }
        return o
    }

    /// Called before each byte the kernel logs.
    @inline(__always)
    static func beforeKernelByte() {
        guard kernelAtLineStart, state != .lineStart, live != nil else { return }
        switch state {
        case .editing:
            Console.putRaw(13); Console.putRaw(27); Console.putRaw(91); Console.putRaw(75)   // \r ESC [ K
            redrawPending = true
        case .output:
            Console.putRaw(13); Console.putRaw(10)
        case .lineStart: break
        }
        state = .lineStart
    }

    /// At the end of a syscall (a safe point to wake threads): tells the terminal to redraw, and lets
    /// go of a terminal whose process ended.
    @inline(__always)
    static func safePoint() {
        guard redrawPending || owner != nil && owner!.exited else { return }
        redrawPending = false
        if let o = owner, o.exited { detach(); return }
        if let n = notify { _ = IPC.notify(n, bits: bits) }
    }

    static func detach() {
        owner = nil
        notify = nil
        state = .lineStart
    }

    /// console_attach: the caller becomes the terminal.
    static func attach(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        guard case .ioPort(let port) = try Syscalls.object(a.a0, .ioPort, []) else { throw .wrongType }
        guard case .notify(let n) = try Syscalls.object(a.a1, .notify, .signal) else { throw .wrongType }
        guard a.a2 != 0 else { throw .invalidArgument }
        guard UInt32(port.base) <= 0x3f8, UInt32(port.base) + port.count > 0x3f8 else { throw .outOfRange }
        if let o = live, o !== Syscalls.process { throw .inUse }
        owner = Syscalls.process
        notify = n
        bits = a.a2
        state = .lineStart
        return 0
    }

    /// console_write: the terminal's bytes, as one piece, then its screen state.
    static func write(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        guard let o = live, o === Syscalls.process else { throw .accessDenied }
        guard let newState = KernelLog.TerminalState(rawValue: a.a2) else { throw .invalidArgument }
        guard a.a1 <= KernelLog.maxWrite else { throw .tooLarge }
        let bytes = a.a1 == 0 ? [] : try Syscalls.copyIn(a.a0, a.a1)
        Log.lock.lock()
        defer { Log.lock.unlock() }
        if !kernelAtLineStart {
            Console.putRaw(13); Console.putRaw(10)
            kernelAtLineStart = true
        }
        var previous: UInt8 = 0
        for b in bytes {
            if b == 10 && previous != 13 { Console.putRaw(13) }   // \n is \r\n on the line; \r\n stays
            Console.putRaw(b)
            previous = b
        }
        state = newState
        return a.a1
    }

    /// log_read: bytes of the ring into the caller's buffer; the cursor word moves.
    static func logRead(_ a: SyscallArguments) throws(SysError) -> UInt64 {
        guard a.a1 <= KernelLog.maxRead else { throw .tooLarge }
        var cursorBytes = try Syscalls.copyIn(a.a2, 8)
        var cursor: UInt64 = 0
        for i in 0..<8 { cursor |= UInt64(cursorBytes[i]) << UInt64(i * 8) }
        var (bytes, next) = LogRing.read(from: cursor, limit: a.a1)
        // The bytes first: a cursor that cannot be written then fails the call with no state changed.
        if !bytes.isEmpty { try Syscalls.copyOut(&bytes, to: a.a0) }
        for i in 0..<8 { cursorBytes[i] = UInt8(truncatingIfNeeded: next >> UInt64(i * 8)) }
        try Syscalls.copyOut(&cursorBytes, to: a.a2)
        return UInt64(bytes.count)
    }
}

// Output: putchar (which Embedded Swift's print uses) buffers a line and hands it on at each newline or
// when the buffer is full: to POSIX descriptor 1 when the process has one and prints from its main thread
// (Posix.swift), else to debug_log (the kernel log). A write to a pipe nobody reads any more ends the
// process with status 141 (128 + SIGPIPE), as a POSIX program's default SIGPIPE would.

public enum Output {
    static let lockIndex: Int32 = 1
    static let capacity = Int(RUNTIME_OUTPUT_SIZE)
    static var used = 0

    static func lock() {
        while runtime_lock_try(lockIndex) == 0 { threadYield() }
    }

    static func unlock() { runtime_lock_release(lockIndex) }

    /// Appends one byte; flushes at a newline or a full buffer.
    public static func write(_ byte: UInt8) {
        lock()
        append(byte)
        unlock()
    }

    /// Appends the bytes of a static string.
    public static func write(_ string: StaticString) {
        lock()
        for i in 0..<string.utf8CodeUnitCount { append(string.utf8Start[i]) }
        unlock()
    }

    /// Hands the buffered bytes to debug_log.
    public static func flush() {
        lock()
        flushLocked()
        unlock()
    }

    static func append(_ byte: UInt8) {
        runtime_output()[used] = byte
        used += 1
        if byte == 10 || used == capacity { flushLocked() }
    }

    static func flushLocked() {
        guard used > 0 else { return }
        if Posix.isOpen(STDOUT_FILENO) && Posix.onMainThread {
            let bytes = Array(UnsafeBufferPointer(start: runtime_output(), count: used))
            used = 0
            if Posix.writeBytes(STDOUT_FILENO, bytes) < 0 && errno == EPIPE { processExit(141) }
            return
        }
        _ = raw_syscall(Syscall.debugLog.rawValue, UInt64(UInt(bitPattern: runtime_output())), UInt64(used), 0, 0, 0, 0)
        used = 0
    }
}

@_cdecl("putchar")
public func putchar(_ c: CInt) -> CInt {
    Output.write(UInt8(truncatingIfNeeded: c))
    return c
}

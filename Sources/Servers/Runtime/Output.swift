// Output: putchar (which Embedded Swift's print uses) buffers a line and hands it to debug_log at each
// newline or when the buffer is full.

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
        _ = raw_syscall(Syscall.debugLog.rawValue, UInt64(UInt(bitPattern: runtime_output())), UInt64(used), 0, 0, 0, 0)
        used = 0
    }
}

@_cdecl("putchar")
public func putchar(_ c: CInt) -> CInt {
    Output.write(UInt8(truncatingIfNeeded: c))
    return c
}

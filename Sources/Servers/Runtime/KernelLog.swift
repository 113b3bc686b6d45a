// The kernel log (log_read) and the serial terminal's syscalls (console_attach, console_write);
// Sources/ABI/Syscalls.swift (KernelLog) describes them. `dmesg` reads the log with `KernelLogReader`.

/// Copies kernel log bytes from `cursor` on into `buffer`; the cursor moves past them (further than the
/// count when the ring had already dropped older bytes). Returns the count (0: nothing newer).
public func logRead(_ buffer: UnsafeMutableRawBufferPointer, cursor: inout UInt64) throws(SysError) -> Int {
    let count = try withUnsafeMutablePointer(to: &cursor) { (c: UnsafeMutablePointer<UInt64>) throws(SysError) -> UInt64 in
        try syscall(.logRead, pointerWord(buffer.baseAddress), UInt64(buffer.count), UInt64(UInt(bitPattern: c)))
    }
    return Int(count)
}

/// Reads the kernel log from a sequence on, in pieces.
public struct KernelLogReader {
    /// The sequence of the next byte to read (0: the oldest the ring holds).
    public var cursor: UInt64
    /// Bytes the ring had dropped before they were read.
    public private(set) var lost: UInt64 = 0

    public init(cursor: UInt64 = 0) { self.cursor = cursor }

    /// The bytes logged since the last call (at most `limit`; empty when there are none).
    public mutating func next(limit: Int = 4096) throws(SysError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: limit)
        let before = cursor
        var c = cursor
        var failure: SysError? = nil
        let n = bytes.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) -> Int in
            do throws(SysError) { return try logRead(b, cursor: &c) } catch { failure = error; return 0 }
        }
        if let failure { throw failure }
        cursor = c
        // The cursor moves by more than the count when the ring had dropped bytes, and back to the end
        // when it was past it.
        if c > before + UInt64(n) { lost += c - before - UInt64(n) }
        bytes.removeLast(limit - n)
        return bytes
    }

    /// Everything the ring holds from the cursor on.
    public mutating func all() throws(SysError) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let piece = try next(limit: 16384)
            if piece.isEmpty { return out }
            out += piece
        }
    }
}

/// Makes this process the serial terminal (it holds an IOPort over 0x3F8): kernel lines then erase its
/// edit line first and signal `bits` on `notify` so that it draws it again.
public func consoleAttach(ioport: Handle, notify: Handle, bits: UInt64) throws(SysError) {
    _ = try syscall(.consoleAttach, ioport.word, notify.word, bits)
}

/// Writes the terminal's bytes to COM1 as one piece and tells the kernel what its last line shows now.
public func consoleWrite(_ bytes: [UInt8], state: KernelLog.TerminalState) throws(SysError) {
    var i = 0
    repeat {
        let n = min(Int(KernelLog.maxWrite), bytes.count - i)
        let s = i + n == bytes.count ? state : KernelLog.TerminalState.output
        let start = i
        let error: UInt64 = bytes.withUnsafeBytes { b in
            raw_syscall(Syscall.consoleWrite.rawValue, pointerWord(b.baseAddress.map { $0 + start }), UInt64(n),
                        s.rawValue, 0, 0, 0).error
        }
        if error != 0 { throw SysError(code: error) }
        i += n
    } while i < bytes.count
}

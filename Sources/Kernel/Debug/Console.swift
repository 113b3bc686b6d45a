// The serial console (COM1) and the kernel log.
//
// Nothing here allocates, so panics and fault reports can use it whatever state the heap is in.
//
// The kernel uses no Swift String: on x86_64 Swift keeps flags in bits 60..63 of a string's storage
// pointer (the spare-bit mask 0xF000000000000007), and every address of the kernel image
// (0xffffffff80000000 up) has those bits set, so a String literal of more than 15 bytes there is misread.
// Log messages are StaticString literals with interpolations formatted into a fixed buffer (LogMessage).

#if !KERNEL
import ABI
#endif

enum Console {
    static let port: UInt16 = 0x3f8

    /// 115200 baud, 8N1, FIFO on.
    static func initialize() {
        port_out8(port + 1, 0x00)       // no interrupts
        port_out8(port + 3, 0x80)       // DLAB on
        port_out8(port + 0, 0x01)       // divisor 1: 115200 baud
        port_out8(port + 1, 0x00)
        port_out8(port + 3, 0x03)       // 8 bits, no parity, one stop bit
        port_out8(port + 2, 0xC7)       // FIFO on, cleared, 14-byte threshold
        port_out8(port + 4, 0x03)       // DTR, RTS
    }

    /// One byte of the kernel log: to COM1 (after the serial terminal's line is out of the way) and to
    /// the log ring (Debug/KernelLog.swift).
    static func write(_ byte: UInt8) {
        Terminal.beforeKernelByte()
        LogRing.append(byte)
        Terminal.kernelAtLineStart = byte == 10
        if byte == 10 { put(13) }
        put(byte)
    }

    /// One byte to COM1 that is not part of the log (the terminal's own output and its erasures).
    static func putRaw(_ byte: UInt8) { put(byte) }

    private static func put(_ byte: UInt8) {
        var spins = 0
        // Wait for the transmit holding register; give up after a while rather than hang forever.
        while port_in8(port + 5) & 0x20 == 0 && spins < 100_000 { spins += 1; cpu_pause() }
        port_out8(port, byte)
    }

    static func write(_ text: StaticString) {
        var sink = ConsoleSink()
        sink.write(text)
    }

    static func write<C: Collection>(bytes: C) where C.Element == UInt8 {
        for b in bytes { write(b) }
    }

    /// `0x` and exactly `digits` hexadecimal digits (register dumps line up).
    static func writeHex(_ value: UInt64, digits: Int = 16) {
        write(48); write(120)
        var shift = (digits - 1) * 4
        while shift >= 0 {
            write(hexDigit(UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xf))
            shift -= 4
        }
    }

    static func writeDecimal(_ value: UInt64) {
        var sink = ConsoleSink()
        sink.writeDecimal(value)
    }

    static func writeDecimal(_ value: Int) {
        var sink = ConsoleSink()
        sink.writeDecimal(value)
    }
}

struct ConsoleSink: ByteSink {
    mutating func write(_ byte: UInt8) { Console.write(byte) }
}

/// A log line: a string literal whose interpolations (integers, `hex:`, byte collections, static strings)
/// are formatted into a fixed inline buffer, without the heap and without String.
struct LogMessage: ExpressibleByStringInterpolation {
    static let capacity = 240
    var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var truncated = false

    init(stringLiteral literal: StaticString) { var sink = Sink(self); sink.write(literal); self = sink.message }
    init(stringInterpolation: Interpolation) { self = stringInterpolation.message }
    private init() {}

    /// Appends bytes, dropping what does not fit (the line then ends with "...").
    struct Sink: ByteSink {
        var message: LogMessage
        init(_ message: LogMessage) { self.message = message }
        mutating func write(_ byte: UInt8) {
            guard message.count < LogMessage.capacity else { message.truncated = true; return }
            let index = message.count
            withUnsafeMutableBytes(of: &message.storage) { $0[index] = byte }
            message.count += 1
        }
    }

    struct Interpolation: StringInterpolationProtocol {
        typealias StringLiteralType = StaticString
        var message = LogMessage()
        init(literalCapacity: Int, interpolationCount: Int) {}

        private mutating func with(_ body: (inout Sink) -> Void) {
            var sink = Sink(message)
            body(&sink)
            message = sink.message
        }
        mutating func appendLiteral(_ literal: StaticString) { with { $0.write(literal) } }
        mutating func appendInterpolation(_ literal: StaticString) { with { $0.write(literal) } }
        mutating func appendInterpolation<T: BinaryInteger>(_ value: T) {
            with { sink in
                if value < 0 { sink.writeDecimal(Int(truncatingIfNeeded: value)) } else { sink.writeDecimal(UInt64(truncatingIfNeeded: value)) }
            }
        }
        mutating func appendInterpolation<T: BinaryInteger>(hex value: T) {
            with { $0.writeHex(UInt64(truncatingIfNeeded: value)) }
        }
        /// Text held as bytes (command lines, boot loader names), non-printable bytes as '?'.
        mutating func appendInterpolation<C: Collection>(text bytes: C) where C.Element == UInt8 {
            with { sink in for b in bytes { sink.write(b >= 32 && b < 127 ? b : 63) } }
        }
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}

enum Log {
    static var level: LogLevel = .info

    static func isEnabled(_ l: LogLevel) -> Bool { l.rawValue >= level.rawValue }

    /// One line at a time, whichever CPU logs (a panic's report does not take it).
    static let lock = SpinLock(LockRanks.console)

    static func write(_ l: LogLevel, _ message: LogMessage) {
        guard isEnabled(l) else { return }
        lock.lock()
        defer { lock.unlock() }
        Console.write("[")
        Console.write(l.name)
        Console.write("] ")
        message.withBytes { Console.write(bytes: $0) }
        if message.truncated { Console.write("...") }
        Console.write(10)
    }

    static func trace(_ m: @autoclosure () -> LogMessage) { if isEnabled(.trace) { write(.trace, m()) } }
    static func debug(_ m: @autoclosure () -> LogMessage) { if isEnabled(.debug) { write(.debug, m()) } }
    static func info(_ m: @autoclosure () -> LogMessage) { if isEnabled(.info) { write(.info, m()) } }
    static func warn(_ m: @autoclosure () -> LogMessage) { if isEnabled(.warn) { write(.warn, m()) } }
    static func error(_ m: @autoclosure () -> LogMessage) { if isEnabled(.error) { write(.error, m()) } }
}

/// The bytes of a literal, without going through String.
func bytes(_ literal: StaticString) -> [UInt8] {
    Array(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
}

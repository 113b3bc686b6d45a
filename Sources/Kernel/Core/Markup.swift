// A writer of LLVM symbolizer markup (`{{{...}}}` elements, one per line), which `llvm-symbolizer
// --filter-markup` turns into function names and source lines on the host, and a frame-pointer walker.
//
// Both run on the panic path, so neither allocates: output goes byte by byte into a ByteSink and the
// walker fills a caller-provided buffer.

/// Where markup (or any text) goes, one byte at a time.
public protocol ByteSink {
    mutating func write(_ byte: UInt8)
}

extension ByteSink {
    /// Writes the bytes of a static string.
    public mutating func write(_ string: StaticString) {
        let start = string.utf8Start
        for i in 0..<string.utf8CodeUnitCount { write(start[i]) }
    }

    /// Writes raw bytes.
    public mutating func write<C: Collection>(bytes: C) where C.Element == UInt8 {
        for byte in bytes { write(byte) }
    }

    /// Writes `0x` and the lower-case hexadecimal digits of a value, without leading zeros.
    public mutating func writeHex(_ value: UInt64) {
        write(UInt8(ascii: "0"))
        write(UInt8(ascii: "x"))
        var shift = 60
        while shift > 0 && (value >> UInt64(shift)) & 0xf == 0 { shift -= 4 }
        while shift >= 0 {
            write(hexDigit(UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xf))
            shift -= 4
        }
    }

    /// Writes two lower-case hexadecimal digits per byte, without prefix (as build IDs are written).
    public mutating func writeHexBytes<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        for byte in bytes {
            write(hexDigit(byte >> 4))
            write(hexDigit(byte & 0xf))
        }
    }

    /// Writes the decimal digits of a value.
    public mutating func writeDecimal(_ value: UInt64) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            write(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (value / divisor) % 10))
            divisor /= 10
        }
    }

    /// Writes a signed decimal value.
    public mutating func writeDecimal(_ value: Int) {
        if value < 0 {
            write(UInt8(ascii: "-"))
            writeDecimal(UInt64(value.magnitude))
        } else {
            writeDecimal(UInt64(value))
        }
    }
}

func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
}

/// The elements of the LLVM Symbolizer Markup Format that the kernel emits. Each is written on its own
/// line, ending with a newline.
public enum Markup {
    /// How a code address in a `bt` or `pc` element is to be read.
    public enum AddressKind: Sendable {
        /// Left to the symbolizer's judgement (written without a suffix).
        case unspecified
        /// A return address: the symbolizer looks at the call before it (`ra`).
        case returnAddress
        /// The exact address of an instruction, e.g. the faulting one (`pc`).
        case preciseCode
    }

    /// `{{{reset}}}`: forget the modules and mappings of earlier output.
    public static func reset<S: ByteSink>(_ sink: inout S) {
        sink.write("{{{reset}}}\n")
    }

    /// `{{{module:ID:NAME:elf:BUILDID}}}`: an ELF file, known to the symbolizer by its build ID.
    public static func module<S: ByteSink, N: Collection, B: Collection>(_ sink: inout S, id: Int, name: N, buildID: B)
    where N.Element == UInt8, B.Element == UInt8 {
        sink.write("{{{module:")
        sink.writeDecimal(id)
        sink.write(UInt8(ascii: ":"))
        sink.write(bytes: name)
        sink.write(":elf:")
        sink.writeHexBytes(buildID)
        sink.write("}}}\n")
    }

    /// `module` with a static name such as "kernel".
    public static func module<S: ByteSink, B: Collection>(_ sink: inout S, id: Int, name: StaticString, buildID: B)
    where B.Element == UInt8 {
        module(&sink, id: id, name: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
               buildID: buildID)
    }

    /// `{{{mmap:START:SIZE:load:MODULE:FLAGS:RELATIVE}}}`: memory [start, start + size) holds the part of
    /// a module's segment at module-relative address `relativeAddress`. `flags` are ELF p_flags
    /// (4 read, 2 write, 1 execute), written as a subset of `rwx`.
    public static func mmap<S: ByteSink>(_ sink: inout S, start: UInt64, size: UInt64, module: Int, flags: UInt32,
                                         relativeAddress: UInt64) {
        sink.write("{{{mmap:")
        sink.writeHex(start)
        sink.write(UInt8(ascii: ":"))
        sink.writeHex(size)
        sink.write(":load:")
        sink.writeDecimal(module)
        sink.write(UInt8(ascii: ":"))
        if flags & 4 != 0 { sink.write(UInt8(ascii: "r")) }
        if flags & 2 != 0 { sink.write(UInt8(ascii: "w")) }
        if flags & 1 != 0 { sink.write(UInt8(ascii: "x")) }
        sink.write(UInt8(ascii: ":"))
        sink.writeHex(relativeAddress)
        sink.write("}}}\n")
    }

    /// `{{{bt:FRAME:ADDRESS[:ra|:pc]}}}`: one frame of a backtrace, frame 0 being the innermost.
    public static func backtrace<S: ByteSink>(_ sink: inout S, frame: Int, address: UInt64, kind: AddressKind) {
        sink.write("{{{bt:")
        sink.writeDecimal(frame)
        sink.write(UInt8(ascii: ":"))
        sink.writeHex(address)
        writeKind(&sink, kind)
        sink.write("}}}\n")
    }

    /// `{{{pc:ADDRESS[:ra|:pc]}}}`: a single code location, e.g. where a fault happened.
    public static func pc<S: ByteSink>(_ sink: inout S, address: UInt64, kind: AddressKind = .preciseCode) {
        sink.write("{{{pc:")
        sink.writeHex(address)
        writeKind(&sink, kind)
        sink.write("}}}\n")
    }

    /// A whole backtrace: the precise `pc` as frame 0 (when given) and then the return addresses.
    public static func backtrace<S: ByteSink>(_ sink: inout S, pc: UInt64?, returnAddresses: UnsafeBufferPointer<UInt64>) {
        var frame = 0
        if let pc {
            backtrace(&sink, frame: 0, address: pc, kind: .preciseCode)
            frame = 1
        }
        for address in returnAddresses {
            backtrace(&sink, frame: frame, address: address, kind: .returnAddress)
            frame += 1
        }
    }

    static func writeKind<S: ByteSink>(_ sink: inout S, _ kind: AddressKind) {
        switch kind {
        case .unspecified: break
        case .returnAddress: sink.write(":ra")
        case .preciseCode: sink.write(":pc")
        }
    }
}

/// Follows a chain of saved frame pointers (`[rbp]` = the caller's rbp, `[rbp + 8]` = the return
/// address) and stores the return addresses into `into`. Stops at a frame pointer that is zero,
/// misaligned, unreadable or not above the previous one, at a zero return address, after `maxFrames`
/// frames or when the buffer is full. Returns how many addresses were stored.
public func walkFramePointers(rbp: UInt64, maxFrames: Int, read: (UInt64) -> UInt64?,
                              into buffer: UnsafeMutableBufferPointer<UInt64>) -> Int {
    let limit = min(maxFrames, buffer.count)
    var frame = rbp
    var count = 0
    while count < limit {
        guard frame != 0, frame % 8 == 0, frame <= UInt64.max - 15 else { break }
        guard let returnAddress = read(frame + 8), returnAddress != 0 else { break }
        buffer[count] = returnAddress
        count += 1
        guard let next = read(frame), next > frame else { break }
        frame = next
    }
    return count
}

// fatal: a message, then a frame-pointer stack trace of this program in LLVM symbolizer markup (its module
// line names the program's GNU build ID; one mmap line per loaded segment), then process_exit.

/// The exit code of a process that called fatal.
public let fatalExitCode: UInt64 = 0xdead

@inline(never)
public func fatal(_ message: String) -> Never {
    print("PANIC: \(message)")
    // The first frame is fatal's caller: its return address sits just above this function's frame record.
    let rbp = read_rbp()
    let caller = UnsafePointer<UInt64>(bitPattern: UInt(rbp + 8))!.pointee
    let next = UnsafePointer<UInt64>(bitPattern: UInt(rbp))!.pointee
    writeStackTrace(returnAddress: caller, rbp: next)
    processExit(fatalExitCode)
}

/// Static message variant, for paths that must not allocate.
@inline(never)
public func fatal(_ message: StaticString) -> Never {
    Output.write("PANIC: ")
    Output.write(message)
    Output.write(10)
    let rbp = read_rbp()
    let caller = UnsafePointer<UInt64>(bitPattern: UInt(rbp + 8))!.pointee
    let next = UnsafePointer<UInt64>(bitPattern: UInt(rbp))!.pointee
    writeStackTrace(returnAddress: caller, rbp: next)
    processExit(fatalExitCode)
}

/// The GNU build ID bytes of this program (from .note.gnu.build-id, between user.ld's symbols).
public func programBuildID() -> UnsafeRawBufferPointer {
    let start = UnsafeRawPointer(symbol_build_id_note()!)
    let end = UnsafeRawPointer(symbol_build_id_note_end()!)
    return gnuBuildID(note: UnsafeRawBufferPointer(start: start, count: end - start))
}

/// The program's output as a ByteSink, for the markup writer (Sources/Kernel/Core/Markup.swift).
struct OutputSink: ByteSink {
    mutating func write(_ byte: UInt8) { Output.write(byte) }
}

/// `{{{reset}}}`, the module and mmap lines, frame 0 (a return address: `ra`), then the frames found by
/// following saved rbp values; stops at a zero, misaligned or non-increasing frame pointer, or one
/// outside the lower half.
public func writeStackTrace(returnAddress: UInt64, rbp: UInt64) {
    var sink = OutputSink()
    Markup.reset(&sink)
    Markup.module(&sink, id: 0, name: programName, buildID: programBuildID())
    let segments: [(UInt64, UInt64, UInt32)] = [(symbol_text_start(), symbol_text_end(), 5),
                                                (symbol_rodata_start(), symbol_rodata_end(), 4),
                                                (symbol_data_start(), symbol_image_end(), 6)]
    for (start, end, flags) in segments where end > start {
        Markup.mmap(&sink, start: start, size: end - start, module: 0, flags: flags, relativeAddress: start)
    }
    Markup.backtrace(&sink, frame: 0, address: returnAddress, kind: .returnAddress)
    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 63) { buffer in
        let count = walkFramePointers(rbp: rbp, maxFrames: 63, read: { address in
            guard address < 0x0000_8000_0000_0000 - 16 else { return nil }
            return UnsafePointer<UInt64>(bitPattern: UInt(address))!.pointee
        }, into: buffer)
        for i in 0..<count { Markup.backtrace(&sink, frame: i + 1, address: buffer[i], kind: .returnAddress) }
    }
}

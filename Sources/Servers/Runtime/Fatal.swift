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
    let size = end - start
    guard size >= 16 else { return UnsafeRawBufferPointer(start: start, count: 0) }
    let nameSize = Int(start.load(as: UInt32.self))
    let descSize = Int(start.load(fromByteOffset: 4, as: UInt32.self))
    let descOffset = 12 + ((nameSize + 3) & ~3)
    guard descOffset + descSize <= size else { return UnsafeRawBufferPointer(start: start, count: 0) }
    return UnsafeRawBufferPointer(start: start + descOffset, count: descSize)
}

/// `{{{reset}}}`, the module and mmap lines, frame 0 (a return address: `ra`), then the frames found by
/// following saved rbp values; stops at a zero, misaligned or non-increasing frame pointer, or one
/// outside the lower half.
public func writeStackTrace(returnAddress: UInt64, rbp: UInt64) {
    Output.write("{{{reset}}}\n{{{module:0:")
    Output.write(programName)
    Output.write(":elf:")
    for byte in programBuildID() {
        Output.write(Output.hexDigit(byte >> 4))
        Output.write(Output.hexDigit(byte & 0xf))
    }
    Output.write("}}}\n")
    writeMmap(start: symbol_text_start(), end: symbol_text_end(), flags: "rx")
    writeMmap(start: symbol_rodata_start(), end: symbol_rodata_end(), flags: "r")
    writeMmap(start: symbol_data_start(), end: symbol_image_end(), flags: "rw")
    writeFrame(0, returnAddress)
    var frame = rbp
    var index: UInt64 = 1
    while index < 64, frame != 0, frame & 7 == 0, frame < 0x0000_8000_0000_0000 - 16 {
        let returnAddress = UnsafePointer<UInt64>(bitPattern: UInt(frame + 8))!.pointee
        guard returnAddress != 0 else { break }
        writeFrame(index, returnAddress)
        index += 1
        let next = UnsafePointer<UInt64>(bitPattern: UInt(frame))!.pointee
        guard next > frame else { break }
        frame = next
    }
}

func writeMmap(start: UInt64, end: UInt64, flags: StaticString) {
    guard end > start else { return }
    Output.write("{{{mmap:")
    Output.writeHex(start)
    Output.write(":")
    Output.writeHex(end - start)
    Output.write(":load:0:")
    Output.write(flags)
    Output.write(":")
    Output.writeHex(start)
    Output.write("}}}\n")
}

func writeFrame(_ index: UInt64, _ address: UInt64) {
    Output.write("{{{bt:")
    Output.writeDecimal(index)
    Output.write(":")
    Output.writeHex(address)
    Output.write(":ra}}}\n")
}

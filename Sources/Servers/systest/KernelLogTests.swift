// The kernel log ring (log_read, system_info logSequence) and the serial terminal's syscalls
// (console_attach, console_write): Sources/ABI/Syscalls.swift, KernelLog.

let kernelLogTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("log.read_back", testLogReadBack),
    ("log.read_errors", testLogReadErrors),
    ("console.attach_errors", testConsoleAttachErrors),
    ("console.write_denied", testConsoleWriteDenied),
]

/// A line this process logs is in the ring at the sequence logSequence gave before it; the ring from 0
/// holds the boot log from its oldest byte on; a cursor past the end reads nothing.
func testLogReadBack() throws(SysError) {
    step("own line")
    let before = try systemInfo(.logSequence)
    print("systest: a line for the kernel log ring 7f3a")
    var reader = KernelLogReader(cursor: before)
    let mine = try reader.all()
    check(holds(mine, "systest: a line for the kernel log ring 7f3a\n"),
          "read back from \(before): \(String(decoding: mine, as: UTF8.self))")
    check(reader.lost == 0, "lost \(reader.lost) bytes")
    let after = try systemInfo(.logSequence)
    check(reader.cursor <= after && reader.cursor >= before + 44, "cursor \(reader.cursor), logSequence \(after)")

    step("from the start")
    var all = KernelLogReader()
    let boot = try all.all()
    let head = try systemInfo(.logSequence)
    check(UInt64(boot.count) + all.lost == all.cursor, "\(boot.count) bytes + \(all.lost) lost != cursor \(all.cursor)")
    check(all.cursor <= head && UInt64(boot.count) <= KernelLog.ringSize, "\(boot.count) bytes, cursor \(all.cursor), head \(head)")
    if all.lost == 0 { check(holds(boot, "[info] memory: "), "no boot line in the ring") }
    check(holds(boot, "systest: a line for the kernel log ring 7f3a"), "own line not in the whole ring")

    step("past the end")
    var future = KernelLogReader(cursor: head + 1_000_000)
    let none = try future.next(limit: 64)
    check(none.isEmpty && future.cursor >= head && future.cursor <= head + 4096,
          "past the end: \(none.count) bytes, cursor \(future.cursor), head \(head)")
}

/// Whether `text`'s bytes occur in `bytes`.
func holds(_ bytes: [UInt8], _ text: StaticString) -> Bool {
    let needle = Array(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    guard needle.count <= bytes.count else { return false }
    for i in 0...(bytes.count - needle.count) where bytes[i] == needle[0] && Array(bytes[i..<(i + needle.count)]) == needle {
        return true
    }
    return false
}

/// Every documented error of log_read: too long, unmapped or kernel buffers, a cursor that cannot be
/// read or written (nothing is copied to the cursor then).
func testLogReadErrors() throws(SysError) {
    let kernelAddress: UInt64 = 0xffff_8000_0000_0000
    let cursor = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)
    defer { cursor.deallocate(); buffer.deallocate() }
    cursor.pointee = 0
    let cw = UInt64(UInt(bitPattern: cursor)), bw = UInt64(UInt(bitPattern: buffer))
    expectError(.tooLarge, "log_read of more than 1 MiB") { () throws(SysError) in
        try syscall(.logRead, bw, KernelLog.maxRead + 1, cw)
    }
    expectError(.badAddress, "log_read into the kernel") { () throws(SysError) in try syscall(.logRead, kernelAddress, 16, cw) }
    expectError(.badAddress, "log_read with an unmapped cursor") { () throws(SysError) in try syscall(.logRead, bw, 16, 0x1000) }
    expectError(.badAddress, "log_read with a read-only cursor") { () throws(SysError) in
        try syscall(.logRead, bw, 16, TimePage.address)
    }
    check(cursor.pointee == 0, "a failed log_read moved the cursor to \(cursor.pointee)")
    let n = expectSuccess("log_read of 16 bytes") { () throws(SysError) in try syscall(.logRead, bw, 16, cw) }
    check(n == 16 && cursor.pointee >= 16, "16 bytes from the oldest: \(n ?? 0), cursor \(cursor.pointee)")
}

/// console_attach's errors: the wrong types, an IOPort without 0x3F8, bits 0, a Notify without .signal,
/// and COM1 while the console server is the terminal (.inUse).
func testConsoleAttachErrors() throws(SysError) {
    let notify = try notifyCreate()
    let weak = try handleDuplicate(notify, rights: [.wait])
    let com2 = try ioportCreate(machineResource, base: 0x2f8, count: 8)
    let com1 = try ioportCreate(machineResource, base: 0x3f8, count: 8)
    defer { closeAll(com1, com2, weak, notify) }
    expectError(.wrongType, "console_attach with a Notify as the IOPort") { () throws(SysError) in
        try consoleAttach(ioport: notify, notify: notify, bits: 1)
    }
    expectError(.wrongType, "console_attach with an IOPort as the Notify") { () throws(SysError) in
        try consoleAttach(ioport: com1, notify: com2, bits: 1)
    }
    expectError(.outOfRange, "console_attach with COM2's ports") { () throws(SysError) in
        try consoleAttach(ioport: com2, notify: notify, bits: 1)
    }
    expectError(.invalidArgument, "console_attach with bits 0") { () throws(SysError) in
        try consoleAttach(ioport: com1, notify: notify, bits: 0)
    }
    expectError(.accessDenied, "console_attach with a Notify lacking .signal") { () throws(SysError) in
        try consoleAttach(ioport: com1, notify: weak, bits: 1)
    }
    expectError(.inUse, "console_attach while the console server is attached") { () throws(SysError) in
        try consoleAttach(ioport: com1, notify: notify, bits: 1)
    }
}

/// console_write from a process that is not the terminal.
func testConsoleWriteDenied() throws(SysError) {
    expectError(.accessDenied, "console_write from systest") { () throws(SysError) in
        try consoleWrite(Array("not the terminal\n".utf8), state: .lineStart)
    }
}

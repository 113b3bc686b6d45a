// Tests of frames and vmems: sizes, reads and writes, lazy zeroing, mappings and their failure paths,
// rights of mappings and shared memory.

/// Reads one UInt64 from a frame.
func frameWord(_ frame: Handle, _ offset: UInt64) throws(SysError) -> UInt64 {
    var value: UInt64 = 0
    try withMutableBytes(of: &value) { (b) throws(SysError) in try frameRead(frame, offset: offset, into: b) }
    return value
}

/// Writes one UInt64 into a frame.
func setFrameWord(_ frame: Handle, _ offset: UInt64, _ value: UInt64) throws(SysError) {
    var v = value
    try withBytes(of: &v) { (b) throws(SysError) in try frameWrite(frame, offset: offset, from: b) }
}

/// How far a count fell from `before` to `after` (negative when it rose).
func drop(_ before: UInt64, _ after: UInt64) -> Int64 { Int64(bitPattern: before &- after) }

func testFrameCreate() throws(SysError) {
    expectError(.invalidArgument, "frame_create(0)") { () throws(SysError) in try frameCreate(size: 0) }
    expectError(.misaligned, "frame_create(4097)") { () throws(SysError) in try frameCreate(size: pageSize + 1) }
    expectError(.misaligned, "frame_create(100)") { () throws(SysError) in try frameCreate(size: 100) }
    let frame = try frameCreate(size: 3 * pageSize)
    defer { closeAll(frame) }
    check(try frameGetSize(frame) == 3 * pageSize, "frame_get_size is not 3 pages")
}

func testFrameReadWrite() throws(SysError) {
    let frame = try frameCreate(size: 2 * pageSize)
    defer { closeAll(frame) }
    let pattern = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    // Across the page boundary.
    try withBytes(pattern) { (b) throws(SysError) in try frameWrite(frame, offset: pageSize - 100, from: b) }
    var back = [UInt8](repeating: 0, count: 300)
    try withMutableBytes(&back) { (b) throws(SysError) in try frameRead(frame, offset: pageSize - 100, into: b) }
    check(back == pattern, "read back differs")
    check(try frameWord(frame, 0) == 0, "untouched bytes are not zero")
    var buffer = [UInt8](repeating: 0, count: 16)
    expectError(.invalidArgument, "frame_read across the end") { () throws(SysError) in
        try withMutableBytes(&buffer) { (b) throws(SysError) in try frameRead(frame, offset: 2 * pageSize - 8, into: b) }
    }
    expectError(.invalidArgument, "frame_read past the end") { () throws(SysError) in
        try withMutableBytes(&buffer) { (b) throws(SysError) in try frameRead(frame, offset: 3 * pageSize, into: b) }
    }
    expectError(.invalidArgument, "frame_write across the end") { () throws(SysError) in
        try withBytes(buffer) { (b) throws(SysError) in try frameWrite(frame, offset: 2 * pageSize - 1, from: b) }
    }
    expectError(.invalidArgument, "frame_read at an offset that wraps") { () throws(SysError) in
        try withMutableBytes(&buffer) { (b) throws(SysError) in try frameRead(frame, offset: UInt64.max - 4, into: b) }
    }
}

func testFrameLazyZero() throws(SysError) {
    let pages: UInt64 = 256
    let before = try systemInfo(.freeFrames)
    let frame = try frameCreate(size: pages * pageSize)
    defer { closeAll(frame) }
    let created = try systemInfo(.freeFrames)
    check(drop(before, created) < 16, "frame_create of 256 pages took \(drop(before, created)) frames at once")
    let at = Scratch.take(pages: pages)
    try vmemMap(Runtime.vmem, frame: frame, address: at, length: pages * pageSize, flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize) }
    let mapped = try systemInfo(.freeFrames)
    // Touch 32 pages by writing.
    for page in 0..<UInt64(32) {
        pointer(at + page * 8 * pageSize).storeBytes(of: page + 1, as: UInt64.self)
    }
    let touched = try systemInfo(.freeFrames)
    check(drop(mapped, touched) >= 32, "writing 32 pages took only \(drop(mapped, touched)) frames")
    // Everything reads as zero except what was written.
    var nonZero = 0
    let words = UnsafePointer<UInt64>(bitPattern: UInt(at))!
    for i in 0..<Int(pages * pageSize / 8) where words[i] != 0 { nonZero += 1 }
    check(nonZero == 32, "\(nonZero) non-zero words, expected 32")
    check(try frameWord(frame, 8 * pageSize) == 2, "frame_read does not see the mapping's write")
}

func testFrameSetSize() throws(SysError) {
    let frame = try frameCreate(size: 2 * pageSize)
    defer { closeAll(frame) }
    try setFrameWord(frame, pageSize + 8, 0xfeed)
    try frameSetSize(frame, 4 * pageSize)
    let grown = try frameGetSize(frame)
    check(grown == 4 * pageSize, "grow to 4 pages: size \(hex(grown))")
    check(try frameWord(frame, pageSize + 8) == 0xfeed, "contents lost when growing")
    check(try frameWord(frame, 3 * pageSize + 16) == 0, "grown pages are not zero")
    try frameSetSize(frame, pageSize)
    let shrunk = try frameGetSize(frame)
    check(shrunk == pageSize, "shrink to 1 page: size \(hex(shrunk))")
    expectError(.invalidArgument, "frame_read past a shrunk end") { () throws(SysError) in try frameWord(frame, pageSize + 8) }
    try frameSetSize(frame, 2 * pageSize)
    check(try frameWord(frame, pageSize + 8) == 0, "a page cut off and grown again is not zero")
    expectError(.invalidArgument, "frame_set_size(0)") { () throws(SysError) in try frameSetSize(frame, 0) }
    expectError(.misaligned, "frame_set_size(4097)") { () throws(SysError) in try frameSetSize(frame, pageSize + 1) }
    // Under a mapping: growing is fine, shrinking below the mapped range is not.
    let at = Scratch.take(pages: 2)
    try vmemMap(Runtime.vmem, frame: frame, address: at, length: 2 * pageSize, flags: [.read, .write])
    try frameSetSize(frame, 3 * pageSize)
    expectError(.badState, "shrinking under a mapping") { () throws(SysError) in try frameSetSize(frame, pageSize) }
    try frameSetSize(frame, 2 * pageSize)
    try vmemUnmap(Runtime.vmem, address: at, length: 2 * pageSize)
    try frameSetSize(frame, pageSize)
}

func testVmemMapBasic() throws(SysError) {
    let frame = try frameCreate(size: 2 * pageSize)
    defer { closeAll(frame) }
    let at = Scratch.take(pages: 2)
    try vmemMap(Runtime.vmem, frame: frame, address: at, length: 2 * pageSize, flags: [.read, .write])
    pointer(at + pageSize + 24).storeBytes(of: 0x1122_3344_5566_7788, as: UInt64.self)
    check(try frameWord(frame, pageSize + 24) == 0x1122_3344_5566_7788, "frame_read misses a store through the mapping")
    try setFrameWord(frame, 40, 0xabcdef)
    check(pointer(at + 40).load(as: UInt64.self) == 0xabcdef, "the mapping misses a frame_write")
    try vmemUnmap(Runtime.vmem, address: at, length: 2 * pageSize)
    expectError(.notMapped, "unmapping twice") { () throws(SysError) in
        try vmemUnmap(Runtime.vmem, address: at, length: 2 * pageSize)
    }
    // After the unmap the same handle maps again; an offset picks the second page.
    let again = Scratch.take(pages: 1)
    try vmemMap(Runtime.vmem, frame: frame, address: again, offset: pageSize, length: pageSize, flags: [.read])
    check(pointer(again + 24).load(as: UInt64.self) == 0x1122_3344_5566_7788, "offset mapping shows other bytes")
    try vmemUnmap(Runtime.vmem, address: again, length: pageSize)
    // Every cache mode is accepted on ordinary memory.
    for mode in CacheMode.allCases {
        let m = Scratch.take(pages: 1)
        if expectSuccess("vmem_map with a cache mode", { () throws(SysError) in
            try vmemMap(Runtime.vmem, frame: frame, address: m, length: pageSize, flags: [.read, .write], cache: mode)
        }) != nil {
            _ = try? vmemUnmap(Runtime.vmem, address: m, length: pageSize)
        }
    }
}

func testVmemMapErrors() throws(SysError) {
    let frame = try frameCreate(size: 2 * pageSize)
    defer { closeAll(frame) }
    let vmem = Runtime.vmem
    let at = Scratch.take(pages: 4)
    func map(_ address: UInt64, _ offset: UInt64, _ length: UInt64) throws(SysError) {
        try vmemMap(vmem, frame: frame, address: address, offset: offset, length: length, flags: [.read, .write])
    }
    expectError(.misaligned, "misaligned address") { () throws(SysError) in try map(at + 8, 0, pageSize) }
    expectError(.misaligned, "misaligned offset") { () throws(SysError) in try map(at, 8, pageSize) }
    expectError(.misaligned, "misaligned length") { () throws(SysError) in try map(at, 0, pageSize - 8) }
    expectError(.invalidArgument, "length 0") { () throws(SysError) in try map(at, 0, 0) }
    expectError(.badAddress, "address at the user limit") { () throws(SysError) in try map(userAddressLimit, 0, pageSize) }
    expectError(.badAddress, "range across the user limit") { () throws(SysError) in try map(userAddressLimit - pageSize, 0, 2 * pageSize) }
    expectError(.badAddress, "kernel address") { () throws(SysError) in try map(kernelAddress, 0, pageSize) }
    expectError(.badAddress, "range that wraps") { () throws(SysError) in try map(UInt64.max - pageSize + 1, 0, 2 * pageSize) }
    expectError(.invalidArgument, "length past the frame") { () throws(SysError) in try map(at, 0, 3 * pageSize) }
    expectError(.invalidArgument, "offset past the frame") { () throws(SysError) in try map(at, 2 * pageSize, pageSize) }
    expectError(.invalidArgument, "offset + length past the frame") { () throws(SysError) in try map(at, pageSize, 2 * pageSize) }
    expectError(.invalidArgument, "unknown cache mode") { () throws(SysError) in
        try vmemMap(vmem, frame: frame, address: at, offset: 0, length: pageSize, rawFlags: 3 | 9 << 8)
    }

    step("one live mapping per handle")
    try map(at, 0, 2 * pageSize)
    defer { _ = try? vmemUnmap(vmem, address: at, length: 2 * pageSize) }
    let other = Scratch.take(pages: 2)
    expectError(.badState, "the same handle mapped twice") { () throws(SysError) in try map(other, 0, pageSize) }
    let duplicate = try handleDuplicate(frame, rights: [.read, .write, .map])
    defer { closeAll(duplicate) }
    if expectSuccess("a duplicate maps the frame again", { () throws(SysError) in
        try vmemMap(vmem, frame: duplicate, address: other, length: pageSize, flags: [.read])
    }) != nil {
        try vmemUnmap(vmem, address: other, length: pageSize)
    }

    step("overlaps")
    for (address, length) in [(at, 2 * pageSize), (at + pageSize, 2 * pageSize), (at - pageSize, 2 * pageSize), (at + pageSize, pageSize)] {
        expectError(.overlapping, "overlapping mapping") { () throws(SysError) in
            try vmemMap(vmem, frame: duplicate, address: address, length: length, flags: [.read])
        }
    }

    step("unmap")
    expectError(.notMapped, "unmapping nothing") { () throws(SysError) in try vmemUnmap(vmem, address: other, length: pageSize) }
    expectError(.misaligned, "misaligned unmap") { () throws(SysError) in try vmemUnmap(vmem, address: at + 8, length: 2 * pageSize) }
    expectError(.invalidArgument, "unmapping 0 bytes") { () throws(SysError) in try vmemUnmap(vmem, address: at, length: 0) }
    expectError(.badAddress, "unmapping a range that wraps") { () throws(SysError) in
        try vmemUnmap(vmem, address: UInt64.max - pageSize + 1, length: 2 * pageSize)
    }
    // Any page range (vmem.partial_unmap tests the pieces): the tail, then more than is left.
    try vmemUnmap(vmem, address: at + pageSize, length: pageSize)
    expectError(.notMapped, "unmapping the tail twice") { () throws(SysError) in try vmemUnmap(vmem, address: at + pageSize, length: pageSize) }
    try vmemUnmap(vmem, address: at, length: 3 * pageSize)
    expectError(.notMapped, "unmapping the head twice") { () throws(SysError) in try vmemUnmap(vmem, address: at, length: pageSize) }
}

func testMappingRights() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    defer { closeAll(frame) }
    try setFrameWord(frame, 0, 0x0ead_0000_0000_0001)
    let readOnly = try handleDuplicate(frame, rights: [.read, .map])
    let writeOnly = try handleDuplicate(frame, rights: [.write, .map])
    defer { closeAll(readOnly, writeOnly) }
    let at = Scratch.take(pages: 1)
    expectError(.accessDenied, "writable map of a read-only handle") { () throws(SysError) in
        try vmemMap(Runtime.vmem, frame: readOnly, address: at, length: pageSize, flags: [.read, .write])
    }
    expectError(.accessDenied, "executable map without .exec") { () throws(SysError) in
        try vmemMap(Runtime.vmem, frame: readOnly, address: at, length: pageSize, flags: [.read, .exec])
    }
    expectError(.accessDenied, "any map without .read") { () throws(SysError) in
        try vmemMap(Runtime.vmem, frame: writeOnly, address: at, length: pageSize, flags: [.read, .write])
    }
    try vmemMap(Runtime.vmem, frame: readOnly, address: at, length: pageSize, flags: [.read])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pageSize) }
    check(pointer(at).load(as: UInt64.self) == 0x0ead_0000_0000_0001, "the read-only mapping shows other bytes")
    // The kernel must not write into a read-only mapping on the caller's behalf either.
    expectError(.badAddress, "frame_read into a read-only mapping") { () throws(SysError) in
        try frameRead(frame, offset: 0, address: at, length: 8)
    }
    // Reading from it is fine.
    try frameWrite(frame, offset: 64, address: at, length: 8)
    check(try frameWord(frame, 64) == 0x0ead_0000_0000_0001, "frame_write from a read-only mapping")
    // A child that stores into its read-only code page faults.
    let code = try Child.run(code: [0xc7, 0x04, 0x25] + Code.imm32(UInt32(Code.base)) + Code.imm32(1) + Code.exit(0))
    check(code != 0, "a store into a read-only mapping did not fault (exit code \(code))")
}

func testSharedMemory() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    let second = try handleDuplicate(frame, rights: [.read, .write, .map])
    defer { closeAll(frame, second) }
    let a = Scratch.take(pages: 1)
    let b = Scratch.take(pages: 1)
    try vmemMap(Runtime.vmem, frame: frame, address: a, length: pageSize, flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: a, length: pageSize) }
    try vmemMap(Runtime.vmem, frame: second, address: b, length: pageSize, flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: b, length: pageSize) }
    pointer(a + 128).storeBytes(of: 0xaaaa_5555, as: UInt64.self)
    check(pointer(b + 128).load(as: UInt64.self) == 0xaaaa_5555, "b does not see a's write")
    pointer(b + 256).storeBytes(of: 0x5555_aaaa, as: UInt64.self)
    check(pointer(a + 256).load(as: UInt64.self) == 0x5555_aaaa, "a does not see b's write")
}

func testSharedWithChild() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    let forChild = try handleDuplicate(frame, rights: [.read, .write, .map])
    defer { closeAll(frame, forChild) }
    let a = Scratch.take(pages: 1)
    try vmemMap(Runtime.vmem, frame: frame, address: a, length: pageSize, flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: a, length: pageSize) }
    let shared: UInt32 = 0x50_0000
    var child = try Child.create(code: Code.storeThenExitWithNextWord(shared, 0xc0ff_ee42))
    defer { child.close() }
    try vmemMap(child.vmem, frame: forChild, address: UInt64(shared), length: pageSize, flags: [.read, .write])
    pointer(a + 4).storeBytes(of: 0x1234, as: UInt32.self)
    try child.spawn()
    let code = try processWait(child.process)
    check(code == 0x1234, "the child read \(hex(code)) from shared memory, expected 0x1234")
    let stored = pointer(a).load(as: UInt32.self)
    check(stored == 0xc0ff_ee42, "the root sees \(hex(UInt64(stored))) where the child stored 0xc0ffee42")
}

func testVmemReadWrite() throws(SysError) {
    let vmem = try vmemCreate()
    let frame = try frameCreate(size: 2 * pageSize)
    let mapped = try handleDuplicate(frame, rights: [.read, .write, .map])
    defer { closeAll(vmem, frame, mapped) }
    try vmemMap(vmem, frame: mapped, address: 0x60_0000, length: 2 * pageSize, flags: [.read, .write])
    let message = (0..<200).map { UInt8(truncatingIfNeeded: 255 - $0) }
    // Across the page boundary inside the child.
    try withBytes(message) { (b) throws(SysError) in try vmemWrite(vmem, address: 0x60_0000 + pageSize - 50, from: b) }
    var back = [UInt8](repeating: 0, count: 200)
    try withMutableBytes(&back) { (b) throws(SysError) in try vmemRead(vmem, address: 0x60_0000 + pageSize - 50, into: b) }
    check(back == message, "vmem_read differs from vmem_write")
    var viaFrame = [UInt8](repeating: 0, count: 200)
    try withMutableBytes(&viaFrame) { (b) throws(SysError) in try frameRead(frame, offset: pageSize - 50, into: b) }
    check(viaFrame == message, "frame_read differs from vmem_write")
    var buffer = [UInt8](repeating: 0, count: 16)
    expectError(.badAddress, "vmem_read where the target has nothing mapped") { () throws(SysError) in
        try withMutableBytes(&buffer) { (b) throws(SysError) in try vmemRead(vmem, address: 0x70_0000, into: b) }
    }
    expectError(.badAddress, "vmem_write running off the target's mapping") { () throws(SysError) in
        try withBytes(buffer) { (b) throws(SysError) in try vmemWrite(vmem, address: 0x60_0000 + 2 * pageSize - 8, from: b) }
    }
    expectError(.badAddress, "vmem_read of a kernel address") { () throws(SysError) in
        try withMutableBytes(&buffer) { (b) throws(SysError) in try vmemRead(vmem, address: kernelAddress, into: b) }
    }
}

/// Memory above 4 GiB: touches pages of a mapped Frame, 64 at a time, until some come from above 4 GiB
/// (system_info `freeFramesAbove4GiB` drops), checks every written word through frame_read (the kernel's
/// direct map) and the mapping, then closes everything and expects both free counts back at baseline.
/// Without memory above 4 GiB (a 512 MiB boot) the count must stay 0.
func testMemoryAbove4GiB() throws(SysError) {
    // The counts are the machine's: wait until other processes stop taking frames (init and pm finish
    // starting this suite while it runs; with low memory used up by the touch loop below, a frame they
    // take then comes from above 4 GiB).
    try settleFrameCounts()
    let baseHigh = try systemInfo(.freeFramesAbove4GiB)
    guard baseHigh > 0 else { return }
    let baseFree = try systemInfo(.freeFrames) + systemInfo(.heapPages)
    let pages: UInt64 = 1 << 18   // 1 GiB of address space; only touched pages cost frames
    let frame = try frameCreate(size: pages * pageSize)
    let at = Scratch.take(pages: pages)
    step("map")
    try vmemMap(Runtime.vmem, frame: frame, address: at, length: pages * pageSize, flags: [.read, .write])
    var touched: UInt64 = 0
    step("touch")
    while touched < pages, try systemInfo(.freeFramesAbove4GiB) == baseHigh {
        for page in touched..<(touched + 64) { pointer(at + page * pageSize).storeBytes(of: page ^ 0x5a5a, as: UInt64.self) }
        touched += 64
    }
    check(try systemInfo(.freeFramesAbove4GiB) < baseHigh, "touched \(touched) pages, none above 4 GiB")
    step("read back")
    for page in 0..<touched where try frameWord(frame, page * pageSize) != page ^ 0x5a5a {
        fail("page \(page) reads back wrong through frame_read")
        break
    }
    step("release")
    try vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize)
    try handleClose(frame)
    check(try systemInfo(.freeFramesAbove4GiB) == baseHigh, "frames above 4 GiB not back at baseline")
    let free = try systemInfo(.freeFrames) + systemInfo(.heapPages)
    check(free == baseFree, "free frames and heap pages \(baseFree) -> \(free)")
}

/// Waits (at most 3 s) until the free frame count stays the same over five 20 ms sleeps.
func settleFrameCounts() throws(SysError) {
    var last = try systemInfo(.freeFrames), same = 0
    for _ in 0..<150 where same < 5 {
        threadSleep(nanoseconds: 20_000_000)
        let now = try systemInfo(.freeFrames)
        same = now == last ? same + 1 : 0
        last = now
    }
}

/// A stale TLB entry is not used after an unmap across an address-space switch (with PCIDs, a switch
/// keeps the entries of both address spaces): a child reads a data page D in a loop, marking a shared
/// page F once it has; root, running in its own address space, unmaps D from the child's vmem, then
/// sets F's flag. The child's next read of D must fault (before the fix it would see the flag and exit 0).
func testStaleTLBAfterUnmap() throws(SysError) {
    let data: UInt32 = 0x60_0000, flag: UInt32 = 0x80_0000
    let code: [UInt8] = [0x48, 0x8b, 0x04, 0x25] + Code.imm32(data)          // 0: mov D, %rax
        + [0xc7, 0x04, 0x25] + Code.imm32(flag + 8) + Code.imm32(1)          // 8: movl $1, F+8
        + [0x48, 0x8b, 0x1c, 0x25] + Code.imm32(flag)                        // 19: mov F, %rbx
        + [0x48, 0x85, 0xdb, 0x74, 0xe0]                                     // 27: test; jz 0
        + Code.exit(0)
    var child = try Child.create(code: code)
    let dataFrame = try frameCreate(size: pageSize), flagFrame = try frameCreate(size: pageSize)
    defer { closeAll(dataFrame, flagFrame); child.close() }
    step("map")
    try setFrameWord(dataFrame, 0, 0x1234)
    try vmemMap(child.vmem, frame: dataFrame, address: UInt64(data), length: pageSize, flags: [.read])
    try vmemMap(child.vmem, frame: flagFrame, address: UInt64(flag), length: pageSize, flags: [.read, .write])
    try child.spawn()
    step("wait for the child's first read")
    waitUntil { (try? frameWord(flagFrame, 8)) != 0 }
    check(try frameWord(flagFrame, 8) == 1, "the child never read its data page")
    step("unmap while the child is switched out (or runs on another CPU)")
    try vmemUnmap(child.vmem, address: UInt64(data), length: pageSize)
    try setFrameWord(flagFrame, 0, 1)
    let exit = try processWait(child.process)
    check(exit == ExitCode.fault(vector: 14), "the child read an unmapped page: exit \(hex(exit)), expected a page fault")
}

// Tests of the second floor of frames and address spaces: copy-on-write clones (frame_clone), the shared
// zero page, mappings at a kernel-chosen address, and unmapping and protecting any page range. Each test
// ends with free frames and live objects back at their baseline (settle, Fuzz.swift).

/// Where a child maps the data frame of a test (its code page is at Code.base).
let childData: UInt64 = 0x50_0000

/// Reads one UInt64 through this process's own vmem with vmem_read (an unmapped or unreadable page
/// gives .badAddress instead of a fault).
func vmemWord(_ address: UInt64) throws(SysError) -> UInt64 {
    var value: UInt64 = 0
    try withMutableBytes(of: &value) { (b) throws(SysError) in try vmemRead(Runtime.vmem, address: address, into: b) }
    return value
}

/// Writes one UInt64 through this process's own vmem with vmem_write.
func setVmemWord(_ address: UInt64, _ value: UInt64) throws(SysError) {
    var v = value
    try withBytes(of: &v) { (b) throws(SysError) in try vmemWrite(Runtime.vmem, address: address, from: b) }
}

/// Checks that frames and objects are back where they were before the test (dying children are let go).
func checkBaseline(_ before: KernelFigures) {
    let after = settle(until: before)
    check(after.matches(before), "frames or objects not back at the baseline: free frames \(before.freeFrames) -> \(after.freeFrames), heap pages \(before.heapPages) -> \(after.heapPages), objects \(before.liveObjects) -> \(after.liveObjects)")
}

/// A child whose code stores `value` at `address` and exits with the 32-bit word at `address + 4`, with
/// `frame` mapped read/write at childData; it is started and waited for, and its exit code returned.
func runChildOnFrame(_ frame: Handle, pages: UInt64, protect: (Handle) throws(SysError) -> Void = { _ in },
                     store value: UInt32, at address: UInt64) throws(SysError) -> UInt64 {
    var child = try Child.create(code: Code.storeThenExitWithNextWord(UInt32(address), value))
    defer { child.close() }
    let forChild = try handleDuplicate(frame, rights: [.read, .write, .map])
    defer { closeAll(forChild) }
    try vmemMap(child.vmem, frame: forChild, address: childData, length: pages * pageSize, flags: [.read, .write])
    try protect(child.vmem)
    try child.spawn()
    return try processWait(child.process)
}

/// Fork-like copy on write: parent and child write different values to the same page of a clone pair,
/// each sees its own, and the clone keeps the values of the moment it was made.
func testCowFork() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let frame = try frameCreate(size: 4 * pageSize)
        defer { closeAll(frame) }
        let at = Scratch.take(pages: 4)
        try vmemMap(Runtime.vmem, frame: frame, address: at, length: 4 * pageSize, flags: [.read, .write])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: 4 * pageSize) }
        for page in 0..<UInt64(4) { pointer(at + page * pageSize).storeBytes(of: 0x2222_0000_1111 + page, as: UInt64.self) }
        let free = try systemInfo(.freeFrames)
        step("clone")
        let clone = try frameClone(frame, size: 4 * pageSize)
        defer { closeAll(clone) }
        check(drop(free, try systemInfo(.freeFrames)) < 4, "frame_clone of 4 touched pages copied them")
        step("the parent writes after the clone")
        pointer(at).storeBytes(of: 0x5555_0000_1111, as: UInt64.self)
        check(pointer(at).load(as: UInt64.self) == 0x5555_0000_1111, "the parent does not see its own write")
        check(try frameWord(clone, 0) == 0x2222_0000_1111, "the clone sees the parent's write made after the clone")
        step("the child writes its clone")
        let code = try runChildOnFrame(clone, pages: 4, store: 0x3333, at: childData)
        check(code == 0x2222, "the child read \(hex(code)) beside its write, expected the clone's 0x2222")
        check(try frameWord(clone, 0) == 0x2222_0000_3333, "the clone does not hold the child's write")
        check(pointer(at).load(as: UInt64.self) == 0x5555_0000_1111, "the parent sees the child's write")
        for page in 1..<UInt64(4) {
            check(try frameWord(clone, page * pageSize) == 0x2222_0000_1111 + page, "an unwritten page of the clone changed")
            check(pointer(at + page * pageSize).load(as: UInt64.self) == 0x2222_0000_1111 + page, "an unwritten page of the parent changed")
        }
        step("the parent writes page 3")
        pointer(at + 3 * pageSize).storeBytes(of: 7, as: UInt64.self)
        check(try frameWord(clone, 3 * pageSize) == 0x2222_0000_1114, "the clone sees the parent's later write to page 3")
    }
    checkBaseline(before)
}

/// Clones of clones; closing the source keeps the clone's data; a read-only handle gives a read-only clone.
func testCowChains() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let source = try frameCreate(size: 2 * pageSize)
        try setFrameWord(source, 0, 1)
        try setFrameWord(source, pageSize, 2)
        let first = try frameClone(source, size: 2 * pageSize)
        defer { closeAll(first) }
        let second = try frameClone(first, offset: pageSize, size: pageSize)
        defer { closeAll(second) }
        try setFrameWord(first, pageSize, 20)
        check(try frameWord(second, 0) == 2, "a clone of a clone sees its source's later write")
        check(try frameWord(source, pageSize) == 2, "the source sees its clone's write")
        step("closing the source")
        try handleClose(source)
        let (kept0, kept1) = (try frameWord(first, 0), try frameWord(first, pageSize))
        check(kept0 == 1 && kept1 == 20, "the clone lost data with its source")
        try setFrameWord(second, 0, 30)
        let (firstWord, secondWord) = (try frameWord(first, pageSize), try frameWord(second, 0))
        check(firstWord == 20 && secondWord == 30, "the last two holders mixed up")
        step("a read-only handle")
        let readOnly = try handleDuplicate(first, rights: [.read, .map, .duplicate])
        defer { closeAll(readOnly) }
        let roClone = try frameClone(readOnly, size: pageSize)
        defer { closeAll(roClone) }
        check(!(try handleIdentify(roClone).rights.contains(.write)), "a read-only handle gave a writable clone")
        expectError(.accessDenied, "frame_write to a read-only clone") { () throws(SysError) in try setFrameWord(roClone, 0, 9) }
        expectError(.accessDenied, "a writable mapping of a read-only clone") { () throws(SysError) in
            _ = try vmemMapAnywhere(Runtime.vmem, frame: roClone, length: pageSize, flags: [.read, .write])
        }
        step("errors")
        expectError(.misaligned, "frame_clone at a misaligned offset") { () throws(SysError) in try frameClone(first, offset: 8, size: pageSize) }
        expectError(.misaligned, "frame_clone of a misaligned size") { () throws(SysError) in try frameClone(first, size: 100) }
        expectError(.invalidArgument, "frame_clone of 0 bytes") { () throws(SysError) in try frameClone(first, size: 0) }
        expectError(.invalidArgument, "frame_clone past the end") { () throws(SysError) in try frameClone(first, offset: pageSize, size: 2 * pageSize) }
        expectError(.invalidArgument, "frame_clone at an offset that wraps") { () throws(SysError) in
            try frameClone(first, offset: UInt64.max & ~(pageSize - 1), size: 2 * pageSize)
        }
        expectError(.wrongType, "frame_clone of a vmem") { () throws(SysError) in try frameClone(Runtime.vmem, size: pageSize) }
        let noRead = try handleDuplicate(first, rights: [.map])
        defer { closeAll(noRead) }
        expectError(.accessDenied, "frame_clone without .read") { () throws(SysError) in try frameClone(noRead, size: pageSize) }
    }
    checkBaseline(before)
}

/// Untouched pages read as zeros through the shared zero page and cost no frame; the first write does.
func testZeroPage() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let pages: UInt64 = 64
        let frame = try frameCreate(size: pages * pageSize)
        defer { closeAll(frame) }
        let at = try vmemMapAnywhere(Runtime.vmem, frame: frame, from: Scratch.take(pages: pages), length: pages * pageSize,
                                     flags: [.read, .write])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize) }
        let usage = try processGetUsage(Runtime.process, .frames)
        let free = try systemInfo(.freeFrames)
        var sum: UInt64 = 0
        for page in 0..<pages { sum &+= pointer(at + page * pageSize + 8).load(as: UInt64.self) }
        check(sum == 0, "untouched pages are not zero")
        check(try processGetUsage(Runtime.process, .frames) == usage, "reading untouched pages charged frames")
        // Page tables for the range may be allocated (one or two); no page per page read.
        check(drop(free, try systemInfo(.freeFrames)) <= 3, "reading 64 untouched pages took frames for pages")
        step("the first write")
        pointer(at + 5 * pageSize).storeBytes(of: 42, as: UInt64.self)
        check(pointer(at + 5 * pageSize).load(as: UInt64.self) == 42, "the write is not seen")
        check(pointer(at + 6 * pageSize).load(as: UInt64.self) == 0, "a neighbour of the written page is not zero")
        check(try processGetUsage(Runtime.process, .frames) == usage + 1, "one write did not charge exactly one frame")
        check(try frameWord(frame, 5 * pageSize) == 42, "frame_read does not see the write")
        check(try frameWord(frame, 7 * pageSize) == 0, "an untouched page reads non-zero through frame_read")
        check(try processGetUsage(Runtime.process, .frames) == usage + 1, "frame_read of an untouched page charged a frame")
    }
    checkBaseline(before)
}

/// vmem_map with a kernel-chosen address: distinct, free, page-aligned addresses; its errors.
func testMapAnywhere() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let frame = try frameCreate(size: 2 * pageSize)
        let second = try handleDuplicate(frame, rights: [.read, .write, .map])
        defer { closeAll(frame, second) }
        let low = Scratch.take(pages: 8)
        let a = try vmemMapAnywhere(Runtime.vmem, frame: frame, from: low, length: 2 * pageSize, flags: [.read, .write])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: a, length: 2 * pageSize) }
        let b = try vmemMapAnywhere(Runtime.vmem, frame: second, from: low, length: 2 * pageSize, flags: [.read])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: b, length: 2 * pageSize) }
        check(a >= low && b >= low && a % pageSize == 0 && b % pageSize == 0, "addresses \(hex(a)), \(hex(b)) below \(hex(low)) or misaligned")
        check(a + 2 * pageSize <= b || b + 2 * pageSize <= a, "two anywhere mappings overlap at \(hex(a)), \(hex(b))")
        pointer(a + pageSize).storeBytes(of: 77, as: UInt64.self)
        check(pointer(b + pageSize).load(as: UInt64.self) == 77, "the two mappings do not show the same frame")
        let c = try frameCreate(size: pageSize)
        defer { closeAll(c) }
        let d = try vmemMapAnywhere(Runtime.vmem, frame: c, length: pageSize, flags: [.read])
        check(d >= VmemMapOptions.defaultBase, "an anywhere mapping from 0 went to \(hex(d))")
        try vmemUnmap(Runtime.vmem, address: d, length: pageSize)
        step("errors")
        let big = try frameCreate(size: 1 << 46)
        defer { closeAll(big) }
        expectError(.outOfVirtualMemory, "an anywhere mapping larger than the free space above") { () throws(SysError) in
            try vmemMapAnywhere(Runtime.vmem, frame: big, from: userAddressLimit - (1 << 45), length: 1 << 46, flags: [.read])
        }
        expectError(.invalidArgument, "an anywhere mapping of 0 bytes") { () throws(SysError) in
            try vmemMapAnywhere(Runtime.vmem, frame: c, length: 0, flags: [.read])
        }
        expectError(.misaligned, "an anywhere mapping from a misaligned address") { () throws(SysError) in
            try vmemMapAnywhere(Runtime.vmem, frame: c, from: low + 8, length: pageSize, flags: [.read])
        }
        expectError(.outOfVirtualMemory, "an anywhere mapping from the kernel half") { () throws(SysError) in
            try vmemMapAnywhere(Runtime.vmem, frame: c, from: kernelAddress, length: pageSize, flags: [.read])
        }
    }
    checkBaseline(before)
}

/// Unmapping part of a mapping splits it; the rest stays with its data.
func testPartialUnmap() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let frame = try frameCreate(size: 4 * pageSize)
        defer { closeAll(frame) }
        let at = Scratch.take(pages: 4)
        try vmemMap(Runtime.vmem, frame: frame, address: at, length: 4 * pageSize, flags: [.read, .write])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: 4 * pageSize) }
        for page in 0..<UInt64(4) { pointer(at + page * pageSize).storeBytes(of: 100 + page, as: UInt64.self) }
        try vmemUnmap(Runtime.vmem, address: at + pageSize, length: pageSize)
        expectError(.badAddress, "a read of the unmapped middle page") { () throws(SysError) in try vmemWord(at + pageSize) }
        for page in [UInt64(0), 2, 3] {
            check(try vmemWord(at + page * pageSize) == 100 + page, "page \(page) lost its data after the middle was unmapped")
        }
        pointer(at + 2 * pageSize + 8).storeBytes(of: 5, as: UInt64.self)
        check(try frameWord(frame, 2 * pageSize + 8) == 5, "the upper piece no longer maps the frame at its offset")
        expectError(.notMapped, "unmapping the middle page twice") { () throws(SysError) in
            try vmemUnmap(Runtime.vmem, address: at + pageSize, length: pageSize)
        }
        // A range over a gap and two pieces.
        try vmemUnmap(Runtime.vmem, address: at, length: 3 * pageSize)
        check(try vmemWord(at + 3 * pageSize) == 103, "the last page went with a range that ended before it")
        expectError(.badAddress, "a read of an unmapped head page") { () throws(SysError) in try vmemWord(at) }
    }
    checkBaseline(before)
}

/// vmem_protect on part of a mapping: a write after protect faults (in a child), vmem_write is refused,
/// the rest keeps its rights; never above the handle's rights.
func testProtect() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let frame = try frameCreate(size: 3 * pageSize)
        defer { closeAll(frame) }
        let at = Scratch.take(pages: 3)
        try vmemMap(Runtime.vmem, frame: frame, address: at, length: 3 * pageSize, flags: [.read, .write])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: 3 * pageSize) }
        for page in 0..<UInt64(3) { pointer(at + page * pageSize).storeBytes(of: 10 + page, as: UInt64.self) }
        try vmemProtect(Runtime.vmem, address: at + pageSize, length: pageSize, flags: [.read])
        expectError(.badAddress, "vmem_write into a page protected read-only") { () throws(SysError) in try setVmemWord(at + pageSize, 1) }
        check(try vmemWord(at + pageSize) == 11, "the protected page lost its data")
        try setVmemWord(at, 20)
        try setVmemWord(at + 2 * pageSize, 22)
        check(pointer(at + 2 * pageSize).load(as: UInt64.self) == 22, "the page above the protected one")
        try vmemProtect(Runtime.vmem, address: at, length: 3 * pageSize, flags: [.read, .write])
        pointer(at + pageSize).storeBytes(of: 21, as: UInt64.self)
        check(try frameWord(frame, pageSize) == 21, "a write after giving the write right back")
        step("a child's write after protect faults")
        let faulted = try runChildOnFrame(frame, pages: 3, protect: { (vmem) throws(SysError) in
            try vmemProtect(vmem, address: childData, length: pageSize, flags: [.read])
        }, store: 1, at: childData)
        check(faulted == ExitCode.fault(vector: 14), "a write to a protected page ended the child with \(hex(faulted))")
        let allowed = try runChildOnFrame(frame, pages: 3, protect: { (vmem) throws(SysError) in
            try vmemProtect(vmem, address: childData, length: pageSize, flags: [.read])
        }, store: 1, at: childData + pageSize)
        check(allowed == 0, "a write beside the protected page ended the child with \(hex(allowed))")
        step("errors")
        let readOnly = try handleDuplicate(frame, rights: [.read, .map])
        defer { closeAll(readOnly) }
        let ro = try vmemMapAnywhere(Runtime.vmem, frame: readOnly, length: pageSize, flags: [.read])
        defer { _ = try? vmemUnmap(Runtime.vmem, address: ro, length: pageSize) }
        expectError(.accessDenied, "vmem_protect above the handle's rights") { () throws(SysError) in
            try vmemProtect(Runtime.vmem, address: ro, length: pageSize, flags: [.read, .write])
        }
        expectError(.accessDenied, "vmem_protect adding exec without the .exec right") { () throws(SysError) in
            try vmemProtect(Runtime.vmem, address: ro, length: pageSize, flags: [.read, .exec])
        }
        expectError(.notMapped, "vmem_protect of nothing") { () throws(SysError) in
            try vmemProtect(Runtime.vmem, address: unmappedUserAddress, length: pageSize, flags: [.read])
        }
        expectError(.misaligned, "vmem_protect misaligned") { () throws(SysError) in
            try vmemProtect(Runtime.vmem, address: at + 8, length: pageSize, flags: [.read])
        }
        expectError(.invalidArgument, "vmem_protect with unknown flags") { () throws(SysError) in
            _ = try syscall(.vmemProtect, Runtime.vmem.word, at, pageSize, 0x10)
        }
        expectError(.badAddress, "vmem_protect of a kernel address") { () throws(SysError) in
            try vmemProtect(Runtime.vmem, address: kernelAddress, length: pageSize, flags: [.read])
        }
    }
    checkBaseline(before)
}

/// A fault handler (fault_handler_set) gets a child's page fault as a message while the child waits,
/// reads its registers, maps the missing page and resumes it; a second fault it answers with "end".
func testFaultHandler() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver, badge: 77)
        defer { closeAll(sender, receiver) }
        // mov childData, %edi; process_exit(edi): exits with the word read from the unmapped page.
        var child = try Child.create(code: [0x8b, 0x3c, 0x25] + Code.imm32(UInt32(childData)) + Code.exitSyscall)
        defer { child.close() }
        try faultHandlerSet(child.process, sender: sender)
        try child.spawn()
        step("the fault message")
        let message = try receiverRecv(receiver)
        let childID = try threadGetID(child.thread)
        check(message.tag.label == FaultMessage.label && message.badge == 77, "fault message label \(hex(UInt64(message.tag.label))) badge \(message.badge)")
        check(FaultMessage.vector(message.words.0) == 14 && FaultMessage.errorCode(message.words.0) == 4
              && message.words.1 == childData && message.words.2 == childID && message.words.3 == Code.base,
              "fault message words \(hex(message.words.0)) \(hex(message.words.1)) \(message.words.2) \(hex(message.words.3))")
        let registers = try threadReadRegisters(child.thread)
        check(registers[RegisterIndex.rip.rawValue] == Code.base, "the waiting thread's rip reads \(hex(registers[RegisterIndex.rip.rawValue]))")
        step("map the page and resume")
        let frame = try frameCreate(size: pageSize)
        defer { closeAll(frame) }
        try setFrameWord(frame, 0, 0x4242)
        try vmemMap(child.vmem, frame: frame, address: childData, length: pageSize, flags: [.read])
        try receiverReply(IPCMessage(label: FaultMessage.resume))
        let code = try processWait(child.process)
        check(code == 0x4242, "the resumed child exited with \(hex(code)), expected the word mapped for it")
        step("a handler that ends the thread")
        var second = try Child.create(code: [0x8b, 0x3c, 0x25] + Code.imm32(UInt32(childData)) + Code.exitSyscall)
        defer { second.close() }
        try second.spawn(start: false)
        try faultHandlerSet(second.thread, sender: sender)
        try threadStart(second.thread)
        _ = try receiverRecv(receiver)
        try receiverReply(IPCMessage(label: 1))
        let ended = try processWait(second.process)
        check(ended == ExitCode.fault(vector: 14), "a fault answered with 'end' left exit code \(hex(ended))")
        step("errors")
        expectError(.wrongType, "fault_handler_set on a frame") { () throws(SysError) in try faultHandlerSet(frame, sender: sender) }
        expectError(.wrongType, "fault_handler_set with a receiver") { () throws(SysError) in try faultHandlerSet(child.process, sender: receiver) }
        let weak = try handleDuplicate(child.process, rights: [.read])
        defer { closeAll(weak) }
        expectError(.accessDenied, "fault_handler_set without .manage") { () throws(SysError) in try faultHandlerSet(weak, sender: nil) }
        let me = try threadSelf()
        defer { closeAll(me) }
        expectError(.badState, "thread_read_registers of a running thread") { () throws(SysError) in try threadReadRegisters(me) }
    }
    checkBaseline(before)
}

/// A pager (this thread) serves a child's faults on a pager-backed Frame page by page; a page the pager
/// fails, and a pager whose receiver goes while a fault waits, end the child with a page fault.
func testPager() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver, badge: 5)
        defer { closeAll(sender, receiver) }
        let paged = try frameCreatePaged(size: 4 * pageSize, pager: sender)
        defer { closeAll(paged) }
        let source = try frameCreate(size: 2 * pageSize)
        defer { closeAll(source) }
        try setFrameWord(source, 0, 0x1111)
        try setFrameWord(source, pageSize, 0x2222)
        step("two faults served")
        // mov childData+2*4096, %eax; mov childData+3*4096, %edi; add %eax, %edi; process_exit(edi)
        let code: [UInt8] = [0x8b, 0x04, 0x25] + Code.imm32(UInt32(childData + 2 * pageSize))
            + [0x8b, 0x3c, 0x25] + Code.imm32(UInt32(childData + 3 * pageSize)) + [0x01, 0xc7] + Code.exitSyscall
        var child = try Child.create(code: code)
        defer { child.close() }
        let forChild = try handleDuplicate(paged, rights: [.read, .map])
        defer { closeAll(forChild) }
        try vmemMap(child.vmem, frame: forChild, address: childData, length: 4 * pageSize, flags: [.read])
        try child.spawn()
        for (offset, from) in [(2 * pageSize, UInt64(0)), (3 * pageSize, pageSize)] {
            let request = try receiverRecv(receiver)
            check(request.tag.label == PagerMessage.label && request.badge == 5 && request.words.0 == offset,
                  "pager request \(hex(UInt64(request.tag.label))) for offset \(hex(request.words.0)), expected \(hex(offset))")
            try frameSupply(paged, offset: request.words.0, from: source, sourceOffset: from)
            try receiverReply(IPCMessage(label: PagerMessage.resume))
        }
        let sum = try processWait(child.process)
        check(sum == 0x3333, "the child read \(hex(sum)) through its pager, expected 0x3333")
        // This thread received on the pager's Receiver: its own copy does not wait for itself.
        expectError(.notSupplied, "frame_read of an unsupplied page by the pager's thread") { () throws(SysError) in
            try frameWord(paged, 0)
        }
        check(try frameWord(paged, 2 * pageSize) == 0x1111, "frame_read of a supplied page")
        expectError(.badState, "supplying a page twice") { () throws(SysError) in try frameSupply(paged, offset: 2 * pageSize, from: source) }
        expectError(.badState, "frame_supply to a Frame without a pager") { () throws(SysError) in try frameSupply(source, offset: 0, from: paged) }
        expectError(.misaligned, "frame_supply at a misaligned offset") { () throws(SysError) in try frameSupply(paged, offset: 8, from: source) }
        expectError(.invalidArgument, "frame_supply past the end") { () throws(SysError) in try frameSupply(paged, offset: 4 * pageSize, from: source) }
        expectError(.wrongType, "frame_create_paged with a receiver") { () throws(SysError) in try frameCreatePaged(size: pageSize, pager: receiver) }
        step("a fault the pager fails")
        var failed = try Child.create(code: code)
        defer { failed.close() }
        let forFailed = try handleDuplicate(paged, rights: [.read, .map])
        defer { closeAll(forFailed) }
        // Offsets 0 and 1 of this mapping are pages 0 and 1 of the Frame, never supplied.
        try vmemMap(failed.vmem, frame: forFailed, address: childData + 2 * pageSize, length: 2 * pageSize, flags: [.read])
        try failed.spawn()
        _ = try receiverRecv(receiver)
        try receiverReply(IPCMessage(label: 1))
        let failedCode = try processWait(failed.process)
        check(failedCode == ExitCode.fault(vector: 14), "a failed page request left exit code \(hex(failedCode))")
    }
    checkBaseline(before)
}

/// The creator of a pager-backed Frame is told when every other handle and mapping is gone.
func testPagerLastUser() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver)
        let told = try notifyCreate()
        defer { closeAll(told, sender, receiver) }
        let paged = try frameCreatePaged(size: 2 * pageSize, pager: sender, lastUser: told)
        defer { closeAll(paged) }
        check(try notifyPoll(told) == 0, "told before anyone else held the Frame")
        let other = try handleDuplicate(paged, rights: [.read, .map])
        let at = try vmemMapAnywhere(Runtime.vmem, frame: other, from: Scratch.take(pages: 2), length: 2 * pageSize, flags: [.read])
        try handleClose(other)
        check(try notifyPoll(told) == 0, "told while a mapping was left")
        try vmemUnmap(Runtime.vmem, address: at, length: pageSize)
        check(try notifyPoll(told) == 0, "told while half the mapping was left")
        try vmemUnmap(Runtime.vmem, address: at + pageSize, length: pageSize)
        check(try notifyPoll(told) == 1, "not told when the last other handle and mapping went")
        expectError(.wrongType, "frame_create_paged with a sender as the notify") { () throws(SysError) in
            _ = try syscall(.frameCreatePaged, pageSize, sender.word, sender.word)
        }
    }
    checkBaseline(before)
}

/// A pager that dies (its receiver closes) while a fault waits: the fault fails, nothing hangs.
func testPagerDies() throws(SysError) {
    let before = KernelFigures.now()
    do {
        var receiver = try receiverCreate()
        let sender = try senderCreate(receiver)
        defer { closeAll(sender) }
        let paged = try frameCreatePaged(size: pageSize, pager: sender)
        defer { closeAll(paged) }
        var child = try Child.create(code: [0x8b, 0x3c, 0x25] + Code.imm32(UInt32(childData)) + Code.exitSyscall)
        defer { child.close() }
        let forChild = try handleDuplicate(paged, rights: [.read, .map])
        defer { closeAll(forChild) }
        try vmemMap(child.vmem, frame: forChild, address: childData, length: pageSize, flags: [.read])
        try child.spawn()
        // Let the child fault and wait in its call, then the pager goes.
        check(waitBlocked(handle: child.thread), "the child did not wait for its page")
        try handleClose(receiver)
        receiver = .invalid
        let code = try processWait(child.process)
        check(code == ExitCode.fault(vector: 14), "a fault whose pager died left exit code \(hex(code))")
    }
    checkBaseline(before)
}

let copyOnWriteTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("frame.cow_fork", testCowFork),
    ("frame.cow_chains", testCowChains),
    ("frame.zero_page", testZeroPage),
    ("vmem.map_anywhere", testMapAnywhere),
    ("vmem.partial_unmap", testPartialUnmap),
    ("vmem.protect", testProtect),
    ("fault.handler_resumes", testFaultHandler),
    ("frame.pager", testPager),
    ("frame.pager_dies", testPagerDies),
    ("frame.pager_last_user", testPagerLastUser),
]

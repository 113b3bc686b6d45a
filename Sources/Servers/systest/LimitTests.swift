// Tests of kernel memory that follows use, not requested sizes (huge sparse Frames, huge ELF segments),
// of memory exhaustion that stays an error, and of resource limits (process_set_limit,
// process_get_usage). Each test ends where it started: free frames plus kernel heap pages, and live
// objects, equal their values before it.

/// Free frames plus heap pages, and live objects: what a test must give back.
struct Baseline {
    let frames: UInt64
    let objects: UInt64

    static func take() throws(SysError) -> Baseline {
        Baseline(frames: try systemInfo(.freeFrames) + systemInfo(.heapPages), objects: try systemInfo(.liveObjects))
    }

    /// Records a failure unless the system is back at this baseline.
    func expectRestored(_ what: StaticString) throws(SysError) {
        let now = try Baseline.take()
        check(now.frames == frames, "\(text(what)): free frames + heap pages \(frames) before, \(now.frames) after")
        check(now.objects == objects, "\(text(what)): live objects \(objects) before, \(now.objects) after")
    }
}

/// A static ELF64 executable with no section headers: one PT_LOAD per segment (vaddr, memsz, filesz
/// from offset 0, flags PF_R|W|X bits), entry at the first segment.
func craftedELF(_ segments: [(vaddr: UInt64, memsz: UInt64, filesz: UInt64, flags: UInt32)]) -> [UInt8] {
    var b: [UInt8] = []
    func put(_ v: UInt64, _ n: Int) { for i in 0..<n { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
    put(0x0001_0102_464c_457f, 8); put(0, 8)                        // \x7fELF, 64-bit, LE, version 1
    put(2, 2); put(0x3e, 2); put(1, 4)                              // ET_EXEC, x86_64, version
    put(segments[0].vaddr, 8); put(64, 8); put(0, 8)                // entry, phoff, shoff
    put(0, 4); put(64, 2); put(56, 2); put(UInt64(segments.count), 2); put(0, 2); put(0, 2); put(0, 2)
    for s in segments {
        put(1, 4); put(UInt64(s.flags), 4); put(0, 8)                // PT_LOAD, flags, offset
        put(s.vaddr, 8); put(s.vaddr, 8); put(s.filesz, 8); put(s.memsz, 8); put(pageSize, 8)
    }
    return b
}

/// A Frame holding `bytes` (at least one page).
func frameHolding(_ bytes: [UInt8]) throws(SysError) -> Handle {
    let frame = try frameCreate(size: max(pageSize, (UInt64(bytes.count) + pageSize - 1) / pageSize * pageSize))
    try withBytes(bytes) { (b) throws(SysError) in try frameWrite(frame, offset: 0, from: b) }
    return frame
}

/// process_load of `image` into `process`: the entry point.
func load(_ process: Handle, _ image: Handle) throws(SysError) -> UInt64 {
    let name: [UInt8] = Array("crafted".utf8)
    var entry: UInt64 = 0
    try withBytes(name) { (b) throws(SysError) in
        entry = try syscall(.processLoad, process.word, image.word, pointerWord(b.baseAddress), UInt64(b.count))
    }
    return entry
}

let codeAddress: UInt64 = 0x1000_0000
let dataAddress: UInt64 = 0x100_0000_0000       // 1 TiB

/// Finding 3: frame_create(4 GiB) took 8 MiB of kernel heap up front; the 63rd call panicked. A 1 TiB
/// Frame with 100 pages touched costs about 100 pages.
func testFrameHugeSparse() throws(SysError) {
    let base = try Baseline.take()
    step("100 frames of 4 GiB")
    var frames: [Handle] = []
    frames.reserveCapacity(100)
    let before = try systemInfo(.freeFrames)
    for _ in 0..<100 { frames.append(try frameCreate(size: 4 << 30)) }
    let used = drop(before, try systemInfo(.freeFrames))
    check(used < 16, "100 untouched 4 GiB frames took \(used) frames")
    print("frame.huge_sparse: 100 untouched 4 GiB frames took \(used) frames")
    for f in frames { try handleClose(f) }
    step("1 TiB frame, 100 pages touched")
    let me = try processSelf()
    defer { closeAll(me) }
    let usageBefore = try processGetUsage(me, .frames)
    let big = try frameCreate(size: 1 << 40)
    let free = try systemInfo(.freeFrames)
    for i in 0..<UInt64(100) { try setFrameWord(big, i * ((1 << 40) / 100) & ~(pageSize - 1), i + 1) }
    let cost = drop(free, try systemInfo(.freeFrames))
    check(cost >= 100 && cost <= 320, "100 touched pages of a 1 TiB frame cost \(cost) frames")
    print("frame.huge_sparse: a 1 TiB frame with 100 pages touched took \(cost) frames")
    let charged = try processGetUsage(me, .frames) - usageBefore
    check(charged == 100, "frames charged: \(charged), expected 100")
    check(try frameWord(big, 99 * ((1 << 40) / 100) & ~(pageSize - 1)) == 100, "the last word written reads back wrong")
    step("shrink")
    try frameSetSize(big, pageSize)
    let left = try processGetUsage(me, .frames) - usageBefore
    check(left == 1, "shrinking to one page left \(left) charged")
    check(try frameWord(big, 0) == 1, "the first page lost its contents when shrinking")
    try frameSetSize(big, 1 << 40)
    check(try frameWord(big, 50 * ((1 << 40) / 100) & ~(pageSize - 1)) == 0, "a page dropped by shrinking came back non-zero")
    try handleClose(big)
    check(try processGetUsage(me, .frames) == usageBefore, "frames still charged after close")
    try base.expectRestored("frame.huge_sparse")
}

/// Finding 2: process_load of a 120-byte ELF whose PT_LOAD has memsz 1 TiB panicked; 16 GiB took
/// 32 MiB of kernel heap. Both load, costing the pages of the file's bytes only.
func testProcessLoadHugeSegment() throws(SysError) {
    let base = try Baseline.take()
    // The last size reaches the time page (TimePage.address), which no mapping may overlap.
    for memsz: UInt64 in [1 << 40, 16 << 30, TimePage.address - codeAddress] {
        let elf = craftedELF([(codeAddress, memsz, 120, 5)])
        check(elf.count == 120, "crafted ELF of \(elf.count) bytes")
        let image = try frameHolding(elf)
        let vmem = try vmemCreate()
        let process = try processCreate(vmem: vmem)
        defer { closeAll(process, vmem, image) }
        let free = try systemInfo(.freeFrames)
        let heap = try systemInfo(.heapPages)
        if let entry = expectSuccess("process_load of a huge segment", { () throws(SysError) in try load(process, image) }) {
            check(entry == codeAddress, "entry \(hex(entry))")
        }
        let cost = drop(free, try systemInfo(.freeFrames))
        check(cost < 32, "loading a \(hex(memsz))-byte segment cost \(cost) frames")
        print("process_load.huge_segment: a \(hex(memsz))-byte segment took \(cost) frames")
        let heapCost = drop(try systemInfo(.heapPages), heap)
        check(heapCost < 8, "loading took \(heapCost) heap pages")
        let held = try processGetUsage(process, .frames)
        check(held == 1, "the loaded process holds \(held) frames, expected 1")
    }
    try base.expectRestored("process_load.huge_segment")
}

/// A child process (not started) with an executable page at codeAddress and an empty read/write segment
/// of `dataPages` at dataAddress, loaded by process_load: its Frames are charged to it.
struct LoadedChild {
    let vmem: Handle
    let process: Handle
    static func create(dataPages: UInt64, limit: (LimitKind, UInt64)? = nil) throws(SysError) -> LoadedChild {
        let elf = craftedELF([(codeAddress, pageSize, 176, 5), (dataAddress, dataPages * pageSize, 0, 6)])
        let image = try frameHolding(elf)
        defer { closeAll(image) }
        let vmem = try vmemCreate()
        let child = LoadedChild(vmem: vmem, process: try processCreate(vmem: vmem))
        if let (kind, value) = limit { try processSetLimit(child.process, kind, value) }
        do throws(SysError) { _ = try load(child.process, image) } catch {
            child.close()
            throw error
        }
        return child
    }
    /// Writes one word into each of `pages` pages of the data segment from `first`.
    func touch(_ pages: UInt64, from first: UInt64 = 0) throws(SysError) {
        for p in first..<first + pages {
            var v = p + 1
            try withBytes(of: &v) { (b) throws(SysError) in try vmemWrite(vmem, address: dataAddress + p * pageSize, from: b) }
        }
    }
    func close() { closeAll(process, vmem) }
}

func testLimitsFrames() throws(SysError) {
    let base = try Baseline.take()
    let me = try processSelf()
    defer { closeAll(me) }
    let mine = try processGetUsage(me, .frames)
    let child = try LoadedChild.create(dataPages: 64, limit: (.frames, 9))
    defer { child.close() }
    check(try processGetUsage(child.process, .frames) == 1, "the code page is not charged to the child")
    try child.touch(8)
    let usage = try processGetUsage(child.process, .frames)
    check(usage == 9, "usage \(usage), expected 9")
    expectError(.limitExceeded, "a 10th page over a limit of 9") { () throws(SysError) in try child.touch(1, from: 8) }
    check(try processGetUsage(me, .frames) - mine == 9, "the parent's usage does not include the child's 9 frames")
    step("others still allocate")
    let f = try frameCreate(size: 16 * pageSize)
    for i in 0..<UInt64(16) { try setFrameWord(f, i * pageSize, i) }
    try handleClose(f)
    expectError(.accessDenied, "process_set_limit raising a limit") { () throws(SysError) in
        try processSetLimit(child.process, .frames, 10)
    }
    expectSuccess("process_set_limit lowering below usage") { () throws(SysError) in try processSetLimit(child.process, .frames, 2) }
    expectError(.limitExceeded, "a page over a limit below usage") { () throws(SysError) in try child.touch(1, from: 20) }
    child.close()
    try base.expectRestored("limits.frames")
}

func testLimitsKernelMemory() throws(SysError) {
    let base = try Baseline.take()
    expectError(.limitExceeded, "process_load with 100 bytes of kernel memory") { () throws(SysError) in
        try LoadedChild.create(dataPages: 1, limit: (.kernelMemory, 100)).close()
    }
    let child = try LoadedChild.create(dataPages: 1 << 20, limit: (.kernelMemory, 4 * pageSize))
    // Pages far apart need page-tree nodes of their own: the budget runs out after a few.
    var failure: SysError? = nil
    for i in 0..<UInt64(64) {
        do throws(SysError) { try child.touch(1, from: i * 512) } catch { failure = error; break }
    }
    check(failure == .limitExceeded, "touching pages 2 MiB apart under a 16 KiB budget: \(failure.map { text($0) } ?? "no error")")
    check(try processGetUsage(child.process, .kernelMemory) <= 4 * pageSize, "kernel memory over its limit")
    child.close()
    try base.expectRestored("limits.kernel_memory")
}

func testLimitsHandles() throws(SysError) {
    let base = try Baseline.take()
    let child = try LoadedChild.create(dataPages: 1, limit: (.handles, 2))
    defer { child.close() }
    let n1 = try notifyCreate(), n2 = try notifyCreate(), n3 = try notifyCreate()
    _ = try processGive(child.process, n1)
    _ = try processGive(child.process, n2)
    let handles = try processGetUsage(child.process, .handles)
    check(handles == 2, "handles usage \(handles), expected 2")
    expectError(.limitExceeded, "process_give over a limit of 2 handles") { () throws(SysError) in try processGive(child.process, n3) }
    check(try handleIdentify(n3).type == .notify, "a refused process_give moved the handle")
    try handleClose(n3)
    child.close()
    try base.expectRestored("limits.handles")
}

func testLimitsThreads() throws(SysError) {
    let base = try Baseline.take()
    var child = try Child.create(code: Code.exit(3))
    defer { child.close() }
    try processSetLimit(child.process, .threads, 1)
    // Started only after the refused create: a first thread that had already exited would end the
    // process, and the second create would then fail with .badState (seen under a loaded host).
    try child.spawn(start: false)
    expectError(.limitExceeded, "a second thread over a limit of 1") { () throws(SysError) in
        try threadCreate(process: child.process, entry: Code.base, stack: Code.stackTop, argument: 0)
    }
    try threadStart(child.thread)
    check(try processWait(child.process) == 3, "the child's one thread did not run")
    child.close()
    try base.expectRestored("limits.threads")
}

func testLimitsErrors() throws(SysError) {
    let child = try LoadedChild.create(dataPages: 1)
    defer { child.close() }
    expectError(.invalidArgument, "process_set_limit of kind 4") { () throws(SysError) in
        _ = try syscall(.processSetLimit, child.process.word, 4, 0)
    }
    expectError(.invalidArgument, "process_get_usage of kind 99") { () throws(SysError) in
        _ = try syscall(.processGetUsage, child.process.word, 99)
    }
    expectError(.wrongType, "process_set_limit on a vmem") { () throws(SysError) in try processSetLimit(child.vmem, .frames, 1) }
    expectError(.invalidHandle, "process_get_usage of handle 0") { () throws(SysError) in try processGetUsage(.invalid, .frames) }
    let readOnly = try handleDuplicate(child.process, rights: [.read])
    defer { closeAll(readOnly) }
    expectError(.accessDenied, "process_set_limit without .manage") { () throws(SysError) in try processSetLimit(readOnly, .frames, 1) }
    let noRead = try handleDuplicate(child.process, rights: [.manage])
    defer { closeAll(noRead) }
    expectError(.accessDenied, "process_get_usage without .read") { () throws(SysError) in try processGetUsage(noRead, .frames) }
    expectSuccess("process_set_limit to the same value") { () throws(SysError) in
        try processSetLimit(child.process, .threads, 5)
        try processSetLimit(child.process, .threads, 5)
    }
}

/// One process taking every free frame gets .outOfMemory, and the kernel goes on: its heap reserve
/// still serves new objects, and everything comes back when that process goes.
func testMemoryExhaustionContained() throws(SysError) {
    let base = try Baseline.take()
    let pages = try systemInfo(.freeFrames) + 1024
    let child = try LoadedChild.create(dataPages: pages)
    var failure: SysError? = nil
    var chunk = [UInt8](repeating: 0x5a, count: 1 << 20)
    var at: UInt64 = 0
    while at < pages * pageSize {
        do throws(SysError) {
            try withBytes(chunk) { (b) throws(SysError) in try vmemWrite(child.vmem, address: dataAddress + at, from: b) }
        } catch { failure = error; break }
        at += UInt64(chunk.count)
    }
    check(failure == .outOfMemory, "filling memory ended with \(failure.map { text($0) } ?? "no error")")
    // A 1 MiB kernel buffer may fail first (it needs contiguous pages): go on a word per page.
    failure = nil
    while at < pages * pageSize {
        do throws(SysError) { try child.touch(1, from: at / pageSize) } catch { failure = error; break }
        at += pageSize
    }
    check(failure == .outOfMemory, "filling memory page by page ended with \(failure.map { text($0) } ?? "no error")")
    print("memory.exhaustion_contained: \(at / pageSize) pages taken, \(try systemInfo(.freeFrames)) frames left")
    step("the kernel goes on")
    let n = try notifyCreate()
    let r = try receiverCreate()
    let f = try frameCreate(size: 1 << 30)
    expectError(.outOfMemory, "touching a page with memory full") { () throws(SysError) in try setFrameWord(f, 0, 1) }
    closeAll(n, r, f)
    chunk = []
    child.close()
    try base.expectRestored("memory.exhaustion_contained")
}

let limitTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("frame.huge_sparse", testFrameHugeSparse),
    ("process_load.huge_segment", testProcessLoadHugeSegment),
    ("limits.frames", testLimitsFrames),
    ("limits.kernel_memory", testLimitsKernelMemory),
    ("limits.handles", testLimitsHandles),
    ("limits.threads", testLimitsThreads),
    ("limits.errors", testLimitsErrors),
    ("memory.exhaustion_contained", testMemoryExhaustionContained),
]

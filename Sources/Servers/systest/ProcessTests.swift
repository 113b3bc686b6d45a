// Tests of processes and threads: children running machine code, exit codes, registers, stopping,
// priorities, handing over handles, faults, threads of the root process itself and their SSE state.

func testProcessExitCode() throws(SysError) {
    for expected: UInt32 in [0, 42, 0x7fff_ffff] {
        var child = try Child.create(code: Code.exit(expected))
        defer { child.close() }
        try child.spawn()
        let code = try processWait(child.process)
        check(code == UInt64(expected), "process_wait returned \(hex(code)), expected \(hex(UInt64(expected)))")
        let again = try processWait(child.process)
        check(again == code, "a second process_wait returned \(hex(again))")
    }
}

func testThreadRegisters() throws(SysError) {
    var child = try Child.create(code: Code.exitWithArgument)
    defer { child.close() }
    try child.spawn(argument: 5, start: false)
    var registers = try threadReadRegisters(child.thread)
    check(registers.count == RegisterIndex.count, "register file of \(registers.count) words")
    check(registers[RegisterIndex.rip.rawValue] == Code.base, "rip \(hex(registers[RegisterIndex.rip.rawValue]))")
    check(registers[RegisterIndex.rsp.rawValue] == Code.stackTop, "rsp \(hex(registers[RegisterIndex.rsp.rawValue]))")
    check(registers[RegisterIndex.rdi.rawValue] == 5, "rdi \(hex(registers[RegisterIndex.rdi.rawValue])), expected the argument 5")
    registers[RegisterIndex.rdi.rawValue] = 77
    try threadWriteRegisters(child.thread, registers)
    check(try threadReadRegisters(child.thread)[RegisterIndex.rdi.rawValue] == 77, "rdi not written")
    var short = [UInt64](repeating: 0, count: 4)
    expectError(.invalidArgument, "thread_read_registers with a short buffer") { () throws(SysError) in
        try withMutableBytes(&short) { (b) throws(SysError) in
            _ = try syscall(.threadReadRegisters, child.thread.word, pointerWord(b.baseAddress), UInt64(b.count))
        }
    }
    try threadStart(child.thread)
    expectError(.badState, "thread_start twice") { () throws(SysError) in try threadStart(child.thread) }
    let code = try processWait(child.process)
    check(code == 77, "the child exited with \(code), expected the written rdi 77")
}

func testThreadStop() throws(SysError) {
    var child = try Child.create(code: Code.spin)
    defer { child.close() }
    try child.spawn()
    threadYield()
    expectError(.badState, "thread_read_registers of a running thread") { () throws(SysError) in try threadReadRegisters(child.thread) }
    expectError(.badState, "thread_write_registers of a running thread") { () throws(SysError) in
        try threadWriteRegisters(child.thread, [UInt64](repeating: 0, count: RegisterIndex.count))
    }
    try threadStop(child.thread)
    let code = try threadWait(child.thread)
    check(code == UInt64.max, "a stopped thread's exit code is \(hex(code)), expected UInt64.max")
    if let registers = expectSuccess("thread_read_registers of a stopped thread", { () throws(SysError) in
        try threadReadRegisters(child.thread)
    }) {
        let rip = registers[RegisterIndex.rip.rawValue]
        check(rip == Code.base, "the spinning thread stopped at rip \(hex(rip))")
    }
    expectError(.badState, "thread_start of a stopped thread") { () throws(SysError) in try threadStart(child.thread) }
}

func testThreadPriority() throws(SysError) {
    var child = try Child.create(code: Code.exit(0))
    defer { child.close() }
    try child.spawn(start: false)
    for priority: UInt64 in [0, 1, 16, 31] {
        expectSuccess("thread_set_priority in range") { () throws(SysError) in try threadSetPriority(child.thread, priority) }
    }
    for priority: UInt64 in [32, 1000, UInt64.max] {
        expectError(.invalidArgument, "thread_set_priority out of range") { () throws(SysError) in
            try threadSetPriority(child.thread, priority)
        }
    }
    try threadStart(child.thread)
    check(try processWait(child.process) == 0, "the child did not exit with 0")
}

func testProcessGive() throws(SysError) {
    var child = try Child.create(code: Code.exitWithFrameSizeOfArgument)
    defer { child.close() }
    let frame = try frameCreate(size: 3 * pageSize)
    let given = try processGive(child.process, frame)
    check(given != .invalid, "process_give returned handle 0")
    expectError(.invalidHandle, "a given handle is gone from the giver") { () throws(SysError) in try handleIdentify(frame) }
    expectError(.invalidHandle, "giving a closed handle") { () throws(SysError) in try processGive(child.process, frame) }
    let vmem = try vmemCreate()
    defer { closeAll(vmem) }
    expectError(.wrongType, "process_give to a vmem") { () throws(SysError) in try processGive(vmem, vmem) }
    try child.spawn(argument: UInt64(given.raw))
    let code = try processWait(child.process)
    check(code == 3 * pageSize, "the child's frame_get_size of the given handle gave \(hex(code)), expected 0x3000")
}

func testChildFault() throws(SysError) {
    let code = try Child.run(code: Code.load(0x0123_4000))
    check(code != 0, "a faulting child exited with 0")
    // The system goes on: another child runs normally.
    let next = try Child.run(code: Code.exit(3))
    check(next == 3, "the next child exited with \(next)")
    // A child executing ud2.
    let trap = try Child.run(code: [0x0f, 0x0b])
    check(trap != 0, "a child hitting ud2 exited with 0")
}

/// A real program (initfs:///bin/crashtest, read through initfsd) faults: its process ends with a fault
/// code, the kernel's report names its ELF (checked on the serial log by the host's integration test),
/// the suite goes on.
func testELFChildFault(_ startup: Startup) throws(SysError) {
    guard let image = try initfsImage("initfs:///bin/crashtest", startup) else { return }
    defer { try? handleClose(image) }
    let child = try Spawn.start(image: image, name: "crashtest")
    let code = try child.wait()
    check(ExitCode.isFault(code), "crashtest exited with \(hex(code)), expected a fault code")
    check(code == ExitCode.fault(vector: 14), "crashtest's fault was not a page fault: \(hex(code))")
    expectError(.badELF, "process_load of a frame that is not an ELF") { () throws(SysError) in
        let frame = try frameCreate(size: 4096)
        defer { try? handleClose(frame) }
        _ = try Spawn.start(image: frame, name: "junk")
    }
}

func testOwnThreads() throws(SysError) {
    let box = Counter()
    let thread = try spawnThread { () -> UInt64 in
        box.value = 1234
        guard let me = try? threadSelf() else { return 1 }
        defer { closeAll(me) }
        return (try? handleIdentify(me))?.type == .thread ? 77 : 1
    }
    let code = try thread.join()
    check(code == 77, "the thread exited with \(code), expected 77")
    check(box.value == 1234, "the thread's write is not visible")
    // thread_exit from inside a Swift call chain.
    let exiting = try spawnThread { () -> UInt64 in
        func deep(_ n: Int) -> UInt64 {
            if n == 0 { threadExit(55) }
            return deep(n - 1) + 1
        }
        return deep(10)
    }
    check(try exiting.join() == 55, "thread_exit(55) did not end the thread with 55")
    // A thread created unstarted, given a priority, then started.
    let late = try spawnThread(start: false) { () -> UInt64 in 9 }
    try threadSetPriority(late.handle, 31)
    try threadStart(late.handle)
    check(try late.join() == 9, "a late-started thread did not exit with 9")
}

final class Counter {
    var value: UInt64 = 0
}

func testThreadYield() throws(SysError) {
    threadYield()
    let rounds: UInt64 = 200
    let a = Counter()
    let b = Counter()
    let first = try spawnThread { () -> UInt64 in
        for _ in 0..<rounds { a.value += 1; threadYield() }
        return a.value
    }
    let second = try spawnThread { () -> UInt64 in
        for _ in 0..<rounds { b.value += 1; threadYield() }
        return b.value
    }
    let doneA = try first.join()
    let doneB = try second.join()
    check(doneA == rounds && doneB == rounds, "yielding threads did not finish their rounds (\(doneA), \(doneB))")
}

func testSSEState() throws(SysError) {
    let rounds: UInt64 = 500
    let one = try spawnThread { sse_fill_and_yield(0x1111_2222_3333_4444, rounds) }
    let two = try spawnThread { sse_fill_and_yield(0x5555_6666_7777_8888, rounds) }
    let mine = sse_fill_and_yield(0x9999_aaaa_bbbb_cccc, rounds)
    let r1 = try one.join()
    let r2 = try two.join()
    check(mine == 0 && r1 == 0 && r2 == 0, "xmm registers changed across a yield (rounds \(mine), \(r1), \(r2))")
    // The same with compiler-generated floating point, kept live across yields.
    func work(_ seed: Double) -> UInt64 {
        var x = seed
        var sum = SIMD4<Double>(seed, seed * 2, seed * 3, seed * 4)
        for _ in 0..<100 {
            x = x * 1.000001 + 0.5
            sum = sum * 0.999 + SIMD4<Double>(repeating: x)
            threadYield()
        }
        return (sum[0] + sum[1] + sum[2] + sum[3] + x).bitPattern
    }
    let expectedA = work(1.5)
    let expectedB = work(-7.25)
    let ta = try spawnThread { work(1.5) }
    let tb = try spawnThread { work(-7.25) }
    let here = work(1.5)
    let resultA = try ta.join()
    let resultB = try tb.join()
    check(resultA == expectedA && resultB == expectedB && here == expectedA,
          "floating point results differ between threads")
}

func testHeap() throws(SysError) {
    let baseline = Heap.liveAllocations
    do {
        var arrays: [[UInt64]] = []
        for i in 0..<200 { arrays.append([UInt64](repeating: UInt64(i), count: i * 7 + 1)) }
        var ok = true
        for (i, a) in arrays.enumerated() where a.count != i * 7 + 1 || a.last != UInt64(i) { ok = false }
        check(ok, "arrays lost their contents")
        let big = [UInt8](repeating: 0x5a, count: 3 << 20)
        check(big[(3 << 20) - 1] == 0x5a, "a 3 MiB array")
        var s = "heap"
        for i in 0..<50 { s += " \(i)" }
        check(s.utf8.count > 100, "string building")
    }
    var aligned: UnsafeMutableRawPointer? = nil
    check(posix_memalign(&aligned, 4096, 100) == 0 && UInt(bitPattern: aligned) & 4095 == 0, "posix_memalign(4096)")
    heap_free(aligned)
    check(Heap.liveAllocations == baseline, "\(Heap.liveAllocations - baseline) allocations leaked")
}

func testThousandProcesses() throws(SysError) {
    // Warm up: the first children may leave lasting kernel state (page tables, caches).
    for _ in 0..<8 { _ = try Child.run(code: Code.exit(0)) }
    let code = Code.exit(7)
    let before = try systemInfo(.freeFrames)
    let objectsBefore = try systemInfo(.liveObjects)
    var wrong = 0
    for _ in 0..<1000 {
        if try Child.run(code: code) != 7 { wrong += 1 }
    }
    let after = try systemInfo(.freeFrames)
    let objectsAfter = try systemInfo(.liveObjects)
    check(wrong == 0, "\(wrong) children exited with another code")
    check(after == before, "free frames \(before) before, \(after) after 1,000 processes")
    check(objectsAfter == objectsBefore, "live objects \(objectsBefore) before, \(objectsAfter) after")
}

/// A Frame holding the file at `path`, read through the Sender to initfsd (import:initfs); nil after a
/// failed check.
func initfsImage(_ path: String, _ startup: Startup) throws(SysError) -> Handle? {
    guard let initfs = startup.imported("initfs") else {
        check(false, "no Sender to initfsd (import:initfs) in the startup block")
        return nil
    }
    let files = try FileService(initfs)
    let bytes: [UInt8]
    do throws(FileError) { bytes = try files.readFile(path) } catch {
        check(false, "reading \(path) through initfsd failed: \(text(error.name))")
        return nil
    }
    let frame = try frameCreate(size: max((UInt64(bytes.count) + pageSize - 1) / pageSize * pageSize, pageSize))
    try withBytes(bytes) { (b) throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) }
    return frame
}

// Kernel copies that wait for a pager (Sources/Kernel/Syscalls/PagerWait.swift), initfsd's `map`
// request (a file as a pager-backed Frame, a program started from it), and fault messages that name
// their thread (a handler's own fault is not sent to itself).

let pagerCopyTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("frame.pager_copies_wait", testPagerCopiesWait),
    ("frame.pager_copy_fails", testPagerCopyFails),
    ("fault.names_thread", testFaultNamesThread),
    ("fault.handler_own_fault", testHandlerOwnFault),
    ("futex.key_after_clone", testFutexKeyAfterClone),
]

func initfsMapTests(_ startup: Startup) -> [(StaticString, () throws(SysError) -> Void)] {
    [("initfs.map_runs_program", { () throws(SysError) in try testInitfsMapRunsProgram(startup) })]
}

/// A thread of this process whose frame_read, frame_write from a mapped page, and IPC send from an IPC
/// buffer on a pager-backed Frame each meet an unsupplied page: every one waits while this thread, the
/// pager, supplies it, then completes with the right bytes.
func testPagerCopiesWait() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let receiver = try receiverCreate()
        let pager = try senderCreate(receiver, badge: 5)
        let echo = try senderCreate(receiver, badge: 6)
        defer { closeAll(echo, pager, receiver) }
        let paged = try frameCreatePaged(size: 4 * pageSize, pager: pager)
        let source = try frameCreate(size: 4 * pageSize)
        let target = try frameCreate(size: pageSize)
        defer { closeAll(target, source, paged) }
        for i in 0..<UInt64(4) { try setFrameWord(source, i * pageSize, 0x5000 + i) }
        // What the reader sends from its IPC buffer on page 2: the first word of the message bytes.
        try setFrameWord(source, 2 * pageSize + UInt64(IPCBuffer.bytesOffset), 0x5002)
        let mine = try IPCPage.make()
        defer { mine.release() }
        try mine.install()
        defer { IPCPage.uninstall() }
        let at = try vmemMapAnywhere(Runtime.vmem, frame: paged, from: Scratch.take(pages: 4), length: 4 * pageSize,
                                     flags: [.read, .write])
        defer { try? vmemUnmap(Runtime.vmem, address: at, length: 4 * pageSize) }
        let waitsBefore = try systemInfo(.pagerCopyWaits)
        let reader = try spawnThread(stackSize: 32 * 1024) { () -> UInt64 in
            // 1: frame_read of page 0 (the range is supplied before the copy).
            guard let word = try? frameWord(paged, 0), word == 0x5000 else { return 1 }
            // 2: frame_write whose user buffer is page 1 of the mapping (the syscall restarts).
            let p1 = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(at + pageSize)), count: 8)
            guard (try? frameWrite(target, offset: 0, from: p1)) != nil else { return 2 }
            // 3: an IPC send whose IPC buffer is page 2 (the delivery fails, the call restarts); setting
            // the buffer there takes no page yet.
            guard let me = try? threadSelf() else { return 3 }
            defer { closeAll(me) }
            guard (try? threadSetIPCBuffer(me, address: at + 2 * pageSize)) != nil else { return 4 }
            var m = IPCMessage(tag: IPCTag(words: 1, bytes: 8, label: 9))
            m.words.0 = 77
            guard let answer = try? senderCall(echo, m), answer.words.0 == 0x5002 else { return 5 }
            return 0
        }
        step("serve the pager and the echo")
        let readerID = try threadGetID(reader.handle)
        var served: [UInt64] = []
        var echoed: UInt64 = 0
        while echoed == 0 {
            let request = try receiverRecv(receiver)
            if request.badge == 5 {
                check(request.tag.label == PagerMessage.label && request.words.1 == readerID,
                      "page request \(hex(UInt64(request.tag.label))) names thread \(request.words.1)")
                served.append(request.words.0)
                try frameSupply(paged, offset: request.words.0, from: source, sourceOffset: request.words.0)
                try receiverReply(IPCMessage(label: PagerMessage.resume))
            } else {
                // The 8 bytes are the first word of page 2, as the pager supplied it.
                var word: UInt64 = 0
                for k in 0..<8 { word |= UInt64(mine.byte(k)) << (8 * UInt64(k)) }
                echoed = word
                check(request.words.0 == 77 && request.tag.bytes == 8, "echo request \(request.words.0), \(request.tag.bytes) bytes")
                try receiverReply(IPCMessage(label: 0, word))
            }
        }
        let code = try reader.join()
        check(code == 0, "the reader stopped at step \(code)")
        check(served == [0, pageSize, 2 * pageSize], "pages requested: \(served)")
        let copied = try frameWord(target, 0)
        check(copied == 0x5001, "frame_write copied \(hex(copied)) from page 1")
        let waits = try systemInfo(.pagerCopyWaits) - waitsBefore
        check(waits == 3, "\(waits) kernel-copy page requests, expected 3")
        step("the pager's own thread does not wait for itself")
        expectError(.notSupplied, "frame_read of an unsupplied page by the pager's thread") { () throws(SysError) in
            try frameWord(paged, 3 * pageSize)
        }
    }
    checkBaseline(before)
}

/// A kernel copy's page request that the pager fails, one whose pager goes while it waits, and one
/// whose thread is stopped while it waits: each ends (.notSupplied, or the thread ended), none hangs.
func testPagerCopyFails() throws(SysError) {
    let before = KernelFigures.now()
    do {
        var receiver = try receiverCreate()
        let pager = try senderCreate(receiver)
        defer { closeAll(pager) }
        let paged = try frameCreatePaged(size: 2 * pageSize, pager: pager)
        defer { closeAll(paged) }
        func reader() throws(SysError) -> SpawnedThread {
            try spawnThread(stackSize: 16 * 1024) { () -> UInt64 in
                do throws(SysError) { _ = try frameWord(paged, 0); return 0 } catch { return UInt64(error.rawValue) }
            }
        }
        step("the pager fails the request")
        let failed = try reader()
        _ = try receiverRecv(receiver)
        try receiverReply(IPCMessage(label: 1))
        check(try failed.join() == UInt64(SysError.notSupplied.rawValue), "a failed request did not fail the frame_read")
        step("the thread is stopped while it waits")
        let stopped = try reader()
        let request = try receiverRecv(receiver)
        check(request.tag.label == PagerMessage.label, "no page request from the reader")
        try threadStop(stopped.handle)
        check(try stopped.join() == ExitCode.stopped, "a stopped waiter did not end as stopped")
        expectError(.peerClosed, "answering a request whose thread was stopped") { () throws(SysError) in
            try receiverReply(IPCMessage(label: PagerMessage.resume))
        }
        step("the pager goes while the copy waits")
        let orphan = try reader()
        check(waitBlocked(handle: orphan.handle), "the reader did not wait for its page")
        try handleClose(receiver)
        receiver = .invalid
        check(try orphan.join() == UInt64(SysError.notSupplied.rawValue), "a dead pager did not fail the frame_read")
    }
    checkBaseline(before)
}

/// A fault message names the faulting thread (word 2, thread_get_id) and packs the vector and the error
/// code in word 0.
func testFaultNamesThread() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver, badge: 3)
        defer { closeAll(sender, receiver) }
        var child = try Child.create(code: [0x8b, 0x3c, 0x25] + Code.imm32(UInt32(childData)) + Code.exitSyscall)
        defer { child.close() }
        try faultHandlerSet(child.process, sender: sender)
        try child.spawn()
        let id = try threadGetID(child.thread)
        let me = try threadSelf()
        defer { closeAll(me) }
        let mine = try threadGetID(me)
        check(id != 0 && id != mine, "thread ids \(id) and mine \(mine)")
        let m = try receiverRecv(receiver)
        check(FaultMessage.vector(m.words.0) == 14 && FaultMessage.errorCode(m.words.0) == 4,
              "fault word 0 \(hex(m.words.0)): vector 14, error code 4 (user read, not present)")
        check(m.words.2 == id, "the fault message names thread \(m.words.2), the child's is \(id)")
        try receiverReply(IPCMessage(label: 1))
        check(try processWait(child.process) == ExitCode.fault(vector: 14), "an ended fault's exit code")
        expectError(.wrongType, "thread_get_id of a process") { () throws(SysError) in try threadGetID(child.process) }
    }
    checkBaseline(before)
}

/// A handler thread that faults while its process's faults go to the Receiver it serves gets the default
/// (the process ends with a fault report) instead of waiting for itself forever.
func testHandlerOwnFault() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver)
        defer { closeAll(sender, receiver) }
        // receiver_recv(rdi, no Reply, 1 ns) (it times out), then a read of unmapped childData.
        let code: [UInt8] = [0x31, 0xf6, 0xba] + Code.imm32(1) + [0xb8] + Code.imm32(UInt32(Syscall.receiverRecv.rawValue))
            + [0x0f, 0x05, 0x8b, 0x3c, 0x25] + Code.imm32(UInt32(childData)) + Code.exitSyscall
        var child = try Child.create(code: code)
        defer { child.close() }
        let given = try processGive(child.process, try handleDuplicate(receiver, rights: [.wait, .transfer]))
        try faultHandlerSet(child.process, sender: sender)
        try child.spawn(argument: UInt64(given.raw))
        let status: UInt64
        do throws(SysError) { status = try processWait(child.process, timeout: 5_000_000_000) } catch {
            check(false, "the handler thread's own fault waits (\(text(error)))")
            try threadStop(child.thread)
            return
        }
        check(status == ExitCode.fault(vector: 14), "the handler's own fault left exit code \(hex(status))")
    }
    checkBaseline(before)
}

/// initfsd's `map`: a program started straight from a file's pager-backed Frame (process_load waits for
/// initfsd to supply each page) runs and exits 0; a file's bytes read through a mapping (faults served
/// by initfsd) and frame_read are the file's, zeros past its end; the handle is read-only.
func testInitfsMapRunsProgram(_ startup: Startup) throws(SysError) {
    guard let fs = try initfsService(startup) else { return }
    step("a program started from its mapped file")
    guard let (program, _) = fileStep("map pmchild", { () throws(FileError) in try fs.map("initfs:///bin/pmchild") }) else { return }
    defer { closeAll(program) }
    let waits = try systemInfo(.pagerCopyWaits)
    let child = try Spawn.start(image: program, name: "pmchild", commandLine: "exit 0")
    let code = try child.wait()
    check(code == 0, "pmchild started from initfsd's paged Frame exited with \(hex(code))")
    let asked = try systemInfo(.pagerCopyWaits) - waits
    let pages = try frameGetSize(program) / pageSize
    check(asked > 0 && asked <= pages, "process_load asked initfsd for \(asked) of \(pages) pages")
    step("a file's bytes through a mapping")
    guard let whole = fileStep("readFile", { () throws(FileError) in try fs.readFile("/etc/init.conf") }) else { return }
    guard let (image, size) = fileStep("map", { () throws(FileError) in try fs.map("/etc/init.conf") }) else { return }
    defer { closeAll(image) }
    check(size == UInt64(whole.count), "map says \(size) bytes, the file has \(whole.count)")
    let rights = try handleIdentify(image).rights
    check(rights == FileProtocol.mapRights, "the mapped Frame's rights \(hex(UInt64(rights.rawValue)))")
    expectError(.accessDenied, "frame_write to a mapped file") { () throws(SysError) in try setFrameWord(image, 0, 1) }
    let frameSize = try frameGetSize(image)
    let at = try vmemMapAnywhere(Runtime.vmem, frame: image, from: Scratch.take(pages: frameSize / pageSize),
                                 length: frameSize, flags: [.read])
    let mapped = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(at)), count: whole.count)
    check(mapped.elementsEqual(whole), "the mapped file differs from readFile")
    try vmemUnmap(Runtime.vmem, address: at, length: frameSize)
    var tail = [UInt8](repeating: 1, count: Int(frameSize) - whole.count)
    if !tail.isEmpty {
        try withMutableBytes(&tail) { (b) throws(SysError) in try frameRead(image, offset: UInt64(whole.count), into: b) }
        check(tail.allSatisfy { $0 == 0 }, "the bytes past the file's end are not zero")
    }
    step("errors")
    expectFileError(.isDirectory, "map of a directory") { () throws(FileError) in try fs.map("/bin") }
    expectFileError(.notFound, "map of a missing file") { () throws(FileError) in try fs.map("/bin/nothing") }
}

/// A futex waiter on a page of a Frame that is then cloned and written by this process (the Frame takes
/// its own copy of the page) is found by a wake through the same address: futexes key on the Frame and
/// the offset, not on the physical page.
func testFutexKeyAfterClone() throws(SysError) {
    let before = KernelFigures.now()
    do {
        let frame = try frameCreate(size: pageSize)
        defer { closeAll(frame) }
        let at = try vmemMapAnywhere(Runtime.vmem, frame: frame, from: Scratch.take(pages: 1), length: pageSize,
                                     flags: [.read, .write])
        defer { try? vmemUnmap(Runtime.vmem, address: at, length: pageSize) }
        let word = UnsafeMutablePointer<UInt32>(bitPattern: UInt(at))!
        word.pointee = 1
        let waiter = try spawnThread(stackSize: 16 * 1024) { () -> UInt64 in
            do throws(SysError) { try futexWait(UnsafePointer(word), expected: 1, timeout: 5_000_000_000) } catch {
                return UInt64(error.rawValue)
            }
            return 0
        }
        check(waitBlocked(handle: waiter.handle), "the futex waiter did not block")
        let clone = try frameClone(frame, size: pageSize)
        defer { closeAll(clone) }
        word.pointee = 2   // copy on write: this Frame now holds another physical page
        let woken = try futexWake(UnsafePointer(word), count: 1)
        check(woken == 1, "a wake after the copy found \(woken) waiters")
        let code = try waiter.join()
        check(code == 0, "the waiter ended with \(code) (\(SysError.timedOut.rawValue): it was never woken)")
        check(try frameWord(clone, 0) == 1, "the clone does not keep the value from before the write")
    }
    checkBaseline(before)
}

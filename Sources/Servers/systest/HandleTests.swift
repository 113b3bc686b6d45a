// Tests of debug_log, system_info, unknown syscalls and the handle calls.

func testDebugLog() throws(SysError) {
    let line: StaticString = "systest: debug_log from the test suite\n"
    try debugLog(UnsafeRawBufferPointer(start: line.utf8Start, count: line.utf8CodeUnitCount))
    expectError(.badAddress, "debug_log of unmapped memory") { () throws(SysError) in
        try debugLog(address: unmappedUserAddress, length: 16)
    }
    expectError(.badAddress, "debug_log of a kernel address") { () throws(SysError) in
        try debugLog(address: kernelAddress, length: 16)
    }
    // A buffer that runs off the end of a mapping into unmapped memory (Scratch leaves a guard page).
    let frame = try frameCreate(size: 2 * pageSize)
    defer { closeAll(frame) }
    let at = Scratch.take(pages: 2)
    try vmemMap(Runtime.vmem, frame: frame, address: at, length: 2 * pageSize, flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: 2 * pageSize) }
    expectError(.badAddress, "debug_log across the end of a mapping") { () throws(SysError) in
        try debugLog(address: at + 2 * pageSize - 8, length: 16)
    }
    // Too long, though every byte is mapped.
    expectError(.tooLarge, "debug_log of 4097 bytes") { () throws(SysError) in
        try debugLog(address: at, length: 4097)
    }
}

func testUnknownSyscall() throws(SysError) {
    for number in [UInt64(Syscall.count), 999, UInt64.max] {
        let result = raw_syscall(number, 0, 0, 0, 0, 0, 0)
        check(result.error == SysError.unknownSyscall.rawValue,
              "syscall \(number): error \(result.error), expected \(SysError.unknownSyscall.rawValue)")
    }
}

func testSystemInfo() throws(SysError) {
    let free = try systemInfo(.freeFrames)
    check(free > 0, "no free frames reported")
    // The count is system-wide: init and the servers may create or drop objects of their own between
    // two reads (init is still starting services when the suite begins). A frame that leaked, or was not
    // counted, shows in every attempt; another process's work in a few at most.
    var counts: [(UInt64, UInt64, UInt64)] = []
    for _ in 0..<5 {
        let objects = try systemInfo(.liveObjects)
        check(objects >= 3, "live objects \(objects): the root process, its vmem and thread exist")
        let frame = try frameCreate(size: pageSize)
        let more = try systemInfo(.liveObjects)
        try handleClose(frame)
        let after = try systemInfo(.liveObjects)
        counts.append((objects, more, after))
        if more == objects + 1 && after == objects { break }
        threadSleep(nanoseconds: 20_000_000)
    }
    if let (objects, more, after) = counts.last, !(more == objects + 1 && after == objects) {
        check(false, "live objects \(objects) -> \(more) after frame_create -> \(after) after closing it (5 attempts)")
    }
    let t0 = try systemInfo(.ticks)
    let t1 = try systemInfo(.ticks)
    check(t1 >= t0, "ticks went backwards")
    expectError(.invalidArgument, "system_info(99)") { () throws(SysError) in try syscall(.systemInfo, 99) }
}

func testHandleIdentify() throws(SysError) {
    let process = try processSelf()
    check(try handleIdentify(process).type == .process, "process_self is not a process")
    let vmem = try vmemSelf()
    check(try handleIdentify(vmem).type == .vmem, "vmem_self is not a vmem")
    let thread = try threadSelf()
    check(try handleIdentify(thread).type == .thread, "thread_self is not a thread")
    check(try handleIdentify(Runtime.process).type == .process, "startup process handle is not a process")
    check(try handleIdentify(Runtime.vmem).type == .vmem, "startup vmem handle is not a vmem")

    let frame = try frameCreate(size: pageSize)
    let newVmem = try vmemCreate()
    defer { closeAll(frame, newVmem) }
    for (handle, type) in [(frame, ObjectType.frame), (newVmem, .vmem)] {
        let (t, r) = try handleIdentify(handle)
        check(t == type, "\(text(type.name)) identifies as \(text(t.name))")
        check(r == Rights.defaults(for: type),
              "\(text(type.name)) rights \(hex(UInt64(r.rawValue))), expected \(hex(UInt64(Rights.defaults(for: type).rawValue)))")
    }
}

func testInvalidHandles() throws(SysError) {
    let closed = try frameCreate(size: pageSize)
    try handleClose(closed)
    for raw: UInt32 in [0, closed.raw, 0xdead_beef, 0xffff_ffff] {
        let h = Handle(raw: raw)
        expectError(.invalidHandle, "handle_identify") { () throws(SysError) in try handleIdentify(h) }
        expectError(.invalidHandle, "handle_duplicate") { () throws(SysError) in try handleDuplicate(h, rights: []) }
        expectError(.invalidHandle, "handle_close") { () throws(SysError) in try handleClose(h) }
        expectError(.invalidHandle, "frame_get_size") { () throws(SysError) in try frameGetSize(h) }
        expectError(.invalidHandle, "process_wait") { () throws(SysError) in try processWait(h) }
        expectError(.invalidHandle, "thread_start") { () throws(SysError) in try threadStart(h) }
        expectError(.invalidHandle, "process_create") { () throws(SysError) in try processCreate(vmem: h) }
        expectError(.invalidHandle, "vmem_unmap") { () throws(SysError) in
            try vmemUnmap(h, address: 0x20_0000_0000, length: pageSize)
        }
    }
    // The handle value of a closed frame in a vmem_map's frame slot.
    expectError(.invalidHandle, "vmem_map of a closed frame") { () throws(SysError) in
        try vmemMap(Runtime.vmem, frame: closed, address: Scratch.take(pages: 1), length: pageSize, flags: [.read])
    }
}

func testWrongType() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    let vmem = try vmemCreate()
    let notify = try notifyCreate()
    defer { closeAll(frame, vmem, notify) }
    expectError(.wrongType, "frame_get_size(vmem)") { () throws(SysError) in try frameGetSize(vmem) }
    expectError(.wrongType, "vmem_map(frame as vmem)") { () throws(SysError) in
        try vmemMap(frame, frame: frame, address: 0x40_0000, length: pageSize, flags: [.read])
    }
    expectError(.wrongType, "vmem_map(vmem as frame)") { () throws(SysError) in
        try vmemMap(vmem, frame: vmem, address: 0x40_0000, length: pageSize, flags: [.read])
    }
    expectError(.wrongType, "thread_start(frame)") { () throws(SysError) in try threadStart(frame) }
    expectError(.wrongType, "process_wait(vmem)") { () throws(SysError) in try processWait(vmem) }
    expectError(.wrongType, "process_create(frame)") { () throws(SysError) in try processCreate(vmem: frame) }
    expectError(.wrongType, "thread_create(vmem)") { () throws(SysError) in
        try threadCreate(process: vmem, entry: 0x40_0000, stack: 0x40_1000, argument: 0)
    }
    expectError(.wrongType, "sender_create(notify)") { () throws(SysError) in try senderCreate(notify) }
    expectError(.wrongType, "frame_set_size(notify)") { () throws(SysError) in try frameSetSize(notify, pageSize) }
    expectError(.wrongType, "thread_wait(process)") { () throws(SysError) in try threadWait(Runtime.process) }
}

func testHandleDuplicate() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    defer { closeAll(frame) }
    let readOnly = try handleDuplicate(frame, rights: [.read, .duplicate])
    defer { closeAll(readOnly) }
    let (type, rights) = try handleIdentify(readOnly)
    check(type == .frame && rights == [.read, .duplicate], "duplicate identifies as \(text(type.name)) \(hex(UInt64(rights.rawValue)))")
    // Both handles reach one object.
    var value: UInt64 = 0x5eed_1234_abcd_0001
    try withBytes(of: &value) { (b) throws(SysError) in try frameWrite(frame, offset: 8, from: b) }
    var back: UInt64 = 0
    try withMutableBytes(of: &back) { (b) throws(SysError) in try frameRead(readOnly, offset: 8, into: b) }
    check(back == value, "the duplicate reads \(hex(back))")
    // Rights only shrink.
    expectError(.accessDenied, "duplicate asking for more rights") { () throws(SysError) in
        try handleDuplicate(readOnly, rights: [.read, .write])
    }
    let noDuplicate = try handleDuplicate(readOnly, rights: [.read])
    defer { closeAll(noDuplicate) }
    expectError(.accessDenied, "duplicate without .duplicate") { () throws(SysError) in
        try handleDuplicate(noDuplicate, rights: [.read])
    }
    // The duplicate outlives the original.
    let survivor = try handleDuplicate(frame, rights: Rights.defaults(for: .frame))
    defer { closeAll(survivor) }
    try handleClose(frame)
    check((try? frameGetSize(survivor)) == pageSize, "the duplicate died with the original")
    expectError(.invalidHandle, "closing twice") { () throws(SysError) in try handleClose(frame) }
}

func testAccessDenied() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    let vmem = try vmemCreate()
    var child = try Child.create(code: Code.exit(0))
    defer { child.close(); closeAll(frame, vmem) }
    try child.spawn(start: false)
    var byte: UInt8 = 0

    step("frame")
    let frameReadOnly = try handleDuplicate(frame, rights: [.read])
    let frameNone = try handleDuplicate(frame, rights: [])
    defer { closeAll(frameReadOnly, frameNone) }
    expectError(.accessDenied, "frame_write without .write") { () throws(SysError) in
        try withBytes(of: &byte) { (b) throws(SysError) in try frameWrite(frameReadOnly, offset: 0, from: b) }
    }
    expectError(.accessDenied, "frame_read without .read") { () throws(SysError) in
        try withMutableBytes(of: &byte) { (b) throws(SysError) in try frameRead(frameNone, offset: 0, into: b) }
    }
    expectError(.accessDenied, "frame_get_size without .read") { () throws(SysError) in try frameGetSize(frameNone) }
    expectError(.accessDenied, "frame_set_size without .manage") { () throws(SysError) in try frameSetSize(frameReadOnly, 2 * pageSize) }
    expectError(.accessDenied, "vmem_map of a frame without .map") { () throws(SysError) in
        try vmemMap(vmem, frame: frameReadOnly, address: 0x40_0000, length: pageSize, flags: [.read])
    }

    step("vmem")
    let vmemNoMap = try handleDuplicate(vmem, rights: [.read, .write])
    let vmemNone = try handleDuplicate(vmem, rights: [])
    defer { closeAll(vmemNoMap, vmemNone) }
    expectError(.accessDenied, "vmem_map into a vmem without .map") { () throws(SysError) in
        try vmemMap(vmemNoMap, frame: frame, address: 0x40_0000, length: pageSize, flags: [.read])
    }
    expectError(.accessDenied, "vmem_unmap without .map") { () throws(SysError) in
        try vmemUnmap(vmemNoMap, address: 0x40_0000, length: pageSize)
    }
    expectError(.accessDenied, "process_create with a vmem without .map") { () throws(SysError) in
        try processCreate(vmem: vmemNoMap)
    }
    expectError(.accessDenied, "vmem_read without .read") { () throws(SysError) in
        try withMutableBytes(of: &byte) { (b) throws(SysError) in try vmemRead(vmemNone, address: 0x40_0000, into: b) }
    }
    expectError(.accessDenied, "vmem_write without .write") { () throws(SysError) in
        try withBytes(of: &byte) { (b) throws(SysError) in try vmemWrite(vmemNone, address: 0x40_0000, from: b) }
    }

    step("process")
    let processNone = try handleDuplicate(child.process, rights: [])
    defer { closeAll(processNone) }
    expectError(.accessDenied, "process_wait without .wait") { () throws(SysError) in try processWait(processNone) }
    expectError(.accessDenied, "thread_create without .manage") { () throws(SysError) in
        try threadCreate(process: processNone, entry: Code.base, stack: Code.stackTop, argument: 0)
    }
    expectError(.accessDenied, "process_give to a process without .write") { () throws(SysError) in
        try processGive(processNone, frameNone)
    }
    let noTransfer = try handleDuplicate(frame, rights: [.read])
    defer { closeAll(noTransfer) }
    expectError(.accessDenied, "process_give of a handle without .transfer") { () throws(SysError) in
        try processGive(child.process, noTransfer)
    }
    check((try? handleIdentify(noTransfer)) != nil, "a refused process_give took the handle away")

    step("thread")
    let threadNone = try handleDuplicate(child.thread, rights: [])
    defer { closeAll(threadNone) }
    expectError(.accessDenied, "thread_start without .manage") { () throws(SysError) in try threadStart(threadNone) }
    expectError(.accessDenied, "thread_stop without .manage") { () throws(SysError) in try threadStop(threadNone) }
    expectError(.accessDenied, "thread_set_priority without .manage") { () throws(SysError) in try threadSetPriority(threadNone, 1) }
    expectError(.accessDenied, "thread_wait without .wait") { () throws(SysError) in try threadWait(threadNone) }
    expectError(.accessDenied, "thread_read_registers without .read") { () throws(SysError) in try threadReadRegisters(threadNone) }
    expectError(.accessDenied, "thread_write_registers without .write") { () throws(SysError) in
        try threadWriteRegisters(threadNone, [UInt64](repeating: 0, count: RegisterIndex.count))
    }

    step("ipc")
    let reply = try replyCreate()
    defer { closeAll(reply) }
    expectError(.accessDenied, "duplicating a reply (no .duplicate by default)") { () throws(SysError) in
        try handleDuplicate(reply, rights: [.signal])
    }
    let receiver = try receiverCreate()
    let receiverNoWait = try handleDuplicate(receiver, rights: [.duplicate])
    defer { closeAll(receiver, receiverNoWait) }
    expectError(.accessDenied, "sender_create without .wait") { () throws(SysError) in try senderCreate(receiverNoWait) }
}

func testBadAddresses() throws(SysError) {
    let frame = try frameCreate(size: pageSize)
    let vmem = try vmemCreate()
    defer { closeAll(frame, vmem) }
    let mapped = try handleDuplicate(frame, rights: [.read, .write, .map])
    defer { closeAll(mapped) }
    try vmemMap(vmem, frame: mapped, address: 0x40_0000, length: pageSize, flags: [.read, .write])
    for bad in [unmappedUserAddress, kernelAddress, 0] {
        expectError(.badAddress, "frame_read into a bad pointer") { () throws(SysError) in
            try frameRead(frame, offset: 0, address: bad, length: 8)
        }
        expectError(.badAddress, "frame_write from a bad pointer") { () throws(SysError) in
            try frameWrite(frame, offset: 0, address: bad, length: 8)
        }
        expectError(.badAddress, "vmem_read into a bad pointer") { () throws(SysError) in
            try syscall(.vmemRead, vmem.word, 0x40_0000, bad, 8)
        }
        expectError(.badAddress, "vmem_write from a bad pointer") { () throws(SysError) in
            try syscall(.vmemWrite, vmem.word, 0x40_0000, bad, 8)
        }
    }
    var child = try Child.create(code: Code.exit(0))
    defer { child.close() }
    try child.spawn(start: false)
    expectError(.badAddress, "thread_read_registers into a kernel address") { () throws(SysError) in
        try syscall(.threadReadRegisters, child.thread.word, kernelAddress, UInt64(RegisterIndex.count * 8))
    }
    expectError(.badAddress, "thread_write_registers from unmapped memory") { () throws(SysError) in
        try syscall(.threadWriteRegisters, child.thread.word, unmappedUserAddress, UInt64(RegisterIndex.count * 8))
    }
}

func testIPCObjects() throws(SysError) {
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let reply = try replyCreate()
    let notify = try notifyCreate()
    defer { closeAll(sender, receiver, reply, notify) }
    for (handle, type) in [(receiver, ObjectType.receiver), (sender, .sender), (reply, .reply), (notify, .notify)] {
        let (t, r) = try handleIdentify(handle)
        check(t == type, "\(text(type.name)) identifies as \(text(t.name))")
        check(r == Rights.defaults(for: type), "\(text(type.name)) rights \(hex(UInt64(r.rawValue)))")
    }
    let frame = try frameCreate(size: pageSize)
    defer { closeAll(frame) }
    expectError(.wrongType, "sender_create(frame)") { () throws(SysError) in try senderCreate(frame) }
}

// The root process: the first user program the kernel starts. It runs the userspace test suite, which
// calls every syscall including each documented failure path (IPC, notifications, futexes and the SPSC
// ring in IPCTests.swift and SyncTests.swift), and exits with 0 when every test passed.

let programName: StaticString = "root"

func programMain(_ startup: Startup) -> Int32 {
    print("root: \(startup.modules.count) modules, heap at \(hex(Heap.base))")
    Initfs.load(startup)
    if startup.has(.bench) { return runBenchmarks(startup) }
    if let threads = startup.value(of: .exitBench) { return runExitBenchmark(threads: Int(threads) ?? 0) }
    if let value = startup.value(of: .fuzz) { return runFuzz(startup, value) }
    if let value = startup.value(of: .devTest) { return runDeviceCheck(startup, value) }
    guard startup.has(.usertest) else {
        print("root: no servers to start yet; idle (boot with `usertest` to run the userspace tests)")
        // Stay up for the developer (osh attach, osh syscalls): wait on a notification nobody signals.
        if let idle = try? notifyCreate() { _ = try? notifyWait(idle) }
        return 0
    }
    machineResource = startup.resource
    run("debug_log", testDebugLog)
    run("unknown_syscall", testUnknownSyscall)
    run("system_info", testSystemInfo)
    run("handle_identify", testHandleIdentify)
    run("invalid_handles", testInvalidHandles)
    run("wrong_type", testWrongType)
    run("handle_duplicate", testHandleDuplicate)
    run("access_denied", testAccessDenied)
    run("bad_addresses", testBadAddresses)
    run("ipc_objects", testIPCObjects)
    run("frame_create", testFrameCreate)
    run("frame_read_write", testFrameReadWrite)
    run("frame_lazy_zero", testFrameLazyZero)
    run("frame_set_size", testFrameSetSize)
    run("memory.above_4g", testMemoryAbove4GiB)
    run("memory.stale_tlb_after_unmap", testStaleTLBAfterUnmap)
    run("vmem_map", testVmemMapBasic)
    run("vmem_map_errors", testVmemMapErrors)
    run("mapping_rights", testMappingRights)
    run("shared_memory", testSharedMemory)
    run("shared_with_child", testSharedWithChild)
    run("vmem_read_write", testVmemReadWrite)
    run("process_exit_code", testProcessExitCode)
    run("thread_registers", testThreadRegisters)
    run("thread_stop", testThreadStop)
    run("thread_priority", testThreadPriority)
    run("process_give", testProcessGive)
    run("child_fault", testChildFault)
    run("elf_child_fault") { () throws(SysError) in try testELFChildFault(startup) }
    run("own_threads", testOwnThreads)
    run("thread_yield", testThreadYield)
    run("sse_state", testSSEState)
    run("ac_flag_across_traps", testACFlagAcrossTraps)
    run("heap", testHeap)
    run("ipc_call_reply", testIPCCallReply)
    run("ipc_words_labels_badges", testIPCWordsLabelsBadges)
    run("ipc_buffer_bytes", testIPCBufferBytes)
    run("ipc_handle_transfer", testIPCHandleTransfer)
    run("ipc_reply_objects", testIPCReplyObjects)
    run("ipc_reply_state", testIPCReplyState)
    run("ipc_many_callers", testIPCManyCallers)
    run("ipc_receiver_closed", testIPCReceiverClosed)
    run("ipc_killed_peers", testIPCKilledPeers)
    run("ipc_cross_process", testIPCCrossProcess)
    run("ipc_transfer_to_bad_buffer", testIPCTransferToBadBuffer)
    run("ipc_reply_shared_by_receivers", testIPCReplySharedByReceivers)
    run("ipc_failed_recv_keeps_caller", testIPCFailedRecvKeepsCaller)
    run("notify", testNotify)
    run("futex", testFutex)
    run("ring_stream", testRingStream)
    run("ring_backpressure", testRingBackpressure)
    run("ring_cross_process", testRingCrossProcess)
    run("lifecycle.priority_of_ready_thread", testPriorityOfReadyThread)
    run("lifecycle.unstarted_thread_freed", testUnstartedThreadFreed)
    run("lifecycle.last_running_thread_ends_process", testLastRunningThreadEndsProcess)
    run("lifecycle.self_handle_freed", testSelfHandleFreed)
    run("lifecycle.idle_cycle_freed", testIdleCycleFreed)
    run("lifecycle.killed_threads_freed_promptly", testKilledThreadsFreedPromptly)
    run("lifecycle.process_exit_many_threads", testProcessExitManyThreads)
    run("lifecycle.receiver_closed_wakes_receiver", testReceiverClosedWakesReceiver)
    run("lifecycle.reply_released_by_killed_caller", testReplyReleasedByKilledCaller)
    for (name, body) in limitTests { run(name, body) }
    for (name, body) in deviceTests { run(name, body) }
    for (name, body) in timeoutTests { run(name, body) }
    for (name, body) in copyOnWriteTests { run(name, body) }
    for (name, body) in clockTests { run(name, body) }
    run("thousand_processes", testThousandProcesses)
    // Last: on a kernel without the fix it panics the whole system.
    run("lifecycle.nt_flag", testNTFlag)
    print("\(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}

/// `bench frame.cow_fault.insn`: guest instructions (the TSC under -icount shift=0) per write fault on a
/// copy-on-write page, from the faulting store to its resume (one store per page of a cloned Frame).
func benchCopyOnWriteFault() throws(SysError) {
    let pages: UInt64 = 1024
    let frame = try frameCreate(size: pages * pageSize)
    defer { closeAll(frame) }
    let at = try vmemMapAnywhere(Runtime.vmem, frame: frame, from: Scratch.take(pages: pages), length: pages * pageSize,
                                 flags: [.read, .write])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize) }
    for page in 0..<pages { pointer(at + page * pageSize).storeBytes(of: page, as: UInt64.self) }
    let clone = try frameClone(frame, size: pages * pageSize)
    defer { closeAll(clone) }
    // Entered again read-only first, so each store below is a write-protection fault, not a first touch.
    var sum: UInt64 = 0
    for page in 0..<pages { sum &+= pointer(at + page * pageSize).load(as: UInt64.self) }
    let start = read_tsc()
    for page in 0..<pages { pointer(at + page * pageSize).storeBytes(of: sum &+ page, as: UInt64.self) }
    let end = read_tsc()
    print("bench frame.cow_fault.insn \((end - start) / pages) insn")
}

/// `bench frame.pager_fault.insn`: guest instructions per read fault on a pager-backed Frame served by a
/// pager thread of this process (fault, page request, frame_supply, answer, resume), one per page.
func benchPagerFault() throws(SysError) {
    let pages: UInt64 = 512
    let receiver = try receiverCreate()
    let sender = try senderCreate(receiver)
    let source = try frameCreate(size: pageSize)
    let paged = try frameCreatePaged(size: pages * pageSize, pager: sender)
    defer { closeAll(paged, source, sender, receiver) }
    try setFrameWord(source, 0, 1)
    let at = try vmemMapAnywhere(Runtime.vmem, frame: paged, from: Scratch.take(pages: pages), length: pages * pageSize,
                                 flags: [.read])
    defer { _ = try? vmemUnmap(Runtime.vmem, address: at, length: pages * pageSize) }
    let pager = try spawnThread {
        do throws(SysError) {
            var request = try receiverRecv(receiver)
            for served in 1...pages {
                try frameSupply(paged, offset: request.words.0, from: source)
                if served == pages { break }
                request = try receiverReplyRecv(receiver, IPCMessage(label: PagerMessage.resume))
            }
            try receiverReply(IPCMessage(label: PagerMessage.resume))
            return 0
        } catch {
            return 1
        }
    }
    var sum: UInt64 = 0
    let start = read_tsc()
    for page in 0..<pages { sum &+= pointer(at + page * pageSize).load(as: UInt64.self) }
    let end = read_tsc()
    let served = try pager.join()
    guard served == 0, sum == pages else {
        print("root: bench frame.pager_fault: the pager failed (\(served)) or the pages read wrong (\(sum))")
        return
    }
    print("bench frame.pager_fault.insn \((end - start) / pages) insn")
}

/// `bench`: the copy-on-write and pager faults (benchCopyOnWriteFault, benchPagerFault), then the IPC benchmark pair, server and
/// client in separate processes (Sources/Servers/ipcbench).
func runBenchmarks(_ startup: Startup) -> Int32 {
    do throws(SysError) {
        try benchCopyOnWriteFault()
        try benchPagerFault()
        guard let (image, owned) = try Programs.image(named: "ipcbench", startup) else {
            print("root: bench needs ipcbench (a boot module, or bin/ipcbench in the initfs)")
            return 1
        }
        defer { if owned { try? handleClose(image) } }
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver)
        let server = try Spawn.start(image: image, name: "ipcbench", commandLine: "server", give: [receiver])
        let rounds = startup.commandLine.split(separator: " ").filter { $0.hasPrefix("rounds=") || $0.hasPrefix("only=") }.map(String.init)
        let client = try Spawn.start(image: image, name: "ipcbench",
                                     commandLine: (["client"] + rounds).joined(separator: " "), give: [sender])
        let code = try client.wait()
        try threadStop(server.thread)
        _ = try server.wait()
        return Int32(truncatingIfNeeded: code)
    } catch {
        print("root: bench failed: \(error.name)")
        return 1
    }
}

// The root process: the first user program the kernel starts. It runs the userspace test suite, which
// calls every syscall including each documented failure path (IPC, notifications, futexes and the SPSC
// ring in IPCTests.swift and SyncTests.swift), and exits with 0 when every test passed.

let programName: StaticString = "root"

func programMain(_ startup: Startup) -> Int32 {
    print("root: \(startup.modules.count) modules, heap at \(hex(Heap.base))")
    if startup.hasFlag("bench") { return runBenchmarks(startup) }
    if let word = startup.commandLine.split(separator: " ").first(where: { $0.hasPrefix("fuzz=") }) {
        return runFuzz(startup, word.dropFirst(5))
    }
    guard startup.hasFlag("usertest") else {
        print("root: no servers to start yet; idle (boot with `usertest` to run the userspace tests)")
        // Stay up for the developer (osh attach, osh syscalls): wait on a notification nobody signals.
        if let idle = try? notifyCreate() { _ = try? notifyWait(idle) }
        return 0
    }
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
    if startup.modules.contains(where: { $0.name == "crashtest" }) {
        run("elf_child_fault") { () throws(SysError) in try testELFChildFault(startup) }
    }
    run("own_threads", testOwnThreads)
    run("thread_yield", testThreadYield)
    run("sse_state", testSSEState)
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
    run("thousand_processes", testThousandProcesses)
    print("\(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}

/// `bench`: the IPC benchmark pair, server and client in separate processes (Sources/Servers/ipcbench).
func runBenchmarks(_ startup: Startup) -> Int32 {
    guard let module = startup.modules.first(where: { $0.name == "ipcbench" }) else {
        print("root: bench needs the ipcbench boot module")
        return 1
    }
    do throws(SysError) {
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver)
        let server = try Spawn.start(image: module.frame, name: "ipcbench", commandLine: "server", give: [receiver])
        let rounds = startup.commandLine.split(separator: " ").filter { $0.hasPrefix("rounds=") || $0.hasPrefix("only=") }.map(String.init)
        let client = try Spawn.start(image: module.frame, name: "ipcbench",
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

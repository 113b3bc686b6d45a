// systest: the userspace test suite. It calls every syscall including each documented failure path (IPC,
// notifications, futexes and the SPSC ring in IPCTests.swift and SyncTests.swift), checks initfsd's
// protocol and its answers to malformed requests (InitfsTests.swift), and exits with 0 when every test
// passed. init starts it when the kernel command line has `usertest` (etc/init.conf: `systest once exit
// when=usertest`), and init ends with its exit code, then root with init's, which ends the run.
// `exitbench=N` on its command line (root passes the kernel's) times one process exit of N threads;
// `framebench` prints the copy-on-write and pager fault figures for root's `bench`; `smpstress=N` runs
// the SMP stress round with N seeds (SMPThreadTests.swift; `smpstress=N,storm` with the process storm).

let programName: StaticString = "systest"

func programMain(_ startup: Startup) -> Int32 {
    if let threads = startup.value(ofKey: "exitbench") { return runExitBenchmark(threads: Int(threads) ?? 0) }
    if startup.hasFlag("framebench") { return runFrameBenchmarks() }
    if let value = startup.value(ofKey: "smpstress") {
        let parts = value.split(separator: ",")
        return runStressSeeds(Int(parts.first ?? "") ?? 0, storm: parts.dropFirst().contains("storm"))
    }
    print("systest: running the userspace test suite")
    // The devices.* tests need the machine's Resource: root → init (grant:resource) → systest, as
    // init.conf's `resource` says. Without it they fail (invalidHandle), they are not skipped.
    machineResource = startup.granted("resource") ?? .invalid
    if machineResource == .invalid { print("systest: no grant:resource; the devices.* tests will fail") }
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
    for (name, body) in initfsTests(startup) { run(name, body) }
    for (name, body) in initfsClientTests(startup) { run(name, body) }
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
    for (name, body) in contiguousFrameTests { run(name, body) }
    for (name, body) in timeoutTests { run(name, body) }
    for (name, body) in copyOnWriteTests { run(name, body) }
    for (name, body) in pagerCopyTests { run(name, body) }
    for (name, body) in initfsMapTests(startup) { run(name, body) }
    for (name, body) in clockTests { run(name, body) }
    for (name, body) in smpTests { run(name, body) }
    for (name, body) in noticeTests { run(name, body) }
    for (name, body) in trackerReadTests { run(name, body) }
    for (name, body) in kernelLogTests { run(name, body) }
    for (name, body) in processKillTests { run(name, body) }
    run("thousand_processes", testThousandProcesses)
    // After the others: switching a trace on leaves the kernel's trace test on for every later syscall.
    run("trace.set", testTraceSet)
    // Last: on a kernel without the fix it panics the whole system.
    run("lifecycle.nt_flag", testNTFlag)
    print("\(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}

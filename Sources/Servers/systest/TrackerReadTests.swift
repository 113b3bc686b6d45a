// tracker_read (issue 13, for the guest's `syscalls` utility): the kernel's syscall tracker table copied
// to user memory, its counts moving with the calls made, and its documented errors.

let trackerReadTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("tracker.read_counts", testTrackerReadCounts),
    ("tracker.read_errors", testTrackerReadErrors),
    ("tracker.counts_every_cpu", testTrackerCountsEveryCPU),
]

func testTrackerReadCounts() throws(SysError) {
    let size = UInt64(TrackerLayout.totalWords * 8)
    check(try syscall(.trackerRead, 0, 0) == size, "tracker_read with length 0 gives the table's size")
    let before = try trackerRead()
    check(before[0] == TrackerLayout.magic && before[1] == TrackerLayout.version, "the table's header")
    for _ in 0..<5 { _ = try systemInfo(.freeFrames) }
    let after = try trackerRead()
    let slot = TrackerLayout.headerWords + Int(Syscall.systemInfo.rawValue)
    check(after[slot] >= before[slot] + 5, "system_info counted: \(before[slot]) -> \(after[slot])")
    let own = TrackerLayout.headerWords + Int(Syscall.trackerRead.rawValue)
    check(after[own] > before[own], "tracker_read counts itself")
    // A short buffer gets the table's first bytes only.
    var short = [UInt64](repeating: 7, count: 3)
    var result: UInt64 = 0
    var failure: SysError? = nil
    short.withUnsafeMutableBytes { b in
        do throws(SysError) { result = try syscall(.trackerRead, UInt64(UInt(bitPattern: b.baseAddress)), 16) } catch { failure = error }
    }
    if let failure { throw failure }
    check(result == size && short[0] == TrackerLayout.magic && short[1] == TrackerLayout.version && short[2] == 7,
          "a 16-byte read copies two words and no more")
}

func testTrackerReadErrors() throws(SysError) {
    expectError(.badAddress, "tracker_read into unmapped memory") { () throws(SysError) in
        try syscall(.trackerRead, 0x1000, 64)
    }
    expectError(.badAddress, "tracker_read into kernel memory") { () throws(SysError) in
        try syscall(.trackerRead, 0xffff_8000_0000_0000, 64)
    }
    expectError(.badAddress, "tracker_read into read-only code") { () throws(SysError) in
        try syscall(.trackerRead, 0x40_0000, 64)
    }
}

/// A thread pinned to each CPU that runs threads makes `calls` thread_get_affinity calls, all at once (they
/// start together): tracker_read's count of the call grows by exactly their sum (per-CPU tables summed;
/// nothing else in the system makes that call meanwhile).
func testTrackerCountsEveryCPU() throws(SysError) {
    let calls = 3000
    let cpus = try schedulingCPUs()
    let go = Counter()
    let ready = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    ready.initialize(to: 0)
    defer { ready.deallocate() }
    var threads: [Watched] = []
    for cpu in cpus {
        let t = try spawnWatched(start: false) { () -> UInt64 in
            outcome { () throws(SysError) -> UInt64 in
                let me = try threadSelf()
                defer { closeAll(me) }
                _ = atomic_add_u64(ready, 1)
                _ = waitUntil { go.value != 0 }
                for _ in 0..<calls { _ = try threadGetAffinity(me) }
                return try systemInfo(.currentCPU)
            }
        }
        try threadSetAffinity(t.handle, 1 << UInt64(cpu))
        threads.append(t)
    }
    let slot = TrackerLayout.headerWords + Int(Syscall.threadGetAffinity.rawValue)
    let before = try trackerRead()[slot]
    for t in threads { try threadStart(t.handle) }
    check(waitUntil { atomic_load_u64(ready) == UInt64(cpus.count) }, "the counting threads did not start")
    go.value = 1
    for (i, t) in threads.enumerated() {
        check(finish(t, "counting thread", within: 120_000) == UInt64(cpus[i]), "a counting thread did not run on CPU \(cpus[i])")
    }
    let after = try trackerRead()[slot]
    check(after - before == UInt64(cpus.count * calls),
          "thread_get_affinity counted \(after - before) times, \(cpus.count * calls) made on \(cpus.count) CPUs")
    print("tracker: \(cpus.count * calls) calls on \(cpus.count) CPUs at once, counted \(after - before)")
}

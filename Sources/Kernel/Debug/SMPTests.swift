// In-kernel tests of the application processors' start-up (Arch/SMP.swift): as many CPUs run as the MADT
// enables (one under `smp=off`), each with its own per-CPU block, GDT, TSS and IST stacks, and each takes
// wake-up IPIs. With one CPU the checks hold trivially (the boot CPU alone).

#if !KERNEL
import ABI
#endif

let smpTests: [KernelTest] = [
    KernelTest(name: "smp.every_enabled_cpu_is_online", body: everyEnabledCPUOnline),
    KernelTest(name: "smp.per_cpu_blocks_are_distinct", body: perCPUBlocksDistinct),
    KernelTest(name: "smp.aps_take_wakeup_ipis", body: apsTakeWakeupIPIs),
    KernelTest(name: "locks.order_record_follows_nesting", body: orderRecordFollowsNesting),
    KernelTest(name: "locks.kernel_lock_one_cpu_form", body: kernelLockOneCPUForm),
    KernelTest(name: "locks.ticket_lock_excludes_across_cpus", body: ticketLockExcludesAcrossCPUs),
]

/// The counter every CPU increments under one ticket lock (smp.ticket_lock_excludes_across_cpus).
enum LockTest {
    static let lock = SpinLock(LockRanks.testOuter)
    static let counter: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()
    /// Few enough that a contended run ends in seconds even when the host deschedules the vCPU whose
    /// ticket is next (80,000 contended rounds over 4 vCPUs on 2 busy host cores did not end in 300 s).
    static let rounds = 500
    /// CPUs at the start line: every CPU waits until all have arrived, so that they contend.
    static let arrived: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// Read, pause, write back plus one, under the lock: without exclusion, increments get lost.
    static func count() {
        _ = atomic_fetch_add64(arrived, 1)
        let deadline = Clock.nanoseconds() &+ 10_000_000_000
        while atomic_load64(arrived) < UInt64(SMP.onlineCount) && Clock.nanoseconds() < deadline { cpu_pause() }
        for _ in 0..<rounds {
            lock.withLock {
                let v = counter.pointee
                cpu_pause()
                counter.pointee = v &+ 1
            }
        }
    }
}

/// Taking two locks in rank order records both, innermost last; letting go leaves the record as it was
/// (the kernel lock, which the test runner holds, below them once it is the shared lock; the one-CPU
/// form keeps no record).
private func orderRecordFollowsNesting() -> Bool {
    let outer = SpinLock(LockRanks.testOuter), inner = SpinLock(LockRanks.testInner)
    let base = LockCheck.held.count
    var depthInside = 0, innermost: UInt8 = 0
    outer.withLock {
        inner.withLock {
            depthInside = LockCheck.held.count
            innermost = LockCheck.held.innermost ?? 0
        }
    }
    return check(LockCheck.ready, "the lock-order check is off")
        && check(KernelLock.held && base == (KernelLock.shared ? 1 : 0), "the test runner does not hold the kernel lock")
        && check(depthInside == base + 2 && innermost == LockRanks.testInner.rank, "the record inside two locks is wrong")
        && check(LockCheck.held.count == base && !outer.isLocked && !inner.isLocked, "locks or records left over")
}

/// Before the APs schedule (the in-kernel tests run then) the kernel lock is its one-CPU form: CPU 0
/// holds it, taking and letting go of it change neither the lock word nor the lock-order record, and
/// it is no shared lock yet.
private func kernelLockOneCPUForm() -> Bool {
    let base = LockCheck.held.count
    KernelLock.release()
    let wordAfterRelease = KernelLock.isLocked
    let heldAfterRelease = KernelLock.held
    KernelLock.take()
    return check(!KernelLock.shared && !Scheduler.apsSchedule, "the kernel lock is shared before the APs schedule")
        && check(KernelLock.held && PerCPU.index == 0, "CPU 0 does not hold the kernel lock")
        && check(!KernelLock.isLocked && !wordAfterRelease, "the one-CPU form touched the lock word")
        && check(heldAfterRelease && KernelLock.held, "CPU 0 stopped holding it in the one-CPU form")
        && check(LockCheck.held.count == base && base == 0, "the one-CPU form left a lock-order record")
}

/// Every CPU counts LockTest.rounds under one ticket lock at once; the sum is exact, and each CPU ends
/// holding no lock.
private func ticketLockExcludesAcrossCPUs() -> Bool {
    LockTest.counter.pointee = 0
    atomic_store64(LockTest.arrived, 0)
    let start = Clock.nanoseconds()
    guard check(!LockTest.lock.isLocked, "the test lock is held") else { return false }
    for i in 1..<max(SMP.onlineCount, 1) { SMP.start(.lockCounter, on: i) }
    LockTest.count()
    let deadline = Clock.nanoseconds() + 60_000_000_000
    for i in 1..<max(SMP.onlineCount, 1) {
        while !SMP.jobDone(i) && Clock.nanoseconds() < deadline { cpu_pause() }
        guard check(SMP.jobDone(i), "an AP did not finish counting within 60 s") else { return false }
        guard check(SMP.cpus[i].block[PerCPU.Word.heldCount] == 0, "an AP still holds a lock") else { return false }
    }
    Log.info("locks.ticket_lock_excludes_across_cpus: \(SMP.onlineCount) CPUs, \(LockTest.counter.pointee) increments in \((Clock.nanoseconds() - start) / 1_000_000) ms")
    return check(LockTest.counter.pointee == UInt64(LockTest.rounds * SMP.onlineCount), "increments were lost")
        && check(!LockTest.lock.isLocked, "the lock stayed held")
}

/// The MADT's enabled CPUs (up to APStartup.maxCPUs) all came up, or only the boot CPU under `smp=off`.
private func everyEnabledCPUOnline() -> Bool {
    let off = Kernel.commandLine.value(of: KernelWord.smp.name, is: "off")
    let expected = off ? 1 : min(SMP.present, APStartup.maxCPUs)
    return check(SMP.onlineCount == expected, "online CPUs differ from the MADT's enabled ones")
        && check(SMP.cpus[0].apicID == LAPIC.id && PerCPU.index == 0, "the boot CPU is not CPU 0")
        && check(SMP.onlineCount == 1 || SMP.trampolinePage < 0x10_0000, "trampoline above 1 MiB")
}

/// Each CPU's block names its own index, APIC ID and TSS, and says it is online; no two share a block,
/// an APIC ID or a TSS; an AP's TSS has IST stacks of its own.
private func perCPUBlocksDistinct() -> Bool {
    let cpus = SMP.cpus
    for (i, c) in cpus.enumerated() {
        let b = c.block
        guard check(b[PerCPU.Word.index] == UInt64(i), "a block names another index"),
              check(b[PerCPU.Word.apicID] == UInt64(c.apicID), "a block names another APIC ID"),
              check(b[PerCPU.Word.this] == UInt64(UInt(bitPattern: b)), "a block's self pointer is wrong"),
              check(i == 0 || atomic_load64(b + PerCPU.Word.online) == 1, "an AP is not marked online") else { return false }
        for d in cpus[..<i] {
            guard check(d.block != b && d.apicID != c.apicID, "two CPUs share a block or an APIC ID"),
                  check(d.block[PerCPU.Word.tss] != b[PerCPU.Word.tss], "two CPUs share a TSS") else { return false }
        }
        if i > 0 {
            let tss = UnsafeRawPointer(bitPattern: UInt(b[PerCPU.Word.tss]))!
            let ist1 = tss.loadUnaligned(fromByteOffset: 36, as: UInt64.self)
            guard check(KernelStacks.isMapped(ist1 - 8) && KernelStacks.isGuard(ist1 - UInt64(KernelStacks.stackPages) * pageSize - 8),
                        "an AP's double-fault stack is not a guarded kernel stack") else { return false }
        }
    }
    return true
}

/// A wake-up IPI to every AP is taken (its count goes up by one) within a second.
private func apsTakeWakeupIPIs() -> Bool {
    for i in 1..<max(SMP.onlineCount, 1) {
        let counter = SMP.cpus[i].block + PerCPU.Word.wakeups
        let before = atomic_load64(counter)
        SMP.wake(i)
        let deadline = Clock.nanoseconds() + 1_000_000_000
        while atomic_load64(counter) == before && Clock.nanoseconds() < deadline { cpu_pause() }
        guard check(atomic_load64(counter) == before + 1, "an AP did not take its wake-up IPI") else { return false }
    }
    return true
}

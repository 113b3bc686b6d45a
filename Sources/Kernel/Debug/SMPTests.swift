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
]

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

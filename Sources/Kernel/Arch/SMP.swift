// Starting the application processors (APs): every enabled CPU of the MADT besides the boot CPU.
//
// The boot CPU copies the trampoline (Boot/trampoline.S) to a free page below 1 MiB (Core/APStartup.swift
// picks it), builds the APs' first page tables (the kernel's upper half plus an identity map of the first
// 2 MiB), and then, one AP at a time: gives it an idle thread (whose kernel stack the AP starts on), a
// page holding its GDT, TSS and per-CPU block, and three IST stacks with guard pages; sends INIT, waits
// 10 ms, sends STARTUP twice 200 µs apart (Intel SDM volume 3, 9.4.4.1) and waits for the AP to say it is
// up. The AP (ap_main) loads the kernel's page tables, its descriptors, its GS base, the syscall MSRs,
// its local APIC and timer (nothing armed), marks itself online and halts in its idle loop with
// interrupts on.
//
// Until CPU 0 enters its idle loop (the root process started), an AP only takes wake-up IPIs (counted in
// its per-CPU block; the in-kernel tests give it jobs) and halts, touching only its own per-CPU block,
// its own local APIC, and `SMP.pending` (a plain value the boot CPU wrote before waking it and does not
// touch until the AP is online). Then (Scheduler.startAPs) every AP takes the kernel lock and runs the
// scheduler's idle loop like CPU 0 (LOCKS.md). `smp=off` on the command line leaves the APs parked
// (never woken); with `smp=boot` they stay in that first loop and every thread runs on CPU 0.
//
// Guarded by: everything here is written by the boot CPU in kmain, before the root process starts and
// while each AP it wakes is still spinning towards `online`; afterwards it is only read.

#if !KERNEL
import ABI
#endif

/// One CPU the kernel runs on.
struct CPUEntry {
    let apicID: UInt32
    /// Its per-CPU block (Arch/CPULocal.swift PerCPU).
    let block: UnsafeMutablePointer<UInt64>
}

/// What an AP needs to set itself up: plain addresses, so that the AP reads no reference-counted value.
struct APBoot {
    var index: UInt64 = 0
    var apicID: UInt64 = 0
    var gdt: UInt64 = 0
    var tss: UInt64 = 0
    var block: UInt64 = 0
    /// Its scheduler state (Scheduler/CPUState.swift), unretained (SMP.states keeps it).
    var state: UInt64 = 0
    /// Its idle thread, unretained (its CPUState keeps it).
    var idle: UInt64 = 0
    var istTops: (UInt64, UInt64, UInt64) = (0, 0, 0)
}

enum SMP {
    /// The CPUs running, the boot CPU first; a CPU's index (PerCPU.index) is its place here.
    static private(set) var cpus: [CPUEntry] = []
    /// Enabled processors in the MADT (1 without a MADT).
    static private(set) var present = 1
    /// The page the trampoline was copied to (0: no AP was started).
    static private(set) var trampolinePage: UInt64 = 0
    /// The scheduler states of the APs started (with their idle threads), kept alive here also when an
    /// AP did not come up (its memory stays reserved).
    static private var states: [CPUState] = []
    /// The AP being started reads its setup here.
    static private(set) var pending = APBoot()

    /// Time an AP gets to come up after its STARTUP IPIs (TCG on a loaded host is slow).
    static let startTimeoutNanoseconds: UInt64 = 2_000_000_000

    static var onlineCount: Int { cpus.count }

    /// The boot CPU records itself, starts the APs (unless `smp=off`) and logs how many CPUs run.
    /// Called at the end of Scheduler.initialize (the kernel process exists), after Platform.initialize
    /// (the clock).
    static func startOtherCPUs() {
        cpus = [CPUEntry(apicID: LAPIC.id, block: PerCPU.block)]
        guard let madt = Kernel.acpi.madt else { return Log.info("smp: 1 CPU running (no MADT)") }
        present = max(madt.enabledProcessorCount, 1)
        let targets = APStartup.targets(madt.processors, bootAPICID: LAPIC.id)
        if Kernel.commandLine.value(of: KernelWord.smp.name, is: "off") {
            return Log.info("smp: 1 of \(present) CPUs running (smp=off: the others stay parked)")
        }
        if !targets.isEmpty {
            var reserved = Kernel.boot.reservedRanges
            for m in Kernel.boot.modules { reserved.append(PhysicalRange(start: m.start, end: m.end)) }
            guard let page = APStartup.trampolinePage(memoryMap: Kernel.boot.memoryMap, reserved: reserved) else {
                return Log.warn("smp: no free page below 1 MiB for the AP trampoline; 1 CPU running")
            }
            prepareTrampoline(page)
            for id in targets { start(apicID: id) }
        }
        logCPUs(targets: targets.count)
    }

    /// `smp: 4 CPUs running (APIC IDs 0 1 2 3), 4 in the MADT; trampoline at 0x8000`
    private static func logCPUs(targets: Int) {
        var ids: LogMessage = ""
        for c in cpus { ids.append(" \(c.apicID)") }
        var m: LogMessage = "smp: \(cpus.count) CPU\(cpus.count == 1 ? "" : "s") running (APIC IDs"
        m.append(ids)
        m.append("), \(present) in the MADT")
        if trampolinePage != 0 { m.append("; trampoline at \(hex: trampolinePage)") }
        Log.write(.info, m)
        if cpus.count < targets + 1 { Log.warn("smp: \(targets + 1 - cpus.count) CPUs did not start") }
    }

    /// Copies the trampoline to `page` and builds the APs' first page tables.
    private static func prepareTrampoline(_ page: UInt64) {
        trampolinePage = page
        let start = symbol_ap_trampoline_start()!, end = symbol_ap_trampoline_end()!
        let count = end - start
        KernelMemory.virtual(physical: page).copyMemory(from: UnsafeRawPointer(start), byteCount: count)
        let pml4 = symbol_ap_boot_pml4()!, pdpt = symbol_ap_boot_pdpt()!, pd = symbol_ap_boot_pd()!
        pd[0] = 0x83                                    // the first 2 MiB: present, writable, 2 MiB page
        pdpt[0] = physical(pd) | 3
        let kernel = symbol_boot_pml4()!
        for i in 1..<512 { pml4[i] = kernel[i] }
        pml4[0] = physical(pdpt) | 3
        param(24).pointee = physical(pml4)
    }

    /// A word of the parameter block in the copied trampoline.
    private static func param(_ offset: Int) -> UnsafeMutablePointer<UInt64> {
        let inImage = symbol_ap_trampoline_params()! - symbol_ap_trampoline_start()!
        return (KernelMemory.virtual(physical: trampolinePage) + inImage + offset).assumingMemoryBound(to: UInt64.self)
    }

    /// Physical address of a kernel-image symbol.
    private static func physical(_ p: UnsafeMutablePointer<UInt64>) -> UInt64 {
        UInt64(UInt(bitPattern: p)) - KernelMemory.imageVMA
    }

    /// Wakes the AP with APIC ID `apicID` and waits for it to come up; it joins `cpus` when it does.
    private static func start(apicID: UInt32) {
        guard let boot = allocate(apicID: apicID, index: cpus.count) else {
            return Log.warn("smp: no memory to start the CPU with APIC ID \(apicID)")
        }
        pending = boot
        let block = UnsafeMutablePointer<UInt64>(bitPattern: UInt(boot.block))!
        block[PerCPU.Word.online] = 0
        LAPIC.sendIPI(APStartup.initCommand, to: apicID)
        wait(nanoseconds: 10_000_000)
        for _ in 0..<2 where atomic_load64(block + PerCPU.Word.online) == 0 {
            LAPIC.sendIPI(APStartup.startupCommand(page: trampolinePage), to: apicID)
            wait(nanoseconds: 200_000)
        }
        let deadline = Clock.nanoseconds() &+ startTimeoutNanoseconds
        while atomic_load64(block + PerCPU.Word.online) == 0 && Clock.nanoseconds() < deadline { cpu_pause() }
        if atomic_load64(block + PerCPU.Word.online) != 0 {
            cpus.append(CPUEntry(apicID: apicID, block: block))
            Scheduler.add(states[states.count - 1])
        } else {
            Log.warn("smp: the CPU with APIC ID \(apicID) did not come up (its memory stays reserved)")
        }
    }

    /// The idle thread (its stack is where the AP starts) and scheduler state, four pages for the GDT
    /// and per-CPU block (the first) and the TSS with its I/O bitmap (the other three), and three IST
    /// stacks; the stack and index go into the trampoline's parameter block.
    private static func allocate(apicID: UInt32, index: Int) -> APBoot? {
        guard let page = PMM.allocate(count: 4) else { return nil }
        for i in 0..<4 { zeroPage(page + UInt64(i) * pageSize) }
        let base = UInt64(UInt(bitPattern: KernelMemory.virtual(physical: page)))
        guard let ist0 = istStack(), let ist1 = istStack(), let ist2 = istStack() else { return nil }
        let idle = Thread(idleFor: Scheduler.kernelProcess)
        idle.state = .running
        idle.cpu = index
        let tss = base + pageSize
        let state = CPUState(index: index, idle: idle, tss: UnsafeMutablePointer<UInt8>(bitPattern: UInt(tss))!,
                             block: UnsafeMutablePointer<UInt64>(bitPattern: UInt(base + 512))!)
        states.append(state)
        param(32).pointee = idle.stackTop
        param(40).pointee = UInt64(index)
        return APBoot(index: UInt64(index), apicID: UInt64(apicID), gdt: base, tss: tss, block: base + 512,
                      // The AP's `current` and `idle` words hold no reference: its CPUState holds the idle thread.
                      state: state.opaque, idle: UInt64(UInt(bitPattern: Unmanaged.passUnretained(idle).toOpaque())),
                      istTops: (ist0, ist1, ist2))
    }

    /// One IST stack (16 KiB, guard pages below): its top.
    private static func istStack() -> UInt64? {
        guard let physical = PMM.allocate(count: KernelStacks.stackPages) else { return nil }
        guard let bottom = try? KernelStacks.map(physical: physical) else {
            PMM.free(physical, count: KernelStacks.stackPages)
            return nil
        }
        return bottom + UInt64(KernelStacks.stackPages) * pageSize
    }

    /// Spins for `nanoseconds` of the kernel clock.
    static func wait(nanoseconds: UInt64) {
        let end = Clock.nanoseconds() &+ nanoseconds
        while Clock.nanoseconds() < end { cpu_pause() }
    }

    /// Sends a wake-up IPI to the CPU at `index` (not this one).
    static func wake(_ index: Int) {
        LAPIC.sendIPI(APStartup.fixedCommand(vector: UInt8(LocalAPICVector.wakeup)), to: cpus[index].apicID)
    }

    /// Work an AP does in its wake-up IPI handler, set in its block's job word (in-kernel tests).
    enum Job: UInt64 {
        case none = 0
        /// Count to LockTest.rounds under LockTest.lock (Debug/SMPTests.swift).
        case lockCounter = 1
    }

    /// Gives the AP at `index` a job and wakes it; `jobDone(index)` says when it has finished.
    static func start(_ job: Job, on index: Int) {
        atomic_store64(cpus[index].block + PerCPU.Word.job, job.rawValue)
        wake(index)
    }

    static func jobDone(_ index: Int) -> Bool { atomic_load64(cpus[index].block + PerCPU.Word.job) == 0 }

    /// On an AP, in its wake-up IPI handler: runs the job its block names, then clears the word.
    static func runJob() {
        let word = PerCPU.block + PerCPU.Word.job
        guard let job = Job(rawValue: atomic_load64(word)), job != .none else { return }
        switch job {
        case .none: break
        case .lockCounter: LockTest.count()
        }
        atomic_store64(word, 0)
    }

    /// An AP's first loop: halts with interrupts on (a wake-up IPI is counted and its job run: Traps)
    /// until CPU 0 lets the APs schedule (Scheduler.startAPs), then takes the kernel lock (unless the
    /// interrupt that woke it did) and runs the scheduler's idle loop.
    static func apIdle() -> Never {
        while !Scheduler.apsSchedule { cpu_idle() }
        KernelLock.takeIfFree()
        Scheduler.idleLoop()
    }
}

/// An application processor's first Swift code (Boot/trampoline.S ap_entry64), on its idle thread's
/// stack, still on the trampoline's page tables. Touches only its own state (see SMP above).
@_cdecl("ap_main")
func apMain(_ index: UInt64) {
    let boot = SMP.pending
    write_cr3(Vmem.kernelRoot)
    if TLB.pcidOn { write_cr4(read_cr4() | TLB.cr4PCIDE) }
    Descriptors.initializeAP(gdt: UnsafeMutablePointer<UInt8>(bitPattern: UInt(boot.gdt))!,
                             tss: UnsafeMutablePointer<UInt8>(bitPattern: UInt(boot.tss))!, istTops: boot.istTops)
    let block = UnsafeMutablePointer<UInt64>(bitPattern: UInt(boot.block))!
    PerCPU.install(block, index: Int(index), apicID: boot.apicID, tss: boot.tss)
    block[PerCPU.Word.state] = boot.state
    block[PerCPU.Word.current] = boot.idle
    block[PerCPU.Word.idle] = boot.idle
    SyscallEntry.initialize()
    LAPIC.initializeAP()
    Timer.initializeAP()
    atomic_store64(block + PerCPU.Word.online, 1)
    SMP.apIdle()
}

// Per-CPU data, the syscall MSRs, and the scheduler's timer (the local APIC timer).

#if !KERNEL
import ABI
#endif

enum MSR {
    static let efer: UInt32 = 0xC000_0080
    static let star: UInt32 = 0xC000_0081
    static let lstar: UInt32 = 0xC000_0082
    static let fmask: UInt32 = 0xC000_0084
    static let gsBase: UInt32 = 0xC000_0101
    static let kernelGSBase: UInt32 = 0xC000_0102
    static let pat: UInt32 = 0x277
}

/// Each CPU's own block of 20 words, reached through the GS base in kernel mode (swapgs at entries from
/// user mode puts it there). The boot CPU's is percpu_storage (Boot/entry.S); an application processor's
/// is allocated when it starts (Arch/SMP.swift). Words (syscall.S reads 0 and 1 by offset):
///   gs:0  kernel stack top of the thread running here (also this CPU's TSS.rsp0)
///   gs:8  scratch: the user stack pointer at syscall entry
///   gs:16 this CPU's index (0: the boot CPU; SMP.cpus order)
///   gs:24 its local APIC ID
///   gs:32 its TSS's address
///   gs:40 the block's own address
///   gs:48 1 once the CPU runs its idle loop (written by it, atomically; SMP.swift waits for it)
///   gs:56 wake-up IPIs this CPU took (its own count)
///   gs:64..80 the ranks of the spinlocks it holds (Core/LockOrder.swift HeldLocks, Arch/SpinLock.swift)
///   gs:88 a job for an AP's wake-up IPI handler (SMP.runJob; 0: none)
///   gs:96 1 while this CPU holds the kernel lock (Arch/KernelLock.swift)
///   gs:104 1 while a TLB shootdown request waits for this CPU (Memory/Shootdown.swift; atomic)
///   gs:112 the thread this CPU runs (Scheduler.current), unretained; kept by its CPUState
///   gs:120 this CPU's scheduler state (Scheduler/CPUState.swift), unretained; kept by Scheduler.cpus
///   gs:128 this CPU's idle thread, unretained; kept by its CPUState
///   gs:136 the thread that ended last on this CPU (its stack is freed by the next to run here), retained
///   gs:144 1 while what the timer has armed is a running thread's time slice (Timer.sliceArmed)
///   gs:152 what the timer has armed, clock ns (UInt64.max: nothing; Timer.armedDeadline)
/// The scheduler's hot paths read and write these words directly (no reference counting).
/// Guarded by: owned by its CPU; written by another only before that CPU starts.
enum PerCPU {
    static let words = 20
    enum Word {
        static let kernelStack = 0, scratch = 1, index = 2, apicID = 3, tss = 4, this = 5, online = 6, wakeups = 7
        static let heldCount = 8, heldLow = 9, heldHigh = 10, job = 11
        static let holdsKernelLock = 12, shootdownPending = 13, current = 14, state = 15
        static let idle = 16, zombie = 17, sliceArmed = 18, armedDeadline = 19
    }

    /// A word of this CPU's block (one GS-relative load or store).
    @inline(__always) static func read(_ word: Int) -> UInt64 { read_gs64(UInt64(word * 8)) }
    @inline(__always) static func write(_ word: Int, _ value: UInt64) { write_gs64(UInt64(word * 8), value) }

    /// The boot CPU's block: its index 0, the image's TSS.
    static func initialize() {
        install(symbol_percpu()!, index: 0, apicID: UInt64(cpuid_register(1, 0, 1) >> 24),
                tss: UInt64(UInt(bitPattern: symbol_tss_storage()!)))
        LockCheck.ready = true
    }

    /// Fills a block and makes it this CPU's (GS base; kernel GS base 0 until a user thread runs).
    static func install(_ block: UnsafeMutablePointer<UInt64>, index: Int, apicID: UInt64, tss: UInt64) {
        for i in 0..<words { block[i] = 0 }
        block[Word.index] = UInt64(index)
        block[Word.apicID] = apicID
        block[Word.tss] = tss
        block[Word.this] = UInt64(UInt(bitPattern: block))
        block[Word.armedDeadline] = UInt64.max
        write_msr(MSR.gsBase, UInt64(UInt(bitPattern: block)))
        write_msr(MSR.kernelGSBase, 0)
    }

    /// This CPU's index (0 for the boot CPU). Any CPU, in kernel mode.
    static var index: Int { Int(read_gs64(UInt64(Word.index * 8))) }

    /// This CPU's block.
    static var block: UnsafeMutablePointer<UInt64> {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(read_gs64(UInt64(Word.this * 8))))!
    }

    /// The kernel stack of the thread this CPU runs now: gs:0 and this CPU's TSS.rsp0.
    static func setKernelStack(_ top: UInt64) {
        let b = block
        b[Word.kernelStack] = top
        Descriptors.setKernelStack(top, tss: b[Word.tss])
    }
}

/// RFLAGS bits `syscall` clears (IA32_FMASK): AC (bit 18), NT (14), DF (10), IF (9), TF (8).
let kernelEntryFlagMask: UInt64 = 0x4_4700

enum SyscallEntry {
    /// `syscall` enters syscall_entry with CS 0x08/SS 0x10 and NT, AC, DF, IF and TF cleared (a user's NT
    /// carried into the kernel would make the next `iretq` fault); `sysret` would return with CS 0x20|3,
    /// SS 0x18|3.
    static func initialize() {
        write_msr(MSR.efer, read_msr(MSR.efer) | 1)      // SCE
        write_msr(MSR.star, (UInt64(0x10) << 48) | (UInt64(Selector.kernelCode) << 32))
        write_msr(MSR.lstar, address_of_syscall_entry())
        write_msr(MSR.fmask, kernelEntryFlagMask)
        write_msr(MSR.pat, PageTable<KernelPageMemory>.patMSRValue)
    }
}

/// The scheduler's timer: the local APIC timer, in TSC-deadline mode when CPUID.1:ECX[24] says the CPU
/// has it, else one-shot with its rate (bus clock / 16) measured against the kernel clock (the TSC, itself
/// measured against the HPET). Tickless: a running thread gets its time slice armed (or the next timeout
/// when that is sooner); the idle CPU arms only for `Timeouts.nextDeadline()`, or nothing at all.
/// Guarded by: the kernel lock; what is armed is per CPU (PerCPU words: each CPU arms its own timer).
enum Timer {
    /// One time slice: a tick of Scheduler.tick().
    static let sliceNanoseconds: UInt64 = 10_000_000
    static let deadlineMSR: UInt32 = 0x6E0
    static let calibrationNanoseconds: UInt64 = 20_000_000

    static private(set) var tscDeadline = false
    /// One-shot mode: timer counts per second (divide by 16).
    static private(set) var apicFrequency: UInt64 = 0
    /// Set by start(); the in-kernel tests set it for a moment to try the idle and slice arming.
    static var started = false
    /// Whether what is armed on this CPU is a running thread's slice (not the idle deadline or nothing).
    static var sliceArmed: Bool { PerCPU.read(PerCPU.Word.sliceArmed) != 0 }
    /// Timer interrupts taken, and idle waits with nothing armed (tickless idle at work).
    static private(set) var interrupts: UInt64 = 0
    static private(set) var idleWithoutTimer: UInt64 = 0

    /// Chooses the mode and programs the LVT (still nothing armed). After TSC.initialize.
    static func initialize() {
        tscDeadline = cpuid_register(1, 0, 2) & (1 << 24) != 0
        if tscDeadline {
            LAPIC.write(LAPIC.Register.lvtTimer, (2 << 17) | UInt32(LocalAPICVector.timer))
        } else {
            LAPIC.write(LAPIC.Register.divideConfiguration, 0x3)      // divide by 16
            apicFrequency = measureAPICTimer()
            LAPIC.write(LAPIC.Register.lvtTimer, UInt32(LocalAPICVector.timer))   // one-shot
        }
    }

    /// An application processor's timer: the boot CPU's mode and rate (one bus clock), nothing armed.
    static func initializeAP() {
        if tscDeadline {
            LAPIC.write(LAPIC.Register.lvtTimer, (2 << 17) | UInt32(LocalAPICVector.timer))
            write_msr(deadlineMSR, 0)
        } else {
            LAPIC.write(LAPIC.Register.divideConfiguration, 0x3)
            LAPIC.write(LAPIC.Register.initialCount, 0)
            LAPIC.write(LAPIC.Register.lvtTimer, UInt32(LocalAPICVector.timer))
        }
    }

    /// Counts of the masked timer over calibrationNanoseconds of the clock.
    private static func measureAPICTimer() -> UInt64 {
        LAPIC.write(LAPIC.Register.lvtTimer, LAPIC.masked | UInt32(LocalAPICVector.timer))
        LAPIC.write(LAPIC.Register.initialCount, UInt32.max)
        let count = { UInt64(LAPIC.read(LAPIC.Register.currentCount)) }
        let (c0, n0) = TSC.pairedRead(count, reference: Clock.nanoseconds, window: TSC.pairWindowNanoseconds)
        var now = n0
        while now - n0 < calibrationNanoseconds { cpu_pause(); now = Clock.nanoseconds() }
        let (c1, n1) = TSC.pairedRead(count, reference: Clock.nanoseconds, window: TSC.pairWindowNanoseconds)
        LAPIC.write(LAPIC.Register.initialCount, 0)
        let f = TimeScale.frequency(counterDelta: c0 &- c1, referenceDelta: n1 - n0, referenceFrequency: 1_000_000_000)
        guard f > 0 else { kernelPanic("timer: the local APIC timer does not count") }
        return f
    }

    /// Starts scheduling: the first slice.
    static func start() {
        started = true
        armSlice()
    }

    /// The timer interrupt: acknowledged, the next slice armed, then the scheduler's tick (which may
    /// switch threads; switching to idle re-arms for idle).
    static func interrupt() {
        LAPIC.endOfInterrupt()
        interrupts &+= 1
        Timeouts.expire(now: Clock.nanoseconds())   // first, so that the slice is not armed for a passed deadline
        armSlice()
        Scheduler.tick()
    }

    /// A thread runs: its slice, or the next timeout when sooner.
    static func armSlice() {
        guard started else { return }
        let end = Clock.nanoseconds() &+ sliceNanoseconds
        arm(at: min(end, Timeouts.nextDeadline() ?? end))
        PerCPU.write(PerCPU.Word.sliceArmed, 1)
    }

    /// The CPU goes idle: only the next timeout, or no interrupt at all.
    static func armIdle() {
        guard started else { return }
        PerCPU.write(PerCPU.Word.sliceArmed, 0)
        if let deadline = Timeouts.nextDeadline() {
            arm(at: deadline)
        } else {
            stop()
            idleWithoutTimer &+= 1
        }
    }

    /// A timeout was added (Time/Timeouts.swift calls this): re-armed when it is sooner than what is
    /// armed, so that it is not late by up to a slice while threads run.
    static func deadlineAdded(_ deadline: UInt64) {
        if started && deadline < armedDeadline { arm(at: deadline) }
    }

    /// What is armed (clock ns), UInt64.max for nothing.
    static var armedDeadline: UInt64 { PerCPU.read(PerCPU.Word.armedDeadline) }

    /// An interrupt at `deadline` (clock ns; at once when past).
    static func arm(at deadline: UInt64) {
        PerCPU.write(PerCPU.Word.armedDeadline, deadline)
        if tscDeadline {
            write_msr(deadlineMSR, max(TSC.counter(atNanoseconds: deadline), 1))
        } else {
            let now = Clock.nanoseconds()
            let ticks = deadline > now ? TimeScale.ticks(nanoseconds: deadline - now, frequency: apicFrequency) : 1
            LAPIC.write(LAPIC.Register.initialCount, UInt32(clamping: max(ticks, 1)))
        }
    }

    /// Nothing armed.
    static func stop() {
        PerCPU.write(PerCPU.Word.armedDeadline, UInt64.max)
        if tscDeadline { write_msr(deadlineMSR, 0) } else { LAPIC.write(LAPIC.Register.initialCount, 0) }
    }

    static var modeName: StaticString { tscDeadline ? "TSC-deadline" : "one-shot" }
}

// One CPU's scheduler state: the thread it runs, its idle thread, its ready queue (priorities 0...31),
// the I/O bitmap its TSS holds and the page-table root it has loaded (TLB shootdown targets). Reached
// through GS (PerCPU.Word.state) as `Scheduler.here` (or `Scheduler.withHere`, without a retain); every
// CPU's is in `Scheduler.cpus`, by index. What only its own CPU reads on the hot paths (the zombie, the
// time slice, what the timer has armed; `current` and `idle` again, unretained) is kept in raw words of
// the PerCPU block instead (Arch/CPULocal.swift).
//
// Guarded by: the kernel lock (Arch/KernelLock.swift). Another CPU reads and writes `ready` (placing a
// woken thread, stealing), and reads `current`, `idle` and `loadedRoot` (placement, shootdown targets),
// all under the kernel lock.

#if !KERNEL
import ABI
#endif

final class CPUState {
    let index: Int
    /// Its PerCPU block (Arch/CPULocal.swift), where the thread it runs is kept.
    let block: UnsafeMutablePointer<UInt64>
    /// The thread it runs: its block's `current` word (no reference count; see Scheduler.current).
    var current: Thread {
        Unmanaged<Thread>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(block[PerCPU.Word.current]))!).takeUnretainedValue()
    }
    let idle: Thread
    var ready = RunQueue<Thread>()
    /// The process whose I/O bitmap this CPU's TSS holds (0: none) and that bitmap's version.
    var ioProcess: UInt64 = 0
    var ioVersion: UInt64 = 0
    /// This CPU's TSS (the I/O bitmap follows it).
    let tss: UnsafeMutablePointer<UInt8>
    /// The page-table root in this CPU's CR3 (without PCIDs, the only user entries its TLB holds).
    var loadedRoot: UInt64

    init(index: Int, idle: Thread, tss: UnsafeMutablePointer<UInt8>, block: UnsafeMutablePointer<UInt64>) {
        self.index = index
        self.block = block
        self.idle = idle
        self.tss = tss
        self.loadedRoot = Vmem.kernelRoot
    }

    /// Runs its idle thread with nothing queued.
    var isIdle: Bool { current === idle && ready.isEmpty }

    /// The opaque pointer kept in the per-CPU block.
    var opaque: UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())) }
}

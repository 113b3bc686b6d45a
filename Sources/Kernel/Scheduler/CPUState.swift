// One CPU's scheduler state: the thread it runs, its idle thread, the thread that ended last on it (its
// stack is freed by the next to run here), its ready queue (priorities 0...31), its time slice, the I/O
// bitmap its TSS holds and the page-table root it has loaded (TLB shootdown targets). Reached through
// GS (PerCPU.Word.state) as `Scheduler.here`; every CPU's is in `Scheduler.cpus`, by index.
//
// Guarded by: the kernel lock (Arch/KernelLock.swift). Another CPU reads and writes `ready` (placing a
// woken thread, stealing), and reads `current`, `idle` and `loadedRoot` (placement, shootdown targets),
// all under the kernel lock.

#if !KERNEL
import ABI
#endif

final class CPUState {
    let index: Int
    var current: Thread
    let idle: Thread
    var zombie: Thread? = nil
    var ready = RunQueue<Thread>()
    /// Whether what the timer has armed is a running thread's slice; what it has armed (clock ns).
    var sliceArmed = false
    var armedDeadline = UInt64.max
    /// The process whose I/O bitmap this CPU's TSS holds (0: none) and that bitmap's version.
    var ioProcess: UInt64 = 0
    var ioVersion: UInt64 = 0
    /// This CPU's TSS (the I/O bitmap follows it).
    let tss: UnsafeMutablePointer<UInt8>
    /// The page-table root in this CPU's CR3 (without PCIDs, the only user entries its TLB holds).
    var loadedRoot: UInt64

    init(index: Int, idle: Thread, tss: UnsafeMutablePointer<UInt8>) {
        self.index = index
        self.idle = idle
        self.current = idle
        self.tss = tss
        self.loadedRoot = Vmem.kernelRoot
    }

    /// Runs its idle thread with nothing queued.
    var isIdle: Bool { current === idle && ready.isEmpty }

    /// The opaque pointer kept in the per-CPU block.
    var opaque: UInt64 { UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())) }
}

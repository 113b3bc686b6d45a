// The kernel lock: one test-and-set spinlock (rank 1, the lowest) that a CPU holds whenever it runs
// kernel code on kernel state, so that every variable the single-CPU kernel guarded by "interrupts off"
// stays guarded when every CPU runs threads (LOCKS.md, "Step 1: the kernel lock").
//
// Taken: at every entry from user mode (syscall, exception, interrupt), at an interrupt that wakes the
// idle loop out of `hlt`, by the idle loop itself, and by an AP before it first schedules. Let go: on the
// way back to user mode (kernel_leave, thread_first_run) and by the idle loop just before `hlt`. It stays
// held across thread switches on one CPU (the switch happens under it), so a thread that blocks on one CPU
// and resumes on another finds it held there by that CPU. Kernel-mode traps taken while it is held (a
// breakpoint, a probe) do not take it again.
//
// Test-and-set, not a ticket lock: with more vCPUs than host cores a FIFO hand-over waits for whichever
// vCPU holds the next ticket even when the host does not run it (LOCKS.md, "Ticket locks on an
// oversubscribed host"). A CPU that spins here serves TLB shootdown requests (Memory/Shootdown.swift),
// since the holder may be waiting for its acknowledgement.
//
// While one CPU schedules threads (`smp=boot`, or one CPU) there is nothing to exclude: taking and
// letting go of the lock are then a test of one flag (`shared`, inline; no atomic, no lock-order record),
// CPU 0 counts as holding it and the idle APs as not, so the one-CPU IPC path costs what it did before
// the lock. Scheduler.startAPs turns it into the shared lock (`share`) on CPU 0, which holds it then,
// before any AP may take it.
//
// Guarded by: the lock word is atomic; the per-CPU `holdsKernelLock` word is written only by its CPU;
// `shared` is written once by CPU 0 before the APs schedule (they read it after `Scheduler.apsSchedule`).

#if !KERNEL
import ABI
#endif

enum KernelLock {
    static let rank = LockRank(rank: 1, name: "Kernel.lock")

    /// [0] the lock, [1] Scheduler.apsSchedule, [2] CPUs spinning for it, [3] 1 + the index of its last holder.
    private static var word: UnsafeMutablePointer<UInt64> { symbol_kernel_lock()! }
    /// How long (pauses) the last holder waits for a spinning CPU to take it before taking it again.
    static let handOverSpins = 5_000

    /// Whether this CPU holds it. Any CPU, in kernel mode. In the one-CPU form CPU 0 always holds it
    /// and the APs (which run no threads then) never do.
    static var held: Bool {
        shared ? PerCPU.read(PerCPU.Word.holdsKernelLock) != 0 : PerCPU.read(PerCPU.Word.index) == 0
    }

    /// Whether it is the shared lock (more than one CPU schedules threads). Until then taking and letting
    /// go of it do nothing: only CPU 0 runs kernel code on kernel state.
    static private(set) var shared = false

    /// Takes it: interrupts off, not held by this CPU.
    @inline(__always) static func take() {
        if shared { takeShared() }
    }

    /// Lets it go: held by this CPU.
    @inline(__always) static func release() {
        if shared { releaseShared() }
    }

    /// CPU 0 (kmain, before the APs schedule), which holds it in the one-CPU form, makes it the shared
    /// lock and holds that.
    static func share() {
        guard !shared else { return }
        if PerCPU.index != 0 { kernelPanic("Kernel.lock shared by an AP") }
        if atomic_exchange64(word, 1) != 0 { kernelPanic("Kernel.lock word taken before it was shared") }
        atomic_store64(word + 3, 1)
        LockCheck.acquire(rank)
        PerCPU.write(PerCPU.Word.holdsKernelLock, 1)
        shared = true
    }

    @inline(never) private static func takeShared() {
        if read_rflags() & (1 << 9) != 0 { kernelPanic("Kernel.lock taken with interrupts on") }
        let b = PerCPU.block
        if b[PerCPU.Word.holdsKernelLock] != 0 { kernelPanic("Kernel.lock taken twice on one CPU") }
        LockCheck.acquire(rank)
        let me = b[PerCPU.Word.index] + 1
        // Fairness: a CPU that held it last lets a waiting CPU have it first (for a bounded spin), so a
        // CPU in a tight syscall loop does not starve the others.
        var n = 0
        while n < handOverSpins && atomic_load64(word + 2) != 0 && atomic_load64(word + 3) == me {
            Shootdown.serve()
            cpu_pause()
            n += 1
        }
        if atomic_exchange64(word, 1) != 0 {
            _ = atomic_fetch_add64(word + 2, 1)
            repeat {
                repeat {
                    Shootdown.serve()
                    cpu_pause()
                } while atomic_load64(word) != 0
            } while atomic_exchange64(word, 1) != 0
            _ = atomic_fetch_add64(word + 2, UInt64.max)
        }
        atomic_store64(word + 3, me)
        b[PerCPU.Word.holdsKernelLock] = 1
    }

    @inline(never) private static func releaseShared() {
        let b = PerCPU.block
        if b[PerCPU.Word.holdsKernelLock] == 0 { kernelPanic("Kernel.lock let go by a CPU that does not hold it") }
        b[PerCPU.Word.holdsKernelLock] = 0
        LockCheck.release(rank)
        atomic_store64(word, 0)
    }

    /// Takes it unless this CPU holds it already; returns whether it took it.
    @discardableResult
    static func takeIfFree() -> Bool {
        if held { return false }
        take()
        return true
    }

    /// Whether some CPU holds it (reports).
    static var isLocked: Bool { atomic_load64(word) != 0 }
}

// TLB shootdown: after page-table entries were dropped on one CPU, every other CPU that may cache them
// flushes them before the dropping CPU goes on (and before the frames go back to the PMM).
//
// Who may cache what: without PCIDs every CR3 load flushes the non-global entries, so only a CPU whose
// CR3 holds that address space's root now (CPUState.loadedRoot, written at each switch under the kernel
// lock) has its user entries. With PCIDs a CPU keeps the entries of every tag it ran, so every other
// CPU flushes everything (a full flush of all tags; PCID is off under TCG here, so this path has not
// run). Kernel-half pages (thread stacks, batched: Memory/KernelStacks.swift) reach every CPU. While
// CPU 0 alone runs threads nothing is sent.
//
// The sender holds the kernel lock, so one request is in flight at a time: it writes the request (root,
// first page, end) into `shootdown_request`, sets each target's `shootdownPending` word, sends the
// shootdown IPI, and spins until each target has cleared its word. A target serves the request in its
// IPI handler, which takes no lock, or, when it is spinning for the kernel lock with interrupts off, in
// that spin loop (Arch/KernelLock.swift). Ranges of up to `pageLimit` pages are flushed page by page
// (invlpg); longer ones with a full flush.
//
// Guarded by: the request words are written by the kernel-lock holder only, before it sets any pending
// word; the pending words are atomic.

#if !KERNEL
import ABI
#endif

enum Shootdown {
    /// Up to this many pages are flushed one by one; more with a full flush.
    static let pageLimit: UInt64 = 32
    /// Requests sent and CPUs interrupted (reports, tests). Guarded by: the kernel lock.
    static private(set) var requests: UInt64 = 0
    static private(set) var interrupted: UInt64 = 0

    private static var request: UnsafeMutablePointer<UInt64> { symbol_shootdown_request()! }

    /// After dropping user entries of the address space with page-table root `root` in [start, end).
    static func user(root: UInt64, from start: UInt64, to end: UInt64) {
        send(root: root, start: start, end: end)
    }

    /// After unmapping kernel-half pages in [start, end): every other CPU.
    static func kernel(from start: UInt64, to end: UInt64) {
        send(root: 0, start: start, end: end)
    }

    /// With the kernel lock held: the request to every target, then the wait for each.
    private static func send(root: UInt64, start: UInt64, end: UInt64) {
        // While CPU 0 alone runs threads (Scheduler.multiCPU off), no other CPU has run a user address
        // space or touched a thread's stack: nothing to flush there.
        guard Scheduler.multiCPU else { return }
        let cpus = Scheduler.cpus
        guard cpus.count > 1 else { return }
        let me = PerCPU.index
        var targets: UInt64 = 0
        for c in cpus where c.index != me && (root == 0 || TLB.pcidOn || c.loadedRoot == root) {
            targets |= 1 << UInt64(c.index)
        }
        guard targets != 0 else { return }
        request[0] = root
        request[1] = start
        request[2] = end
        request[3] = TLB.pcidOn ? 1 : 0
        requests &+= 1
        var t = targets
        while t != 0 {
            let i = t.trailingZeroBitCount
            t &= t - 1
            atomic_store64(SMP.cpus[i].block + PerCPU.Word.shootdownPending, 1)
            LAPIC.sendIPI(APStartup.fixedCommand(vector: UInt8(LocalAPICVector.shootdown)), to: SMP.cpus[i].apicID)
            interrupted &+= 1
        }
        t = targets
        while t != 0 {
            let i = t.trailingZeroBitCount
            t &= t - 1
            while atomic_load64(SMP.cpus[i].block + PerCPU.Word.shootdownPending) != 0 { cpu_pause() }
        }
    }

    /// On a target, with no lock: flushes what the pending request names, then acknowledges.
    static func serve() {
        let pending = PerCPU.block + PerCPU.Word.shootdownPending
        guard atomic_load64(pending) != 0 else { return }
        let root = request[0], start = request[1], end = request[2], everything = request[3] != 0
        flush(from: start, to: end, kernel: root == 0, everything: everything)
        atomic_store64(pending, 0)
    }

    /// After kernel-half pages in [start, end) were unmapped by any CPU, possibly another one (a batch of
    /// stack slots released together: Memory/KernelStacks.swift): every CPU flushes them, this one too.
    /// The CPU that unmapped a page flushed it then; the others, the one releasing the batch included,
    /// may still hold its translation, and a slot reused with a stale one on the CPU that maps it writes
    /// the new thread's first frame into the old, freed page.
    static func kernelEverywhere(from start: UInt64, to end: UInt64) {
        guard Scheduler.multiCPU else { return }      // one CPU: the unmapping CPU flushed at once
        kernel(from: start, to: end)
        flush(from: start, to: end, kernel: true, everything: false)
    }

    /// Flushes [start, end) on this CPU: page by page up to pageLimit pages, else everything.
    private static func flush(from start: UInt64, to end: UInt64, kernel: Bool, everything: Bool) {
        if everything || end &- start > pageLimit * pageSize {
            flushAll(kernel: kernel || everything)
        } else {
            var page = start
            while page < end {
                invalidate_page(page)
                page += pageSize
            }
        }
    }

    /// Every entry: with the global ones (kernel pages, every PCID tag) by toggling CR4.PGE, else by
    /// reloading CR3.
    private static func flushAll(kernel: Bool) {
        if kernel || TLB.pcidOn {
            let cr4 = read_cr4()
            write_cr4(cr4 & ~TLB.cr4PGE)
            write_cr4(cr4)
        } else {
            write_cr3(read_cr3())
        }
    }
}

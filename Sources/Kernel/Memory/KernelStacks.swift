// Kernel stacks of threads, each with unmapped guard pages below it.
//
// A thread's kernel stack is reached not through the direct map (where the page below it is some other
// mapped memory) but through a region of its own, PML4 slot 510 (0xffffff0000000000, whose PDPT the boot
// code provides, so every address space shares it). The region is cut into slots of slotPages pages:
// guardPages unmapped pages, then the stack's pages, mapped writable and no-execute. A stack overflow
// writes into the guard, the CPU cannot push the page fault's frame there either, and the double fault
// (on its own IST stack) reports "kernel stack overflow" (Debug/Panic.swift).
// An unmapped slot is not reused until every other CPU has flushed it (a CPU that ran the thread may
// still cache its stack's translations; the frames themselves may go back at once, since only the
// slot's addresses reach them): it waits in `quarantined`, and one shootdown (Memory/Shootdown.swift)
// releases up to `quarantineLimit` slots together (or all of them when `map` needs one), instead of one
// per ended thread (ending a process of 2,000 threads on 4 CPUs of a loaded host took minutes of
// acknowledgements otherwise).
// Guarded by: the kernel lock.

#if !KERNEL
import ABI
#endif

enum KernelStacks {
    static let base: UInt64 = 0xffff_ff00_0000_0000
    static let guardPages = 4
    static let stackPages = 4
    static let slotBytes = UInt64(guardPages + stackPages) * pageSize
    /// 2^20 slots: 32 GiB of the slot's 512 GiB.
    static let maxSlots = 1 << 20
    static var end: UInt64 { base + UInt64(maxSlots) * slotBytes }
    /// Slots never used yet start here; freed (and flushed) slots are reused first.
    private static var nextSlot = 0
    private static var freeSlots: [Int] = []
    /// Unmapped slots not flushed on the other CPUs yet; released by one shootdown at `quarantineLimit`,
    /// or when `map` finds no flushed slot.
    private static var quarantined: [Int] = []
    static let quarantineLimit = 64
    /// Stacks mapped now (tests and leak checks).
    static private(set) var live = 0

    private static var kernelTable: PageTable<KernelPageMemory> {
        PageTable(root: Vmem.kernelRoot, memory: KernelPageMemory())
    }

    /// Maps stackPages frames from `physical` (contiguous) as a stack; returns its lowest address (the
    /// stack's top is that plus stackPages pages). .outOfMemory when no slot or page table is left.
    static func map(physical: UInt64) throws(SysError) -> UInt64 {
        // Flushed slots first, then quarantined ones (one shootdown), then never-used ones (whose page
        // tables may cost new pages).
        if freeSlots.isEmpty { releaseQuarantined() }
        guard let slot = freeSlots.popLast() ?? (nextSlot < maxSlots ? nextSlot : nil) else { throw .outOfMemory }
        if slot == nextSlot { nextSlot += 1 }
        let bottom = base + UInt64(slot) * slotBytes + UInt64(guardPages) * pageSize
        var table = kernelTable
        for i in 0..<stackPages {
            let page = bottom + UInt64(i) * pageSize
            do throws(SysError) {
                try table.map(virtual: page, physical: physical + UInt64(i) * pageSize, flags: [.read, .write],
                              cache: .writeBack, user: false)
            } catch {
                unmapPages(bottom, count: i)
                quarantine(slot)
                throw error
            }
        }
        live += 1
        return bottom
    }

    /// Unmaps a stack `map` returned; its frames are the caller's to free.
    static func unmap(bottom: UInt64) {
        unmapPages(bottom, count: stackPages)
        quarantine(Int((bottom - base) / slotBytes))
        live -= 1
    }

    /// Unmaps and flushes on this CPU. While other CPUs run threads the page tables stay, even when
    /// empty: another CPU may cache them (its paging-structure caches) until the quarantine's shootdown,
    /// and a table freed now and reused would be walked there for a new stack in the same region. While
    /// CPU 0 alone runs threads no other CPU walks this region's tables, and emptied ones go back.
    private static func unmapPages(_ bottom: UInt64, count: Int) {
        var table = kernelTable
        let keepTables = Scheduler.multiCPU
        for i in 0..<count {
            let page = bottom + UInt64(i) * pageSize
            if keepTables {
                _ = try? table.clearKeepingTables(virtual: page)
            } else {
                _ = try? table.unmap(virtual: page)
            }
            invalidate_page(page)
        }
        TLB.unmappedKernelPages()
    }

    private static func quarantine(_ slot: Int) {
        quarantined.append(slot)
        if quarantined.count >= quarantineLimit { releaseQuarantined() }
    }

    /// One shootdown for every quarantined slot (their span; a full flush when long), then they are free.
    static func releaseQuarantined() {
        guard let low = quarantined.min(), let high = quarantined.max() else { return }
        Shootdown.kernel(from: base + UInt64(low) * slotBytes, to: base + UInt64(high + 1) * slotBytes)
        freeSlots.append(contentsOf: quarantined)
        quarantined.removeAll(keepingCapacity: true)
    }

    /// Whether an address lies in the stack region and is mapped (safe to read while reporting).
    static func isMapped(_ address: UInt64) -> Bool {
        address >= base && address < end && kernelTable.translate(address) != nil
    }

    /// Whether an address lies in the guard pages of a stack slot.
    static func isGuard(_ address: UInt64) -> Bool {
        address >= base && address < end && (address - base) % slotBytes < UInt64(guardPages) * pageSize
    }
}

// Kernel stacks of threads, each with unmapped guard pages below it.
//
// A thread's kernel stack is reached not through the direct map (where the page below it is some other
// mapped memory) but through a region of its own, PML4 slot 510 (0xffffff0000000000, whose PDPT the boot
// code provides, so every address space shares it). The region is cut into slots of slotPages pages:
// guardPages unmapped pages, then the stack's pages, mapped writable and no-execute. A stack overflow
// writes into the guard, the CPU cannot push the page fault's frame there either, and the double fault
// (on its own IST stack) reports "kernel stack overflow" (Debug/Panic.swift).
// An unmapped slot is not reused until every CPU has flushed it (a CPU that ran the thread may still
// cache its stack's translations; the frames themselves may go back at once, since only the slot's
// addresses reach them). Every CPU includes the one that releases the batch: it may not be the one
// that unmapped the slot, and a stale translation there let the next thread created in that slot
// write its first frame into the old, freed page, which by then was another thread's stack (issue
// 12's double fault on a never-run thread). A slot waits in `quarantined`, and one shootdown
// (Memory/Shootdown.swift, kernelEverywhere)
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
        let start = base + UInt64(low) * slotBytes
        Shootdown.kernelEverywhere(from: start, to: base + UInt64(high + 1) * slotBytes)
        note(.release, address: start, thread: UInt64(high), rbp: 0)
        freeSlots.append(contentsOf: quarantined)
        quarantined.removeAll(keepingCapacity: true)
    }

    /// Whether an address lies in the stack region and is mapped (safe to read while reporting).
    static func isMapped(_ address: UInt64) -> Bool {
        address >= base && address < end && kernelTable.translate(address) != nil
    }

    // MARK: History (while several CPUs run threads): who mapped and unmapped each slot, and the batches
    // released, for the report of a kernel fault in the stack region (Panic.exception, `explain`): the
    // slot's mapping through the kernel's root and CR3's, and its recent events with their callers.

    static let historyEvents = 512
    static let historyWords = 13   // seq, op | cpu << 8, slot, thread id, tick, eight return addresses
    private static var history: UnsafeMutablePointer<UInt64>? = nil
    private static var historySequence: UInt64 = 0

    enum Event: UInt64 { case map = 1, unmap = 2, release = 3 }

    /// Records an event of the slot holding `address` (release: `thread` is the last slot released).
    static func note(_ event: Event, address: UInt64, thread: UInt64, rbp: UInt64) {
        guard Scheduler.multiCPU else { return }
        if history == nil {
            let h = UnsafeMutablePointer<UInt64>.allocate(capacity: historyEvents * historyWords)
            h.initialize(repeating: 0, count: historyEvents * historyWords)
            history = h
        }
        historySequence += 1
        let e = history! + Int(historySequence % UInt64(historyEvents)) * historyWords
        e[0] = historySequence
        e[1] = event.rawValue | UInt64(PerCPU.index) << 8
        e[2] = slot(of: address)
        e[3] = thread
        e[4] = Scheduler.ticks
        let callers = UnsafeMutableBufferPointer(start: e + 5, count: historyWords - 5)
        let count = rbp == 0 ? 0 : walkFramePointers(rbp: rbp, maxFrames: callers.count, read: KernelMemory.readKernelWord,
                                                     into: callers)
        for i in count..<callers.count { callers[i] = 0 }
    }

    static func slot(of address: UInt64) -> UInt64 { (address &- base) / slotBytes }

    /// For a fault report: how `address` (in the stack region) translates through the kernel's root and
    /// through CR3's, the PML4 slot both hold, and the slot's history.
    static func explain(_ address: UInt64) {
        guard address >= base && address < end else { return }
        let cr3Root = read_cr3() & PageEntry.addressMask
        let mine = PageTable(root: cr3Root, memory: KernelPageMemory())
        Console.write("  stack region address ")
        Console.writeHex(address)
        Console.write(": kernel root ")
        Console.writeHex(kernelTable.translate(address)?.physical ?? 0)
        Console.write(", cr3 root ")
        Console.writeHex(mine.translate(address)?.physical ?? 0)
        Console.write("; pml4[510] kernel ")
        Console.writeHex(KernelMemory.readKernelWord(UInt64(UInt(bitPattern: KernelMemory.virtual(physical: Vmem.kernelRoot))) + 510 * 8) ?? 0)
        Console.write(" cr3 ")
        Console.writeHex(KernelMemory.readKernelWord(UInt64(UInt(bitPattern: KernelMemory.virtual(physical: cr3Root))) + 510 * 8) ?? 0)
        Console.write(10)
        report(bottom: base + slot(of: address) * slotBytes + UInt64(guardPages) * pageSize)
    }

    /// Prints the stack pages' mapping and every recorded event of the slot holding `bottom` (and releases).
    static func report(bottom: UInt64) {
        let s = slot(of: bottom)
        Console.write("  stack slot ")
        Console.writeDecimal(s)
        Console.write(": pages")
        for i in 0..<stackPages {
            let page = bottom + UInt64(i) * pageSize
            Console.write(kernelTable.translate(page) != nil ? " mapped" : " unmapped")
        }
        Console.write("; free ")
        Console.writeDecimal(freeSlots.contains(Int(s)) ? 1 : 0)
        Console.write(" quarantined ")
        Console.writeDecimal(quarantined.contains(Int(s)) ? 1 : 0)
        Console.write(" next ")
        Console.writeDecimal(nextSlot)
        Console.write(10)
        guard let h = history else { return }
        var sink = ConsoleSink()
        Markup.reset(&sink)
        StackTrace.writeKernelModule(&sink, id: 0)
        let first = historySequence > UInt64(historyEvents) ? historySequence - UInt64(historyEvents) + 1 : 1
        var n = first
        while n <= historySequence {
            let e = h + Int(n % UInt64(historyEvents)) * historyWords
            n += 1
            let op = Event(rawValue: e[1] & 0xff)
            guard e[2] == s || op == .release else { continue }
            Console.write("  #")
            Console.writeDecimal(e[0])
            Console.write(op == .map ? " map" : op == .unmap ? " unmap" : " release")
            Console.write(" cpu ")
            Console.writeDecimal(e[1] >> 8)
            Console.write(op == .release ? " slots to " : " thread ")
            Console.writeDecimal(e[3])
            Console.write(" slot ")
            Console.writeDecimal(e[2])
            Console.write(" tick ")
            Console.writeDecimal(e[4])
            Console.write(10)
            if op != .release {
                for i in 0..<(historyWords - 5) where e[5 + i] != 0 {
                    Markup.backtrace(&sink, frame: i, address: e[5 + i], kind: .returnAddress)
                }
            }
        }
    }

    /// Whether an address lies in the guard pages of a stack slot.
    static func isGuard(_ address: UInt64) -> Bool {
        address >= base && address < end && (address - base) % slotBytes < UInt64(guardPages) * pageSize
    }
}

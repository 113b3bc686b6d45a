// Vmem: an address space. It owns the user half of its page tables and the list of its mappings; the
// kernel half (and the heap window, PML4 slot 255) is shared with every other address space.
// Pages are entered into the page tables lazily, on the first fault or kernel access. Unmapping and
// protecting work on any page range: the mappings the range cuts are split (Core/MappingSet.swift).
// Every page-table entry leaves through dropEntry/dropEntries, the places that flush the TLB, here and on
// every other CPU running this address space (Memory/Shootdown.swift).

#if !KERNEL
import ABI
#endif

/// Page-table memory: frames from the PMM (never its heap reserve), reached through the direct map.
struct KernelPageMemory: PageTableMemory {
    mutating func allocateTable() -> UInt64? {
        guard let p = PMM.allocateForUser() else { return nil }
        zeroPage(p)
        return p
    }
    mutating func freeTable(_ physical: UInt64) { PMM.free(physical) }
    func entries(_ physical: UInt64) -> UnsafeMutablePointer<UInt64> {
        KernelMemory.virtual(physical: physical).assumingMemoryBound(to: UInt64.self)
    }
}

struct Mapping {
    let frame: Frame
    var frameOffset: UInt64
    var flags: MapFlags
    /// The most flags vmem_protect may give (what the handle the mapping was made with allowed).
    let maxFlags: MapFlags
    let cache: CacheMode
    /// The handle that backs the mapping (process id, handle value): one live mapping per handle.
    let ownerProcess: UInt64
    let ownerHandle: UInt32
}

final class Vmem {
    var table: PageTable<KernelPageMemory>
    var mappings = MappingSet<Mapping>()
    /// Counts the changes of user page-table entries (one entered, one removed): a physical page found
    /// through an entry stays what that address reaches while this count is unchanged (Thread.ipcPage).
    /// Guarded by: the kernel lock.
    private(set) var entryChanges: UInt64 = 0

    /// Physical address of the kernel's own PML4 (the boot page tables), whose upper entries every
    /// address space shares.
    static var kernelRoot: UInt64 { UInt64(UInt(bitPattern: symbol_boot_pml4()!)) - KernelMemory.imageVMA }

    /// The PCID tag of this address space (0: none, flushed at every load; Memory/TLB.swift).
    let tag: UInt16

    init() throws(SysError) {
        table = try PageTable(memory: KernelPageMemory())
        table.copyKernelEntries(from: Vmem.kernelRoot)
        if TimePage.physical != 0 {
            do throws(SysError) {
                try table.map(virtual: TimePage.address, physical: TimePage.physical, flags: [.read], cache: .writeBack, user: true)
            } catch {
                table.destroyUserHalf()
                table.memory.freeTable(table.root)
                throw error
            }
        }
        // The tag last: nothing above can fail after it is taken.
        tag = TLB.take()
        ObjectCounter.live += 1
    }

    deinit {
        if isActive {
            write_cr3(Vmem.kernelRoot)
            Scheduler.here.loadedRoot = Vmem.kernelRoot
        }
        for m in mappings.all { release(m.payload) }
        mappings.removeAll()
        table.destroyUserHalf()
        table.memory.freeTable(table.root)
        TLB.release(tag)
        ObjectCounter.live -= 1
    }

    var root: UInt64 { table.root }
    /// What CR3 holds while this address space runs: its root and its tag.
    var cr3: UInt64 { table.root | UInt64(tag) }
    var isActive: Bool { read_cr3() & ~UInt64(0xfff) == root }

    private func release(_ m: Mapping) {
        m.frame.detach(self)
    }

    /// The payload of the upper piece of a mapping split `delta` bytes in (one more piece of its Frame).
    func upperPiece(_ m: Mapping, _ delta: UInt64) -> Mapping {
        var upper = m
        upper.frameOffset += delta
        upper.frame.attach(self)
        return upper
    }

    /// The page-aligned start of a free range of `length` bytes at or above `lower` (0: the default base).
    func freeRange(length: UInt64, from lower: UInt64) throws(SysError) -> UInt64 {
        guard length > 0, length % pageSize == 0 else { throw length == 0 ? .invalidArgument : .misaligned }
        guard lower % pageSize == 0 else { throw .misaligned }
        let base = lower == 0 ? VmemMapOptions.defaultBase : lower
        guard base < userAddressLimit,
              let start = mappings.firstFree(length: length, from: base, to: userAddressLimit) else { throw .outOfVirtualMemory }
        return start
    }

    func map(frame: Frame, frameOffset: UInt64, address: UInt64, length: UInt64, flags: MapFlags, cache: CacheMode,
             ownerProcess: UInt64, ownerHandle: UInt32, maxFlags: MapFlags? = nil) throws(SysError) {
        guard address % pageSize == 0, length % pageSize == 0, frameOffset % pageSize == 0 else { throw .misaligned }
        guard length > 0 else { throw .invalidArgument }
        guard address >= pageSize, address < userAddressLimit, length <= userAddressLimit - address else { throw .badAddress }
        guard address >= TimePage.address + pageSize || address + length <= TimePage.address else { throw .badAddress }
        guard frameOffset <= frame.size, length <= frame.size - frameOffset else { throw .invalidArgument }
        if frame.isMapped(byProcess: ownerProcess, handle: ownerHandle) { throw .badState }
        try mappings.insert(start: address, length: length,
                            payload: Mapping(frame: frame, frameOffset: frameOffset, flags: flags,
                                             maxFlags: maxFlags ?? flags, cache: cache,
                                             ownerProcess: ownerProcess, ownerHandle: ownerHandle))
        frame.attach(self)
    }

    /// Unmaps every mapped page of [address, address + length), splitting the mappings the range cuts;
    /// .notMapped when none is mapped there.
    func unmap(address: UInt64, length: UInt64) throws(SysError) {
        guard address % pageSize == 0, length % pageSize == 0 else { throw .misaligned }
        guard length > 0 else { throw .invalidArgument }
        guard address < userAddressLimit, length <= userAddressLimit - address else { throw .badAddress }
        let removed = try mappings.carve(start: address, length: length, adjust: upperPiece)
        for r in removed {
            dropEntries(from: r.start, to: r.start + r.length)   // flushes this space's tag when not running
            release(r.payload)
        }
    }

    /// Sets the flags of every mapped page of [address, address + length), splitting the mappings the
    /// range cuts: .accessDenied (and nothing changes) when a mapping's handle did not allow them.
    func protect(address: UInt64, length: UInt64, flags: MapFlags) throws(SysError) {
        guard address % pageSize == 0, length % pageSize == 0 else { throw .misaligned }
        guard length > 0 else { throw .invalidArgument }
        guard address < userAddressLimit, length <= userAddressLimit - address else { throw .badAddress }
        let touched = mappings.overlapping(start: address, end: address + length)
        guard !touched.isEmpty else { throw .notMapped }
        guard touched.allSatisfy({ $0.payload.maxFlags.isSuperset(of: flags) }) else { throw .accessDenied }
        let changed = try mappings.update(start: address, length: length, adjust: upperPiece, change: { (m: inout Mapping) in m.flags = flags })
        // Entries refault with the new rights (and copy on write still applies).
        for c in changed { dropEntries(from: c.start, to: c.start + c.length) }
    }

    /// Drops the page-table entry of the page at `page`, if any, and flushes it from the TLB: invlpg in
    /// the running address space; in any other, its PCID tag's entries go (TLB.flush(tag:): INVPCID or
    /// a stale mark that flushes at its next load; nothing without PCIDs, where every load flushes).
    func dropEntry(_ page: UInt64) {
        guard removeEntry(page) else { return }
        if !isActive { TLB.flush(tag: tag) }
        Shootdown.user(root: root, from: page, to: page + pageSize)
    }

    /// Drops every entry in [start, end), stepping over missing page tables; one tag flush at the end
    /// when this address space is not running.
    func dropEntries(from start: UInt64, to end: UInt64) {
        var next = start
        var dropped = false
        while let page = table.firstEntered(from: next, to: end) {
            if removeEntry(page) { dropped = true }
            next = page + pageSize
        }
        guard dropped else { return }
        if !isActive { TLB.flush(tag: tag) }
        // Other CPUs running this address space: one request for the range (Memory/Shootdown.swift).
        Shootdown.user(root: root, from: start, to: end)
    }

    /// Removes the entry of `page` (invlpg when this address space runs); false when there was none.
    private func removeEntry(_ page: UInt64) -> Bool {
        guard table.translate(page) != nil else { return false }
        _ = try? table.unmap(virtual: page)
        entryChanges &+= 1
        if isActive { invalidate_page(page) }
        return true
    }

    /// Makes the page at `address` present for an access (faulting it in from its Frame); returns its
    /// physical address, or throws .notMapped / .accessDenied when the access is not allowed. A read
    /// enters a zero or shared page read-only; a write (or `unshare`: the Frame's own page is wanted, as
    /// for a futex key) makes the Frame's page its own first (copy on write). `kernel`: the kernel will
    /// touch the page through the direct map, which device memory refuses.
    func resolve(_ address: UInt64, write: Bool, exec: Bool = false, unshare: Bool = false,
                 kernel: Bool = false) throws(SysError) -> UInt64 {
        guard address < userAddressLimit else { throw .badAddress }
        guard let m = mappings.find(containing: address) else { throw .notMapped }
        if kernel && m.payload.frame.deviceBase != nil { throw .accessDenied }
        if write && !m.payload.flags.contains(.write) { throw .accessDenied }
        if exec && !m.payload.flags.contains(.exec) { throw .accessDenied }
        let page = address & ~(pageSize - 1)
        if let present = table.physical(page), present.writable || !(write || unshare) {
            return present.address + address % pageSize
        }
        let index = (page - m.start + m.payload.frameOffset) / pageSize
        var flags = m.payload.flags
        let physical: UInt64
        if write || unshare {
            physical = try m.payload.frame.writablePage(index)
        } else {
            let readable = try m.payload.frame.readablePage(index)
            physical = readable.physical
            if !readable.exclusive { flags.remove(.write) }
        }
        dropEntry(page)
        entryChanges &+= 1
        try table.map(virtual: page, physical: physical, flags: flags, cache: m.payload.cache, user: true)
        return physical + address % pageSize
    }

    /// Copies between this address space and a kernel buffer (`write`: into the address space).
    func copy(address: UInt64, buffer: UnsafeMutableRawBufferPointer, write: Bool) throws(SysError) {
        guard address < userAddressLimit, UInt64(buffer.count) <= userAddressLimit - address else { throw .badAddress }
        try copyByPage(from: address, buffer: buffer, write: write) { (at: UInt64) throws(SysError) -> UInt64 in
            try resolveForKernel(at, write: write)
        }
    }

    /// The page holding `address` as the kernel sees it through the direct map, made present for the
    /// access; the same errors as `copy`. Valid until this thread next blocks or changes the mapping.
    func kernelPage(_ address: UInt64, write: Bool) throws(SysError) -> UnsafeMutableRawPointer {
        KernelMemory.virtual(physical: try resolveForKernel(address & ~(pageSize - 1), write: write))
    }

    /// `resolve` for the kernel's own access to user memory: running out of memory, over a limit or a page
    /// its pager has not supplied is said as such; any other refusal is a bad address.
    private func resolveForKernel(_ address: UInt64, write: Bool) throws(SysError) -> UInt64 {
        do throws(SysError) { return try resolve(address, write: write, kernel: true) } catch {
            throw error == .outOfMemory || error == .limitExceeded || error == .notSupplied ? error : .badAddress
        }
    }
}

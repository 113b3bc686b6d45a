// Vmem: an address space. It owns the user half of its page tables and the list of its mappings; the
// kernel half (and the heap window, PML4 slot 255) is shared with every other address space.
// Pages are entered into the page tables lazily, on the first fault or kernel access.

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
    let frameOffset: UInt64
    let flags: MapFlags
    let cache: CacheMode
    /// The handle that backs the mapping (process id, handle value): one live mapping per handle.
    let ownerProcess: UInt64
    let ownerHandle: UInt32
}

final class Vmem {
    var table: PageTable<KernelPageMemory>
    var mappings = MappingSet<Mapping>()

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
        if isActive { write_cr3(Vmem.kernelRoot) }
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
        m.frame.mappingCount -= 1
        m.frame.mappingHandles.removeAll { $0.processID == m.ownerProcess && $0.handle == m.ownerHandle }
    }

    func map(frame: Frame, frameOffset: UInt64, address: UInt64, length: UInt64, flags: MapFlags, cache: CacheMode,
             ownerProcess: UInt64, ownerHandle: UInt32) throws(SysError) {
        guard address % pageSize == 0, length % pageSize == 0, frameOffset % pageSize == 0 else { throw .misaligned }
        guard length > 0 else { throw .invalidArgument }
        guard address >= pageSize, address < userAddressLimit, length <= userAddressLimit - address else { throw .badAddress }
        guard address >= TimePage.address + pageSize || address + length <= TimePage.address else { throw .badAddress }
        guard frameOffset <= frame.size, length <= frame.size - frameOffset else { throw .invalidArgument }
        if frame.mappingHandles.contains(where: { $0.processID == ownerProcess && $0.handle == ownerHandle }) {
            throw .badState
        }
        try mappings.insert(start: address, length: length,
                            payload: Mapping(frame: frame, frameOffset: frameOffset, flags: flags, cache: cache,
                                             ownerProcess: ownerProcess, ownerHandle: ownerHandle))
        frame.mappingCount += 1
        frame.mappingHandles.append((ownerProcess, ownerHandle, frameOffset + length))
    }

    func unmap(address: UInt64, length: UInt64) throws(SysError) {
        guard address % pageSize == 0, length % pageSize == 0 else { throw .misaligned }
        // Exactly one whole mapping.
        guard let existing = mappings.find(containing: address), existing.start == address,
              existing.length == length else { throw .notMapped }
        let removed = try mappings.remove(start: address, length: length)
        for r in removed {
            var page = r.start
            while page < r.start + r.length {
                if table.translate(page) != nil {
                    _ = try? table.unmap(virtual: page)
                    if isActive { invalidate_page(page) }
                }
                page += pageSize
            }
            release(r.payload)
        }
        // Entries of an address space not running now may still sit under its tag.
        if !isActive { TLB.flush(tag: tag) }
    }

    /// Makes the page at `address` present for an access (faulting it in from its Frame); returns its
    /// physical address, or throws .notMapped / .accessDenied when the access is not allowed. `kernel`:
    /// the kernel will touch the page through the direct map, which device memory refuses.
    func resolve(_ address: UInt64, write: Bool, exec: Bool = false, kernel: Bool = false) throws(SysError) -> UInt64 {
        guard address < userAddressLimit else { throw .badAddress }
        guard let m = mappings.find(containing: address) else { throw .notMapped }
        if kernel && m.payload.frame.deviceBase != nil { throw .accessDenied }
        if write && !m.payload.flags.contains(.write) { throw .accessDenied }
        if exec && !m.payload.flags.contains(.exec) { throw .accessDenied }
        let page = address & ~(pageSize - 1)
        if let present = table.translate(page) { return present.physical + address % pageSize }
        let offset = page - m.start + m.payload.frameOffset
        let physical = try m.payload.frame.page(Int(offset / pageSize))
        try table.map(virtual: page, physical: physical, flags: m.payload.flags, cache: m.payload.cache, user: true)
        return physical + address % pageSize
    }

    /// Copies between this address space and a kernel buffer (`write`: into the address space).
    func copy(address: UInt64, buffer: UnsafeMutableRawBufferPointer, write: Bool) throws(SysError) {
        guard address < userAddressLimit, UInt64(buffer.count) <= userAddressLimit - address else { throw .badAddress }
        try copyByPage(from: address, buffer: buffer, write: write) { (at: UInt64) throws(SysError) -> UInt64 in
            do throws(SysError) { return try resolve(at, write: write, kernel: true) } catch {
                // Running out of memory or over a limit is said as such; any other refusal is a bad address.
                throw error == .outOfMemory || error == .limitExceeded ? error : .badAddress
            }
        }
    }
}

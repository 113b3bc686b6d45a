// PCID tags for address spaces and the TLB flushes that keep them correct (one CPU; SMP will add
// shootdowns). The decisions are Core/PCIDAllocator.swift's AddressSpaceTags (host-tested); this file
// turns PCIDs on and performs the flushes.
//
// With CR4.PCIDE on (CPUID.1:ECX[17], unless `pcid=off`), each Vmem holds a tag in its CR3 value, and a
// switch to it loads CR3 with bit 63 set: nothing is flushed, the entries of every other tag stay. Tag 0
// (the kernel's page tables, and any address space that found no free tag) is always loaded with a
// flush. What must then be flushed by hand:
// - an unmap in the running address space: invlpg per page (as without PCID);
// - an unmap in another tagged address space: INVPCID single-context for its tag (CPUID.7:EBX[10]), or,
//   without INVPCID, the tag is marked stale and its next load goes without bit 63 (a flush of that tag);
// - a reused tag: flushed the same way before its new address space runs;
// - kernel-half pages unmapped (thread stacks): their paging-structure caches may sit under any tag, so
//   INVPCID all-contexts, or toggling CR4.PGE, which flushes every tag and global page.
// The kernel half's direct map, heap window and image are global pages (Boot/entry.S).

enum TLB {
    static let cr4PCIDE: UInt64 = 1 << 17
    static let cr4PGE: UInt64 = 1 << 7
    static let cpuidPCID: UInt32 = 1 << 17
    static let cpuidINVPCID: UInt32 = 1 << 10

    /// Guarded by: the kernel lock (LOCKS.md); with PCIDs a shootdown flushes every tag on the other CPUs.
    static var tags = AddressSpaceTags(enabled: false, hasINVPCID: false)
    /// tags.enabled as a plain flag: a switch without PCIDs costs one test, not a look into `tags`.
    static var pcidOn = false

    /// Turns PCIDs on when the CPU has them and the command line does not say `pcid=off`; logs one line.
    static func initialize(off: Bool) {
        let leaf7 = cpuid_eax(0, 0) >= 7 ? cpuid_ebx(7, 0) : 0
        let hasINVPCID = leaf7 & cpuidINVPCID != 0
        let hasPCID = cpuid_register(1, 0, 2) & cpuidPCID != 0
        if hasPCID && !off {
            write_cr3(read_cr3() & PageEntry.addressMask)   // PCIDE needs CR3[11:0] = 0
            write_cr4(read_cr4() | cr4PCIDE)
        }
        tags = AddressSpaceTags(enabled: hasPCID && !off, hasINVPCID: hasINVPCID)
        pcidOn = tags.enabled
        let state: StaticString = tags.enabled ? "on" : (off ? "off (pcid=off)" : "off (CPU lacks it)")
        let inv: StaticString = hasINVPCID ? "INVPCID" : "no INVPCID"
        Log.info("tlb: PCID \(state), \(inv), global kernel pages")
    }

    /// A tag for a new address space (0 when PCIDs are off or all 4095 are taken); a reused tag is flushed.
    static func take() -> UInt16 {
        let (tag, flush) = tags.take()
        perform(flush)
        return tag
    }

    /// Gives back the tag of an address space that is going away (and is not loaded).
    static func release(_ tag: UInt16) { tags.release(tag) }

    /// The value to write to CR3 to run on `cr3` (page-table root | tag).
    static func load(_ cr3: UInt64) -> UInt64 { pcidOn ? tags.load(cr3) : cr3 }

    /// After an unmap in an address space that is not running: its tag's entries go.
    static func flush(tag: UInt16) { perform(tags.flush(tag: tag)) }

    /// After unmapping kernel-half pages (already invlpg'd, which reaches global pages of every tag).
    static func unmappedKernelPages() { perform(tags.kernelPagesUnmapped()) }

    static func perform(_ flush: TLBFlush) {
        switch flush {
        case .none: break
        case .singleContext(let tag): invpcid(1, UInt64(tag), 0)
        case .everything(invpcid: true): invpcid(2, 0, 0)
        case .everything(invpcid: false):
            let cr4 = read_cr4()
            write_cr4(cr4 & ~cr4PGE)
            write_cr4(cr4)
        }
    }
}

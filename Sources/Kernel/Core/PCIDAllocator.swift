// Process-context identifiers (PCIDs) for address spaces: CR3 bits 0..11 tag every TLB entry, so a
// switch between tagged address spaces keeps both sets of entries. Tag 0 belongs to the kernel's own
// page tables and to address spaces that found no free tag: those are always loaded with a flush.
//
// Tags 1..4095 are handed out round robin, so a freed tag is reused as late as possible. A tag that was
// used before may still have TLB entries of its old address space: the allocator says so, and the
// caller flushes that tag before the new address space runs under it.

/// The PCID tags of address spaces: which are in use, and which were ever used (so need a flush).
public struct PCIDAllocator: Sendable {
    /// Tags 1..4095 (tag 0 is the kernel's and the untagged spaces').
    public static let tagCount = 4095
    private var inUse = [UInt64](repeating: 0, count: 64)
    private var everUsed = [UInt64](repeating: 0, count: 64)
    /// Where the next search starts.
    private var next = 1
    /// Tags in use now.
    public private(set) var count = 0

    public init() {}

    private static func has(_ bits: [UInt64], _ tag: Int) -> Bool { bits[tag / 64] & (1 << UInt64(tag % 64)) != 0 }

    /// A free tag, and whether it must be flushed before use (an earlier address space had it); nil when
    /// all 4095 are taken.
    public mutating func allocate() -> (tag: UInt16, mustFlush: Bool)? {
        guard count < PCIDAllocator.tagCount else { return nil }
        var tag = next
        while PCIDAllocator.has(inUse, tag) { tag = tag == PCIDAllocator.tagCount ? 1 : tag + 1 }
        let mustFlush = PCIDAllocator.has(everUsed, tag)
        inUse[tag / 64] |= 1 << UInt64(tag % 64)
        everUsed[tag / 64] |= 1 << UInt64(tag % 64)
        count += 1
        next = tag == PCIDAllocator.tagCount ? 1 : tag + 1
        return (UInt16(tag), mustFlush)
    }

    /// Gives a tag back; false (and no change) for tag 0, a tag out of range or one not in use.
    @discardableResult
    public mutating func free(_ tag: UInt16) -> Bool {
        let t = Int(tag)
        guard t >= 1, t <= PCIDAllocator.tagCount, PCIDAllocator.has(inUse, t) else { return false }
        inUse[t / 64] &= ~(1 << UInt64(t % 64))
        count -= 1
        return true
    }

    /// Whether a tag is in use.
    public func isInUse(_ tag: UInt16) -> Bool { Int(tag) <= PCIDAllocator.tagCount && PCIDAllocator.has(inUse, Int(tag)) }
}

/// A TLB flush the kernel must make (Memory/TLB.swift carries it out).
public enum TLBFlush: Equatable, Sendable {
    /// Nothing now (PCIDs off, or the tag was marked stale and its next load flushes it).
    case none
    /// INVPCID single-context: every non-global entry of one tag.
    case singleContext(UInt16)
    /// Every entry of every tag, global ones too: INVPCID all-contexts, or toggling CR4.PGE without it.
    case everything(invpcid: Bool)
}

/// The PCID decisions of one CPU: which tag an address space gets, how CR3 is loaded, and which flush an
/// unmap needs. Pure logic; the kernel keeps one (Memory/TLB.swift) and performs the flushes it returns.
public struct AddressSpaceTags: Sendable {
    /// CR3 bit 63: keep the TLB entries of the PCID being loaded.
    public static let noFlush: UInt64 = 1 << 63
    /// Whether address spaces carry tags (CR4.PCIDE on).
    public let enabled: Bool
    /// Whether the CPU has INVPCID; without it a tag to flush is marked stale and flushed at its next load.
    public let hasINVPCID: Bool
    public private(set) var allocator = PCIDAllocator()
    /// Tags whose entries must go at their next load.
    private var stale = [UInt64](repeating: 0, count: 64)

    public init(enabled: Bool, hasINVPCID: Bool) {
        self.enabled = enabled
        self.hasINVPCID = hasINVPCID
    }

    /// A tag for a new address space (0 when off or all are taken), and the flush a reused tag needs.
    public mutating func take() -> (tag: UInt16, flush: TLBFlush) {
        guard enabled, let got = allocator.allocate() else { return (0, .none) }
        return (got.tag, got.mustFlush ? flush(tag: got.tag) : .none)
    }

    /// Gives back the tag of an address space that went away.
    public mutating func release(_ tag: UInt16) {
        if tag != 0 { allocator.free(tag) }
    }

    /// What to write to CR3 to run on `cr3` (root | tag): with bit 63 (keep entries) unless the tag is 0
    /// or stale (then the load flushes that tag, and it is clean again).
    public mutating func load(_ cr3: UInt64) -> UInt64 {
        let tag = Int(cr3 & 0xfff)
        guard enabled, tag != 0 else { return cr3 }
        let bit = UInt64(1) << UInt64(tag % 64)
        if stale[tag / 64] & bit != 0 {
            stale[tag / 64] &= ~bit
            return cr3
        }
        return cr3 | AddressSpaceTags.noFlush
    }

    /// The flush for entries of `tag`, which is not loaded now (after an unmap in its address space).
    public mutating func flush(tag: UInt16) -> TLBFlush {
        guard enabled, tag != 0 else { return .none }
        if hasINVPCID { return .singleContext(tag) }
        stale[Int(tag) / 64] |= UInt64(1) << UInt64(tag % 64)
        return .none
    }

    /// The flush after kernel-half pages were unmapped (each already invlpg'd): with tags, every tag's
    /// paging-structure caches may still point at page tables freed with them.
    public func kernelPagesUnmapped() -> TLBFlush { enabled ? .everything(invpcid: hasINVPCID) : .none }
}

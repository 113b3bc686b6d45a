// x86_64 4-level paging (PML4 → PDPT → PD → PT) over an abstract physical memory, so the same code
// builds the kernel's address spaces and runs in host tests.
//
// Only 4 KiB pages are created. Large pages met on the way (in a kernel half set up by the boot code)
// are understood by translate and refused by map/unmap. TLB shootdown is the caller's business.
//
// PML4 slots 0..254 are the user half (below userAddressLimit); slot 255 is the kernel's heap window and
// 256..511 the kernel half proper. Slots 255..511 are shared by every address space: their PDPTs are
// never freed here, and a new address space gets them with copyKernelEntries.

#if !KERNEL
import ABI
#endif

/// Physical memory as page-table code sees it.
public protocol PageTableMemory {
    /// A zeroed 4 KiB frame's physical address, nil when memory is exhausted.
    mutating func allocateTable() -> UInt64?
    mutating func freeTable(_ physical: UInt64)
    /// The 512 entries of the table at a physical address.
    func entries(_ physical: UInt64) -> UnsafeMutablePointer<UInt64>
}

/// Bits of a page-table entry, and the encoding of 4 KiB leaf entries.
public enum PageEntry {
    public static let present: UInt64 = 1 << 0
    public static let writable: UInt64 = 1 << 1
    public static let user: UInt64 = 1 << 2
    public static let writeThrough: UInt64 = 1 << 3  // PWT
    public static let cacheDisable: UInt64 = 1 << 4  // PCD
    public static let accessed: UInt64 = 1 << 5
    public static let dirty: UInt64 = 1 << 6
    /// PAT in a 4 KiB PTE; "page size" in a PDE or PDPTE.
    public static let pat4K: UInt64 = 1 << 7
    public static let largePage: UInt64 = 1 << 7
    public static let global: UInt64 = 1 << 8
    /// PAT in a 2 MiB or 1 GiB entry.
    public static let patLarge: UInt64 = 1 << 12
    public static let noExecute: UInt64 = 1 << 63
    /// Physical address bits 12..51.
    public static let addressMask: UInt64 = 0x000f_ffff_ffff_f000

    /// IA32_PAT: entries 0..7 = WB, WT, UC-, UC, WC, WP, WB, UC (one byte each, entry 0 lowest), so that
    /// a PTE's PAT index equals CacheMode.rawValue. Memory types: UC 0, WC 1, WT 4, WP 5, WB 6, UC- 7.
    public static let patMSRValue: UInt64 = 0x0006_0501_0007_0406

    /// The PAT/PCD/PWT bits of a 4 KiB PTE selecting PAT entry `mode.rawValue` (PAT<<2 | PCD<<1 | PWT).
    public static func cacheBits(_ mode: CacheMode) -> UInt64 {
        let index = UInt64(mode.rawValue)
        return (index & 1 != 0 ? writeThrough : 0) | (index & 2 != 0 ? cacheDisable : 0) | (index & 4 != 0 ? pat4K : 0)
    }

    /// The cache mode of a PAT index (6 and 7 are programmed as WB and UC).
    static func cacheMode(patIndex: UInt64) -> CacheMode {
        switch patIndex {
        case 6: return .writeBack
        case 7: return .uncacheable
        default: return CacheMode(rawValue: UInt8(truncatingIfNeeded: patIndex)) ?? .uncacheable
        }
    }

    /// A present 4 KiB PTE. Present pages are always readable; no exec sets NX.
    public static func leaf(physical: UInt64, flags: MapFlags, cache: CacheMode, user: Bool) -> UInt64 {
        var entry = physical | present | cacheBits(cache)
        if flags.contains(.write) { entry |= writable }
        if user { entry |= PageEntry.user }
        if !flags.contains(.exec) { entry |= noExecute }
        return entry
    }

    /// What a leaf entry allows; `patBit` is pat4K for a PTE and patLarge for a large page.
    static func decode(_ entry: UInt64, patBit: UInt64) -> (flags: MapFlags, cache: CacheMode, user: Bool) {
        var flags: MapFlags = .read
        if entry & writable != 0 { flags.insert(.write) }
        if entry & noExecute == 0 { flags.insert(.exec) }
        let patIndex: UInt64 = (entry & patBit != 0 ? 4 : 0) | (entry & cacheDisable != 0 ? 2 : 0)
            | (entry & writeThrough != 0 ? 1 : 0)
        return (flags, cacheMode(patIndex: patIndex), entry & PageEntry.user != 0)
    }
}

public struct PageTable<M: PageTableMemory> {
    public var memory: M
    /// Physical address of the PML4.
    public let root: UInt64

    /// First PML4 slot shared with the kernel (the heap window, then the kernel half from 256).
    public static var firstKernelSlot: Int { 255 }

    /// See PageEntry.patMSRValue.
    public static var patMSRValue: UInt64 { PageEntry.patMSRValue }

    /// A new, empty address space (its kernel half still to be copied in).
    public init(memory: M) throws(SysError) {
        var memory = memory
        guard let root = memory.allocateTable() else { throw .outOfMemory }
        self.memory = memory
        self.root = root
    }

    /// An existing address space, e.g. the one the boot code built.
    public init(root: UInt64, memory: M) {
        self.memory = memory
        self.root = root
    }

    // MARK: Addresses

    static func isCanonical(_ virtual: UInt64) -> Bool {
        let extended = (Int64(bitPattern: virtual) << 16) >> 16
        return UInt64(bitPattern: extended) == virtual
    }

    /// The table index of `virtual` at `level` (3 = PML4 … 0 = PT).
    static func index(_ virtual: UInt64, level: Int) -> Int {
        Int(truncatingIfNeeded: (virtual >> (12 + 9 * UInt64(level))) & 511)
    }

    static func checkPage(_ virtual: UInt64, user: Bool) throws(SysError) {
        guard virtual % pageSize == 0 else { throw .misaligned }
        guard isCanonical(virtual) else { throw .badAddress }
        if user && virtual >= userAddressLimit { throw .badAddress }
    }

    // MARK: Walking

    /// The table one level down from `entry`'s slot, allocating it if absent. Intermediate entries are
    /// permissive (writable, user when needed); the leaf decides.
    mutating func child(of table: UInt64, index: Int, user: Bool) throws(SysError) -> UInt64 {
        let entries = memory.entries(table)
        let entry = entries[index]
        if entry & PageEntry.present != 0 {
            guard entry & PageEntry.largePage == 0 else { throw .overlapping }
            if user { entries[index] = entry | PageEntry.user }
            return entry & PageEntry.addressMask
        }
        guard let fresh = memory.allocateTable() else { throw .outOfMemory }
        entries[index] = fresh | PageEntry.present | PageEntry.writable | (user ? PageEntry.user : 0)
        return fresh
    }

    /// Maps one 4 KiB page. User mappings must lie below userAddressLimit.
    public mutating func map(virtual: UInt64, physical: UInt64, flags: MapFlags, cache: CacheMode, user: Bool) throws(SysError) {
        try PageTable.checkPage(virtual, user: user)
        guard physical % pageSize == 0 else { throw .misaligned }
        guard physical & ~PageEntry.addressMask == 0 else { throw .badAddress }
        if leaf(virtual) != nil { throw .overlapping }
        // Tables created below a missing entry are all new, so on failure freeing the subtree under the
        // first created entry leaves the tables as they were.
        var firstCreated: (table: UInt64, index: Int, level: Int)? = nil
        var table = root
        for level in stride(from: 3, to: 0, by: -1) {
            let index = PageTable.index(virtual, level: level)
            let wasPresent = memory.entries(table)[index] & PageEntry.present != 0
            do throws(SysError) {
                let next = try child(of: table, index: index, user: user)
                if !wasPresent && firstCreated == nil { firstCreated = (table, index, level) }
                table = next
            } catch {
                if let first = firstCreated {
                    let entries = memory.entries(first.table)
                    freeTree(entries[first.index] & PageEntry.addressMask, level: first.level - 1)
                    entries[first.index] = 0
                }
                throw error
            }
        }
        memory.entries(table)[PageTable.index(virtual, level: 0)] =
            PageEntry.leaf(physical: physical, flags: flags, cache: cache, user: user)
    }

    /// The PT (or large-page) entry for `virtual`: the table holding it, its index and level; nil when a
    /// table on the way is missing.
    func leaf(_ virtual: UInt64) -> (table: UInt64, index: Int, level: Int)? {
        // Wrapping arithmetic on values that cannot overflow (level 3...0, shift 39...12): every user
        // access the kernel makes walks here.
        var table = root
        var level = 3
        var shift: UInt64 = 39
        while true {
            let index = Int(truncatingIfNeeded: (virtual &>> shift) & 511)
            let entry = memory.entries(table)[index]
            guard entry & PageEntry.present != 0 else { return nil }
            if level == 0 || (level < 3 && entry & PageEntry.largePage != 0) { return (table, index, level) }
            table = entry & PageEntry.addressMask
            level &-= 1
            shift &-= 9
        }
    }

    /// Where `virtual` leads and whether its entry allows writing, or nil when nothing is entered: what a
    /// kernel access to user memory asks (`translate` also decodes flags and the cache mode).
    public func physical(_ virtual: UInt64) -> (address: UInt64, writable: Bool)? {
        guard PageTable.isCanonical(virtual), let at = leaf(virtual) else { return nil }
        let entry = memory.entries(at.table)[at.index]
        let offsetMask = (pageSize &<< (9 &* UInt64(at.level))) &- 1
        return ((entry & PageEntry.addressMask & ~offsetMask) | (virtual & offsetMask), entry & PageEntry.writable != 0)
    }

    public func translate(_ virtual: UInt64) -> (physical: UInt64, flags: MapFlags, cache: CacheMode, user: Bool)? {
        guard PageTable.isCanonical(virtual), let at = leaf(virtual) else { return nil }
        let entry = memory.entries(at.table)[at.index]
        let pageBytes = pageSize << (9 * UInt64(at.level))
        let base = entry & PageEntry.addressMask & ~(pageBytes - 1)
        let bits = PageEntry.decode(entry, patBit: at.level == 0 ? PageEntry.pat4K : PageEntry.patLarge)
        return (base | (virtual & (pageBytes - 1)), bits.flags, bits.cache, bits.user)
    }

    /// The lowest page address in [from, to) with an entry (4 KiB or large), stepping over missing tables
    /// whole, so that a sparse range of any size costs what is entered in it; nil when there is none.
    public func firstEntered(from: UInt64, to: UInt64) -> UInt64? {
        var virtual = from & ~(pageSize - 1)
        walk: while virtual < to {
            var table = root
            for level in stride(from: 3, through: 0, by: -1) {
                let entry = memory.entries(table)[PageTable.index(virtual, level: level)]
                if entry & PageEntry.present == 0 {
                    let span = pageSize << (9 * UInt64(level))
                    let (next, overflow) = (virtual & ~(span - 1)).addingReportingOverflow(span)
                    if overflow { return nil }
                    virtual = next
                    continue walk
                }
                if level == 0 || (level < 3 && entry & PageEntry.largePage != 0) { return virtual }
                table = entry & PageEntry.addressMask
            }
        }
        return nil
    }

    /// Removes a 4 KiB mapping and returns its physical address; intermediate tables left empty are
    /// freed (except the shared kernel-half PDPTs). .notMapped when nothing is mapped there, .badState
    /// when the address lies in a large page.
    /// Clears the 4 KiB page at `virtual` and keeps every table on the way (even when it empties):
    /// for a region whose tables another CPU may still cache until a later shootdown (kernel stacks).
    /// Returns the page's physical address; .notMapped when none is mapped there.
    public mutating func clearKeepingTables(virtual: UInt64) throws(SysError) -> UInt64 {
        try PageTable.checkPage(virtual, user: false)
        guard let at = leaf(virtual), at.level == 0 else { throw .notMapped }
        let entries = memory.entries(at.table)
        let entry = entries[at.index]
        entries[at.index] = 0
        return entry & PageEntry.addressMask
    }

    public mutating func unmap(virtual: UInt64) throws(SysError) -> UInt64 {
        try PageTable.checkPage(virtual, user: false)
        return try unmap(virtual, in: root, level: 3)
    }

    mutating func unmap(_ virtual: UInt64, in table: UInt64, level: Int) throws(SysError) -> UInt64 {
        let index = PageTable.index(virtual, level: level)
        let entries = memory.entries(table)
        let entry = entries[index]
        guard entry & PageEntry.present != 0 else { throw .notMapped }
        if level == 0 {
            entries[index] = 0
            return entry & PageEntry.addressMask
        }
        guard level == 3 || entry & PageEntry.largePage == 0 else { throw .badState }
        let child = entry & PageEntry.addressMask
        let physical = try unmap(virtual, in: child, level: level - 1)
        let shared = level == 3 && index >= PageTable.firstKernelSlot
        if !shared && isEmpty(child) {
            memory.freeTable(child)
            entries[index] = 0
        }
        return physical
    }

    func isEmpty(_ table: UInt64) -> Bool {
        let entries = memory.entries(table)
        for i in 0..<512 where entries[i] != 0 { return false }
        return true
    }

    // MARK: Address spaces

    /// Frees every table of the user half (PML4 slots 0..254), not the frames they map.
    public mutating func destroyUserHalf() {
        let entries = memory.entries(root)
        for slot in 0..<PageTable.firstKernelSlot where entries[slot] & PageEntry.present != 0 {
            freeTree(entries[slot] & PageEntry.addressMask, level: 2)
            entries[slot] = 0
        }
    }

    /// Frees a table at `level` (2 = PDPT … 0 = PT) and the tables below it.
    mutating func freeTree(_ table: UInt64, level: Int) {
        if level > 0 {
            let entries = memory.entries(table)
            for i in 0..<512 {
                let entry = entries[i]
                if entry & PageEntry.present != 0 && entry & PageEntry.largePage == 0 {
                    freeTree(entry & PageEntry.addressMask, level: level - 1)
                }
            }
        }
        memory.freeTable(table)
    }

    /// Shares the kernel half: PML4 entries 255..511 copied from another PML4.
    public mutating func copyKernelEntries(from other: UInt64) {
        let source = memory.entries(other)
        let target = memory.entries(root)
        for slot in PageTable.firstKernelSlot..<512 { target[slot] = source[slot] }
    }

    /// Gives every kernel PML4 slot (255..511) a PDPT, so that later kernel mappings land in tables
    /// every address space already shares. Meant for the kernel's own PML4, before any copy is made.
    public mutating func preallocateKernelTables() throws(SysError) {
        for slot in PageTable.firstKernelSlot..<512 {
            _ = try child(of: root, index: slot, user: false)
        }
    }
}

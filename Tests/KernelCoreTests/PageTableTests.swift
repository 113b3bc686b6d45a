import ABI
import Testing
@testable import KernelCore

/// Page-table frames on the host: 4 KiB buffers named by made-up physical addresses.
struct HostTableMemory: PageTableMemory {
    final class Frames {
        var buffers: [UInt64: UnsafeMutablePointer<UInt64>] = [:]
        var next: UInt64 = 0x10_0000
        var allocations = 0
        var frees = 0
        /// Allocation fails once this many tables are live.
        var limit = Int.max
        deinit { for (_, b) in buffers { b.deallocate() } }
    }
    let frames = Frames()

    var live: Int { frames.buffers.count }

    mutating func allocateTable() -> UInt64? {
        guard frames.buffers.count < frames.limit else { return nil }
        let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 512)
        buffer.initialize(repeating: 0, count: 512)
        let physical = frames.next
        frames.next += 0x1000
        frames.buffers[physical] = buffer
        frames.allocations += 1
        return physical
    }

    mutating func freeTable(_ physical: UInt64) {
        guard let buffer = frames.buffers.removeValue(forKey: physical) else {
            Issue.record("free of a table that is not allocated: \(physical)")
            return
        }
        // Poison, so a use after free shows up as garbage.
        buffer.initialize(repeating: 0xdead_beef, count: 512)
        buffer.deallocate()
        frames.frees += 1
    }

    func entries(_ physical: UInt64) -> UnsafeMutablePointer<UInt64> {
        guard let buffer = frames.buffers[physical] else { fatalError("no table at \(physical)") }
        return buffer
    }
}

@Suite struct PageTableTests {
    func newTable() throws -> PageTable<HostTableMemory> { try PageTable(memory: HostTableMemory()) }

    @Test func mapTranslateUnmap() throws {
        var pt = try newTable()
        #expect(pt.memory.live == 1)
        try pt.map(virtual: 0x40_0000, physical: 0x20_0000, flags: [.read, .write], cache: .writeBack, user: true)
        // PML4 + PDPT + PD + PT.
        #expect(pt.memory.live == 4)
        let t = try #require(pt.translate(0x40_0123))
        #expect(t.physical == 0x20_0123 && t.flags == [.read, .write] && t.cache == .writeBack && t.user)
        #expect(pt.translate(0x40_1000) == nil)
        #expect(pt.translate(0x3f_f000) == nil)
        // A neighbour in the same PT costs no table.
        try pt.map(virtual: 0x40_1000, physical: 0x30_0000, flags: .read, cache: .writeBack, user: true)
        #expect(pt.memory.live == 4)
        #expect(try pt.unmap(virtual: 0x40_0000) == 0x20_0000)
        #expect(pt.translate(0x40_0000) == nil)
        #expect(pt.memory.live == 4)
        #expect(try pt.unmap(virtual: 0x40_1000) == 0x30_0000)
        // Everything but the PML4 is gone.
        #expect(pt.memory.live == 1)
        #expect(throws: SysError.notMapped) { try pt.unmap(virtual: 0x40_1000) }
    }

    @Test func emptyTablesFreedOnlyWhenEmpty() throws {
        var pt = try newTable()
        // Two pages in different PDPTs (512 GiB apart) and two in different PDs of one PDPT.
        let pages: [UInt64] = [0x1000, 0x80_0000_0000, 0x4000_0000, 0x7f7f_ffff_f000]
        for (i, v) in pages.enumerated() {
            try pt.map(virtual: v, physical: UInt64(i + 1) << 12, flags: .read, cache: .writeBack, user: true)
        }
        // Root; 0x1000 and 0x4000_0000 share a PDPT, with a PD and PT each; the others have 3 tables each.
        #expect(pt.memory.live == 1 + (1 + 2 + 2) + 3 + 3)
        _ = try pt.unmap(virtual: 0x4000_0000)
        #expect(pt.memory.live == 1 + 3 + 3 + 3)
        _ = try pt.unmap(virtual: 0x80_0000_0000)
        #expect(pt.memory.live == 1 + 3 + 3)
        _ = try pt.unmap(virtual: 0x1000)
        _ = try pt.unmap(virtual: 0x7f7f_ffff_f000)
        #expect(pt.memory.live == 1)
        #expect(pt.memory.frames.allocations == pt.memory.frames.frees + 1)
    }

    @Test func overlapRefused() throws {
        var pt = try newTable()
        try pt.map(virtual: 0x5000, physical: 0x9000, flags: .read, cache: .writeBack, user: true)
        #expect(throws: SysError.overlapping) {
            try pt.map(virtual: 0x5000, physical: 0xa000, flags: [.read, .write], cache: .writeBack, user: true)
        }
        #expect(pt.translate(0x5000)?.physical == 0x9000)
        #expect(pt.translate(0x5000)?.flags == .read)
    }

    @Test func cacheModeBits() throws {
        var pt = try newTable()
        for mode in CacheMode.allCases {
            let v = 0x10_0000 + UInt64(mode.rawValue) * 0x1000
            try pt.map(virtual: v, physical: v, flags: .read, cache: mode, user: false)
            #expect(pt.translate(v)?.cache == mode)
            let pte = try #require(pt.leaf(v))
            let entry = pt.memory.entries(pte.table)[pte.index]
            let index = (entry >> 7 & 1) << 2 | (entry >> 4 & 1) << 1 | (entry >> 3 & 1)
            #expect(index == UInt64(mode.rawValue))
        }
        // Explicit bit patterns.
        #expect(PageEntry.cacheBits(.writeBack) == 0)
        #expect(PageEntry.cacheBits(.writeThrough) == 1 << 3)
        #expect(PageEntry.cacheBits(.uncachedMinus) == 1 << 4)
        #expect(PageEntry.cacheBits(.uncacheable) == 1 << 4 | 1 << 3)
        #expect(PageEntry.cacheBits(.writeCombining) == 1 << 7)
        #expect(PageEntry.cacheBits(.writeProtect) == 1 << 7 | 1 << 3)
    }

    @Test func patValueMatchesCacheModes() {
        let value = PageTable<HostTableMemory>.patMSRValue
        #expect(value == 0x0006_0501_0007_0406)
        // Memory type of each PAT entry: UC 0, WC 1, WT 4, WP 5, WB 6, UC- 7.
        let expected: [CacheMode: UInt64] = [.writeBack: 6, .writeThrough: 4, .uncachedMinus: 7, .uncacheable: 0,
                                             .writeCombining: 1, .writeProtect: 5]
        for mode in CacheMode.allCases {
            #expect(value >> (8 * UInt64(mode.rawValue)) & 0xff == expected[mode])
        }
        #expect(value >> 48 & 0xff == 6 && value >> 56 == 0)
    }

    @Test func permissionBits() throws {
        var pt = try newTable()
        let cases: [(MapFlags, Bool)] = [(.read, true), ([.read, .write], true), ([.read, .exec], true),
                                         ([.read, .write, .exec], false), (.read, false)]
        for (i, (flags, user)) in cases.enumerated() {
            let v = UInt64(i + 1) << 12
            try pt.map(virtual: v, physical: 0x1000 * UInt64(i + 10), flags: flags, cache: .writeBack, user: user)
            let pte = try #require(pt.leaf(v))
            let entry = pt.memory.entries(pte.table)[pte.index]
            #expect(entry & PageEntry.present != 0)
            #expect((entry & PageEntry.writable != 0) == flags.contains(.write))
            #expect((entry & PageEntry.user != 0) == user)
            #expect((entry & PageEntry.noExecute != 0) == !flags.contains(.exec))
            #expect(entry & PageEntry.addressMask == 0x1000 * UInt64(i + 10))
            let t = try #require(pt.translate(v))
            #expect(t.flags == flags.union(.read) && t.user == user)
            // The short form the kernel's user accesses use: the same address, the write bit.
            let p = try #require(pt.physical(v + 0x123))
            #expect(p.address == 0x1000 * UInt64(i + 10) + 0x123 && p.writable == flags.contains(.write))
            #expect(pt.physical(v + 0x10_0000) == nil)
        }
        // Intermediate entries of a user mapping carry the user bit, and are writable.
        let pml4e = pt.memory.entries(pt.root)[0]
        #expect(pml4e & (PageEntry.present | PageEntry.writable | PageEntry.user) == 0b111)
        #expect(pml4e & PageEntry.noExecute == 0)
    }

    @Test func addressChecks() throws {
        var pt = try newTable()
        #expect(throws: SysError.misaligned) { try pt.map(virtual: 0x1001, physical: 0x1000, flags: .read, cache: .writeBack, user: true) }
        #expect(throws: SysError.misaligned) { try pt.map(virtual: 0x1000, physical: 0x1800, flags: .read, cache: .writeBack, user: true) }
        #expect(throws: SysError.badAddress) { try pt.map(virtual: 0x1000, physical: 1 << 52, flags: .read, cache: .writeBack, user: true) }
        // Non-canonical, for user and kernel.
        for v: UInt64 in [0x0000_8000_0000_0000, 0xffff_7fff_ffff_f000, 0x0001_0000_0000_0000] {
            #expect(throws: SysError.badAddress) { try pt.map(virtual: v, physical: 0x1000, flags: .read, cache: .writeBack, user: true) }
            #expect(throws: SysError.badAddress) { try pt.map(virtual: v, physical: 0x1000, flags: .read, cache: .writeBack, user: false) }
            #expect(throws: SysError.badAddress) { try pt.unmap(virtual: v) }
            #expect(pt.translate(v) == nil)
        }
        // The heap window slot and the kernel half are closed to user mappings.
        for v: UInt64 in [userAddressLimit, 0x7fff_ffff_f000, 0xffff_8000_0000_0000, 0xffff_ffff_ffff_f000] {
            #expect(throws: SysError.badAddress) { try pt.map(virtual: v, physical: 0x1000, flags: .read, cache: .writeBack, user: true) }
        }
        #expect(pt.memory.live == 1)
        // The last user page and a kernel page are fine.
        try pt.map(virtual: userAddressLimit - pageSize, physical: 0x1000, flags: .read, cache: .writeBack, user: true)
        try pt.map(virtual: 0xffff_ffff_8000_0000, physical: 0x2000, flags: .read, cache: .writeBack, user: false)
        #expect(pt.translate(0xffff_ffff_8000_0010)?.physical == 0x2010)
        #expect(pt.translate(0xffff_ffff_8000_0010)?.user == false)
    }

    @Test func outOfMemoryLeavesNothingBehind() throws {
        var pt = try newTable()
        pt.memory.frames.limit = 3  // root + PDPT + PD: the PT cannot be allocated
        #expect(throws: SysError.outOfMemory) {
            try pt.map(virtual: 0x1000, physical: 0x1000, flags: .read, cache: .writeBack, user: true)
        }
        #expect(pt.memory.live == 1)
        #expect(pt.memory.entries(pt.root)[0] == 0)
        pt.memory.frames.limit = Int.max
        try pt.map(virtual: 0x1000, physical: 0x1000, flags: .read, cache: .writeBack, user: true)
        // With the PDPT present, running out at the PT only frees what this map created (the PD).
        pt.memory.frames.limit = 5
        #expect(throws: SysError.outOfMemory) {
            try pt.map(virtual: 0x4000_0000, physical: 0x1000, flags: .read, cache: .writeBack, user: true)
        }
        #expect(pt.memory.live == 4)
        #expect(pt.translate(0x1000)?.physical == 0x1000)
        let empty = HostTableMemory()
        empty.frames.limit = 0
        #expect(throws: SysError.outOfMemory) { try PageTable(memory: empty) }
    }

    @Test func destroyUserHalfFreesTables() throws {
        var pt = try newTable()
        // Pages spread over the whole user half.
        var page: UInt64 = 1
        var mapped = 0
        while mapped < 300 {
            page = (page * 7919 + 13) % (userAddressLimit >> 12)
            if page == 0 || pt.translate(page << 12) != nil { continue }
            try pt.map(virtual: page << 12, physical: UInt64(mapped) << 12, flags: .read, cache: .writeBack, user: true)
            mapped += 1
        }
        try pt.map(virtual: 0xffff_8000_0000_0000, physical: 0x1000, flags: .read, cache: .writeBack, user: false)
        let kernelTables = 3
        #expect(pt.memory.live > 100)
        pt.destroyUserHalf()
        #expect(pt.memory.live == 1 + kernelTables)
        for slot in 0..<255 { #expect(pt.memory.entries(pt.root)[slot] == 0) }
        #expect(pt.translate(0xffff_8000_0000_0000)?.physical == 0x1000)
        // The mapped frames themselves were never handed to freeTable (the host memory would complain).
    }

    @Test func kernelEntriesShared() throws {
        var memory = HostTableMemory()
        var kernel = try PageTable(memory: memory)
        try kernel.preallocateKernelTables()
        #expect(kernel.memory.live == 1 + 257)
        try kernel.map(virtual: 0xffff_ffff_8010_0000, physical: 0x10_0000, flags: [.read, .exec], cache: .writeBack, user: false)
        memory = kernel.memory
        var process = try PageTable(memory: memory)
        process.copyKernelEntries(from: kernel.root)
        for slot in 255..<512 {
            #expect(process.memory.entries(process.root)[slot] == kernel.memory.entries(kernel.root)[slot])
        }
        for slot in 0..<255 { #expect(process.memory.entries(process.root)[slot] == 0) }
        #expect(process.translate(0xffff_ffff_8010_0000)?.physical == 0x10_0000)
        // A kernel mapping made later through one address space shows in the other.
        try kernel.map(virtual: 0xffff_9000_0000_0000, physical: 0x20_0000, flags: .read, cache: .uncacheable, user: false)
        #expect(process.translate(0xffff_9000_0000_0000)?.cache == .uncacheable)
        // Unmapping in the kernel half never frees a shared PDPT.
        let before = kernel.memory.live
        _ = try process.unmap(virtual: 0xffff_9000_0000_0000)
        #expect(kernel.memory.live == before - 2)
        #expect(kernel.memory.entries(kernel.root)[288] != 0)
        #expect(kernel.translate(0xffff_9000_0000_0000) == nil)
        // Tearing down the process's user half leaves the kernel half alone.
        try process.map(virtual: 0x1000, physical: 0x3000, flags: .read, cache: .writeBack, user: true)
        process.destroyUserHalf()
        #expect(kernel.translate(0xffff_ffff_8010_0000)?.physical == 0x10_0000)
    }

    @Test func largePagesTranslatedAndRespected() throws {
        var pt = try newTable()
        try pt.map(virtual: 0xffff_8000_0000_0000, physical: 0x1000, flags: .read, cache: .writeBack, user: false)
        _ = try pt.unmap(virtual: 0xffff_8000_0000_0000)  // leaves the PDPT (shared slot 256)
        // Boot code style: a 2 MiB page at 0xffff_8000_0020_0000 and a 1 GiB page at 0xffff_8000_4000_0000.
        let pdpt = pt.memory.entries(pt.root)[256] & PageEntry.addressMask
        let pd = pt.memory.allocateTable()!
        pt.memory.entries(pdpt)[0] = pd | PageEntry.present | PageEntry.writable
        pt.memory.entries(pd)[1] = 0x4000_0000 | PageEntry.present | PageEntry.writable | PageEntry.largePage | PageEntry.patLarge
        pt.memory.entries(pdpt)[1] = 0x8000_0000 | PageEntry.present | PageEntry.largePage | PageEntry.noExecute
        let two = try #require(pt.translate(0xffff_8000_0023_4567))
        #expect(two.physical == 0x4003_4567 && two.cache == .writeCombining && two.flags == [.read, .write, .exec])
        let one = try #require(pt.translate(0xffff_8000_4123_4567))
        #expect(one.physical == 0x8123_4567 && one.flags == .read && one.cache == .writeBack)
        #expect(pt.physical(0xffff_8000_0023_4567).map { $0.address == 0x4003_4567 && $0.writable } == true)
        #expect(pt.physical(0xffff_8000_4123_4567).map { $0.address == 0x8123_4567 && !$0.writable } == true)
        #expect(throws: SysError.overlapping) {
            try pt.map(virtual: 0xffff_8000_0020_0000, physical: 0x1000, flags: .read, cache: .writeBack, user: false)
        }
        #expect(throws: SysError.badState) { try pt.unmap(virtual: 0xffff_8000_4000_0000) }
    }
}

/// PageTable.firstEntered: the walk that finds entered pages in a range, stepping over missing tables.
@Suite struct PageTableRangeTests {
    @Test func findsEnteredPagesOnly() throws {
        var pt = try PageTable(memory: HostTableMemory())
        let pages: [UInt64] = [0x40_0000, 0x40_2000, 0x7f_0000_0000, 0x5000_0000_0000]
        for p in pages { try pt.map(virtual: p, physical: 0x20_0000, flags: [.read], cache: .writeBack, user: true) }
        var found: [UInt64] = []
        var next: UInt64 = 0
        while let p = pt.firstEntered(from: next, to: userAddressLimit) {
            found.append(p)
            next = p + pageSize
        }
        #expect(found == pages)
        #expect(pt.firstEntered(from: 0x40_1000, to: 0x40_2000) == nil)
        #expect(pt.firstEntered(from: 0x40_0fff, to: 0x40_1000) == 0x40_0000)
        #expect(pt.firstEntered(from: 0x40_3000, to: 0x7f_0000_0000) == nil)
        #expect(pt.firstEntered(from: 0x40_3000, to: 0x7f_0000_1000) == 0x7f_0000_0000)
    }
}

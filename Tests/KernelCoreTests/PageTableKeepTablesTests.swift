import ABI
import Testing
@testable import KernelCore

/// PageTable.clearKeepingTables (kernel stacks, Memory/KernelStacks.swift): the page goes, every table
/// on the way stays, even when empty (unmap frees the emptied ones).
@Suite struct PageTableKeepTablesTests {
    @Test func clearKeepsEmptyTables() throws {
        var pt = try PageTable(memory: HostTableMemory())
        let virtual: UInt64 = 0xffff_ff00_0000_4000
        try pt.map(virtual: virtual, physical: 0x5000_0000, flags: [.read, .write], cache: .writeBack, user: false)
        let tables = pt.memory.live
        #expect(try pt.clearKeepingTables(virtual: virtual) == 0x5000_0000)
        #expect(pt.translate(virtual) == nil)
        #expect(pt.memory.live == tables, "a table was freed")
        #expect(throws: SysError.notMapped) { try pt.clearKeepingTables(virtual: virtual) }
        // Mapped again: no new table is needed.
        try pt.map(virtual: virtual, physical: 0x6000_0000, flags: [.read], cache: .writeBack, user: false)
        #expect(pt.memory.live == tables)
        #expect(pt.translate(virtual)?.physical == 0x6000_0000)
        // unmap, by contrast, frees the emptied tables.
        _ = try pt.unmap(virtual: virtual)
        #expect(pt.memory.live < tables)
    }
}

import ABI
import Testing
@testable import KernelCore

/// The Frame page tree on host memory (HostTableMemory from PageTableTests): lookups, inserts at sparse
/// indexes, growth of the height, shrinking, and node memory that follows the pages held.
@Suite struct PageTreeTests {
    func newTree() -> PageTree<HostTableMemory> { PageTree(memory: HostTableMemory()) }

    @Test func emptyTreeCostsNothing() {
        let tree = newTree()
        #expect(tree.memory.live == 0 && tree.nodes == 0 && tree.height == 0)
        #expect(tree.lookup(0) == nil)
        #expect(tree.lookup(PageTree<HostTableMemory>.indexLimit - 1) == nil)
        #expect(tree.nodesNeeded(for: 0) == 1)
        #expect(tree.nodesNeeded(for: 512) == 2)
    }

    @Test func insertAndLookup() throws {
        var tree = newTree()
        try tree.insert(0x5000, at: 3)
        #expect(tree.height == 1 && tree.nodes == 1 && tree.count == 1)
        #expect(tree.lookup(3) == 0x5000)
        #expect(tree.lookup(2) == nil && tree.lookup(4) == nil && tree.lookup(512 + 3) == nil)
        #expect(throws: SysError.badState) { try tree.insert(0x6000, at: 3) }
        #expect(throws: SysError.invalidArgument) { try tree.insert(0, at: 4) }
        #expect(throws: SysError.tooLarge) { try tree.insert(0x6000, at: PageTree<HostTableMemory>.indexLimit) }
        #expect(tree.lookup(3) == 0x5000 && tree.count == 1)
    }

    /// 1 TiB worth of index space with 100 pages spread over it costs nodes for those paths only.
    @Test func sparseTreeGrowsWithPagesNotSize() throws {
        var tree = newTree()
        let span: UInt64 = (1 << 40) / 4096
        for i in 0..<UInt64(100) {
            let index = i * (span / 100)
            let before = tree.nodes
            let bound = tree.nodesNeeded(for: index)
            try tree.insert(0x1000 * (i + 1), at: index)
            #expect(tree.nodes - before <= bound)
        }
        #expect(tree.count == 100 && tree.height == 4)
        // At most one leaf and one level-2 node per page, plus the shared upper levels.
        #expect(tree.nodes <= 2 * 100 + 1 + 2)
        #expect(tree.memory.live == tree.nodes)
        for i in 0..<UInt64(100) { #expect(tree.lookup(i * (span / 100)) == 0x1000 * (i + 1)) }
        var seen: [UInt64] = []
        tree.forEach { index, page in seen.append(page); #expect(index % (span / 100) == 0) }
        #expect(seen == (1...100).map { UInt64($0) * 0x1000 })
    }

    @Test func heightGrowsKeepingPages() throws {
        var tree = newTree()
        try tree.insert(0x1000, at: 7)
        #expect(tree.height == 1)
        #expect(tree.nodesNeeded(for: 512 * 512) == 2 + 2)
        try tree.insert(0x2000, at: 512 * 512)
        #expect(tree.height == 3)
        #expect(tree.lookup(7) == 0x1000 && tree.lookup(512 * 512) == 0x2000)
        #expect(tree.nodesNeeded(for: 8) == 0)
    }

    @Test func shrinkReleasesPagesAndNodes() throws {
        var tree = newTree()
        for i: UInt64 in [0, 1, 600, 512 * 512 + 5] { try tree.insert(0x1000 + i * 0x1000, at: i) }
        var released: [UInt64] = []
        tree.remove(from: 600) { released.append($0) }
        let expected: [UInt64] = [0x1000 + 600 * 0x1000, 0x1000 + (512 * 512 + 5) * 0x1000]
        #expect(released.sorted() == expected)
        #expect(tree.count == 2 && tree.lookup(0) == 0x1000 && tree.lookup(1) == 0x2000)
        #expect(tree.lookup(600) == nil)
        // Back to a single leaf node: the upper levels that only led to slot 0 are gone.
        #expect(tree.height == 1 && tree.nodes == 1 && tree.memory.live == 1)
        tree.removeAll { released.append($0) }
        #expect(released.count == 4 && tree.count == 0 && tree.nodes == 0 && tree.memory.live == 0)
        #expect(tree.memory.frames.allocations == tree.memory.frames.frees)
    }

    @Test func failedNodeAllocationChangesNoPage() throws {
        var tree = newTree()
        try tree.insert(0x1000, at: 0)
        tree.memory.frames.limit = tree.memory.live
        #expect(throws: SysError.outOfMemory) { try tree.insert(0x2000, at: 1 << 30) }
        #expect(tree.lookup(0) == 0x1000 && tree.lookup(1 << 30) == nil && tree.count == 1)
        tree.memory.frames.limit = Int.max
        try tree.insert(0x2000, at: 1 << 30)
        #expect(tree.lookup(1 << 30) == 0x2000)
        tree.removeAll { _ in }
        #expect(tree.memory.live == 0)
    }
}

import ABI
import Testing
@testable import KernelCore

/// Copy-on-write bookkeeping: the per-page share counts, and the page-tree moves a clone and a write
/// make (adopting shared pages, replacing one by its copy, releasing a tree with shared pages in it).
@Suite struct PageSharesTests {
    /// A share table over host memory covering physical addresses below `highest`.
    final class Table {
        let buffer: UnsafeMutableRawPointer
        var shares: PageShares
        init(highest: UInt64) {
            let bytes = PageShares.bytes(highestAddress: highest)
            buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 2), alignment: 8)
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 2))
            shares = PageShares(table: buffer, highestAddress: highest)
        }
        deinit { buffer.deallocate() }
        /// PageShares.release through the class (so #expect can call it).
        func release(_ p: UInt64) -> Bool { shares.release(p) }
    }

    @Test func countsPerPage() {
        let t = Table(highest: 1 << 30)
        #expect(t.shares.pageLimit == (1 << 30) / 4096)
        #expect(!t.shares.isShared(0x5000) && t.shares.holders(0x5000) == 1)
        t.shares.share(0x5000)
        t.shares.share(0x5000)
        #expect(t.shares.isShared(0x5000) && t.shares.holders(0x5000) == 3)
        #expect(!t.shares.isShared(0x6000) && !t.shares.isShared(0x4000))
        #expect(!t.release(0x5000))
        #expect(!t.release(0x5000))
        #expect(!t.shares.isShared(0x5000))
        // The last holder frees the page.
        #expect(t.release(0x5000))
        #expect(t.release(0x7000))
    }

    @Test func pagesPastTheTableAreNeverShared() {
        let t = Table(highest: 0x10_0000)
        #expect(!t.shares.canShare(0x10_0000) && t.shares.canShare(0xf_f000))
        t.shares.share(0x10_0000)
        #expect(!t.shares.isShared(0x10_0000) && t.release(0x10_0000))
    }

    @Test func counterLimit() {
        let t = Table(highest: 0x10_0000)
        for _ in 0..<Int(PageShares.maximumExtra) { t.shares.share(0x1000) }
        #expect(!t.shares.canShare(0x1000) && t.shares.holders(0x1000) == Int(PageShares.maximumExtra) + 1)
        t.shares.share(0x1000)   // refused silently: callers check canShare first
        #expect(t.shares.holders(0x1000) == Int(PageShares.maximumExtra) + 1)
    }

    /// The moves Frame.clone, Frame.writablePage and Frame.release make, on two trees.
    @Test func cloneWriteRelease() throws {
        let t = Table(highest: 1 << 30)
        var source = PageTree(memory: HostTableMemory())
        for i in 0..<UInt64(10) { try source.insert(0x10_0000 + i * 0x1000, at: i) }
        // Clone pages 2..<6.
        var clone = PageTree(memory: HostTableMemory())
        source.forEach(from: 2, to: 6) { (i: UInt64, p: UInt64) in
            try? clone.insert(p, at: i - 2)
            t.shares.share(p)
        }
        #expect(clone.count == 4 && clone.lookup(0) == 0x10_2000 && clone.lookup(3) == 0x10_5000)
        for i in 0..<UInt64(10) { #expect(t.shares.isShared(source.lookup(i)!) == (2..<6).contains(i)) }
        // The clone writes its page 1 (the source's 3): a copy replaces it, the old page stays the source's.
        let old = try clone.replace(0x90_0000, at: 1)
        #expect(old == 0x10_3000 && !t.release(old))
        #expect(!t.shares.isShared(0x10_3000) && source.lookup(3) == 0x10_3000 && clone.lookup(1) == 0x90_0000)
        // The source goes: only the pages nobody else holds are freed.
        var freed: [UInt64] = []
        source.removeAll { (p: UInt64) in if t.shares.release(p) { freed.append(p) } }
        #expect(freed == [0x10_0000, 0x10_1000, 0x10_3000, 0x10_6000, 0x10_7000, 0x10_8000, 0x10_9000])
        // Now the clone holds its pages alone, and frees them all.
        for i in [UInt64(0), 2, 3] { #expect(!t.shares.isShared(clone.lookup(i)!)) }
        freed = []
        clone.removeAll { (p: UInt64) in if t.shares.release(p) { freed.append(p) } }
        #expect(freed == [0x10_2000, 0x90_0000, 0x10_4000, 0x10_5000])
    }

    @Test func replaceNeedsAPage() throws {
        var tree = PageTree(memory: HostTableMemory())
        #expect(throws: SysError.notMapped) { try tree.replace(0x1000, at: 0) }
        try tree.insert(0x1000, at: 600)
        #expect(throws: SysError.notMapped) { try tree.replace(0x2000, at: 601) }
        #expect(throws: SysError.notMapped) { try tree.replace(0x2000, at: 1 << 30) }
        #expect(throws: SysError.invalidArgument) { try tree.replace(0, at: 600) }
        #expect(try tree.replace(0x2000, at: 600) == 0x1000 && tree.lookup(600) == 0x2000 && tree.count == 1)
    }

    @Test func forEachInRangeOfASparseTree() throws {
        var tree = PageTree(memory: HostTableMemory())
        let indexes: [UInt64] = [0, 5, 511, 512, 70_000, 1 << 27, (1 << 27) + 1]
        for (n, i) in indexes.enumerated() { try tree.insert(0x1000 * UInt64(n + 1), at: i) }
        func seen(_ lower: UInt64, _ upper: UInt64) -> [UInt64] {
            var result: [UInt64] = []
            tree.forEach(from: lower, to: upper) { (i: UInt64, _: UInt64) in result.append(i) }
            return result
        }
        #expect(seen(0, .max) == indexes)
        #expect(seen(5, 512) == [5, 511])
        #expect(seen(6, 511) == [])
        #expect(seen(512, 70_001) == [512, 70_000])
        #expect(seen(1 << 27, (1 << 27) + 1) == [1 << 27])
        #expect(seen(10, 10) == [] && seen(20, 10) == [])
    }
}

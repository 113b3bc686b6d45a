// PageTree: the pages of a Frame, kept in a multi-level radix tree shaped like hardware page tables
// (512 eight-byte entries per 4 KiB node, 9 bits of the page index per level), so that a sparse Frame
// costs node memory only for the pages it holds, never for its size. A tree of height h indexes 512^h
// pages; the root is allocated on the first insert and the height grows when a larger index is asked
// for. Interior entries hold a node's physical address; leaf entries hold the page's physical address
// (non-zero: 0 means "no page"). Nodes come from an abstract memory (PageTableMemory, as for PageTable),
// so the same code runs in the kernel and in host tests.

#if !KERNEL
import ABI
#endif

/// A sparse map from page index to physical page address, with node memory proportional to its contents.
public struct PageTree<M: PageTableMemory> {
    /// Index bits per level.
    static var bitsPerLevel: Int { 9 }
    /// The most levels: 512^4 = 2^36 pages (256 TiB), more than the user half holds.
    public static var maximumHeight: Int { 4 }
    /// One past the largest page index a tree can hold.
    public static var indexLimit: UInt64 { 1 << UInt64(bitsPerLevel * maximumHeight) }

    public var memory: M
    /// Physical address of the root node, 0 while the tree is empty.
    public private(set) var root: UInt64 = 0
    /// Levels below and including the root (0 while empty).
    public private(set) var height = 0
    /// Pages held (non-zero leaf entries).
    public private(set) var count = 0
    /// Nodes allocated from `memory`.
    public private(set) var nodes = 0

    public init(memory: M) { self.memory = memory }

    /// One past the largest index a tree of `height` levels covers.
    static func capacity(height: Int) -> UInt64 { height == 0 ? 0 : 1 << UInt64(bitsPerLevel * height) }

    /// The slot of `index` in a node at `level` (1 = leaf level).
    static func slot(_ index: UInt64, level: Int) -> Int {
        Int((index >> UInt64(bitsPerLevel * (level - 1))) & 511)
    }

    /// The page at `index`, or nil when none is held there.
    public func lookup(_ index: UInt64) -> UInt64? {
        guard index < PageTree.capacity(height: height) else { return nil }
        var node = root
        var level = height
        while level > 1 {
            node = memory.entries(node)[PageTree.slot(index, level: level)]
            if node == 0 { return nil }
            level -= 1
        }
        let page = memory.entries(node)[PageTree.slot(index, level: 1)]
        return page == 0 ? nil : page
    }

    /// At most how many nodes an insert at `index` allocates (so a caller can check a budget before it
    /// acts): new root levels, plus the nodes missing on the path down to the leaf.
    public func nodesNeeded(for index: UInt64) -> Int {
        guard index < PageTree.indexLimit else { return 0 }
        var newHeight = max(height, 1)
        while index >= PageTree.capacity(height: newHeight) { newHeight += 1 }
        if root == 0 { return newHeight }
        if newHeight > height { return newHeight - height + newHeight - 1 }
        var node = root
        var level = height
        while level > 1 {
            node = memory.entries(node)[PageTree.slot(index, level: level)]
            if node == 0 { return level - 1 }
            level -= 1
        }
        return 0
    }

    /// Stores `page` (non-zero) at `index`, replacing nothing: throws .badState if a page is already there,
    /// .tooLarge past indexLimit, .outOfMemory when a node cannot be allocated (nodes already added stay
    /// and are used by the next insert; nothing else changes).
    public mutating func insert(_ page: UInt64, at index: UInt64) throws(SysError) {
        guard page != 0 else { throw .invalidArgument }
        guard index < PageTree.indexLimit else { throw .tooLarge }
        try grow(toCover: index)
        var node = root
        var level = height
        while level > 1 {
            let entry = memory.entries(node) + PageTree.slot(index, level: level)
            if entry.pointee == 0 {
                guard let child = memory.allocateTable() else { throw .outOfMemory }
                nodes += 1
                entry.pointee = child
            }
            node = entry.pointee
            level -= 1
        }
        let leaf = memory.entries(node) + PageTree.slot(index, level: 1)
        guard leaf.pointee == 0 else { throw .badState }
        leaf.pointee = page
        count += 1
    }

    /// Swaps the page held at `index` for `page` (non-zero) and returns the old one (copy on write);
    /// .notMapped when no page is held there.
    @discardableResult
    public mutating func replace(_ page: UInt64, at index: UInt64) throws(SysError) -> UInt64 {
        guard page != 0 else { throw .invalidArgument }
        guard index < PageTree.capacity(height: height) else { throw .notMapped }
        var node = root
        var level = height
        while level > 1 {
            node = memory.entries(node)[PageTree.slot(index, level: level)]
            if node == 0 { throw .notMapped }
            level -= 1
        }
        let leaf = memory.entries(node) + PageTree.slot(index, level: 1)
        guard leaf.pointee != 0 else { throw .notMapped }
        let old = leaf.pointee
        leaf.pointee = page
        return old
    }

    /// Adds root levels until `index` is covered (the old root becomes slot 0 of the new one).
    mutating func grow(toCover index: UInt64) throws(SysError) {
        if root == 0 {
            var h = 1
            while index >= PageTree.capacity(height: h) { h += 1 }
            guard let r = memory.allocateTable() else { throw .outOfMemory }
            nodes += 1
            root = r
            height = h
            return
        }
        while index >= PageTree.capacity(height: height) {
            guard let r = memory.allocateTable() else { throw .outOfMemory }
            nodes += 1
            memory.entries(r)[0] = root
            root = r
            height += 1
        }
    }

    /// Removes every page at an index of `start` or above (shrinking), calling `release` with each page's
    /// physical address; frees the nodes left empty and drops root levels that only lead to slot 0.
    public mutating func remove(from start: UInt64, _ release: (UInt64) -> Void) {
        guard root != 0 else { return }
        if removeSubtree(root, level: height, base: 0, start: start, release) {
            memory.freeTable(root)
            nodes -= 1
            root = 0
            height = 0
            return
        }
        while height > 1 && (1..<512).allSatisfy({ memory.entries(root)[$0] == 0 }) {
            let old = root
            root = memory.entries(old)[0]
            memory.freeTable(old)
            nodes -= 1
            height -= 1
        }
    }

    /// Empties every page, calling `release` on each.
    public mutating func removeAll(_ release: (UInt64) -> Void) { remove(from: 0, release) }

    /// Clears the entries at or above `start` in the subtree at `node` (covering indexes from `base`);
    /// returns true when the node is then empty (the caller frees it).
    mutating func removeSubtree(_ node: UInt64, level: Int, base: UInt64, start: UInt64,
                                _ release: (UInt64) -> Void) -> Bool {
        let entries = memory.entries(node)
        let childSpan: UInt64 = level == 1 ? 1 : PageTree.capacity(height: level - 1)
        var empty = true
        for i in 0..<512 {
            let e = entries[i]
            if e == 0 { continue }
            let childBase = base + UInt64(i) * childSpan
            let childEnd = childBase + childSpan
            if childEnd <= start { empty = false; continue }
            if level == 1 {
                release(e)
                count -= 1
                entries[i] = 0
            } else if removeSubtree(e, level: level - 1, base: childBase, start: start, release) {
                memory.freeTable(e)
                nodes -= 1
                entries[i] = 0
            } else {
                empty = false
            }
        }
        return empty
    }

    /// Calls `body` with each held page, in index order.
    public func forEach(_ body: (UInt64, UInt64) -> Void) {
        guard root != 0 else { return }
        visit(root, level: height, base: 0, body)
    }

    /// Calls `body` with each held page whose index is in [lower, upper), in index order; subtrees
    /// outside the range are not visited (a range of a huge sparse tree costs what it holds).
    public func forEach(from lower: UInt64, to upper: UInt64, _ body: (UInt64, UInt64) -> Void) {
        guard root != 0, lower < upper else { return }
        visit(root, level: height, base: 0, lower: lower, upper: upper, body)
    }

    func visit(_ node: UInt64, level: Int, base: UInt64, lower: UInt64 = 0, upper: UInt64 = .max,
               _ body: (UInt64, UInt64) -> Void) {
        let entries = memory.entries(node)
        let childSpan: UInt64 = level == 1 ? 1 : PageTree.capacity(height: level - 1)
        for i in 0..<512 where entries[i] != 0 {
            let childBase = base + UInt64(i) * childSpan
            if childBase >= upper { return }
            if childBase + childSpan <= lower { continue }
            if level == 1 {
                body(childBase, entries[i])
            } else {
                visit(entries[i], level: level - 1, base: childBase, lower: lower, upper: upper, body)
            }
        }
    }
}

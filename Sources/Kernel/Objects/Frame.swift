// Frame: a run of physical pages, allocated and zeroed on first touch. Several handles (and several
// mappings, in several Vmems) can reach one Frame: that is shared memory. The pages go back to the PMM
// when the last handle and the last mapping are gone. The pages are kept in a PageTree (Core), so a
// Frame's kernel memory grows with the pages touched, never with its size; pages and tree nodes are
// charged to the creating process's Account (Limits.swift).

#if !KERNEL
import ABI
#endif

final class Frame {
    /// The pages touched so far (a radix tree: its memory follows the pages held, not the size).
    private var pages = PageTree(memory: KernelPageMemory())   // nodes: PMM pages outside the heap's reserve
    /// Size in pages.
    private(set) var pageCount: UInt64
    /// Pages the Frame does not own (boot modules): never freed to the PMM.
    let ownsPages: Bool
    /// Device memory (frame_create_physical): the physical address of page 0, the rest following it. Such
    /// a Frame has no page tree, is never zeroed or resized, and the kernel never copies through it.
    let deviceBase: UInt64?
    /// Who pays for the pages and page-tree nodes (nil: the kernel's own Frames). See Limits.swift.
    let account: Account?
    /// Live mappings of this frame, and which (process, handle) pairs back them: a handle backs at most
    /// one live mapping.
    var mappingCount = 0
    var mappingHandles: [(processID: UInt64, handle: UInt32, end: UInt64)] = []

    /// The largest size in pages: the page tree's index range (256 TiB), more than the user half.
    static let maxPages = PageTree<KernelPageMemory>.indexLimit
    /// Kernel memory charged for the Frame object itself (its heap block and mapping list, bounded).
    static let objectBytes: UInt64 = 256

    /// An empty Frame of `pageCount` pages (≤ maxPages), charged to `account`; costs no page until touched.
    init(pageCount: UInt64, account: Account? = nil) throws(SysError) {
        guard pageCount <= Frame.maxPages else { throw .tooLarge }
        try account?.charge(.kernelMemory, Frame.objectBytes)
        self.pageCount = pageCount
        self.account = account
        ownsPages = true
        deviceBase = nil
        ObjectCounter.live += 1
    }

    /// A frame over existing physical memory (a boot module), read through the direct map.
    init(physical: UInt64, byteCount: UInt64) throws(SysError) {
        pageCount = (byteCount + pageSize - 1) / pageSize
        ownsPages = false
        deviceBase = nil
        account = nil
        for i in 0..<pageCount { try pages.insert(physical + i * pageSize, at: i) }
        ObjectCounter.live += 1
    }

    /// A Frame over device memory [base, base + byteCount) (page-aligned; the caller checked it is not
    /// RAM), charged to `account` for the object only.
    init(device base: UInt64, byteCount: UInt64, account: Account?) throws(SysError) {
        try account?.charge(.kernelMemory, Frame.objectBytes)
        pageCount = byteCount / pageSize
        ownsPages = false
        deviceBase = base
        self.account = account
        ObjectCounter.live += 1
    }

    deinit {
        release(from: 0)
        account?.remove(.kernelMemory, Frame.objectBytes)
        ObjectCounter.live -= 1
    }

    var size: UInt64 { pageCount * pageSize }

    /// Pages held (touched), for tests and accounting.
    var pagesHeld: Int { pages.count }

    /// Drops the pages at index `start` and above, giving them and the freed nodes back.
    private func release(from start: UInt64) {
        let (count, nodes) = (pages.count, pages.nodes)
        let owns = ownsPages
        pages.remove(from: start) { (p: UInt64) in if owns { PMM.free(p) } }
        account?.remove(.frames, UInt64(count - pages.count))
        account?.remove(.kernelMemory, UInt64(nodes - pages.nodes) * pageSize)
    }

    /// The physical page at index, allocating and zeroing it on first touch: charged to the account
    /// (.limitExceeded), and refused with .outOfMemory when the PMM has only its reserve left.
    func page(_ index: Int) throws(SysError) -> UInt64 {
        guard index >= 0 && UInt64(index) < pageCount else { throw .invalidArgument }
        let i = UInt64(index)
        if let base = deviceBase { return base + i * pageSize }
        if let p = pages.lookup(i) { return p }
        let nodes = UInt64(pages.nodesNeeded(for: i))
        try account?.check(.frames, 1)
        try account?.check(.kernelMemory, nodes * pageSize)
        guard PMM.userCanAllocate(1 + Int(nodes)), let p = PMM.allocateForUser() else { throw .outOfMemory }
        let before = pages.nodes
        do throws(SysError) { try pages.insert(p, at: i) } catch {
            PMM.free(p)
            throw error
        }
        zeroPage(p)
        account?.add(.frames, 1)
        account?.add(.kernelMemory, UInt64(pages.nodes - before) * pageSize)
        return p
    }

    func setSize(_ bytes: UInt64) throws(SysError) {
        guard deviceBase == nil else { throw .badState }
        guard bytes > 0 else { throw .invalidArgument }
        guard bytes % pageSize == 0 else { throw .misaligned }
        let count = bytes / pageSize
        guard count <= Frame.maxPages else { throw .tooLarge }
        if count < pageCount {
            // Shrinking is refused only below what some mapping covers.
            guard mappingHandles.allSatisfy({ $0.end <= bytes }) else { throw .badState }
            release(from: count)
        } else if count > pageCount {
            guard ownsPages else { throw .badState }
        }
        pageCount = count
    }

    /// Copies between the frame (from `offset`) and a kernel buffer; `write` true copies into the frame.
    func copy(offset: UInt64, buffer: UnsafeMutableRawBufferPointer, write: Bool) throws(SysError) {
        guard deviceBase == nil else { throw .badState }
        guard offset <= size, UInt64(buffer.count) <= size - offset else { throw .invalidArgument }
        try copyByPage(from: offset, buffer: buffer, write: write) { (at: UInt64) throws(SysError) -> UInt64 in
            try page(Int(at / pageSize)) + at % pageSize
        }
    }
}

/// Copies between a kernel buffer and memory reached page by page: `physical(at)` gives the physical
/// address of position `at` (counted from `start`); `write` true copies from the buffer into that memory.
func copyByPage(from start: UInt64, buffer: UnsafeMutableRawBufferPointer, write: Bool,
                physical: (UInt64) throws(SysError) -> UInt64) throws(SysError) {
    var done = 0
    while done < buffer.count {
        let at = start + UInt64(done)
        let memory = KernelMemory.virtual(physical: try physical(at))
        let chunk = min(buffer.count - done, Int(pageSize - at % pageSize))
        if write {
            memory.copyMemory(from: buffer.baseAddress! + done, byteCount: chunk)
        } else {
            (buffer.baseAddress! + done).copyMemory(from: memory, byteCount: chunk)
        }
        done += chunk
    }
}

func zeroPage(_ physical: UInt64) {
    KernelMemory.virtual(physical: physical).initializeMemory(as: UInt64.self, repeating: 0, count: 512)
}

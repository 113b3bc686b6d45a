// Frame: a run of physical pages, allocated and zeroed on first touch. Several handles (and several
// mappings, in several Vmems) can reach one Frame: that is shared memory. The pages go back to the PMM
// when the last handle and the last mapping are gone. The pages are kept in a PageTree (Core), so a
// Frame's kernel memory grows with the pages touched, never with its size; pages and tree nodes are
// charged to the creating process's Account (Limits.swift).
//
// Copy on write: frame_clone makes a Frame whose tree holds the same physical pages as a range of its
// source; SharedPages.shares counts the Frames holding each page. A shared page is never entered writable:
// the first Frame to write it gets a copy (writablePage), and every mapping of that Frame that entered the
// old page loses the entry (it refaults onto the copy). An untouched page of an anonymous Frame reads as
// the shared zero page, entered read-only; the first write allocates the Frame's own page the same way.
// Each Frame knows the address spaces that map it (mappers), so both can find the entries to drop.

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
    /// A contiguous DMA run (frame_create_contiguous): its pages, at deviceBase, go back to the PMM with
    /// the Frame. 0 for every other Frame.
    let contiguousPages: UInt64
    /// Who pays for the pages and page-tree nodes (nil: the kernel's own Frames). See Limits.swift.
    let account: Account?
    /// The pager of a pager-backed Frame (frame_create_paged): pages not held are asked of it, never
    /// read as zeros.
    var pager: Sender? = nil
    /// Told (bit 1) each time the Frame is down to one handle and no mapping (frame_create_paged's notify).
    var lastUser: Notify? = nil
    /// Handles to this Frame in every handle table (KernelObject.opened/closed).
    var handleCount = 0
    /// Live mappings (pieces of mappings, after a split) of this frame, in every address space.
    private(set) var mappingCount = 0
    /// The address spaces that map this frame and how many mapping pieces each has (not retained: a
    /// Vmem detaches every piece before it goes).
    private var mappers: [(vmem: Unmanaged<Vmem>, pieces: Int)] = []

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
        contiguousPages = 0
        ObjectCounter.live += 1
    }

    /// A frame over existing physical memory (a boot module), read through the direct map.
    init(physical: UInt64, byteCount: UInt64) throws(SysError) {
        pageCount = (byteCount + pageSize - 1) / pageSize
        ownsPages = false
        deviceBase = nil
        contiguousPages = 0
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
        contiguousPages = 0
        self.account = account
        ObjectCounter.live += 1
    }

    /// A Frame over `pageCount` physically contiguous RAM pages at `base`, taken from the PMM by the
    /// caller and already charged to `account` (frames and the object): it owns them and frees them in
    /// deinit. It behaves as device memory otherwise (no page tree, no kernel copies, no clone).
    init(contiguous base: UInt64, pageCount: UInt64, account: Account?) {
        self.pageCount = pageCount
        ownsPages = false
        deviceBase = base
        contiguousPages = pageCount
        self.account = account
        ObjectCounter.live += 1
    }

    deinit {
        release(from: 0)
        if contiguousPages > 0, let base = deviceBase {
            PMM.free(base, count: Int(contiguousPages))
            account?.remove(.frames, contiguousPages)
        }
        account?.remove(.kernelMemory, Frame.objectBytes)
        ObjectCounter.live -= 1
    }

    var size: UInt64 { pageCount * pageSize }

    /// Pages held (touched), for tests and accounting.
    var pagesHeld: Int { pages.count }

    /// Drops the pages at index `start` and above, giving them (those no other Frame shares) and the
    /// freed nodes back.
    private func release(from start: UInt64) {
        let (count, nodes) = (pages.count, pages.nodes)
        let owns = ownsPages
        pages.remove(from: start) { (p: UInt64) in if owns && SharedPages.shares.release(p) { PMM.free(p) } }
        account?.remove(.frames, UInt64(count - pages.count))
        account?.remove(.kernelMemory, UInt64(nodes - pages.nodes) * pageSize)
    }

    /// The page at `index` for reading: the page held, or the shared zero page when none is (it costs
    /// nothing); `exclusive` is false when a mapping must enter it read-only (zero or shared page).
    func readablePage(_ index: UInt64) throws(SysError) -> (physical: UInt64, exclusive: Bool) {
        guard index < pageCount else { throw .invalidArgument }
        if let base = deviceBase { return (base + index * pageSize, true) }
        if let p = pages.lookup(index) { return (p, !ownsPages || !SharedPages.shares.isShared(p)) }
        guard pager == nil else { throw notSupplied(index) }
        return (SharedPages.zero, false)
    }

    /// The page at `index` for writing: allocated and zeroed on first touch (charged to the account:
    /// .limitExceeded), copied when another Frame shares it (copy on write); .outOfMemory when the PMM
    /// has only its reserve left. Entries of the old page (zero or shared) in this Frame's mappings go.
    func writablePage(_ index: UInt64) throws(SysError) -> UInt64 {
        guard index < pageCount else { throw .invalidArgument }
        if let base = deviceBase { return base + index * pageSize }
        if let p = pages.lookup(index) {
            guard ownsPages, SharedPages.shares.isShared(p) else { return p }
            guard let copy = PMM.allocateForUser() else { throw .outOfMemory }
            KernelMemory.virtual(physical: copy).copyMemory(from: KernelMemory.virtual(physical: p), byteCount: Int(pageSize))
            _ = try? pages.replace(copy, at: index)
            _ = SharedPages.shares.release(p)
            dropEntries(first: index, count: 1)
            return copy
        }
        guard pager == nil else { throw notSupplied(index) }
        let p = try allocatePage(at: index)
        dropEntries(first: index, count: 1)
        return p
    }

    /// Whether the page at `index` is there to read without asking a pager (always, without a pager).
    func isSupplied(_ index: UInt64) -> Bool {
        pager == nil || index >= pageCount || pages.lookup(index) != nil
    }

    /// .notSupplied for the page at `index`, noted for the syscall epilogue (Syscalls/PagerWait.swift).
    private func notSupplied(_ index: UInt64) -> SysError {
        PagerWait.note(self, index)
        return .notSupplied
    }

    /// Fills page `index` of a pager-backed Frame from page `sourceIndex` of `source`: its page shared
    /// copy on write, a copy of a boot page, or zeros when the source holds none. .badState when this
    /// Frame has no pager, the source is device memory (never copied by the kernel) or the page was
    /// supplied before.
    func supply(_ index: UInt64, from source: Frame, at sourceIndex: UInt64) throws(SysError) {
        guard pager != nil, source.deviceBase == nil else { throw .badState }
        guard index < pageCount, sourceIndex < source.pageCount else { throw .invalidArgument }
        guard pages.lookup(index) == nil else { throw .badState }
        if let p = source.pages.lookup(sourceIndex) {
            if source.ownsPages && SharedPages.shares.canShare(p) {
                try adopt(p, at: index)
                source.dropEntries(first: sourceIndex, count: 1)   // no writable entry of a shared page
                return
            }
            let fresh = try allocatePage(at: index)
            KernelMemory.virtual(physical: fresh).copyMemory(from: KernelMemory.virtual(physical: p), byteCount: Int(pageSize))
            return
        }
        _ = try allocatePage(at: index)
    }

    /// A fresh zeroed page stored at `index` (none held there), charged to the account.
    private func allocatePage(at index: UInt64) throws(SysError) -> UInt64 {
        let nodes = UInt64(pages.nodesNeeded(for: index))
        try account?.check(.frames, 1)
        try account?.check(.kernelMemory, nodes * pageSize)
        guard PMM.userCanAllocate(1 + Int(nodes)), let p = PMM.allocateForUser() else { throw .outOfMemory }
        zeroPage(p)
        try insert(p, at: index)
        return p
    }

    /// Stores `p` at `index` and charges it and the tree nodes it took; on failure nothing is charged
    /// but the nodes kept (and the page is not taken: a fresh one goes back to the PMM, a shared one stays).
    private func insert(_ p: UInt64, at index: UInt64, shared: Bool = false) throws(SysError) {
        let before = pages.nodes
        do throws(SysError) { try pages.insert(p, at: index) } catch {
            account?.add(.kernelMemory, UInt64(pages.nodes - before) * pageSize)
            if !shared { PMM.free(p) }
            throw error
        }
        if shared { SharedPages.shares.share(p) }
        account?.add(.frames, 1)
        account?.add(.kernelMemory, UInt64(pages.nodes - before) * pageSize)
    }

    /// A copy-on-write Frame of pages [first, first + count) of this one, charged to `account`: it holds
    /// the same pages, now shared, and every entry of them in this Frame's mappings is dropped so that
    /// no mapping writes a shared page. .badState for a Frame over boot or device memory (neither owns
    /// its pages); .limitExceeded past the frames limit or a page's share counter.
    func clone(first: UInt64, count: UInt64, account: Account?) throws(SysError) -> Frame {
        guard ownsPages else { throw .badState }
        guard count > 0, first <= pageCount, count <= pageCount - first else { throw .invalidArgument }
        var held: UInt64 = 0
        var full = false
        pages.forEach(from: first, to: first + count) { (_: UInt64, p: UInt64) in
            held += 1
            if !SharedPages.shares.canShare(p) { full = true }
        }
        guard !full else { throw .limitExceeded }
        try account?.check(.frames, held)
        let copy = try Frame(pageCount: count, account: account)
        var failure: SysError? = nil
        pages.forEach(from: first, to: first + count) { (i: UInt64, p: UInt64) in
            guard failure == nil else { return }
            do throws(SysError) { try copy.adopt(p, at: i - first) } catch { failure = error }
        }
        // On failure the copy goes with ARC and gives back every page and node it took.
        if let failure { throw failure }
        dropEntries(first: first, count: count)
        return copy
    }

    /// Holds the page `p` of another Frame at `index` (shared from now on), charging its tree nodes.
    private func adopt(_ p: UInt64, at index: UInt64) throws(SysError) {
        let nodes = UInt64(pages.nodesNeeded(for: index))
        try account?.check(.kernelMemory, nodes * pageSize)
        guard PMM.userCanAllocate(Int(nodes)) else { throw .outOfMemory }
        try insert(p, at: index, shared: true)
    }

    // MARK: mappings

    /// A Vmem entered one more mapping piece of this frame.
    func attach(_ vmem: Vmem) {
        let v = Unmanaged.passUnretained(vmem)
        mappingCount += 1
        if let i = mappers.firstIndex(where: { $0.vmem.toOpaque() == v.toOpaque() }) {
            mappers[i].pieces += 1
        } else {
            mappers.append((v, 1))
        }
    }

    /// A Vmem removed one mapping piece of this frame.
    func detach(_ vmem: Vmem) {
        let v = Unmanaged.passUnretained(vmem)
        guard let i = mappers.firstIndex(where: { $0.vmem.toOpaque() == v.toOpaque() }) else { return }
        mappingCount -= 1
        mappers[i].pieces -= 1
        if mappers[i].pieces == 0 { mappers.remove(at: i) }
        tellIfAlone()
    }

    /// Signals lastUser when one handle (the creator's, as a rule) and no mapping are left.
    func tellIfAlone() {
        guard let n = lastUser, handleCount == 1, mappingCount == 0 else { return }
        _ = IPC.notify(n, bits: 1)
    }

    /// Calls `body` with every mapping piece of this frame, in every address space that maps it.
    func forEachMapping(_ body: (Vmem, MappingSet<Mapping>.Mapping) -> Void) {
        for m in mappers {
            let vmem = m.vmem.takeUnretainedValue()
            vmem.mappings.forEach { (piece: MappingSet<Mapping>.Mapping) in
                if piece.payload.frame === self { body(vmem, piece) }
            }
        }
    }

    /// Whether the handle (process id, value) backs a live mapping of this frame.
    func isMapped(byProcess process: UInt64, handle: UInt32) -> Bool {
        var found = false
        forEachMapping { (_: Vmem, piece: MappingSet<Mapping>.Mapping) in
            if piece.payload.ownerProcess == process && piece.payload.ownerHandle == handle { found = true }
        }
        return found
    }

    /// One past the highest byte of the frame that a mapping covers (0 when unmapped).
    var mappedEnd: UInt64 {
        var end: UInt64 = 0
        forEachMapping { (_: Vmem, piece: MappingSet<Mapping>.Mapping) in
            end = max(end, piece.payload.frameOffset + piece.length)
        }
        return end
    }

    /// Drops the page-table entries of pages [first, first + count) in every mapping of this frame (they
    /// refault: onto a copy, a fresh page, or read-only onto a shared page).
    func dropEntries(first: UInt64, count: UInt64) {
        guard mappingCount > 0 else { return }
        forEachMapping { (vmem: Vmem, piece: MappingSet<Mapping>.Mapping) in
            let pieceFirst = piece.payload.frameOffset / pageSize
            let pieceEnd = pieceFirst + piece.length / pageSize
            let low = max(first, pieceFirst), high = min(first + count, pieceEnd)
            guard low < high else { return }
            vmem.dropEntries(from: piece.start + (low - pieceFirst) * pageSize,
                             to: piece.start + (high - pieceFirst) * pageSize)
        }
    }

    func setSize(_ bytes: UInt64) throws(SysError) {
        guard deviceBase == nil else { throw .badState }
        guard bytes > 0 else { throw .invalidArgument }
        guard bytes % pageSize == 0 else { throw .misaligned }
        let count = bytes / pageSize
        guard count <= Frame.maxPages else { throw .tooLarge }
        if count < pageCount {
            // Shrinking is refused only below what some mapping covers.
            guard mappedEnd <= bytes else { throw .badState }
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
            let index = at / pageSize
            return (write ? try writablePage(index) : try readablePage(index).physical) + at % pageSize
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

/// The shared zero page and the per-page share counts of copy on write, set up once at boot right after
/// the PMM. Guarded by: the kernel lock (as Frame).
enum SharedPages {
    /// A page of zeros that every untouched page of an anonymous Frame reads as (entered read-only).
    static var zero: UInt64 = 0
    /// Holders per physical page (see Core/PageShares.swift).
    static var shares = PageShares(table: UnsafeMutableRawPointer(bitPattern: 8)!, highestAddress: 0)

    static func initialize() {
        let bytes = PageShares.bytes(highestAddress: PMM.highestAddress)
        let tablePages = (bytes + Int(pageSize) - 1) / Int(pageSize)
        guard let z = PMM.allocate(), let table = PMM.allocate(count: max(tablePages, 1)) else {
            kernelPanic("no memory for the zero page and the page share counts")
        }
        zeroPage(z)
        for i in 0..<max(tablePages, 1) { zeroPage(table + UInt64(i) * pageSize) }
        zero = z
        shares = PageShares(table: KernelMemory.virtual(physical: table), highestAddress: PMM.highestAddress)
    }
}

func zeroPage(_ physical: UInt64) {
    KernelMemory.virtual(physical: physical).initializeMemory(as: UInt64.self, repeating: 0, count: 512)
}

// The kernel heap behind the Swift runtime's allocations (posix_memalign/free).
//
// Small blocks (16..1024 bytes, powers of two) come from 4 KiB pages carved per size class; the first
// block of each page holds the page's header, so free() finds the class from the address alone. Larger
// blocks get a run of whole pages behind a header page. Pages come from a 1 MiB pool in .bss until the
// physical memory manager is up, then from it. Small-class pages stay with their class once carved.
// Every block is handed out through the heap window (KernelMemory.heapWindowBase), never through the
// upper-half direct map: Swift object pointers must have bits 60..63 clear.

private let heapPageSize = 4096
private let headerMagicSmall: UInt32 = 0x534d_4150   // "PAMS"
private let headerMagicLarge: UInt32 = 0x4c47_5250   // "PRGL"
private let classCount = 7                            // 16, 32, ..., 1024

/// What a heap page starts with.
private struct PageHeader {
    var magic: UInt32
    var sizeClass: UInt32
    var pages: UInt64          // large runs: pages including the header page
    var fromPool: UInt64       // 1 when carved out of the boot pool
}

enum Heap {
    static let bootstrapPoolSize = 1 << 20
    // Free-list heads per class, and counters; plain globals so the allocator never allocates itself.
    // Guarded by: the kernel lock (an AP allocates only while holding it); Heap.lock (rank 85)
    // when every CPU runs threads.
    private static var freeLists: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0)
    private static var poolUsed = 0
    static var liveAllocations = 0
    static var liveBytes = 0
    static var pagesInUse = 0
    /// Set once the physical memory manager can hand out frames.
    static var usePhysicalMemory = false

    /// The boot pool seen through the heap window.
    private static var pool: UnsafeMutableRawPointer {
        let physical = UInt64(UInt(bitPattern: symbol_heap_bootstrap_pool()!)) - KernelMemory.imageVMA
        return KernelMemory.heapPointer(physical: physical)
    }

    private static func head(_ index: Int) -> UnsafeMutablePointer<UInt64> {
        withUnsafeMutablePointer(to: &freeLists) {
            UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self) + index
        }
    }

    /// Index of the smallest class of at least `size` bytes, or nil for large blocks.
    static func sizeClass(for size: Int) -> Int? {
        var index = 0
        var blockSize = 16
        while blockSize < size {
            blockSize <<= 1
            index += 1
        }
        return index < classCount ? index : nil
    }

    static func blockSize(ofClass index: Int) -> Int { 16 << index }

    /// Whole pages: from the physical memory manager when it is up, else from the boot pool.
    private static func takePages(_ count: Int) -> (UnsafeMutableRawPointer, fromPool: Bool)? {
        if usePhysicalMemory, let physical = PMM.allocate(count: count) {
            pagesInUse += count
            return (KernelMemory.heapPointer(physical: physical), false)
        }
        guard poolUsed + count * heapPageSize <= bootstrapPoolSize else { return nil }
        let p = pool + poolUsed
        poolUsed += count * heapPageSize
        pagesInUse += count
        return (p, true)
    }

    static func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= heapPageSize, size >= 0 else { return nil }
        let need = max(size, alignment, 1)
        if let index = sizeClass(for: need) {
            if head(index).pointee == 0 && !refill(index) { return nil }
            let block = UnsafeMutableRawPointer(bitPattern: UInt(head(index).pointee))!
            head(index).pointee = block.load(as: UInt64.self)
            liveAllocations += 1
            liveBytes += blockSize(ofClass: index)
            return block
        }
        let pages = (size + heapPageSize - 1) / heapPageSize + 1
        guard let (base, fromPool) = takePages(pages) else { return nil }
        base.storeBytes(of: PageHeader(magic: headerMagicLarge, sizeClass: 0, pages: UInt64(pages),
                                       fromPool: fromPool ? 1 : 0), as: PageHeader.self)
        liveAllocations += 1
        liveBytes += (pages - 1) * heapPageSize
        return base + heapPageSize
    }

    /// Carves a new page into blocks of one class; block 0 holds the page header.
    private static func refill(_ index: Int) -> Bool {
        guard let (page, fromPool) = takePages(1) else { return false }
        let size = blockSize(ofClass: index)
        page.storeBytes(of: PageHeader(magic: headerMagicSmall, sizeClass: UInt32(index), pages: 1,
                                       fromPool: fromPool ? 1 : 0), as: PageHeader.self)
        let first = max(size, MemoryLayout<PageHeader>.size)
        var offset = heapPageSize - size
        while offset >= first {
            let block = page + offset
            block.storeBytes(of: head(index).pointee, as: UInt64.self)
            head(index).pointee = UInt64(UInt(bitPattern: block))
            offset -= size
        }
        return true
    }

    static func free(_ pointer: UnsafeMutableRawPointer) {
        let address = UInt(bitPattern: pointer)
        if address % UInt(heapPageSize) == 0 {
            let header = pointer - heapPageSize
            let h = header.load(as: PageHeader.self)
            guard h.magic == headerMagicLarge else { kernelPanic("free of a pointer the heap never returned") }
            header.storeBytes(of: 0, as: UInt32.self)
            liveAllocations -= 1
            liveBytes -= (Int(h.pages) - 1) * heapPageSize
            if h.fromPool == 0 {
                pagesInUse -= Int(h.pages)
                PMM.free(KernelMemory.physical(heapPointer: header), count: Int(h.pages))
            }
            return
        }
        let page = UnsafeMutableRawPointer(bitPattern: address & ~UInt(heapPageSize - 1))!
        let h = page.load(as: PageHeader.self)
        guard h.magic == headerMagicSmall, Int(h.sizeClass) < classCount else {
            kernelPanic("free of a pointer the heap never returned")
        }
        let index = Int(h.sizeClass)
        pointer.storeBytes(of: head(index).pointee, as: UInt64.self)
        head(index).pointee = UInt64(address)
        liveAllocations -= 1
        liveBytes -= blockSize(ofClass: index)
    }
}

extension Heap {
    /// Free frames the heap must still be able to take when a syscall starts: its small allocations
    /// (objects, short arrays) fit many times over; larger buffers go through withBuffer, which checks.
    static let syscallHeadroomPages = 64

    /// Whether a syscall may start allocating: .outOfMemory is returned instead when not, since a
    /// failed Swift allocation traps.
    static var hasSyscallHeadroom: Bool { !usePhysicalMemory || PMM.freeCount >= syscallHeadroomPages }

    /// Runs `body` with a zeroed kernel buffer of `count` bytes taken straight from the heap, which
    /// reports failure (.outOfMemory) instead of trapping as a Swift array allocation would.
    static func withBuffer<R>(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(SysError) -> R) throws(SysError) -> R {
        guard count > 0 else { return try body(UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        guard PMM.freeCount >= syscallHeadroomPages + count / heapPageSize + 1 || !usePhysicalMemory,
              let p = allocate(size: count, alignment: 16) else { throw .outOfMemory }
        defer { free(p) }
        p.initializeMemory(as: UInt8.self, repeating: 0, count: count)
        return try body(UnsafeMutableRawBufferPointer(start: p, count: count))
    }
}

@_cdecl("posix_memalign")
func posix_memalign(_ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ size: Int) -> Int32 {
    guard let p = Heap.allocate(size: size, alignment: alignment) else {
        result.pointee = nil
        return 12   // ENOMEM (or EINVAL for an alignment the heap does not serve)
    }
    result.pointee = p
    return 0
}

/// `free` (libc.S jumps here: the name itself is reserved for the Swift runtime).
@_cdecl("heap_free")
func heap_free(_ pointer: UnsafeMutableRawPointer?) {
    if let pointer { Heap.free(pointer) }
}

/// Random bytes for the standard library's hashing seeds: the TSC stirred through splitmix64 (Core).
@_cdecl("arc4random_buf")
func arc4random_buf(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    splitMixFill(buffer, count: count, seed: read_tsc())
}

// Frame: a run of physical pages, allocated and zeroed on first touch. Several handles (and several
// mappings, in several Vmems) can reach one Frame: that is shared memory. The pages go back to the PMM
// when the last handle and the last mapping are gone.

#if !KERNEL
import ABI
#endif

final class Frame {
    /// Physical address of each page, 0 while not yet touched.
    private(set) var pages: [UInt64]
    /// Pages the Frame does not own (boot modules): never freed to the PMM.
    let ownsPages: Bool
    /// Live mappings of this frame, and which (process, handle) pairs back them: a handle backs at most
    /// one live mapping.
    var mappingCount = 0
    var mappingHandles: [(processID: UInt64, handle: UInt32, end: UInt64)] = []

    static let maxPages = 1 << 20          // 4 GiB

    init(pageCount: Int) {
        pages = [UInt64](repeating: 0, count: pageCount)
        ownsPages = true
        ObjectCounter.live += 1
    }

    /// A frame over existing physical memory (a boot module), read through the direct map.
    init(physical: UInt64, byteCount: UInt64) {
        let count = Int((byteCount + pageSize - 1) / pageSize)
        pages = (0..<count).map { physical + UInt64($0) * pageSize }
        ownsPages = false
        ObjectCounter.live += 1
    }

    deinit {
        if ownsPages {
            for p in pages where p != 0 { PMM.free(p) }
        }
        ObjectCounter.live -= 1
    }

    var size: UInt64 { UInt64(pages.count) * pageSize }

    /// The physical page at index, allocating and zeroing it on first touch.
    func page(_ index: Int) throws(SysError) -> UInt64 {
        guard index >= 0 && index < pages.count else { throw .invalidArgument }
        if pages[index] == 0 {
            guard let p = PMM.allocate() else { throw .outOfMemory }
            zeroPage(p)
            pages[index] = p
        }
        return pages[index]
    }

    func setSize(_ bytes: UInt64) throws(SysError) {
        guard bytes > 0 else { throw .invalidArgument }
        guard bytes % pageSize == 0 else { throw .misaligned }
        let count = Int(bytes / pageSize)
        guard count <= Frame.maxPages else { throw .tooLarge }
        if count < pages.count {
            // Shrinking is refused only below what some mapping covers.
            guard mappingHandles.allSatisfy({ $0.end <= bytes }) else { throw .badState }
            if ownsPages { for p in pages[count...] where p != 0 { PMM.free(p) } }
            pages.removeLast(pages.count - count)
        } else if count > pages.count {
            guard ownsPages else { throw .badState }
            pages.append(contentsOf: [UInt64](repeating: 0, count: count - pages.count))
        }
    }

    /// Copies between the frame (from `offset`) and a kernel buffer; `write` true copies into the frame.
    func copy(offset: UInt64, buffer: UnsafeMutableRawBufferPointer, write: Bool) throws(SysError) {
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

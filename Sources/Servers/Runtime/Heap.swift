// The user heap: posix_memalign and free for Embedded Swift, over Frames the kernel hands out.
//
// The heap is one contiguous range starting at Heap.base, grown in chunks (256 KiB, doubling up to
// 4 MiB, or as big as a large request needs): each chunk is a fresh Frame mapped read-write right after
// the previous one. Blocks carry a 16-byte header (size including the header; a magic word while
// allocated, the next free block while free). Free blocks sit in one list sorted by address, and free
// merges neighbours, so a freed chunk-spanning range becomes one block again. Allocation is first fit.

public enum Heap {
    public static let base: UInt64 = 0x10_0000_0000
    static let headerSize: UInt64 = 16
    static let minimumBlock: UInt64 = 32
    static let allocatedMagic: UInt64 = 0x414c_4c4f_4341_5445   // "ALLOCATE"
    static let lockIndex: Int32 = 0
    static let firstChunk: UInt64 = 256 * 1024
    static let largestChunk: UInt64 = 4 * 1024 * 1024

    static var top: UInt64 = base
    static var nextChunk: UInt64 = firstChunk
    static var freeList: UInt64 = 0
    static var vmem: Handle = .invalid

    /// Counters for tests and reports.
    public private(set) static var liveAllocations = 0
    public private(set) static var liveBytes: UInt64 = 0
    public static var mappedBytes: UInt64 { top - base }

    @inline(__always) static func word(_ address: UInt64, _ index: UInt64 = 0) -> UnsafeMutablePointer<UInt64> {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(address + index * 8))!
    }

    @inline(__always) static func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
        (value + alignment - 1) & ~(alignment - 1)
    }

    static func lock() {
        while runtime_lock_try(lockIndex) == 0 { threadYield() }
    }

    static func unlock() { runtime_lock_release(lockIndex) }

    /// A block of at least `size` bytes at a multiple of `alignment` (a power of two), or nil.
    public static func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        guard size >= 0, alignment > 0, alignment & (alignment - 1) == 0, alignment <= 1 << 20,
              size <= 1 << 40 else { return nil }
        lock()
        defer { unlock() }
        let align = max(UInt64(alignment), headerSize)
        let need = max(alignUp(UInt64(size), headerSize) + headerSize, minimumBlock)
        if let p = take(need: need, align: align) { return p }
        guard grow(atLeast: need + align) else { return nil }
        return take(need: need, align: align)
    }

    public static func free(_ pointer: UnsafeMutableRawPointer) {
        let payload = UInt64(UInt(bitPattern: pointer))
        lock()
        defer { unlock() }
        guard payload >= base + headerSize, payload < top, payload & (headerSize - 1) == 0,
              word(payload - headerSize, 1).pointee == allocatedMagic else {
            unlock()
            let message: StaticString = "free of a pointer the heap never returned"
            fatal(message)   // the StaticString variant: no allocation
        }
        let block = payload - headerSize
        let size = word(block).pointee
        word(block, 1).pointee = 0   // no longer allocated, even when merged into the block before it
        liveAllocations -= 1
        liveBytes -= size
        insertFree(block, size)
    }

    /// First fit: carves an aligned block out of the first free block that holds it.
    static func take(need: UInt64, align: UInt64) -> UnsafeMutableRawPointer? {
        var previous: UInt64 = 0
        var current = freeList
        while current != 0 {
            let size = word(current).pointee
            let next = word(current, 1).pointee
            let end = current + size
            var header = alignUp(current + headerSize, align) - headerSize
            if header != current && header - current < minimumBlock {
                header = alignUp(current + headerSize + minimumBlock, align) - headerSize
            }
            if header + need <= end {
                // Unlink, then give back what lies before and after the new block.
                if previous == 0 { freeList = next } else { word(previous, 1).pointee = next }
                var blockSize = need
                if end - (header + need) >= minimumBlock {
                    insertFree(header + need, end - (header + need))
                } else {
                    blockSize = end - header
                }
                if header > current { insertFree(current, header - current) }
                word(header).pointee = blockSize
                word(header, 1).pointee = allocatedMagic
                liveAllocations += 1
                liveBytes += blockSize
                return UnsafeMutableRawPointer(bitPattern: UInt(header + headerSize))
            }
            previous = current
            current = next
        }
        return nil
    }

    /// Puts [block, block + size) on the sorted free list, merged with free neighbours.
    static func insertFree(_ block: UInt64, _ size: UInt64) {
        var previous: UInt64 = 0
        var current = freeList
        while current != 0 && current < block {
            previous = current
            current = word(current, 1).pointee
        }
        var start = block
        var length = size
        var next = current
        if next != 0 && start + length == next {
            length += word(next).pointee
            next = word(next, 1).pointee
        }
        if previous != 0 && previous + word(previous).pointee == start {
            start = previous
            length += word(previous).pointee
            word(start).pointee = length
            word(start, 1).pointee = next
            return
        }
        word(start).pointee = length
        word(start, 1).pointee = next
        if previous == 0 { freeList = start } else { word(previous, 1).pointee = start }
    }

    /// Maps a new chunk at the top of the heap.
    static func grow(atLeast bytes: UInt64) -> Bool {
        if vmem == .invalid {
            guard let v = try? vmemSelf() else { return false }
            vmem = v
        }
        let size = max(nextChunk, alignUp(bytes, pageSize))
        guard top + size <= base + (1 << 39) else { return false }
        guard let frame = try? frameCreate(size: size) else { return false }
        do {
            try vmemMap(vmem, frame: frame, address: top, length: size, flags: [.read, .write])
        } catch {
            _ = try? handleClose(frame)
            return false
        }
        // The frame handle stays open: it backs the mapping for the life of the process.
        insertFree(top, size)
        top += size
        nextChunk = min(nextChunk * 2, largestChunk)
        return true
    }
}

// The C entry points exist only in user programs (a host build of this file for tests keeps the host's
// own allocator).
#if USERSPACE
@_cdecl("posix_memalign")
public func posix_memalign(_ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ size: Int) -> Int32 {
    guard let p = Heap.allocate(size: size, alignment: alignment) else {
        result.pointee = nil
        return 12   // ENOMEM
    }
    result.pointee = p
    return 0
}

/// `free` (start.S jumps here: the name itself is declared by the Swift runtime).
@_cdecl("heap_free")
public func heap_free(_ pointer: UnsafeMutableRawPointer?) {
    if let pointer { Heap.free(pointer) }
}

// arc4random_buf is in Random.swift.
#endif

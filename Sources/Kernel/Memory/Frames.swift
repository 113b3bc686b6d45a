// The physical memory manager: the FrameAllocator (Core/PhysicalMemory.swift) over the boot memory map,
// with the kernel image, the boot modules, the boot information and the allocator's own bitmap reserved.

enum PMM {
    static var allocator: FrameAllocator? = nil
    /// Usable memory above what the boot page tables map (4 GiB), left alone until the VMM maps it.
    static var ignoredBytes: UInt64 = 0
    /// One past the highest usable physical address the allocator hands out.
    static var highestAddress: UInt64 = 0

    static func initialize(_ boot: BootInfo) {
        // Only memory inside the direct map can be handed out for now.
        var map: [MemoryRegion] = []
        for region in boot.memoryMap {
            var r = region
            let limit = KernelMemory.directMapSize
            if r.start >= limit {
                if r.kind == .usable { ignoredBytes += r.length }
                continue
            }
            if r.start + r.length > limit {
                if r.kind == .usable { ignoredBytes += r.start + r.length - limit }
                r.length = limit - r.start
            }
            map.append(r)
        }
        var reserved: [PhysicalRange] = [
            PhysicalRange(start: KernelMemory.imagePhysicalStart,
                          length: KernelMemory.imagePhysicalEnd - KernelMemory.imagePhysicalStart),
        ]
        reserved.append(contentsOf: boot.reservedRanges)
        for module in boot.modules {
            reserved.append(PhysicalRange(start: module.start, length: module.end - module.start))
        }
        var highest: UInt64 = 0
        for r in map where r.kind == .usable { highest = max(highest, r.start + r.length) }
        highestAddress = highest
        let bytes = FrameAllocator.bitmapBytes(highestAddress: highest)
        guard let bitmap = FrameAllocator.placeBitmap(memoryMap: map, reserved: reserved, bytes: bytes) else {
            kernelPanic("no room for the physical memory bitmap")
        }
        reserved.append(PhysicalRange(start: bitmap, length: UInt64(bytes)))
        allocator = FrameAllocator(bitmap: KernelMemory.virtual(physical: bitmap), bitmapBytes: bytes,
                                   memoryMap: map, reserved: reserved)
    }

    static func allocate(count: Int = 1) -> UInt64? {
        if count == 1 { return allocator?.allocate() }
        return allocator?.allocateContiguous(count: count)
    }

    static func free(_ physical: UInt64, count: Int = 1) {
        guard allocator != nil else { return }
        do {
            try allocator!.free(physical, count: count)
        } catch {
            kernelPanic("physical memory manager refused a free from the kernel")
        }
    }

    static var freeCount: Int { allocator?.freeCount ?? 0 }

    /// Frames kept back for the kernel heap: memory that user actions (Frame pages, page tables, page-tree
    /// nodes) cannot take, so that the Swift runtime's allocations, which trap when posix_memalign fails,
    /// always find pages. 2,048 frames (8 MiB).
    static let heapReserve = 2048

    /// Whether `count` frames can go to user-driven memory without entering the heap's reserve.
    static func userCanAllocate(_ count: Int) -> Bool { freeCount >= heapReserve + count }

    /// One frame for user-driven memory, or nil when only the heap's reserve is left.
    static func allocateForUser() -> UInt64? {
        guard userCanAllocate(1) else { return nil }
        return allocate()
    }
}

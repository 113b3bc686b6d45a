// The physical memory manager: the FrameAllocator (Core/PhysicalMemory.swift) over the boot memory map,
// with the kernel image, the boot modules, the boot information and the allocator's own bitmap reserved.

enum PMM {
    /// Guarded by: the kernel lock (CPU 0 sets the APs up while holding it);
    /// PMM.lock (rank 80) when every CPU runs threads.
    static var allocator: FrameAllocator? = nil
    /// Usable memory beyond what the direct map can reach (DirectMapPlan.limit), never handed out.
    static var ignoredBytes: UInt64 = 0
    /// Frames under the allocator when it started (all usable memory it manages).
    static var managedFrames: Int { allocator?.totalUsableCount ?? 0 }
    /// One past the highest usable physical address the allocator hands out (above 4 GiB too: the
    /// page share counts of copy on write cover up to it).
    static var highestAddress: UInt64 = 0

    /// Starts the allocator over all usable memory the direct map can reach. Its bitmap sits in low
    /// memory (the boot map's 4 GiB); kmain calls DirectMap.extend next, which maps the rest before any of
    /// it is used (the PMM hands out low frames first).
    static func initialize(_ boot: BootInfo) {
        let (map, leftOut) = DirectMapPlan.managedMap(boot.memoryMap)
        ignoredBytes = leftOut
        var reserved: [PhysicalRange] = [
            PhysicalRange(start: KernelMemory.imagePhysicalStart,
                          length: KernelMemory.imagePhysicalEnd - KernelMemory.imagePhysicalStart),
        ]
        reserved.append(contentsOf: boot.reservedRanges)
        for module in boot.modules {
            reserved.append(PhysicalRange(start: module.start, length: module.end - module.start))
        }
        highestAddress = FrameAllocator.highestUsableAddress(map)
        let bytes = FrameAllocator.bitmapBytes(highestAddress: highestAddress)
        guard let bitmap = FrameAllocator.placeBitmap(memoryMap: map, reserved: reserved, bytes: bytes,
                                                      below: DirectMapPlan.bootMapped) else {
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
    /// User pages come from the top of memory (above 4 GiB when there is some), the kernel's from the
    /// bottom.
    static func allocateForUser() -> UInt64? {
        guard userCanAllocate(1) else { return nil }
        return allocator?.allocateHigh()
    }

    /// Free frames at or above 4 GiB (system_info `freeFramesAbove4GiB`).
    static var freeAbove4GiB: Int { allocator?.freeCount(atOrAbove: 4 << 30) ?? 0 }
}

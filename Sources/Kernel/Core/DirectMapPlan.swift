// Planning the direct map beyond the boot page tables: which large pages map the physical memory the
// firmware reports above what the boot code mapped (the first 4 GiB), and which memory the physical
// memory manager may then manage.
//
// The kernel maps RAM (usable, ACPI reclaimable and ACPI NVS regions) with 1 GiB pages when the CPU has
// them (CPUID.80000001:EDX[26]), else with 2 MiB pages; holes between regions stay unmapped when a whole
// page falls into a hole. One PDPT (PML4 slot 256, shared with the heap window in slot 255) covers
// 512 GiB, so memory beyond `DirectMapPlan.limit` is left out (and logged).

/// The large pages that extend the direct map, and how far it then reaches.
public struct DirectMapPlan: Equatable, Sendable {
    /// Physical memory the direct map (and the heap window) can cover: one PDPT of 1 GiB entries.
    public static let limit: UInt64 = 512 << 30
    /// What the boot page tables map already (2 MiB pages over [0, 4 GiB)).
    public static let bootMapped: UInt64 = 4 << 30

    /// The size of each page: 1 GiB or 2 MiB.
    public let pageSize: UInt64
    /// The first physical address of each page, ascending, all at or above `bootMapped`.
    public let pages: [UInt64]
    /// One past the highest physical address mapped (at least `bootMapped`).
    public let end: UInt64

    /// Whether a region holds memory the kernel maps (RAM of any kind, not device holes or bad memory).
    public static func isRAM(_ kind: MemoryKind) -> Bool {
        kind == .usable || kind == .acpiReclaimable || kind == .acpiNVS
    }

    /// The plan for a memory map: every page of `pageSize` (1 GiB when `hugePages`, else 2 MiB) between
    /// `bootMapped` and `limit` that overlaps a RAM region.
    public init(memoryMap: [MemoryRegion], hugePages: Bool) {
        let size: UInt64 = hugePages ? 1 << 30 : 2 << 20
        var ranges: [PhysicalRange] = []
        for r in memoryMap where DirectMapPlan.isRAM(r.kind) && r.length > 0 {
            let start = max(alignDown(r.start, size), DirectMapPlan.bootMapped)
            let end = min(alignUp(r.end, size), DirectMapPlan.limit)
            if start < end { ranges.append(PhysicalRange(start: start, end: end)) }
        }
        var pages: [UInt64] = []
        for r in normalizedRanges(ranges) {
            var page = r.start
            while page < r.end { pages.append(page); page += size }
        }
        pageSize = size
        self.pages = pages
        end = pages.last.map { $0 + size } ?? DirectMapPlan.bootMapped
    }

    /// Whether the physical range [start, start + length) lies in mapped memory: below the boot map's
    /// end, or inside pages of the plan.
    public func covers(_ start: UInt64, _ length: UInt64) -> Bool {
        let last = saturatingAdd(start, length)
        var cursor = start
        while cursor < last {
            if cursor < DirectMapPlan.bootMapped { cursor = DirectMapPlan.bootMapped; continue }
            let page = alignDown(cursor, pageSize)
            guard pages.contains(page) else { return false }
            cursor = page + pageSize
        }
        return true
    }

    /// The memory map as the PMM should see it: usable memory beyond the direct map's reach removed
    /// (it could not be addressed), and how many usable bytes that left out.
    public static func managedMap(_ memoryMap: [MemoryRegion]) -> (map: [MemoryRegion], leftOut: UInt64) {
        var map: [MemoryRegion] = []
        var leftOut: UInt64 = 0
        for region in memoryMap {
            var r = region
            if r.start >= limit {
                if r.kind == .usable { leftOut += r.length }
                continue
            }
            if r.end > limit {
                if r.kind == .usable { leftOut += r.end - limit }
                r.length = limit - r.start
            }
            map.append(r)
        }
        return (map, leftOut)
    }
}

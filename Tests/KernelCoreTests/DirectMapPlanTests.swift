import Testing
@testable import KernelCore

/// QEMU's pc machine with 6 GiB (SeaBIOS): 3 GiB below the PCI hole, 3 GiB from 4 GiB on.
let qemu6GiBMap: [MemoryRegion] = [
    MemoryRegion(start: 0, length: 0x9fc00, kind: .usable),
    MemoryRegion(start: 0x9fc00, length: 0x400, kind: .reserved),
    MemoryRegion(start: 0xf0000, length: 0x10000, kind: .reserved),
    MemoryRegion(start: 0x100000, length: 0xbfee_0000, kind: .usable),
    MemoryRegion(start: 0xbffe_0000, length: 0x20000, kind: .reserved),
    MemoryRegion(start: 0xfeff_c000, length: 0x4000, kind: .reserved),
    MemoryRegion(start: 0xfffc_0000, length: 0x40000, kind: .reserved),
    MemoryRegion(start: 0x1_0000_0000, length: 0xc000_0000, kind: .usable),
]

/// RAM above 4 GiB with holes: a reserved region inside it, ACPI NVS, a bad region, a gap, and RAM that
/// starts and ends off 1 GiB and 2 MiB boundaries.
let holeyMap: [MemoryRegion] = [
    MemoryRegion(start: 0x100000, length: 0x7ff0_0000, kind: .usable),
    MemoryRegion(start: 0x1_0000_0000, length: 0x4000_0000, kind: .usable),        // 4..5 GiB
    MemoryRegion(start: 0x1_4000_0000, length: 0x20_0000, kind: .reserved),        // 5 GiB + 2 MiB reserved
    MemoryRegion(start: 0x1_4020_0000, length: 0x3fe0_0000, kind: .usable),        // rest of 5..6 GiB
    MemoryRegion(start: 0x1_8000_0000, length: 0x1000, kind: .acpiNVS),            // one page at 6 GiB
    MemoryRegion(start: 0x2_0000_0000, length: 0x4000_0000, kind: .bad),           // 8..9 GiB bad
    MemoryRegion(start: 0x2_4010_0000, length: 0x30_0000, kind: .usable),          // 9 GiB + 1 MiB, 3 MiB
]

private let GiB: UInt64 = 1 << 30
private let MiB: UInt64 = 1 << 20

@Suite struct DirectMapPlanTests {
    @Test func sixGiBWithHugePages() {
        let plan = DirectMapPlan(memoryMap: qemu6GiBMap, hugePages: true)
        #expect(plan.pageSize == 1 * GiB)
        #expect(plan.pages == [4 * GiB, 5 * GiB, 6 * GiB])
        #expect(plan.end == 7 * GiB)
        #expect(plan.covers(0x1_0000_0000, 3 * GiB))
        #expect(plan.covers(0, 7 * GiB))
        #expect(!plan.covers(7 << 30, 4096))
    }

    @Test func sixGiBWithLargePages() {
        let plan = DirectMapPlan(memoryMap: qemu6GiBMap, hugePages: false)
        #expect(plan.pageSize == 2 * MiB)
        #expect(plan.pages.count == 3 * 512)
        #expect(plan.pages.first == 4 * GiB && plan.pages.last == (7 * GiB) - (2 * MiB))
        #expect(plan.end == 7 * GiB)
    }

    @Test func holesAndOddEdges() {
        let huge = DirectMapPlan(memoryMap: holeyMap, hugePages: true)
        // 4, 5 (usable around the reserved piece), 6 (ACPI NVS is RAM); 8 is bad only; 9 has usable RAM.
        #expect(huge.pages == [4 * GiB, 5 * GiB, 6 * GiB, 9 * GiB])
        #expect(huge.end == 10 * GiB)
        #expect(!huge.covers(7 << 30, 1))
        #expect(!huge.covers(8 << 30, 1))
        #expect(!huge.covers((6 * GiB) + 4096, 2 * GiB), "a range running into a hole is not covered")

        let large = DirectMapPlan(memoryMap: holeyMap, hugePages: false)
        // 1023 pages for 4..6 GiB (not the reserved 2 MiB at 5 GiB), 1 for the NVS page, 2 for
        // 9 GiB + 1 MiB .. 9 GiB + 4 MiB.
        #expect(large.pages.count == 1023 + 1 + 2)
        #expect(!large.pages.contains(5 * GiB))
        #expect(large.pages.contains(6 * GiB))
        #expect(!large.pages.contains((6 * GiB) + (2 * MiB)))
        #expect(Array(large.pages.suffix(2)) == [9 * GiB, 9 * GiB + 2 * MiB])
        #expect(large.end == (9 * GiB) + (4 * MiB))
        #expect(large.covers((9 * GiB) + 0x10_0000, 0x30_0000))
        #expect(!large.covers((6 * GiB) + (2 * MiB), 1))
    }

    @Test func nothingAbove4GiB() {
        let plan = DirectMapPlan(memoryMap: qemuMap, hugePages: true)
        #expect(plan.pages.isEmpty)
        #expect(plan.end == DirectMapPlan.bootMapped)
        #expect(plan.covers(0x100000, 0x7ee0000))
    }

    @Test func memoryBeyond512GiBIsLeftOut() {
        let map = holeyMap + [
            MemoryRegion(start: (512 * GiB) - (1 * GiB), length: 2 * GiB, kind: .usable),   // straddles the limit
            MemoryRegion(start: 600 * GiB, length: 1 * GiB, kind: .usable),
        ]
        let (managed, leftOut) = DirectMapPlan.managedMap(map)
        #expect(leftOut == (1 * GiB) + (1 * GiB))
        #expect(managed.allSatisfy { $0.end <= DirectMapPlan.limit })
        let plan = DirectMapPlan(memoryMap: managed, hugePages: true)
        #expect(plan.pages.last == 511 * GiB)
        #expect(plan.end == DirectMapPlan.limit)
    }

    /// The PMM over the planned map manages every usable frame above 4 GiB, and each one is mapped.
    @Test func pmmManagesAllOfItAndAllOfItIsMapped() throws {
        let (map, _) = DirectMapPlan.managedMap(holeyMap)
        let plan = DirectMapPlan(memoryMap: map, hugePages: false)
        let highest = FrameAllocator.highestUsableAddress(map)
        #expect(highest == (9 * GiB) + (4 * MiB))
        let bitmap = Bitmap(bytes: FrameAllocator.bitmapBytes(highestAddress: highest))
        var pmm = bitmap.allocator(map)
        let usableFrames = map.filter { $0.kind == .usable }.reduce(0) { $0 + Int($1.length / frameSize) }
        #expect(pmm.totalUsableCount == usableFrames)
        let high = pmm.freeCount(atOrAbove: 4 * GiB)
        #expect(high == Int(2 * GiB / 4096) - 512 + 768)
        var taken: [UInt64] = []
        while let f = pmm.allocateHigh() {
            #expect(plan.covers(f, frameSize), "frame \(f) outside the direct map")
            taken.append(f)
        }
        #expect(taken.count == usableFrames)
        #expect(taken.first == (9 * GiB) + (4 * MiB) - frameSize, "the top frame comes first")
        #expect(taken.prefix(high).allSatisfy { $0 >= 4 * GiB }, "every frame above 4 GiB before any below")
        #expect(pmm.freeCount(atOrAbove: 4 * GiB) == 0)
        for f in taken { try pmm.free(f) }
        #expect(pmm.freeCount(atOrAbove: 4 * GiB) == high)
        let top = pmm.allocateHigh(), bottom = pmm.allocate()
        #expect(top == (9 * GiB) + (4 * MiB) - frameSize, "a free raises the high hint again")
        #expect(bottom == 0x100000, "the kernel's end still starts at 1 MiB")
    }
}

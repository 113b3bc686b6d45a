import ABI
import Testing
@testable import KernelCore

@Suite struct MappingSetTests {
    func starts(_ set: MappingSet<Int>) -> [UInt64] { set.all.map(\.start) }

    @Test func insertAndFind() throws {
        var set = MappingSet<Int>()
        #expect(set.isEmpty && set.find(containing: 0x1000) == nil)
        try set.insert(start: 0x5000, length: 0x2000, payload: 1)
        try set.insert(start: 0x1000, length: 0x1000, payload: 2)
        try set.insert(start: 0x7000, length: 0x1000, payload: 3)  // adjacent to the first
        #expect(set.count == 3 && starts(set) == [0x1000, 0x5000, 0x7000])
        #expect(set.find(containing: 0x5000)?.payload == 1)
        #expect(set.find(containing: 0x6fff)?.payload == 1)
        #expect(set.find(containing: 0x6fff)?.start == 0x5000 && set.find(containing: 0x6fff)?.length == 0x2000)
        #expect(set.find(containing: 0x7000)?.payload == 3)
        #expect(set.find(containing: 0x1fff)?.payload == 2)
        #expect(set.find(containing: 0x2000) == nil)
        #expect(set.find(containing: 0xfff) == nil)
        #expect(set.find(containing: 0x8000) == nil)
        #expect(set.find(containing: UInt64.max) == nil)
    }

    @Test func insertRefusals() throws {
        var set = MappingSet<Int>()
        try set.insert(start: 0x10000, length: 0x4000, payload: 1)
        for (start, length) in [(0x10000, 0x1000), (0xf000, 0x2000), (0x13000, 0x1000), (0x8000, 0x10000), (0x11000, 0x1000)] as [(UInt64, UInt64)] {
            #expect(throws: SysError.overlapping) { try set.insert(start: start, length: length, payload: 9) }
        }
        #expect(throws: SysError.misaligned) { try set.insert(start: 0x1001, length: 0x1000, payload: 9) }
        #expect(throws: SysError.misaligned) { try set.insert(start: 0x1000, length: 0x800, payload: 9) }
        #expect(throws: SysError.invalidArgument) { try set.insert(start: 0x1000, length: 0, payload: 9) }
        #expect(throws: SysError.badAddress) { try set.insert(start: 0xffff_ffff_ffff_f000, length: 0x2000, payload: 9) }
        #expect(set.count == 1)
        // Ranges end at most at 2^64 - 4096 (the end must be representable).
        #expect(throws: SysError.badAddress) { try set.insert(start: 0xffff_ffff_ffff_f000, length: 0x1000, payload: 9) }
        try set.insert(start: 0xffff_ffff_ffff_e000, length: 0x1000, payload: 2)
        #expect(set.find(containing: 0xffff_ffff_ffff_efff)?.payload == 2)
        #expect(set.find(containing: UInt64.max) == nil)
    }

    @Test func removeExactAndRanges() throws {
        var set = MappingSet<Int>()
        for i in 0..<5 { try set.insert(start: 0x10000 * UInt64(i + 1), length: 0x2000, payload: i) }
        let one = try set.remove(start: 0x30000, length: 0x2000)
        #expect(one.count == 1 && one[0].start == 0x30000 && one[0].length == 0x2000 && one[0].payload == 2)
        #expect(set.find(containing: 0x30000) == nil && set.count == 4)
        // A range covering several whole mappings (and the gaps between them).
        let two = try set.remove(start: 0x10000, length: 0x20000)
        #expect(two.map(\.payload) == [0, 1])
        #expect(starts(set) == [0x40000, 0x50000])
        // Nothing there, or cutting a mapping: refused, nothing changes.
        #expect(throws: SysError.notMapped) { try set.remove(start: 0x10000, length: 0x1000) }
        #expect(throws: SysError.notMapped) { try set.remove(start: 0x40000, length: 0x1000) }
        #expect(throws: SysError.notMapped) { try set.remove(start: 0x41000, length: 0x1000) }
        #expect(throws: SysError.notMapped) { try set.remove(start: 0x3f000, length: 0x2000) }
        #expect(throws: SysError.notMapped) { try set.remove(start: 0x40000, length: 0x11000) }
        #expect(throws: SysError.misaligned) { try set.remove(start: 0x40001, length: 0x2000) }
        #expect(throws: SysError.invalidArgument) { try set.remove(start: 0x40000, length: 0) }
        #expect(starts(set) == [0x40000, 0x50000])
        let rest = try set.remove(start: 0, length: 0x100000)
        #expect(rest.map(\.payload) == [3, 4] && set.isEmpty)
    }

    @Test func removeAllAndLifetimes() throws {
        let deaths = Counted.Deaths()
        var set = MappingSet<Counted>()
        try set.insert(start: 0x1000, length: 0x1000, payload: Counted(1, deaths))
        try set.insert(start: 0x3000, length: 0x1000, payload: Counted(2, deaths))
        _ = try set.remove(start: 0x1000, length: 0x1000)
        #expect(deaths.count == 1)
        set.removeAll()
        #expect(deaths.count == 2 && set.isEmpty && set.all.isEmpty)
    }

    @Test func firstFreeGap() throws {
        var set = MappingSet<Int>()
        #expect(set.firstFree(length: 0x1000, from: 0x1000, to: 0x10000) == 0x1000)
        #expect(set.firstFree(length: 0x1000, from: 0x1234, to: 0x10000) == 0x2000)
        try set.insert(start: 0x1000, length: 0x2000, payload: 0)
        try set.insert(start: 0x4000, length: 0x1000, payload: 0)
        try set.insert(start: 0x8000, length: 0x1000, payload: 0)
        #expect(set.firstFree(length: 0x1000, from: 0x1000, to: 0x10000) == 0x3000)
        #expect(set.firstFree(length: 0x2000, from: 0x1000, to: 0x10000) == 0x5000)
        #expect(set.firstFree(length: 0x3000, from: 0x1000, to: 0x10000) == 0x5000)
        #expect(set.firstFree(length: 0x4000, from: 0x1000, to: 0x10000) == 0x9000)
        #expect(set.firstFree(length: 0x7000, from: 0x1000, to: 0x10000) == 0x9000)
        #expect(set.firstFree(length: 0x8000, from: 0x1000, to: 0x10000) == nil)
        #expect(set.firstFree(length: 0x1000, from: 0x4800, to: 0x10000) == 0x5000)
        #expect(set.firstFree(length: 0x1000, from: 0x1000, to: 0x3000) == nil)
        #expect(set.firstFree(length: 0x1000, from: 0x1000, to: 0x4000) == 0x3000)
        #expect(set.firstFree(length: 0, from: 0x1000, to: 0x4000) == nil)
        #expect(set.firstFree(length: 0x1000, from: 0x9000, to: 0x1000) == nil)
        #expect(set.firstFree(length: 0x1000, from: UInt64.max - 5, to: UInt64.max) == nil)
    }

    @Test func matchesPageModel() throws {
        // 64 pages; the model records which mapping owns each page.
        var set = MappingSet<Int>()
        var owner = [Int?](repeating: nil, count: 64)
        var rng = SplitMix(seed: 99)
        for step in 0..<4000 {
            let pages = Int(rng.next() % 4) + 1, first = Int(rng.next() % UInt64(65 - pages))
            let start = UInt64(first) * pageSize, length = UInt64(pages) * pageSize
            let range = first..<(first + pages)
            if rng.next() % 2 == 0 {
                let free = range.allSatisfy { owner[$0] == nil }
                do {
                    try set.insert(start: start, length: length, payload: step)
                    #expect(free)
                    for p in range { owner[p] = step }
                } catch {
                    #expect(!free)
                }
            } else {
                // Whole mappings inside the range, none cut at its edges.
                let touched = Set(range.compactMap { owner[$0] })
                let cut = touched.contains { id in owner.indices.contains { owner[$0] == id && !range.contains($0) } }
                let expected = touched.isEmpty || cut ? nil : touched
                if let removed = try? set.remove(start: start, length: length) {
                    #expect(Set(removed.map(\.payload)) == expected)
                    for p in owner.indices where expected?.contains(owner[p] ?? -1) == true { owner[p] = nil }
                } else {
                    #expect(expected == nil)
                }
            }
            for p in 0..<64 {
                #expect(set.find(containing: UInt64(p) * pageSize + 7)?.payload == owner[p])
            }
        }
    }
}

/// Splitting mappings: partial unmaps (carve) and protects (update) on any page range.
@Suite struct MappingSetSplitTests {
    /// Payload: (frame offset, flags) as the kernel keeps them; a split moves the offset on.
    typealias Piece = (offset: UInt64, flags: UInt32)
    static func adjust(_ p: Piece, _ delta: UInt64) -> Piece { (p.offset + delta, p.flags) }

    func layout(_ set: MappingSet<Piece>) -> [[UInt64]] {
        set.all.map { [$0.start, $0.length, $0.payload.offset, UInt64($0.payload.flags)] }
    }

    func threePages() throws -> MappingSet<Piece> {
        var set = MappingSet<Piece>()
        try set.insert(start: 0x10000, length: 0x3000, payload: (0x5000, 3))
        return set
    }

    @Test func carveTheMiddle() throws {
        var set = try threePages()
        let removed = try set.carve(start: 0x11000, length: 0x1000, adjust: Self.adjust)
        #expect(removed.count == 1 && removed[0].start == 0x11000 && removed[0].length == 0x1000 && removed[0].payload.offset == 0x6000)
        #expect(layout(set) == [[0x10000, 0x1000, 0x5000, 3], [0x12000, 0x1000, 0x7000, 3]])
        #expect(throws: SysError.notMapped) { try set.carve(start: 0x11000, length: 0x1000, adjust: Self.adjust) }
        // Over the gap and both pieces.
        let rest = try set.carve(start: 0xf000, length: 0x5000, adjust: Self.adjust)
        #expect(rest.map(\.start) == [0x10000, 0x12000] && set.isEmpty)
    }

    @Test func carveHeadAndTail() throws {
        var set = try threePages()
        _ = try set.carve(start: 0x12000, length: 0x10000, adjust: Self.adjust)
        #expect(layout(set) == [[0x10000, 0x2000, 0x5000, 3]])
        _ = try set.carve(start: 0x8000, length: 0x9000, adjust: Self.adjust)
        #expect(layout(set) == [[0x11000, 0x1000, 0x6000, 3]])
    }

    @Test func carveErrorsChangeNothing() throws {
        var set = try threePages()
        #expect(throws: SysError.misaligned) { try set.carve(start: 0x10800, length: 0x1000, adjust: Self.adjust) }
        #expect(throws: SysError.invalidArgument) { try set.carve(start: 0x10000, length: 0, adjust: Self.adjust) }
        #expect(throws: SysError.badAddress) { try set.carve(start: 0xffff_ffff_ffff_f000, length: 0x2000, adjust: Self.adjust) }
        #expect(throws: SysError.notMapped) { try set.carve(start: 0x20000, length: 0x1000, adjust: Self.adjust) }
        #expect(layout(set) == [[0x10000, 0x3000, 0x5000, 3]])
    }

    @Test func updateSplitsAndChanges() throws {
        var set = try threePages()
        try set.insert(start: 0x14000, length: 0x2000, payload: (0, 7))
        let changed = try set.update(start: 0x11000, length: 0x4000, adjust: Self.adjust) { (p: inout Piece) in p.flags = 1 }
        #expect(changed.map(\.start) == [0x11000, 0x14000])
        #expect(layout(set) == [[0x10000, 0x1000, 0x5000, 3], [0x11000, 0x2000, 0x6000, 1],
                                [0x14000, 0x1000, 0, 1], [0x15000, 0x1000, 0x1000, 7]])
        #expect(throws: SysError.notMapped) { try set.update(start: 0x13000, length: 0x1000, adjust: Self.adjust) { _ in } }
        #expect(set.overlapping(start: 0x10800, end: 0x14001).map(\.start) == [0x10000, 0x11000, 0x14000])
    }

    @Test func splitOutsideOrAtAnEdgeDoesNothing() throws {
        var set = try threePages()
        set.split(at: 0x10000, adjust: Self.adjust)
        set.split(at: 0x13000, adjust: Self.adjust)
        set.split(at: 0x20000, adjust: Self.adjust)
        #expect(set.count == 1)
        set.split(at: 0x12000, adjust: Self.adjust)
        #expect(layout(set) == [[0x10000, 0x2000, 0x5000, 3], [0x12000, 0x1000, 0x7000, 3]])
    }
}

import Testing
@testable import KernelCore

/// A bitmap that lives as long as the test, with the allocator built over it.
final class Bitmap {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 8), alignment: 8)
        pointer.initializeMemory(as: UInt8.self, repeating: 0xa5, count: max(bytes, 8))
    }

    deinit { pointer.deallocate() }

    func allocator(_ map: [MemoryRegion], reserved: [PhysicalRange] = []) -> FrameAllocator {
        FrameAllocator(bitmap: pointer, bitmapBytes: bytes, memoryMap: map, reserved: reserved)
    }
}

/// QEMU's map for 128 MiB with SeaBIOS.
let qemuMap: [MemoryRegion] = [
    MemoryRegion(start: 0, length: 0x9fc00, kind: .usable),
    MemoryRegion(start: 0x9fc00, length: 0x400, kind: .reserved),
    MemoryRegion(start: 0xf0000, length: 0x10000, kind: .reserved),
    MemoryRegion(start: 0x100000, length: 0x7ee0000, kind: .usable),
    MemoryRegion(start: 0x7fe0000, length: 0x20000, kind: .reserved),
    MemoryRegion(start: 0xfffc0000, length: 0x40000, kind: .reserved),
]

let kernelImage = PhysicalRange(start: 0x100000, length: 0x5_3000)
let bootModule = PhysicalRange(start: 0x200000, length: 0x1_2345)

func qemuAllocator(_ bitmap: Bitmap) -> FrameAllocator {
    bitmap.allocator(qemuMap, reserved: [kernelImage, bootModule])
}

func qemuBitmap() -> Bitmap {
    Bitmap(bytes: FrameAllocator.bitmapBytes(highestAddress: FrameAllocator.highestUsableAddress(qemuMap)))
}

@Suite struct PhysicalMemoryTests {
    @Test func memoryKindsFromMultiboot() {
        #expect(MemoryKind(multibootType: 1) == .usable)
        #expect(MemoryKind(multibootType: 2) == .reserved)
        #expect(MemoryKind(multibootType: 3) == .acpiReclaimable)
        #expect(MemoryKind(multibootType: 4) == .acpiNVS)
        #expect(MemoryKind(multibootType: 5) == .bad)
        #expect(MemoryKind(multibootType: 0) == .reserved)
        #expect(MemoryKind(multibootType: 77) == .reserved)
    }

    @Test func bitmapSize() {
        #expect(FrameAllocator.bitmapBytes(highestAddress: 0) == 0)
        #expect(FrameAllocator.bitmapBytes(highestAddress: 1) == 8)
        #expect(FrameAllocator.bitmapBytes(highestAddress: 64 * 4096) == 8)
        #expect(FrameAllocator.bitmapBytes(highestAddress: 64 * 4096 + 1) == 16)
        // 128 MiB = 32768 frames = 4096 bytes.
        #expect(FrameAllocator.bitmapBytes(highestAddress: 0x800_0000) == 4096)
        #expect(FrameAllocator.highestUsableAddress(qemuMap) == 0x7fe0000)
    }

    @Test func qemuMapCounts() {
        let bitmap = qemuBitmap()
        let fa = qemuAllocator(bitmap)
        // Usable frames from 1 MiB to 0x7fe0000, minus kernel (0x53 frames) and module (0x13 frames).
        let expected = (0x7fe0000 - 0x100000) / 4096 - 0x53 - 0x13
        #expect(fa.totalUsableCount == expected)
        #expect(fa.freeCount == expected)
        #expect(!fa.isFree(0))
        #expect(!fa.isFree(0x1000))
        #expect(!fa.isFree(0x9f000))
        #expect(!fa.isFree(0x100000))
        #expect(!fa.isFree(0x152000))
        #expect(fa.isFree(0x153000))
        #expect(!fa.isFree(0x212000))
        #expect(fa.isFree(0x213000))
        #expect(fa.isFree(0x7fdf000))
        #expect(!fa.isFree(0x7fe0000))
        #expect(!fa.isFree(0xffff_f000))
    }

    @Test func reservedFramesAreNeverHandedOut() {
        let bitmap = qemuBitmap()
        var fa = qemuAllocator(bitmap)
        var seen = Set<UInt64>()
        while let frame = fa.allocate() {
            #expect(frame % 4096 == 0)
            #expect(frame >= 0x100000)
            #expect(!(frame >= kernelImage.start && frame < kernelImage.end))
            #expect(!(frame >= bootModule.start && frame < bootModule.end))
            #expect(frame < 0x7fe0000)
            #expect(seen.insert(frame).inserted)
        }
        #expect(seen.count == fa.totalUsableCount)
        #expect(fa.freeCount == 0)
        #expect(fa.allocate() == nil)
        #expect(fa.allocateContiguous(count: 1) == nil)
    }

    @Test func allocateAllThenFreeAll() throws {
        let bitmap = qemuBitmap()
        var fa = qemuAllocator(bitmap)
        let start = fa.freeCount
        var frames: [UInt64] = []
        while let frame = fa.allocate() { frames.append(frame) }
        #expect(frames.count == start)
        #expect(frames == frames.sorted())
        for frame in frames.reversed() { try fa.free(frame) }
        #expect(fa.freeCount == start)
        // Lowest first again after everything came back.
        #expect(fa.allocate() == 0x153000)
    }

    @Test func freedFrameIsReused() throws {
        let bitmap = qemuBitmap()
        var fa = qemuAllocator(bitmap)
        let a = try unwrap(fa.allocate())
        let b = try unwrap(fa.allocate())
        #expect(b == a + 4096)
        try fa.free(a)
        #expect(fa.isFree(a))
        #expect(fa.allocate() == a)
        #expect(fa.allocate() == b + 4096)
    }

    @Test func refusedFrees() throws {
        let bitmap = qemuBitmap()
        var fa = qemuAllocator(bitmap)
        let frame = try unwrap(fa.allocate())
        let before = fa.freeCount
        #expect(throws: FrameError.unaligned) { try fa.free(frame + 8) }
        #expect(throws: FrameError.invalidCount) { try fa.free(frame, count: 0) }
        #expect(throws: FrameError.invalidCount) { try fa.free(frame, count: -3) }
        #expect(throws: FrameError.notAllocated) { try fa.free(frame + 4096) }
        // Kernel, module, low memory, a firmware hole, frame 0.
        #expect(throws: FrameError.reserved) { try fa.free(kernelImage.start) }
        #expect(throws: FrameError.reserved) { try fa.free(bootModule.start + 0x1000) }
        #expect(throws: FrameError.reserved) { try fa.free(0) }
        #expect(throws: FrameError.reserved) { try fa.free(0x8000) }
        #expect(throws: FrameError.reserved) { try fa.free(0xf0000) }
        // Beyond the memory the bitmap covers, and overflowing.
        #expect(throws: FrameError.outOfRange) { try fa.free(0x1_0000_0000) }
        #expect(throws: FrameError.outOfRange) { try fa.free(0xffff_ffff_ffff_f000, count: 2) }
        #expect(throws: FrameError.outOfRange) { try fa.free(0x7fdf000, count: Int.max) }
        // A run that starts allocated and reaches into a free frame changes nothing.
        #expect(throws: FrameError.notAllocated) { try fa.free(frame, count: 2) }
        // A run that reaches from allocated frames into the reserved tail.
        #expect(throws: FrameError.reserved) { try fa.free(0x7fdf000, count: 2) }
        #expect(fa.freeCount == before)
        #expect(!fa.isFree(frame))
        try fa.free(frame)
        #expect(throws: FrameError.notAllocated) { try fa.free(frame) }
        #expect(fa.freeCount == before + 1)
    }

    @Test func contiguousRunsWithAlignment() throws {
        let bitmap = qemuBitmap()
        var fa = qemuAllocator(bitmap)
        let single = try unwrap(fa.allocate())
        #expect(single == 0x153000)
        let run = try unwrap(fa.allocateContiguous(count: 5))
        #expect(run == 0x154000)
        for i in 0..<5 { #expect(!fa.isFree(run + UInt64(i) * 4096)) }
        // 2 MiB aligned (512 frames): the first 2 MiB boundary with 512 free frames after the module.
        let big = try unwrap(fa.allocateContiguous(count: 512, alignment: 512))
        #expect(big % 0x20_0000 == 0)
        #expect(big == 0x400000)
        let aligned = try unwrap(fa.allocateContiguous(count: 3, alignment: 16))
        #expect(aligned % 0x10000 == 0)
        #expect(aligned == 0x160000)
        // A run cannot straddle the module.
        let before = fa.freeCount
        #expect(fa.allocateContiguous(count: 0) == nil)
        #expect(fa.allocateContiguous(count: 1, alignment: 0) == nil)
        #expect(fa.allocateContiguous(count: before + 1) == nil)
        #expect(fa.freeCount == before)
        try fa.free(big, count: 512)
        try fa.free(run, count: 5)
        #expect(fa.freeCount == before + 517)
        // Impossible alignment within memory.
        #expect(fa.allocateContiguous(count: 1, alignment: 0x10_0000) == nil)
    }

    @Test func contiguousSkipsHoles() throws {
        // Two usable regions with a reserved gap: a run never spans the gap.
        let map = [
            MemoryRegion(start: 0x100000, length: 0x3000, kind: .usable),
            MemoryRegion(start: 0x103000, length: 0x1000, kind: .reserved),
            MemoryRegion(start: 0x104000, length: 0x8000, kind: .usable),
        ]
        let bitmap = Bitmap(bytes: FrameAllocator.bitmapBytes(highestAddress: 0x10c000))
        var fa = bitmap.allocator(map)
        #expect(fa.freeCount == 11)
        #expect(fa.allocateContiguous(count: 4) == 0x104000)
        #expect(fa.allocateContiguous(count: 3) == 0x100000)
        #expect(fa.allocateContiguous(count: 5) == nil)
        #expect(fa.allocateContiguous(count: 4) == 0x108000)
        #expect(fa.freeCount == 0)
    }

    @Test func messyMaps() {
        // Unsorted, overlapping, unaligned; a reserved region inside a usable one wins; bad memory too.
        let map = [
            MemoryRegion(start: 0x300800, length: 0x2000, kind: .usable),  // only 0x301000..0x302000 whole
            MemoryRegion(start: 0x100000, length: 0x10000, kind: .usable),
            MemoryRegion(start: 0x108000, length: 0x10000, kind: .usable),  // overlaps, extends to 0x118000
            MemoryRegion(start: 0x104800, length: 0x100, kind: .reserved),  // knocks out frame 0x104000
            MemoryRegion(start: 0x110000, length: 0x2000, kind: .bad),
            MemoryRegion(start: 0x400000, length: 0, kind: .usable),
            MemoryRegion(start: 0x500000, length: 0xfff, kind: .usable),  // no whole frame
            MemoryRegion(start: 0x114000, length: 0x1000, kind: .acpiNVS),
        ]
        let bitmap = Bitmap(bytes: FrameAllocator.bitmapBytes(highestAddress: FrameAllocator.highestUsableAddress(map)))
        let fa = bitmap.allocator(map)
        var free: [UInt64] = []
        var a: UInt64 = 0
        while a < 0x600000 {
            if fa.isFree(a) { free.append(a) }
            a += 4096
        }
        var expected: [UInt64] = []
        for f in stride(from: UInt64(0x100000), to: 0x118000, by: 4096)
        where f != 0x104000 && f != 0x110000 && f != 0x111000 && f != 0x114000 {
            expected.append(f)
        }
        expected.append(0x301000)
        #expect(free == expected)
        #expect(fa.totalUsableCount == expected.count)
    }

    @Test func memoryBeyondTheBitmapIsIgnored() {
        let map = [MemoryRegion(start: 0, length: 0x1000_0000, kind: .usable)]
        // 8 bytes cover 64 frames: only 0..0x40000, all below 1 MiB.
        let small = Bitmap(bytes: 8)
        #expect(small.allocator(map).freeCount == 0)
        let enough = Bitmap(bytes: FrameAllocator.bitmapBytes(highestAddress: 0x20_0000))
        var fa = enough.allocator(map)
        #expect(fa.freeCount == 256)
        #expect(throws: FrameError.outOfRange) { try fa.free(0x20_0000) }
        let empty = Bitmap(bytes: 0)
        var none = empty.allocator(map)
        #expect(none.allocate() == nil)
        #expect(!none.isFree(0x100000))
    }

    @Test func placeBitmapChoices() {
        let bytes = FrameAllocator.bitmapBytes(highestAddress: 0x7fe0000)
        // First spot above 1 MiB after the kernel.
        #expect(FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: [kernelImage], bytes: bytes) == 0x153000)
        // Needs 3 frames: the 2-frame gap between kernel and module is skipped.
        let tight = [PhysicalRange(start: 0x100000, length: 0x3000), PhysicalRange(start: 0x105000, length: 0x1000)]
        #expect(FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: tight, bytes: 3 * 4096 - 100) == 0x106000)
        #expect(FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: tight, bytes: 2 * 4096) == 0x103000)
        // Never in low memory, even when only low memory is usable.
        let low = [MemoryRegion(start: 0, length: 0x9fc00, kind: .usable)]
        #expect(FrameAllocator.placeBitmap(memoryMap: low, reserved: [], bytes: 8) == nil)
        // Too big, zero bytes, above the limit.
        #expect(FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: [], bytes: 0x8000000) == nil)
        #expect(FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: [], bytes: 0) == nil)
        #expect(FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: [], bytes: 4096, below: 0x100800) == nil)
        #expect(FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: [], bytes: 4096, below: 0x101000) == 0x100000)
        // The placed bitmap, once reserved, is never handed out.
        let placed = FrameAllocator.placeBitmap(memoryMap: qemuMap, reserved: [kernelImage], bytes: bytes)!
        let bitmap = Bitmap(bytes: bytes)
        let fa = bitmap.allocator(qemuMap, reserved: [kernelImage, PhysicalRange(start: placed, length: UInt64(bytes))])
        #expect(!fa.isFree(placed))
        #expect(fa.isFree(placed + 4096))
    }

    @Test func rangeArithmetic() {
        let a = normalizedRanges([
            PhysicalRange(start: 50, length: 10), PhysicalRange(start: 0, length: 10),
            PhysicalRange(start: 5, length: 10), PhysicalRange(start: 15, length: 5), PhysicalRange(start: 99, length: 0),
        ])
        #expect(a == [PhysicalRange(start: 0, end: 20), PhysicalRange(start: 50, end: 60)])
        let b = normalizedRanges([PhysicalRange(start: 5, end: 8), PhysicalRange(start: 18, end: 55)])
        #expect(subtractRanges(a, b) == [
            PhysicalRange(start: 0, end: 5), PhysicalRange(start: 8, end: 18), PhysicalRange(start: 55, end: 60),
        ])
        #expect(subtractRanges(a, []) == a)
        #expect(subtractRanges([], a) == [])
        #expect(PhysicalRange(start: UInt64.max - 1, length: 10).end == UInt64.max)
    }

    /// Random allocations and frees against a plain set of allocated frames.
    @Test(arguments: [1, 2, 3, 4, 5])
    func randomizedAgainstModel(seed: UInt64) throws {
        var rng = SplitMix(seed: seed)
        let map = [
            MemoryRegion(start: 0, length: 0x9fc00, kind: .usable),
            MemoryRegion(start: 0x100000, length: 0x80000, kind: .usable),
            MemoryRegion(start: 0x140000, length: 0x3000, kind: .reserved),
            MemoryRegion(start: 0x1a0000, length: 0x40000, kind: .usable),
        ]
        let reserved = [PhysicalRange(start: 0x100000, length: 0x8000), PhysicalRange(start: 0x1b0000, length: 0x1234)]
        let bitmap = Bitmap(bytes: FrameAllocator.bitmapBytes(highestAddress: 0x1e0000))
        var fa = bitmap.allocator(map, reserved: reserved)
        var allocatable = Set<UInt64>()
        for f in stride(from: UInt64(0), to: 0x200000, by: 4096) where fa.isFree(f) { allocatable.insert(f) }
        #expect(allocatable.count == fa.totalUsableCount)
        var allocated = Set<UInt64>()
        for _ in 0..<3000 {
            switch rng.next() % 6 {
            case 0, 1:
                if let f = fa.allocate() {
                    #expect(allocatable.contains(f) && !allocated.contains(f))
                    #expect(allocatable.subtracting(allocated).min() == f)
                    allocated.insert(f)
                } else {
                    #expect(allocated.count == allocatable.count)
                }
            case 2:
                let count = Int(rng.next() % 8) + 1
                let alignment = [1, 2, 4, 8][Int(rng.next() % 4)]
                if let f = fa.allocateContiguous(count: count, alignment: alignment) {
                    #expect((f / 4096) % UInt64(alignment) == 0)
                    for i in 0..<count {
                        let g = f + UInt64(i) * 4096
                        #expect(allocatable.contains(g) && !allocated.contains(g))
                        allocated.insert(g)
                    }
                }
            default:
                // Free something random: allocated, free, reserved, unaligned or out of range.
                let address: UInt64
                if !allocated.isEmpty && rng.next() % 2 == 0 {
                    address = allocated.randomElement(using: &rng)!
                } else {
                    address = (rng.next() % 0x220000) & (rng.next() % 8 == 0 ? ~0 : ~0xfff)
                }
                let count = rng.next() % 4 == 0 ? Int(rng.next() % 4) + 1 : 1
                let frames = (0..<count).map { address + UInt64($0) * 4096 }
                let valid = address % 4096 == 0 && frames.allSatisfy { allocated.contains($0) }
                do {
                    try fa.free(address, count: count)
                    #expect(valid)
                    for f in frames { allocated.remove(f) }
                } catch {
                    #expect(!valid)
                }
            }
            #expect(fa.freeCount == allocatable.count - allocated.count)
        }
        for f in allocatable { #expect(fa.isFree(f) == !allocated.contains(f)) }
    }
}

/// A small deterministic generator so failures reproduce (Core/SplitMix.swift).
typealias SplitMix = SplitMix64
extension SplitMix64: RandomNumberGenerator {}

/// `#require` for results of mutating calls (the macro cannot capture them).
func unwrap<T>(_ value: T?, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    try #require(value, sourceLocation: sourceLocation)
}

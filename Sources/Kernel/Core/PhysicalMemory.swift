// The physical memory manager's logic: which 4 KiB frames are free, kept in a bitmap whose storage the
// caller provides (in the kernel: frames chosen with `FrameAllocator.placeBitmap`).
//
// A frame is handed out only when it lies fully inside usable memory, outside every non-usable region
// of the map (a conflict between regions counts as not usable), outside the reserved ranges (kernel image,
// boot modules, boot information, the bitmap itself) and at or above 1 MiB. Frees are checked: nothing
// that was not handed out can be freed, and a refused free leaves the state unchanged.

/// The size of one physical frame.
public let frameSize: UInt64 = 4096

/// What the firmware says a region of physical memory is.
public enum MemoryKind: Equatable, Sendable {
    case usable, reserved, acpiReclaimable, acpiNVS, bad

    /// The kind behind a multiboot memory map type (1 usable, 2 reserved, 3 ACPI reclaimable,
    /// 4 ACPI NVS, 5 bad); unknown types are reserved, as the specification asks.
    public init(multibootType: UInt32) {
        switch multibootType {
        case 1: self = .usable
        case 3: self = .acpiReclaimable
        case 4: self = .acpiNVS
        case 5: self = .bad
        default: self = .reserved
        }
    }
}

/// One entry of the firmware's memory map.
public struct MemoryRegion: Equatable, Sendable {
    public var start: UInt64
    public var length: UInt64
    public var kind: MemoryKind

    public init(start: UInt64, length: UInt64, kind: MemoryKind) {
        self.start = start
        self.length = length
        self.kind = kind
    }

    /// One past the last byte, saturated at the top of the address space.
    public var end: UInt64 { saturatingAdd(start, length) }
}

/// A range of physical addresses [start, start + length).
public struct PhysicalRange: Equatable, Sendable {
    public var start: UInt64
    public var length: UInt64

    public init(start: UInt64, length: UInt64) {
        self.start = start
        self.length = length
    }

    /// A range from its first address and one past its last (empty when end <= start).
    public init(start: UInt64, end: UInt64) {
        self.start = start
        self.length = end > start ? end - start : 0
    }

    /// One past the last byte, saturated at the top of the address space.
    public var end: UInt64 { saturatingAdd(start, length) }
}

/// Why a free was refused.
public enum FrameError: Error, Equatable, Sendable {
    /// The address is not a multiple of the frame size.
    case unaligned
    /// The count is zero or negative.
    case invalidCount
    /// The frames lie (partly) beyond the memory the allocator manages.
    case outOfRange
    /// The frames include one that is never handed out (reserved, not usable, below 1 MiB).
    case reserved
    /// The frames include one that is free already (a double free).
    case notAllocated
}

func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? UInt64.max : sum
}

func alignDown(_ value: UInt64, _ alignment: UInt64) -> UInt64 { value - value % alignment }

/// Rounds up, saturating to the highest multiple of the alignment.
func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    let rest = value % alignment
    if rest == 0 { return value }
    let (up, overflow) = value.addingReportingOverflow(alignment - rest)
    return overflow ? alignDown(UInt64.max, alignment) : up
}

/// Sorted, disjoint, non-adjacent ranges: the union of the input.
func normalizedRanges(_ input: [PhysicalRange]) -> [PhysicalRange] {
    var ranges: [PhysicalRange] = []
    for r in input where r.length > 0 { ranges.append(r) }
    ranges.sort { $0.start < $1.start }
    var merged: [PhysicalRange] = []
    for r in ranges {
        if let last = merged.last, r.start <= last.end {
            if r.end > last.end { merged[merged.count - 1] = PhysicalRange(start: last.start, end: r.end) }
        } else {
            merged.append(PhysicalRange(start: r.start, end: r.end))
        }
    }
    return merged
}

/// `a` minus `b`, both normalized; the result is normalized.
func subtractRanges(_ a: [PhysicalRange], _ b: [PhysicalRange]) -> [PhysicalRange] {
    var result: [PhysicalRange] = []
    var j = 0
    for r in a {
        var cursor = r.start
        let end = r.end
        // Skip holes entirely before this range.
        while j < b.count && b[j].end <= cursor { j += 1 }
        var k = j
        while k < b.count && b[k].start < end {
            if b[k].start > cursor { result.append(PhysicalRange(start: cursor, end: b[k].start)) }
            if b[k].end > cursor { cursor = b[k].end }
            k += 1
        }
        if cursor < end { result.append(PhysicalRange(start: cursor, end: end)) }
    }
    return result
}

public struct FrameAllocator {
    /// Frames below this address are never handed out (real-mode structures, BIOS, legacy devices).
    public static let lowMemoryLimit: UInt64 = 0x10_0000

    let words: UnsafeMutablePointer<UInt64>
    let wordCount: Int
    /// The frames that can ever be handed out: sorted, disjoint, frame-aligned.
    let allocatable: [PhysicalRange]
    /// The lowest word that may hold a free bit.
    var hint = 0
    /// The highest word that may hold a free bit (-1 when none does).
    var highHint = -1
    public private(set) var freeCount = 0
    public let totalUsableCount: Int

    /// Bytes of bitmap needed to track every frame below `highestAddress` (a multiple of 8).
    public static func bitmapBytes(highestAddress: UInt64) -> Int {
        let frames = highestAddress / frameSize + (highestAddress % frameSize == 0 ? 0 : 1)
        let words = frames / 64 + (frames % 64 == 0 ? 0 : 1)
        return Int(truncatingIfNeeded: words * 8)
    }

    /// One past the last byte of usable memory in the map (0 when there is none).
    public static func highestUsableAddress(_ memoryMap: [MemoryRegion]) -> UInt64 {
        var highest: UInt64 = 0
        for region in memoryMap where region.kind == .usable && region.end > highest { highest = region.end }
        return highest
    }

    /// The usable frames of the map, minus non-usable regions, reserved ranges and the first 1 MiB.
    public static func allocatableRanges(memoryMap: [MemoryRegion], reserved: [PhysicalRange]) -> [PhysicalRange] {
        var usable: [PhysicalRange] = []
        var holes: [PhysicalRange] = [PhysicalRange(start: 0, length: lowMemoryLimit)]
        for region in memoryMap where region.length > 0 {
            if region.kind == .usable {
                // Only whole frames inside the region.
                let start = alignUp(region.start, frameSize), end = alignDown(region.end, frameSize)
                if start < end { usable.append(PhysicalRange(start: start, end: end)) }
            } else {
                holes.append(PhysicalRange(start: alignDown(region.start, frameSize), end: alignUp(region.end, frameSize)))
            }
        }
        for r in reserved where r.length > 0 {
            holes.append(PhysicalRange(start: alignDown(r.start, frameSize), end: alignUp(r.end, frameSize)))
        }
        return subtractRanges(normalizedRanges(usable), normalizedRanges(holes))
    }

    /// A page-aligned physical address for `bytes` of bitmap: the lowest allocatable spot that fits,
    /// ending at or below `limit` (e.g. the end of what the kernel has mapped). Nil when none fits.
    public static func placeBitmap(memoryMap: [MemoryRegion], reserved: [PhysicalRange], bytes: Int,
                                   below limit: UInt64 = UInt64.max) -> UInt64? {
        guard bytes > 0 else { return nil }
        let needed = alignUp(UInt64(bytes), frameSize)
        for r in allocatableRanges(memoryMap: memoryMap, reserved: reserved) where r.length >= needed {
            if r.start <= limit && needed <= limit - r.start { return r.start }
        }
        return nil
    }

    /// An allocator over `bitmapBytes` bytes at `bitmap` (8-byte aligned, owned by the caller for the
    /// allocator's whole life). Frames beyond what the bitmap covers are never handed out.
    public init(bitmap: UnsafeMutableRawPointer, bitmapBytes: Int, memoryMap: [MemoryRegion], reserved: [PhysicalRange]) {
        // Capped at 2^40 words (2^58 bytes of physical memory, past x86's 52 bits) so no count overflows.
        wordCount = min(max(0, bitmapBytes / 8), 1 << 40)
        words = bitmap.bindMemory(to: UInt64.self, capacity: wordCount)
        let covered = UInt64(wordCount) * 64 * frameSize
        var ranges: [PhysicalRange] = []
        var count = 0
        for r in FrameAllocator.allocatableRanges(memoryMap: memoryMap, reserved: reserved) where r.start < covered {
            let clipped = PhysicalRange(start: r.start, end: min(r.end, covered))
            ranges.append(clipped)
            count += Int(clipped.length / frameSize)
        }
        allocatable = ranges
        totalUsableCount = count
        freeCount = count
        // Everything used, then the allocatable frames free.
        setBits(0, wordCount * 64, used: true)
        for r in ranges { setBits(Int(r.start / frameSize), Int(r.length / frameSize), used: false) }
        highHint = wordCount - 1
    }

    /// Every frame the bitmap covers, free or not.
    var coveredFrames: Int { wordCount * 64 }

    func bit(_ frame: Int) -> Bool { words[frame / 64] & (UInt64(1) << UInt64(frame % 64)) != 0 }

    /// Marks frames [first, first + count) used or free, whole words at a time where possible.
    func setBits(_ first: Int, _ count: Int, used: Bool) {
        var frame = first
        let end = first + count
        while frame < end {
            if frame % 64 == 0 && end - frame >= 64 {
                words[frame / 64] = used ? UInt64.max : 0
                frame += 64
                continue
            }
            let mask = UInt64(1) << UInt64(frame % 64)
            if used { words[frame / 64] |= mask } else { words[frame / 64] &= ~mask }
            frame += 1
        }
    }

    /// True when the frame holding `address` is free.
    public func isFree(_ address: UInt64) -> Bool {
        let frame = address / frameSize
        guard frame < UInt64(coveredFrames) else { return false }
        return !bit(Int(frame))
    }

    /// One free frame's physical address, now allocated; nil when memory is exhausted.
    public mutating func allocate() -> UInt64? {
        var i = hint
        while i < wordCount {
            let word = words[i]
            if word != UInt64.max {
                let bitIndex = (~word).trailingZeroBitCount
                words[i] = word | (UInt64(1) << UInt64(bitIndex))
                freeCount -= 1
                hint = i
                return UInt64(i * 64 + bitIndex) * frameSize
            }
            i += 1
        }
        hint = wordCount
        return nil
    }

    /// One free frame's physical address taken from the top of memory, now allocated; nil when memory
    /// is exhausted. User pages come from here and the kernel's from the bottom (`allocate`), so the
    /// kernel keeps low memory and user pages use memory above 4 GiB first.
    public mutating func allocateHigh() -> UInt64? {
        var i = min(highHint, wordCount - 1)
        while i >= 0 {
            let word = words[i]
            if word != UInt64.max {
                let bitIndex = 63 - (~word).leadingZeroBitCount
                words[i] = word | (UInt64(1) << UInt64(bitIndex))
                freeCount -= 1
                highHint = i
                return UInt64(i * 64 + bitIndex) * frameSize
            }
            i -= 1
        }
        highHint = -1
        return nil
    }

    /// How many frames at or above `address` are free.
    public func freeCount(atOrAbove address: UInt64) -> Int {
        let first = address / frameSize
        guard first < UInt64(coveredFrames) else { return 0 }
        var frame = Int(first)
        var free = 0
        while frame % 64 != 0 { if !bit(frame) { free += 1 }; frame += 1 }
        while frame < coveredFrames { free += (~words[frame / 64]).nonzeroBitCount; frame += 64 }
        return free
    }

    /// The first used frame in [from, to), or nil when all are free; skips whole words.
    func firstUsed(from: Int, to: Int) -> Int? {
        var frame = from
        while frame < to {
            if frame % 64 == 0 && frame + 64 <= to && words[frame / 64] == 0 {
                frame += 64
                continue
            }
            if bit(frame) { return frame }
            frame += 1
        }
        return nil
    }

    /// `count` free frames in a row, the first at a multiple of `alignment` frames; returns the first
    /// frame's address, or nil when no such run exists (or the arguments are not positive).
    public mutating func allocateContiguous(count: Int, alignment: Int = 1) -> UInt64? {
        guard count > 0, alignment > 0, count <= freeCount else { return nil }
        let total = coveredFrames
        var candidate = roundUp(hint * 64, alignment)
        while candidate <= total - count {
            // Step over fully used words at once.
            if candidate % 64 == 0 && words[candidate / 64] == UInt64.max {
                candidate = roundUp(candidate + 64, alignment)
                continue
            }
            if let used = firstUsed(from: candidate, to: candidate + count) {
                candidate = roundUp(used + 1, alignment)
                continue
            }
            setBits(candidate, count, used: true)
            freeCount -= count
            return UInt64(candidate) * frameSize
        }
        return nil
    }

    func roundUp(_ value: Int, _ alignment: Int) -> Int {
        let rest = value % alignment
        return rest == 0 ? value : value + (alignment - rest)
    }

    /// True when [start, end) lies inside one range the allocator may hand out.
    func isAllocatable(_ start: UInt64, _ end: UInt64) -> Bool {
        for r in allocatable where r.start <= start && end <= r.end { return true }
        return false
    }

    /// Frees `count` frames starting at `address`. Refuses, changing nothing, an unaligned address, a
    /// bad count, frames beyond the managed memory, reserved frames and frames that are free already.
    public mutating func free(_ address: UInt64, count: Int = 1) throws(FrameError) {
        guard count > 0 else { throw .invalidCount }
        guard address % frameSize == 0 else { throw .unaligned }
        let first = address / frameSize
        let (last, overflow) = first.addingReportingOverflow(UInt64(count))
        guard !overflow, last <= UInt64(coveredFrames) else { throw .outOfRange }
        guard isAllocatable(address, last * frameSize) else { throw .reserved }
        let firstFrame = Int(first)
        for frame in firstFrame..<(firstFrame + count) where !bit(frame) { throw .notAllocated }
        setBits(firstFrame, count, used: false)
        freeCount += count
        if firstFrame / 64 < hint { hint = firstFrame / 64 }
        if (firstFrame + count - 1) / 64 > highHint { highHint = (firstFrame + count - 1) / 64 }
    }
}

// The mappings of one address space (Vmem): disjoint, page-aligned [start, start + length) ranges,
// each with a payload (in the kernel: the Frame, the offset into it and the flags).
//
// Kept as an array sorted by start and searched by bisection: lookups are O(log n), inserts and
// removals O(n) moves, which is cheap for the tens to hundreds of mappings a process has.

#if !KERNEL
import ABI
#endif

public struct MappingSet<Payload> {
    public typealias Mapping = (start: UInt64, length: UInt64, payload: Payload)

    struct Entry {
        var start: UInt64
        var length: UInt64
        var payload: Payload
        var end: UInt64 { start + length }
        var mapping: Mapping { (start, length, payload) }
    }

    /// Sorted by start, pairwise disjoint.
    var entries: [Entry] = []

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Every mapping, by address.
    public var all: [Mapping] {
        var result: [Mapping] = []
        result.reserveCapacity(entries.count)
        for e in entries { result.append(e.mapping) }
        return result
    }

    /// Calls `body` with every mapping, by address, without copying the set.
    public func forEach(_ body: (Mapping) -> Void) {
        for e in entries { body(e.mapping) }
    }

    /// The number of mappings that start at or below `address`: the insertion point of a mapping
    /// starting just above it; the mapping before it is the only one that can contain `address`.
    func partition(_ address: UInt64) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].start <= address { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The end of a page-aligned, non-empty range; the errors common to insert and remove.
    static func checkedEnd(start: UInt64, length: UInt64) throws(SysError) -> UInt64 {
        guard start % pageSize == 0, length % pageSize == 0 else { throw .misaligned }
        guard length > 0 else { throw .invalidArgument }
        let (end, overflow) = start.addingReportingOverflow(length)
        guard !overflow else { throw .badAddress }
        return end
    }

    public mutating func insert(start: UInt64, length: UInt64, payload: Payload) throws(SysError) {
        let end = try MappingSet.checkedEnd(start: start, length: length)
        let index = partition(start)
        if index > 0 && entries[index - 1].end > start { throw .overlapping }
        if index < entries.count && entries[index].start < end { throw .overlapping }
        entries.insert(Entry(start: start, length: length, payload: payload), at: index)
    }

    /// Removes the mappings inside [start, start + length) and returns them by address. The range must
    /// cover each mapping it touches completely (an exact match of one mapping is the usual case);
    /// .notMapped when it touches none or cuts one, and then nothing is removed.
    public mutating func remove(start: UInt64, length: UInt64) throws(SysError) -> [Mapping] {
        let end = try MappingSet.checkedEnd(start: start, length: length)
        var first = partition(start)
        if first > 0 && entries[first - 1].end > start {
            // A mapping begins before the range and reaches into it.
            guard entries[first - 1].start == start else { throw .notMapped }
            first -= 1
        }
        var last = first
        while last < entries.count && entries[last].start < end {
            guard entries[last].end <= end else { throw .notMapped }
            last += 1
        }
        guard last > first else { throw .notMapped }
        var removed: [Mapping] = []
        removed.reserveCapacity(last - first)
        for i in first..<last { removed.append(entries[i].mapping) }
        entries.removeSubrange(first..<last)
        return removed
    }

    /// The number of mappings that start below `address` (the index of the first starting at or above it).
    func lowerBound(_ address: UInt64) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].start < address { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The mappings that overlap [start, end), by address, uncut.
    public func overlapping(start: UInt64, end: UInt64) -> [Mapping] {
        var result: [Mapping] = []
        var index = max(partition(start) - 1, 0)
        while index < entries.count && entries[index].start < end {
            if entries[index].end > start { result.append(entries[index].mapping) }
            index += 1
        }
        return result
    }

    /// Cuts the mapping that contains `address` strictly inside it in two at `address`; the upper half's
    /// payload is `adjust(payload, address - start)` (for the kernel: the Frame offset moves on).
    public mutating func split(at address: UInt64, adjust: (Payload, UInt64) -> Payload) {
        let index = partition(address)
        guard index > 0 else { return }
        let e = entries[index - 1]
        guard e.start < address, address < e.end else { return }
        entries[index - 1].length = address - e.start
        entries.insert(Entry(start: address, length: e.end - address, payload: adjust(e.payload, address - e.start)),
                       at: index)
    }

    /// Removes every mapped page in [start, start + length), splitting the mappings the range cuts, and
    /// returns the pieces removed by address; .notMapped (and nothing changes) when no page is mapped there.
    public mutating func carve(start: UInt64, length: UInt64,
                               adjust: (Payload, UInt64) -> Payload) throws(SysError) -> [Mapping] {
        let end = try MappingSet.checkedEnd(start: start, length: length)
        guard !overlapping(start: start, end: end).isEmpty else { throw .notMapped }
        split(at: start, adjust: adjust)
        split(at: end, adjust: adjust)
        let first = lowerBound(start)
        var last = first
        while last < entries.count && entries[last].start < end { last += 1 }
        var removed: [Mapping] = []
        for i in first..<last { removed.append(entries[i].mapping) }
        entries.removeSubrange(first..<last)
        return removed
    }

    /// Applies `change` to the payload of every mapped page in [start, start + length), splitting the
    /// mappings the range cuts; .notMapped (and nothing changes) when no page is mapped there. Returns the
    /// pieces changed (their new payloads).
    @discardableResult
    public mutating func update(start: UInt64, length: UInt64, adjust: (Payload, UInt64) -> Payload,
                                change: (inout Payload) -> Void) throws(SysError) -> [Mapping] {
        let end = try MappingSet.checkedEnd(start: start, length: length)
        guard !overlapping(start: start, end: end).isEmpty else { throw .notMapped }
        split(at: start, adjust: adjust)
        split(at: end, adjust: adjust)
        var changed: [Mapping] = []
        var index = lowerBound(start)
        while index < entries.count && entries[index].start < end {
            change(&entries[index].payload)
            changed.append(entries[index].mapping)
            index += 1
        }
        return changed
    }

    public func find(containing address: UInt64) -> Mapping? {
        let index = partition(address)
        guard index > 0, address < entries[index - 1].end else { return nil }
        return entries[index - 1].mapping
    }

    /// The lowest page-aligned start of a free range of `length` bytes inside [lower, upper), for
    /// placing a mapping whose address the kernel chooses; nil when no gap is large enough.
    public func firstFree(length: UInt64, from lower: UInt64, to upper: UInt64) -> UInt64? {
        guard length > 0, length % pageSize == 0 else { return nil }
        var candidate = alignUp(lower, pageSize)
        // Mappings ending at or below the candidate do not matter; start with the one that may contain it.
        var index = max(partition(candidate) - 1, 0)
        while candidate <= upper, length <= upper - candidate {
            guard index < entries.count else { return candidate }
            let e = entries[index]
            if e.end <= candidate {
                index += 1
            } else if e.start >= candidate + length {
                return candidate
            } else {
                candidate = e.end
                index += 1
            }
        }
        return nil
    }

    /// Forgets every mapping (address-space teardown) and returns them by address.
    @discardableResult
    public mutating func removeAll() -> [Mapping] {
        let result = all
        entries.removeAll()
        return result
    }
}

// What a Resource covers (Zircon's resource model): the machine's Resource covers every I/O port,
// interrupt line and physical address; a narrowed one covers one range of one kind. Device objects are
// created only inside a Resource's range, and a Resource narrows only to a range inside its own. Also
// the check that keeps physical Frames off the RAM the kernel manages. Pure logic, host-tested
// (ResourceRangeTests).

#if !KERNEL
import ABI
#endif

/// A range of one kind, or the whole machine. Ranges are [base, base + size) and never wrap.
public struct ResourceRange: Equatable, Sendable {
    /// nil for the machine's Resource (every kind, every value below the kind's limit).
    public let kind: ResourceKind?
    public let base: UInt64
    public let size: UInt64

    /// The machine: every port, line and physical address.
    public static let machine = ResourceRange(kind: nil, base: 0, size: 0)

    init(kind: ResourceKind?, base: UInt64, size: UInt64) {
        self.kind = kind
        self.base = base
        self.size = size
    }

    /// Whether [base, base + size) of `kind` lies inside this range (size > 0, no wrap, below the
    /// kind's limit).
    public func covers(_ kind: ResourceKind, base: UInt64, size: UInt64) -> Bool {
        guard size > 0, base < kind.limit, size <= kind.limit - base else { return false }
        guard let own = self.kind else { return true }
        return own == kind && base >= self.base && base - self.base <= self.size && size <= self.size - (base - self.base)
    }

    /// The narrower range [base, base + size) of `kind`: .invalidArgument for size 0, .outOfRange when
    /// it is not inside this range or the kind's limit.
    public func narrowed(_ kind: ResourceKind, base: UInt64, size: UInt64) throws(SysError) -> ResourceRange {
        guard size > 0 else { throw .invalidArgument }
        guard covers(kind, base: base, size: size) else { throw .outOfRange }
        return ResourceRange(kind: kind, base: base, size: size)
    }
}

/// Physical ranges a Frame over device memory may not cover, and the ones it may cover read-only.
public enum PhysicalRanges {
    /// Whether [base, base + size) overlaps any region of `kind` in the memory map.
    public static func overlaps(_ base: UInt64, _ size: UInt64, _ map: [MemoryRegion], kind: MemoryKind) -> Bool {
        let end = base &+ size
        return map.contains { r in
            r.kind == kind && r.length > 0 && r.start < end && base < r.start &+ r.length
        }
    }

    /// Whether a device Frame over [base, base + size) is refused: it touches RAM (usable memory,
    /// which the kernel manages) or wraps.
    public static func touchesRAM(_ base: UInt64, _ size: UInt64, _ map: [MemoryRegion]) -> Bool {
        size == 0 || base > UInt64.max - size || overlaps(base, size, map, kind: .usable)
    }

    /// Whether the range touches ACPI tables or ACPI non-volatile memory: such a Frame is read-only.
    public static func touchesACPI(_ base: UInt64, _ size: UInt64, _ map: [MemoryRegion]) -> Bool {
        overlaps(base, size, map, kind: .acpiReclaimable) || overlaps(base, size, map, kind: .acpiNVS)
    }
}

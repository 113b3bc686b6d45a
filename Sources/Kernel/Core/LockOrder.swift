// The lock-order check (Sources/Kernel/LOCKS.md): every spinlock has a rank, and a CPU takes locks only
// in increasing rank and lets them go innermost first. `HeldLocks` is one CPU's record of the ranks it
// holds, kept in three words of its per-CPU block (no allocation: the heap's own lock is checked too);
// the kernel's SpinLock (Arch/SpinLock.swift) asks it before taking and before letting go, and panics
// with both locks' names on a violation.

/// What went wrong when taking or letting go of a lock.
public enum LockOrderViolation: Equatable, Sendable {
    /// Taking a rank at or below `held`, the innermost rank this CPU holds.
    case order(held: UInt8)
    /// More than HeldLocks.capacity locks at once.
    case tooDeep
    /// Letting go of a lock that is not the innermost one held (nil: none is held).
    case notInnermost(innermost: UInt8?)
}

/// The ranks one CPU holds, innermost last: up to 16, one byte each in two words.
public struct HeldLocks: Equatable, Sendable {
    public static var capacity: Int { 16 }
    public private(set) var count = 0
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    public init() {}

    /// The rank held at depth `i` (0 the outermost).
    public func rank(at i: Int) -> UInt8 {
        let word = i < 8 ? low : high
        return UInt8(truncatingIfNeeded: word >> UInt64((i % 8) * 8))
    }

    /// The innermost rank held, nil when none.
    public var innermost: UInt8? { count == 0 ? nil : rank(at: count - 1) }

    private mutating func set(_ i: Int, _ rank: UInt8) {
        let shift = UInt64((i % 8) * 8)
        let mask = ~(UInt64(0xFF) << shift)
        if i < 8 { low = (low & mask) | UInt64(rank) << shift } else { high = (high & mask) | UInt64(rank) << shift }
    }

    /// Records taking `rank`, or says why it must not be taken (nothing recorded then).
    public mutating func acquire(_ rank: UInt8) -> LockOrderViolation? {
        if let top = innermost, rank <= top { return .order(held: top) }
        guard count < HeldLocks.capacity else { return .tooDeep }
        set(count, rank)
        count += 1
        return nil
    }

    /// Records letting go of `rank`, or says why that is wrong (nothing changed then).
    public mutating func release(_ rank: UInt8) -> LockOrderViolation? {
        guard let top = innermost, top == rank else { return .notInnermost(innermost: innermost) }
        count -= 1
        set(count, 0)
        return nil
    }

    /// The three words kept in a per-CPU block, and back.
    public var words: (UInt64, UInt64, UInt64) { (UInt64(count), low, high) }
    public init(words: (UInt64, UInt64, UInt64)) {
        count = Int(min(words.0, UInt64(HeldLocks.capacity)))
        low = words.1
        high = words.2
    }
}

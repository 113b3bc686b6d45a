// Spinlocks between CPUs: ticket locks (FIFO, so no CPU starves), taken only with interrupts off, each
// with a rank from LOCKS.md. Every take and release goes through this CPU's lock-order record (Core's
// HeldLocks, in its per-CPU block): taking a rank at or below one held, or letting go of a lock that is
// not the innermost, panics naming both locks. The check is always on (a few instructions per take).
//
// Before PerCPU.initialize (early boot, one CPU) there is no per-CPU block: locks are then taken without
// the check.

#if !KERNEL
import ABI
#endif

/// The ranks of LOCKS.md that exist as SpinLocks today, and their names for reports.
enum LockRanks {
    static let console = LockRank(rank: 90, name: "Console.lock")
    /// Used by the in-kernel tests only.
    static let testOuter = LockRank(rank: 5, name: "test.outer")
    static let testInner = LockRank(rank: 95, name: "test.inner")

    static func name(of rank: UInt8) -> StaticString {
        if rank == KernelLock.rank.rank { return KernelLock.rank.name }
        if rank == console.rank { return console.name }
        if rank == testOuter.rank { return testOuter.name }
        if rank == testInner.rank { return testInner.name }
        return "(unnamed)"
    }
}

/// A lock's place in the order and its name.
struct LockRank {
    let rank: UInt8
    let name: StaticString
}

/// A ticket lock. The words live outside the object so that atomics reach them through a stable pointer.
final class SpinLock {
    let rank: LockRank
    /// [0] the next ticket handed out, [1] the ticket being served.
    private let words: UnsafeMutablePointer<UInt64>

    init(_ rank: LockRank) {
        self.rank = rank
        words = UnsafeMutablePointer<UInt64>.allocate(capacity: 2)
        words.initialize(repeating: 0, count: 2)
    }

    deinit { words.deallocate() }

    /// Takes the lock: interrupts must be off; the order is checked first.
    func lock() {
        if read_rflags() & (1 << 9) != 0 { kernelPanic("a spinlock taken with interrupts on") }
        LockCheck.acquire(rank)
        let ticket = atomic_fetch_add64(words, 1)
        while atomic_load64(words + 1) != ticket { cpu_pause() }
    }

    func unlock() {
        LockCheck.release(rank)
        atomic_store64(words + 1, atomic_load64(words + 1) &+ 1)
    }

    func withLock<R>(_ body: () -> R) -> R {
        lock()
        defer { unlock() }
        return body()
    }

    /// Whether some CPU holds it (tests, reports).
    var isLocked: Bool { atomic_load64(words) != atomic_load64(words + 1) }
}

/// This CPU's lock-order record, in its per-CPU block (PerCPU.Word.heldLocks...).
enum LockCheck {
    /// Set once the boot CPU's per-CPU block exists (an AP installs its own before it takes any lock).
    static var ready = false

    static var held: HeldLocks {
        get {
            let b = PerCPU.block
            return HeldLocks(words: (b[PerCPU.Word.heldCount], b[PerCPU.Word.heldLow], b[PerCPU.Word.heldHigh]))
        }
        set {
            let b = PerCPU.block, w = newValue.words
            b[PerCPU.Word.heldCount] = w.0
            b[PerCPU.Word.heldLow] = w.1
            b[PerCPU.Word.heldHigh] = w.2
        }
    }

    static func acquire(_ rank: LockRank) {
        guard ready else { return }
        var h = held
        if let v = h.acquire(rank.rank) { violation(v, rank, taking: true) }
        held = h
    }

    static func release(_ rank: LockRank) {
        guard ready else { return }
        var h = held
        if let v = h.release(rank.rank) { violation(v, rank, taking: false) }
        held = h
    }

    /// `lock order: taking Console.lock (rank 90) while holding test.inner (rank 95)`, then the panic.
    private static func violation(_ v: LockOrderViolation, _ rank: LockRank, taking: Bool) -> Never {
        Console.write("\nlock order: ")
        Console.write(taking ? "taking " : "letting go of ")
        Console.write(rank.name)
        Console.write(" (rank ")
        Console.writeDecimal(UInt64(rank.rank))
        switch v {
        case .order(let held), .notInnermost(innermost: .some(let held)):
            Console.write(taking ? ") while holding " : ") while the innermost lock is ")
            Console.write(LockRanks.name(of: held))
            Console.write(" (rank ")
            Console.writeDecimal(UInt64(held))
            Console.write(")\n")
        case .notInnermost(innermost: nil):
            Console.write(") while holding none\n")
        case .tooDeep:
            Console.write(") with 16 locks held\n")
        }
        kernelPanic("lock order violated")
    }
}

// The monotonic clock without a syscall: the kernel's time page (Sources/ABI/Syscalls.swift, TimePage),
// mapped read-only at TimePage.address in every process, gives the TSC's scale; `Clock.now()` reads the
// TSC and scales it with KernelCore's TimeScale (compiled into user programs), the same arithmetic the
// kernel's clock_get uses.

public enum Clock {
    /// Nanoseconds since boot, as clock_get would say. A consistent copy of the page's words: retried
    /// while the kernel's sequence count is odd (a rewrite in progress) or changed across the copy.
    public static func now() -> UInt64 {
        let (scale, _) = read()
        return scale.nanoseconds(user_read_tsc())
    }

    /// The TSC frequency in Hz the kernel measured.
    public static var tscFrequency: UInt64 { read().frequency }

    static func read() -> (scale: TimeScale, frequency: UInt64) {
        let words = UnsafePointer<UInt64>(bitPattern: UInt(TimePage.address))!
        while true {
            let before = atomic_load_acquire_u64(words + TimePage.sequence)
            if before & 1 != 0 { continue }
            let scale = TimeScale(base: atomic_load_acquire_u64(words + TimePage.base),
                                  offset: atomic_load_acquire_u64(words + TimePage.offset),
                                  multiplier: atomic_load_acquire_u64(words + TimePage.multiplier),
                                  shift: UInt32(truncatingIfNeeded: atomic_load_acquire_u64(words + TimePage.shift)))
            let frequency = atomic_load_acquire_u64(words + TimePage.frequency)
            if atomic_load_acquire_u64(words + TimePage.sequence) == before { return (scale, frequency) }
        }
    }
}

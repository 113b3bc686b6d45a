/// The kernel's monotonic clock: nanoseconds since the TSC was calibrated at boot (Time/TSC.swift), 0
/// before that.
///
/// This is the one seam every time user goes through (timeouts, `clock_get`, the time page): the TSC read
/// through a TimeScale (Core/TimeScale.swift), so its resolution is one TSC tick.
enum Clock {
    static func nanoseconds() -> UInt64 {
        TSC.ready ? TSC.scale.nanoseconds(read_tsc()) : 0
    }
}

extension TimePage {
    /// The page's physical address (0 until `initialize`); Vmem maps it into every address space.
    static private(set) var physical: UInt64 = 0

    /// Takes a zeroed page for the time page. Before the first Vmem is made.
    static func initialize() {
        guard let p = PMM.allocate(count: 1) else { kernelPanic("no memory for the time page") }
        zeroPage(p)
        physical = p
    }

    /// Writes the scale: sequence made odd, the words, sequence made even again (one CPU writes; the
    /// compiler barrier keeps the stores in this order, and x86 keeps stores in program order).
    static func publish(_ scale: TimeScale, frequency: UInt64) {
        guard physical != 0 else { return }
        let words = KernelMemory.virtual(physical: physical).assumingMemoryBound(to: UInt64.self)
        let sequence = words[TimePage.sequence]
        mmio_write64(UInt64(UInt(bitPattern: words)), sequence &+ 1)
        compiler_barrier()
        words[TimePage.base] = scale.base
        words[TimePage.offset] = scale.offset
        words[TimePage.multiplier] = scale.multiplier
        words[TimePage.shift] = UInt64(scale.shift)
        words[TimePage.frequency] = frequency
        compiler_barrier()
        mmio_write64(UInt64(UInt(bitPattern: words)), sequence &+ 2)
    }
}

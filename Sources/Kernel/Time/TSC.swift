// The TSC as the kernel's clock: invariant-TSC detection (CPUID 0x8000_0007 EDX[8]), its frequency from
// CPUID 0x15 (crystal ratio) or 0x16 (base MHz) when the CPU reports one that agrees with the reference
// clock within 1%, else measured against the reference (the HPET, else PIT channel 2) over 20 ms.
// Under TCG the TSC and the HPET both follow QEMU's clock, and under -icount both count instructions, so
// the measured frequency holds in either; no wall-time assumption is made.
// Guarded by: written once at boot (boot CPU), read-only afterwards.

#if !KERNEL
import ABI
#endif

enum TSC {
    static private(set) var frequency: UInt64 = 0
    static private(set) var invariant = false
    /// Where the frequency came from: "CPUID 0x15", "CPUID 0x16", "the HPET" or "the PIT".
    static private(set) var source: StaticString = "nothing"
    /// ns = scale.nanoseconds(rdtsc); zero nanoseconds at the moment of calibration.
    static private(set) var scale = TimeScale(base: 0, offset: 0, multiplier: 0, shift: 0)
    static private(set) var ready = false

    static let calibrationNanoseconds: UInt64 = 20_000_000

    static func initialize() {
        let maxExtended = cpuid_eax(0x8000_0000, 0)
        invariant = maxExtended >= 0x8000_0007 && cpuid_register(0x8000_0007, 0, 3) & (1 << 8) != 0
        let measured = measure()
        if let (f, name) = cpuidFrequency(), f.distance(to: measured).magnitude <= measured / 100 {
            (frequency, source) = (f, name)
        } else {
            (frequency, source) = (measured, HPET.present ? "the HPET" : "the PIT")
        }
        guard frequency > 0 else { kernelPanic("clock: the TSC does not advance") }
        scale = TimeScale(frequency: frequency, base: read_tsc())
        ready = true
    }

    /// The frequency CPUID reports, if any: leaf 0x15 (TSC = crystal * EBX / EAX, when ECX gives the
    /// crystal), else leaf 0x16 (base frequency in MHz).
    static func cpuidFrequency() -> (UInt64, StaticString)? {
        let maxLeaf = cpuid_eax(0, 0)
        if maxLeaf >= 0x15 {
            let a = UInt64(cpuid_register(0x15, 0, 0)), b = UInt64(cpuid_register(0x15, 0, 1))
            let crystal = UInt64(cpuid_register(0x15, 0, 2))
            if a != 0, b != 0, crystal != 0 { return (crystal * b / a, "CPUID 0x15") }
        }
        if maxLeaf >= 0x16 {
            let mhz = UInt64(cpuid_register(0x16, 0, 0) & 0xFFFF)
            if mhz != 0 { return (mhz * 1_000_000, "CPUID 0x16") }
        }
        return nil
    }

    /// TSC ticks per second measured against the HPET (else the PIT) over calibrationNanoseconds.
    static func measure() -> UInt64 {
        if HPET.present {
            let ticks = TimeScale.ticks(nanoseconds: calibrationNanoseconds, frequency: HPET.frequency)
            let window = TimeScale.ticks(nanoseconds: pairWindowNanoseconds, frequency: HPET.frequency)
            let (t0, h0) = pairedRead(read_tsc, reference: HPET.counter, window: window)
            var now = h0
            while now &- h0 < ticks { cpu_pause(); now = HPET.counter() }
            let (t1, h1) = pairedRead(read_tsc, reference: HPET.counter, window: window)
            return TimeScale.frequency(counterDelta: t1 &- t0, referenceDelta: h1 &- h0, referenceFrequency: HPET.frequency)
        }
        // The PIT's count takes three port accesses to read: the median of three measurements.
        let pitTicks = UInt16(TimeScale.ticks(nanoseconds: calibrationNanoseconds, frequency: PIT.frequency))
        var f: [UInt64] = []
        for _ in 0..<3 {
            let (tsc, pit) = PIT.measureTSC(pitTicks: pitTicks)
            f.append(TimeScale.frequency(counterDelta: tsc, referenceDelta: pit, referenceFrequency: PIT.frequency))
        }
        return f.sorted()[1]
    }

    /// Reads of a counter and a reference clock taken as one moment: the reference read before and after
    /// the counter, retried (up to 100 times) until the two are within `window` reference ticks, so that
    /// the virtual CPU being descheduled by the host between the reads (both go on counting) does not
    /// skew a calibration. The counter, and the reference's midpoint.
    static func pairedRead(_ counter: () -> UInt64, reference: () -> UInt64, window: UInt64) -> (UInt64, UInt64) {
        var best = (counter: UInt64(0), reference: UInt64(0), spread: UInt64.max)
        for _ in 0..<100 {
            let a = reference(), c = counter(), b = reference()
            if b &- a < best.spread { best = (c, a &+ (b &- a) / 2, b &- a) }
            if best.spread <= window { break }
        }
        return (best.counter, best.reference)
    }

    /// How close a paired read's two reference reads must be.
    static let pairWindowNanoseconds: UInt64 = 20_000

    /// The TSC value at `nanoseconds` on the clock (for TSC-deadline timers).
    static func counter(atNanoseconds ns: UInt64) -> UInt64 {
        let delta = ns > scale.offset ? ns - scale.offset : 0
        return scale.base &+ TimeScale.ticks(nanoseconds: delta, frequency: frequency)
    }
}

import Testing
@testable import KernelCore

@Suite struct TimeScaleTests {
    static let hundredYears: UInt64 = 100 * 365 * 86_400 * 1_000_000_000

    @Test(arguments: [UInt64(1_000_000_000), 2_999_999_999, 3_700_000_000, 14_318_180, 100_000_000, 1_193_182])
    func hundredYearsOfTicksDoNotOverflow(frequency: UInt64) {
        let scale = TimeScale(frequency: frequency)
        let ticks = TimeScale.ticks(nanoseconds: Self.hundredYears, frequency: frequency)
        let ns = scale.nanoseconds(ticks)
        // Off by at most the multiplier's rounding (< 10^-9 relative) plus one tick.
        let tolerance = Self.hundredYears / 1_000_000_000 + 1_000_000_000 / frequency + 1
        #expect(ns.distance(to: Self.hundredYears).magnitude <= tolerance, "\(frequency) Hz: \(ns)")
    }

    @Test func oneSecondIsOneSecond() {
        for f: UInt64 in [1_000_000_000, 2_500_000_000, 3_192_000_000, 100_000_000] {
            let s = TimeScale(frequency: f, base: 1234, offset: 5)
            #expect(s.nanoseconds(1234) == 5)
            // The fraction of a nanosecond is cut off: one second reads 1 ns short at most.
            #expect((1_000_000_004...1_000_000_005).contains(s.nanoseconds(1234 + f)))
            #expect((1_000_004...1_000_005).contains(s.nanoseconds(1234 + f / 1000)))
            #expect(s.nanoseconds(0) == 5)           // before the base: the offset, never a wrap
        }
    }

    @Test func oneGigahertzIsAnExactShift() {
        let s = TimeScale(frequency: 1_000_000_000)
        #expect(s.multiplier == 1 << 32 && s.shift == 32)
        #expect(s.nanoseconds(UInt64.max / 2) == UInt64.max / 2)
    }

    @Test func scaledSaturatesInsteadOfWrapping() {
        #expect(TimeScale.scaled(UInt64.max, 1 << 40, 32) == UInt64.max)
        #expect(TimeScale.scaled(1 << 40, 1 << 32, 32) == 1 << 40)
        #expect(TimeScale.scaled(3, 5, 0) == 15)
        #expect(TimeScale.ticks(nanoseconds: UInt64.max, frequency: UInt64.max) == UInt64.max)
    }

    @Test func ticksRoundUp() {
        #expect(TimeScale.ticks(nanoseconds: 1, frequency: 1_000_000) == 1)
        #expect(TimeScale.ticks(nanoseconds: 1000, frequency: 1_000_000) == 1)
        #expect(TimeScale.ticks(nanoseconds: 1001, frequency: 1_000_000) == 2)
        #expect(TimeScale.ticks(nanoseconds: 10_000_000, frequency: 3_000_000_000) == 30_000_000)
        #expect(TimeScale.ticks(nanoseconds: 0, frequency: 3_000_000_000) == 0)
    }

    @Test func divisionMatchesTheStandardLibrary() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let d = max(UInt64.random(in: 1...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng), 1)
            let high = d == 1 ? 0 : UInt64.random(in: 0..<d, using: &rng)
            let low = UInt64.random(in: 0...UInt64.max, using: &rng)
            let expected = d.dividingFullWidth((high, low))
            let got = TimeScale.divide((high, low), by: d)
            #expect(got.quotient == expected.quotient && got.remainder == expected.remainder, "\(high):\(low) / \(d)")
        }
        #expect(TimeScale.divide((UInt64.max - 1, UInt64.max), by: UInt64.max) == (UInt64.max, UInt64.max - 1))
    }

    @Test func frequencyFromAReference() {
        // The HPET of QEMU runs at 100 MHz; a 2.5 GHz TSC advances 25 times as fast.
        #expect(TimeScale.frequency(counterDelta: 25_000_000, referenceDelta: 1_000_000, referenceFrequency: 100_000_000) == 2_500_000_000)
        #expect(TimeScale.frequency(counterDelta: 1 << 62, referenceDelta: 1, referenceFrequency: 1 << 10) == UInt64.max)
        #expect(TimeScale.frequency(counterDelta: 5, referenceDelta: 0, referenceFrequency: 1) == 0)
    }
}

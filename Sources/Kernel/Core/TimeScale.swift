// Counter ticks <-> nanoseconds: the arithmetic of the kernel's TSC clock, of the time page userspace
// reads, and of turning a deadline into a timer count.
//
// ns = offset + ((counter - base) * multiplier) >> shift, with a 64x64 -> 128-bit multiply, so nothing
// overflows for any uptime whose nanoseconds fit in 64 bits (584 years). The multiplier is
// 10^9 * 2^shift / frequency, rounded; with shift 32 its relative error is at most
// frequency / (2 * 10^9 * 2^32): below 10^-9 for any counter up to 8 GHz.
// Also compiled into user programs (the Runtime's Clock reads the time page with it).

public struct TimeScale: Equatable, Sendable {
    /// Counter value at which the scale starts.
    public var base: UInt64
    /// Nanoseconds at `base`.
    public var offset: UInt64
    public var multiplier: UInt64
    public var shift: UInt32

    public static let defaultShift: UInt32 = 32

    public init(base: UInt64, offset: UInt64, multiplier: UInt64, shift: UInt32) {
        self.base = base
        self.offset = offset
        self.multiplier = multiplier
        self.shift = shift
    }

    /// The scale of a counter running at `frequency` Hz (> 0), reading `base` at `offset` ns.
    public init(frequency: UInt64, base: UInt64 = 0, offset: UInt64 = 0) {
        // 10^9 << 32 < 2^62, so the multiplier needs no more than 64 bits for any frequency >= 1 Hz.
        let shift = TimeScale.defaultShift
        let f = max(frequency, 1)
        let q = ((UInt64(1_000_000_000) << shift) + f / 2) / f
        self.init(base: base, offset: offset, multiplier: q, shift: shift)
    }

    /// Nanoseconds at counter value `counter` (a counter before `base` reads as `offset`).
    public func nanoseconds(_ counter: UInt64) -> UInt64 {
        let delta = counter >= base ? counter - base : 0
        return offset &+ TimeScale.scaled(delta, multiplier, shift)
    }

    /// (value * multiplier) >> shift through 128 bits, saturating at UInt64.max.
    public static func scaled(_ value: UInt64, _ multiplier: UInt64, _ shift: UInt32) -> UInt64 {
        let (high, low) = value.multipliedFullWidth(by: multiplier)
        if shift == 0 { return high == 0 ? low : UInt64.max }
        guard high >> shift == 0 else { return UInt64.max }
        return (high << (64 - shift)) | (low >> shift)
    }

    /// Counter ticks in `nanoseconds` ns at `frequency` Hz: nanoseconds * frequency / 10^9 through 128 bits,
    /// rounded up (a timer armed for that many ticks never fires early), saturating at UInt64.max.
    public static func ticks(nanoseconds: UInt64, frequency: UInt64) -> UInt64 {
        let product = nanoseconds.multipliedFullWidth(by: frequency)
        let billion: UInt64 = 1_000_000_000
        guard product.high < billion else { return UInt64.max }
        let (q, r) = divide(product, by: billion)
        return r == 0 ? q : q &+ 1
    }

    /// A 128-bit value divided by `divisor` (> high, so the quotient fits in 64 bits), by shift and
    /// subtract: the freestanding kernel has no compiler runtime for dividingFullWidth (__udivti3).
    public static func divide(_ value: (high: UInt64, low: UInt64), by divisor: UInt64) -> (quotient: UInt64, remainder: UInt64) {
        var remainder = value.high, quotient: UInt64 = 0
        for bit in stride(from: 63, through: 0, by: -1) {
            let carry = remainder >> 63
            remainder = remainder << 1 | (value.low >> UInt64(bit)) & 1
            quotient <<= 1
            if carry != 0 || remainder >= divisor {
                remainder &-= divisor
                quotient |= 1
            }
        }
        return (quotient, remainder)
    }

    /// The frequency of a counter that advanced `counterDelta` while a reference of `referenceFrequency` Hz
    /// advanced `referenceDelta` (> 0): counterDelta * referenceFrequency / referenceDelta, through 128 bits.
    public static func frequency(counterDelta: UInt64, referenceDelta: UInt64, referenceFrequency: UInt64) -> UInt64 {
        guard referenceDelta > 0 else { return 0 }
        let product = counterDelta.multipliedFullWidth(by: referenceFrequency)
        guard product.high < referenceDelta else { return UInt64.max }
        return divide(product, by: referenceDelta).quotient
    }
}

// The fuzzer's only source of choices: splitmix64 from the seed, so that one seed replays the same
// sequence of calls on the main thread (helper threads and children get seeds drawn from it).

/// A seeded generator (splitmix64); every choice the fuzzer makes comes from one of these.
struct FuzzRandom {
    var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    /// The next 64 random bits.
    mutating func next() -> UInt64 { generator.next() }

    /// A value in 0..<bound (0 when bound is 0).
    mutating func below(_ bound: UInt64) -> UInt64 { generator.next(below: bound) }

    /// An index in 0..<count.
    mutating func index(_ count: Int) -> Int { Int(below(UInt64(count))) }

    /// True with probability percent/100.
    mutating func chance(_ percent: UInt64) -> Bool { below(100) < percent }

    /// One of the values.
    mutating func pick(_ values: [UInt64]) -> UInt64 { values[index(values.count)] }
}

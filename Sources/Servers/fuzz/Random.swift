// The fuzzer's only source of choices: splitmix64 from the seed, so that one seed replays the same
// sequence of calls on the main thread (helper threads and children get seeds drawn from it).

/// A seeded generator (splitmix64); every choice the fuzzer makes comes from one of these.
struct FuzzRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A value in 0..<bound (0 when bound is 0).
    mutating func below(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }

    /// An index in 0..<count.
    mutating func index(_ count: Int) -> Int { Int(below(UInt64(count))) }

    /// True with probability percent/100.
    mutating func chance(_ percent: UInt64) -> Bool { below(100) < percent }

    /// One of the values.
    mutating func pick(_ values: [UInt64]) -> UInt64 { values[index(values.count)] }
}

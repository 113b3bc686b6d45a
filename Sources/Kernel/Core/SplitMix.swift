// splitmix64: a small, fast mixer of a seed into a byte stream. It fills arc4random_buf in the kernel
// and in user programs (the Embedded Swift standard library seeds its hashing from it); not a source of
// secrets.

/// splitmix64 as a stream of numbers: the fuzzer's choices and the host tests' generated inputs.
public struct SplitMix64 {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A value in 0..<bound (0 when bound is 0).
    public mutating func next(below bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }
}

/// Fills `count` bytes at `buffer` from splitmix64 seeded with `seed` (the low byte of each number).
public func splitMixFill(_ buffer: UnsafeMutableRawPointer, count: Int, seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    for i in 0..<count {
        buffer.storeBytes(of: UInt8(truncatingIfNeeded: generator.next()), toByteOffset: i, as: UInt8.self)
    }
}

// splitmix64: a small, fast mixer of a seed into a byte stream. It fills arc4random_buf in the kernel
// and in user programs (the Embedded Swift standard library seeds its hashing from it); not a source of
// secrets.

/// Fills `count` bytes at `buffer` from splitmix64 seeded with `seed`.
public func splitMixFill(_ buffer: UnsafeMutableRawPointer, count: Int, seed: UInt64) {
    var state = seed
    for i in 0..<count {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        buffer.storeBytes(of: UInt8(truncatingIfNeeded: z), toByteOffset: i, as: UInt8.self)
    }
}

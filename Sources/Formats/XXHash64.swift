// xxHash64 (seed 0 by default): the content checksum of Zstandard frames keeps its low 32 bits.
// Written from the algorithm's published description; tested on the host through libzstd's frames.

private let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
private let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
private let prime3: UInt64 = 0x1656_67B1_9E37_79F9
private let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
private let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

@inline(__always) private func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

@inline(__always) private func round(_ acc: UInt64, _ lane: UInt64) -> UInt64 {
    rotl(acc &+ lane &* prime2, 31) &* prime1
}

@inline(__always) private func merge(_ h: UInt64, _ v: UInt64) -> UInt64 {
    (h ^ round(0, v)) &* prime1 &+ prime4
}

/// The 64-bit xxHash of `data`: 32-byte stripes into four lanes, then the 8-, 4- and 1-byte tail. Reads go
/// through the buffer's base pointer, each within `0..<count` by the loop conditions.
@_optimize(speed)
public func xxHash64(_ data: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
    let count = data.count
    guard let p = data.baseAddress else { return xxHash64Tail(seed &+ prime5, nil, 0, 0) }
    var i = 0
    @inline(__always) func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    var h: UInt64
    if count >= 32 {
        var v1 = seed &+ prime1 &+ prime2, v2 = seed &+ prime2, v3 = seed, v4 = seed &- prime1
        while i &+ 32 <= count {   // wrapping: i and count are byte counts of one buffer
            v1 = round(v1, u64(i)); v2 = round(v2, u64(i &+ 8)); v3 = round(v3, u64(i &+ 16)); v4 = round(v4, u64(i &+ 24))
            i &+= 32
        }
        h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
        h = merge(merge(merge(merge(h, v1), v2), v3), v4)
    } else {
        h = seed &+ prime5
    }
    return xxHash64Tail(h &+ UInt64(count), p, i, count)
}

/// The tail of xxHash64: the bytes `i..<count` of `p` into `h`, then the final mix.
@inline(__always) private func xxHash64Tail(_ start: UInt64, _ p: UnsafeRawPointer?, _ from: Int, _ count: Int) -> UInt64 {
    var h = start
    var i = from
    if let p {
        while i &+ 8 <= count {
            h = rotl(h ^ round(0, UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))), 27) &* prime1 &+ prime4
            i &+= 8
        }
        if i &+ 4 <= count {
            h = rotl(h ^ (UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self))) &* prime1), 23) &* prime2 &+ prime3
            i &+= 4
        }
        while i < count {
            h = rotl(h ^ (UInt64(p.load(fromByteOffset: i, as: UInt8.self)) &* prime5), 11) &* prime1
            i &+= 1
        }
    }
    h ^= h >> 33; h = h &* prime2
    h ^= h >> 29; h = h &* prime3
    h ^= h >> 32
    return h
}

// ChaCha20 (RFC 8439, section 2.3: the block function) and a generator on it for rngd and the Runtime's
// arc4random: fast key erasure (each fill computes its output from blocks 1..n of the current key and
// replaces the key with block 0's first 32 bytes, so a later compromise of the state does not reveal
// earlier output), and a reseed that mixes entropy into the key through the block function. Written
// from the RFC; tested on the host against its test vectors and Python's `cryptography`
// (Tests/FormatsTests/ChaCha20Tests.swift).

/// The ChaCha20 block function.
public enum ChaCha20 {
    /// "expand 32-byte k"
    static let constants: (UInt32, UInt32, UInt32, UInt32) = (0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574)

    @inline(__always) static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }

    @inline(__always)
    static func quarterRound(_ s: inout [UInt32], _ a: Int, _ b: Int, _ c: Int, _ d: Int) {
        s[a] = s[a] &+ s[b]; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = s[c] &+ s[d]; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = s[a] &+ s[b]; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = s[c] &+ s[d]; s[b] = rotl(s[b] ^ s[c], 7)
    }

    /// The 16 output words of one block: `key` 8 words, `nonce` 3 words (as the RFC reads them, little
    /// endian from the byte strings).
    public static func block(key: [UInt32], counter: UInt32, nonce: [UInt32]) -> [UInt32] {
        precondition(key.count == 8 && nonce.count == 3)
        var initial: [UInt32] = [constants.0, constants.1, constants.2, constants.3]
        initial += key
        initial.append(counter)
        initial += nonce
        var s = initial
        for _ in 0..<10 {
            quarterRound(&s, 0, 4, 8, 12); quarterRound(&s, 1, 5, 9, 13)
            quarterRound(&s, 2, 6, 10, 14); quarterRound(&s, 3, 7, 11, 15)
            quarterRound(&s, 0, 5, 10, 15); quarterRound(&s, 1, 6, 11, 12)
            quarterRound(&s, 2, 7, 8, 13); quarterRound(&s, 3, 4, 9, 14)
        }
        for i in 0..<16 { s[i] = s[i] &+ initial[i] }
        return s
    }

    /// The block's 64 bytes (each word little-endian), as the keystream.
    public static func blockBytes(key: [UInt32], counter: UInt32, nonce: [UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for w in block(key: key, counter: counter, nonce: nonce) {
            out.append(UInt8(truncatingIfNeeded: w)); out.append(UInt8(truncatingIfNeeded: w >> 8))
            out.append(UInt8(truncatingIfNeeded: w >> 16)); out.append(UInt8(truncatingIfNeeded: w >> 24))
        }
        return out
    }

    /// Little-endian words of `bytes` (a multiple of 4 long).
    public static func words(_ bytes: [UInt8]) -> [UInt32] {
        var w: [UInt32] = []
        var i = 0
        while i + 4 <= bytes.count {
            w.append(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            i += 4
        }
        return w
    }

    /// ChaCha20 encryption (RFC 8439 2.4): `data` XORed with the keystream from block `counter` on.
    public static func xor(_ data: [UInt8], key: [UInt32], counter: UInt32, nonce: [UInt32]) -> [UInt8] {
        var out = data
        var c = counter
        var i = 0
        while i < out.count {
            let stream = blockBytes(key: key, counter: c, nonce: nonce)
            for j in 0..<min(64, out.count - i) { out[i + j] ^= stream[j] }
            i += 64
            c &+= 1
        }
        return out
    }
}

/// A ChaCha20 generator with fast key erasure.
public struct ChaCha20Generator {
    private var key: [UInt32]
    /// Reseeds so far.
    public private(set) var reseeds: UInt64 = 0
    /// Largest fill in one call (blocks 1...n of one key; the 32-bit counter never wraps).
    public static let maxFill = 1 << 16

    /// A generator keyed with 32 bytes.
    public init(seed: [UInt8]) {
        precondition(seed.count == 32)
        key = ChaCha20.words(seed)
    }

    /// Mixes `entropy` (any length) into the key: per 32-byte chunk (the last zero-padded) the key
    /// XORed with the chunk, run through the block function with the reseed count as nonce, gives the
    /// new key.
    public mutating func reseed(_ entropy: [UInt8]) {
        var i = 0
        repeat {
            var chunk = Array(entropy[min(i, entropy.count)..<min(i + 32, entropy.count)])
            chunk += [UInt8](repeating: 0, count: 32 - chunk.count)
            let w = ChaCha20.words(chunk)
            var mixed = key
            for j in 0..<8 { mixed[j] ^= w[j] }
            reseeds &+= 1
            let out = ChaCha20.block(key: mixed, counter: 0,
                                     nonce: [0x6573_6572, UInt32(truncatingIfNeeded: reseeds), UInt32(truncatingIfNeeded: reseeds >> 32)])
            key = Array(out[0..<8])
            i += 32
        } while i < entropy.count
    }

    /// Fills `buffer` (at most maxFill bytes) and replaces the key.
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count <= ChaCha20Generator.maxFill)
        let nonce: [UInt32] = [0, 0, 0]
        var i = 0, counter: UInt32 = 1
        while i < buffer.count {
            let words = ChaCha20.block(key: key, counter: counter, nonce: nonce)
            var j = 0
            while j < 64 && i < buffer.count {
                buffer[i] = UInt8(truncatingIfNeeded: words[j >> 2] >> (UInt32(j & 3) * 8))
                i += 1
                j += 1
            }
            counter += 1
        }
        key = Array(ChaCha20.block(key: key, counter: 0, nonce: nonce)[0..<8])
    }

    /// `count` bytes (at most maxFill).
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}

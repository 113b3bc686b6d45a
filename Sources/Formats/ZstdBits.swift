// Bit readers for the Zstandard decoder (RFC 8878). FSE and Huffman streams are written forwards and read
// backwards: the last byte holds a 1-bit marker above its highest useful bit, and reading takes bits from
// the top of the stream down. FSE table descriptions are read forwards, lowest bit first. Both readers work
// on a bounds-checked view of the input and never trap: reading past the beginning of a backward stream
// yields zero bits and leaves `remaining` negative, which the callers treat as the stream's overflow.

/// A window into the input: `base` is the whole input, `lower..<upper` the bytes this reader may touch.
struct ByteView {
    let base: UnsafeRawBufferPointer
    let lower: Int
    let upper: Int

    var count: Int { upper - lower }

    /// Byte `i` of the view (0-based); the caller has checked `i < count`.
    @inline(__always) func byte(_ i: Int) -> UInt8 { base[lower + i] }

    /// Up to 8 bytes from `i` as a little-endian word; bytes past the view's end read as zero.
    @inline(__always) func word(at i: Int) -> UInt64 {
        if i + 8 <= count { return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: lower + i, as: UInt64.self)) }
        var value: UInt64 = 0
        var k = 0
        while i + k < count && k < 8 {
            value |= UInt64(base[lower + i + k]) << UInt64(8 * k)
            k += 1
        }
        return value
    }

    /// The sub-view `offset..<offset + length`, or nil when it does not fit.
    func slice(_ offset: Int, _ length: Int) -> ByteView? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        return ByteView(base: base, lower: lower + offset, upper: lower + offset + length)
    }
}

/// Reads a backward bit stream (FSE sequences, Huffman literals and weights).
struct BackwardBits {
    private let view: ByteView
    /// Unread bits: the next read takes bits `remaining - n ..< remaining`. Negative after an overflow.
    private(set) var remaining: Int

    /// Opens the stream; its last byte must be non-zero (it carries the start marker).
    init(_ view: ByteView) throws(ZstdError) {
        guard view.count > 0 else { throw .corrupt }
        let last = view.byte(view.count - 1)
        guard last != 0 else { throw .corrupt }
        self.view = view
        remaining = view.count * 8 - (last.leadingZeroBitCount + 1)
    }

    /// True once more bits were read than the stream holds.
    var overflowed: Bool { remaining < 0 }

    /// The next `n` bits (0...56) without consuming them; bits before the stream's start read as zero.
    @inline(__always) func peek(_ n: Int) -> UInt64 {
        if n == 0 { return 0 }
        let mask: UInt64 = (1 << UInt64(n)) &- 1
        let position = remaining - n
        if position >= 0 {
            return (view.word(at: position >> 3) >> UInt64(position & 7)) & mask
        }
        if remaining <= 0 { return 0 }
        // Fewer than n bits left: they become the high bits, zeros fill the low end.
        let have = view.word(at: 0) & ((1 << UInt64(remaining)) &- 1)
        return (have << UInt64(n - remaining)) & mask
    }

    /// Consumes `n` bits.
    @inline(__always) mutating func skip(_ n: Int) { remaining -= n }

    /// Reads `n` bits (0...56) as an unsigned value.
    @inline(__always) mutating func read(_ n: Int) -> UInt64 {
        let value = peek(n)
        remaining -= n
        return value
    }
}

/// Reads a forward bit stream, lowest bit of the first byte first (FSE table descriptions).
struct ForwardBits {
    private let view: ByteView
    /// Bits consumed so far.
    private(set) var position = 0

    init(_ view: ByteView) { self.view = view }

    /// Bytes touched so far, rounded up to whole bytes.
    var bytesUsed: Int { (position + 7) >> 3 }

    /// The next `n` bits (0...32) without consuming them; bits past the end read as zero.
    func peek(_ n: Int) -> UInt64 {
        if n == 0 { return 0 }
        return (view.word(at: position >> 3) >> UInt64(position & 7)) & ((1 << UInt64(n)) &- 1)
    }

    /// Consumes `n` bits; fails when that runs past the end of the view.
    mutating func skip(_ n: Int) throws(ZstdError) {
        position += n
        guard position <= view.count * 8 else { throw .truncated }
    }
}

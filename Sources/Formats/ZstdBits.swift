// Bit readers for the Zstandard decoder (RFC 8878). FSE and Huffman streams are written forwards and read
// backwards: the last byte holds a 1-bit marker above its highest useful bit, and reading takes bits from
// the top of the stream down. FSE table descriptions are read forwards, lowest bit first. Both readers work
// on a bounds-checked view of the input and never trap: reading past the beginning of a backward stream
// yields meaningless bits (still below 2^n for n bits) and leaves `remaining` negative, which the callers
// treat as the stream's overflow.

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

/// Reads a backward bit stream (FSE sequences, Huffman literals and weights) through a 64-bit container.
///
/// The container holds the 8 stream bytes at `low` (for a stream shorter than 8 bytes: all of it, the
/// missing high bytes counted as already consumed); reads take bits from its top down. `reload()` moves
/// the container down by the whole bytes consumed, so after it at least 57 bits are unread in the
/// container unless the stream's start is near. Hot loops call `reload()` themselves and then `take` at
/// most 57 bits before the next reload; `read` reloads first and suits everything else.
///
/// Why no read can trap or index out of range, whatever the input: a value taken is
/// `(container &<< consumed) &>> 1 &>> (63 - n)`, masked shifts that are always defined and give a value
/// below 2^n; callers index tables of 2^n entries (Huffman) or add it to an FSE baseline whose state
/// range `baseline + 2^bits` the table construction keeps within the table. Past the stream's start
/// (`consumed` above 64 with `low` at 0) the bits are meaningless but still below 2^n, and `remaining`
/// turns negative, which every caller checks before it trusts a value.
struct BackwardBits {
    /// The stream's first byte.
    private let start: UnsafeRawPointer
    /// Index of the container's lowest byte in the stream.
    private var low: Int
    /// The 8 bytes at `low`, little-endian.
    private var container: UInt64
    /// Bits already taken from the top of the container (more than 64 only after an overflow).
    private var consumed: Int

    /// Opens the stream; its last byte must be non-zero (it carries the start marker).
    init(_ view: ByteView) throws(ZstdError) {
        guard view.count > 0 else { throw .corrupt }
        let last = view.byte(view.count - 1)
        guard last != 0 else { throw .corrupt }
        start = view.base.baseAddress! + view.lower
        if view.count >= 8 {
            low = view.count - 8
            container = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: low, as: UInt64.self))
            consumed = last.leadingZeroBitCount + 1
        } else {
            low = 0
            container = view.word(at: 0)
            consumed = (8 - view.count) * 8 + last.leadingZeroBitCount + 1
        }
        reload()   // a last byte of 0x01 leaves 8 bits consumed: start with at most 7, as after any reload
    }

    /// Unread bits; negative after more bits were read than the stream holds.
    var remaining: Int { low &* 8 &+ 64 &- consumed }

    /// True once more bits were read than the stream holds.
    var overflowed: Bool { remaining < 0 }

    /// Refills the container: drops the whole bytes consumed (as far as the stream's start allows).
    @inline(__always) mutating func reload() {
        let back = min(consumed >> 3, low)
        if back > 0 {
            low &-= back
            consumed &-= back &<< 3
            container = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: low, as: UInt64.self))
        }
    }

    /// The next `n` bits (1...57) without consuming them; the caller reloaded since taking 57 - n bits.
    @inline(__always) func peek(_ n: Int) -> Int {
        Int(truncatingIfNeeded: (container &<< UInt64(truncatingIfNeeded: consumed)) &>> UInt64(truncatingIfNeeded: 64 - n))
    }

    /// Consumes `n` bits.
    @inline(__always) mutating func skip(_ n: Int) { consumed &+= n }

    /// Takes `n` bits (0...57) without reloading; the caller reloaded since taking 57 - n bits.
    @inline(__always) mutating func take(_ n: Int) -> Int {
        let value = ((container &<< UInt64(truncatingIfNeeded: consumed)) &>> 1) &>> UInt64(truncatingIfNeeded: 63 - n)
        consumed &+= n
        return Int(truncatingIfNeeded: value)
    }

    /// Reloads, then takes `n` bits (0...57).
    @inline(__always) mutating func read(_ n: Int) -> Int {
        reload()
        return take(n)
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

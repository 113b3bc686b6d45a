// The decoder's output and literals buffers: growable byte storage whose appends skip Array's per-call
// uniqueness and capacity bookkeeping. Callers check every length against the input and the output limit
// before they append; the buffer only grows. The wide copies of the sequence loop (8 bytes at a time,
// overshooting by up to 15 bytes) are here too.

final class ByteBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `extra` more bytes.
    @inline(__always) func reserve(_ extra: Int) {
        if extra > capacity - count { grow(to: count + extra) }
    }

    private func grow(to needed: Int) {
        var c = capacity
        while c < needed { c *= 2 }
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        UnsafeMutableRawPointer(fresh).copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = fresh
        capacity = c
    }

    func removeAll() { count = 0 }

    /// Counts `n` bytes the caller wrote past `count` after a `reserve(n)`.
    @inline(__always) func didAppend(_ n: Int) { count += n }

    @inline(__always) func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    /// Appends `n` bytes from `source` (which must not point into this buffer's storage).
    func append(_ source: UnsafeRawPointer, _ n: Int) {
        reserve(n)
        UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: n)
        count += n
    }

    /// Appends `n` copies of `byte`, 8 bytes per store (the stdlib's fill is a byte loop in the guest's
    /// -Osize build).
    func append(repeating byte: UInt8, _ n: Int) {
        reserve(n + 8)
        let word = UInt64(byte) &* 0x0101_0101_0101_0101
        let start = UnsafeMutableRawPointer(base + count)
        var i = 0
        while i < n {
            start.storeBytes(of: word, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        count += n
    }

    /// The bytes `from..<count` as a raw buffer.
    func bytes(from start: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + start, count: count - start)
    }

    /// A copy of the contents as an array (one memmove).
    var array: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: base, byteCount: count) }
            initialized = count
        }
    }
}

/// Spare bytes the sequence loop keeps past its output and literals: a wide copy may read and write up to
/// 15 bytes past its end.
let wideCopySlack = 32

/// Copies 8 bytes (unaligned).
@inline(__always) func copy8(_ destination: UnsafeMutablePointer<UInt8>, _ source: UnsafePointer<UInt8>) {
    UnsafeMutableRawPointer(destination).storeBytes(of: UnsafeRawPointer(source).loadUnaligned(as: UInt64.self), as: UInt64.self)
}

/// Copies `count` bytes 16 at a time, front to back, reading and writing up to 15 bytes past the end.
/// The source may lie before the destination if it starts at least 8 bytes before it: each 8-byte load
/// then reads only bytes already in place.
@inline(__always) func wideCopy(_ destination: UnsafeMutablePointer<UInt8>, _ source: UnsafePointer<UInt8>, _ count: Int) {
    var i = 0
    while i < count {
        copy8(destination + i, source + i)
        copy8(destination + (i &+ 8), source + (i &+ 8))
        i &+= 16
    }
}

/// Writes the `length` bytes of a match `offset` (≥ 1) bytes back, writing up to 15 bytes past the end.
/// The result repeats with period `offset`. From 8 bytes back on it is one wide copy; a shorter period is
/// first copied byte by byte until it spans `step` (the smallest multiple of `offset` that is at least
/// 8), after which every byte equals the one `step` back and 8-byte copies from there are exact.
@inline(__always) func copyMatch(_ destination: UnsafeMutablePointer<UInt8>, offset: Int, length: Int) {
    if offset >= 8 {
        wideCopy(destination, UnsafePointer(destination - offset), length)
        return
    }
    let step = offset * ((offset + 7) / offset)
    let head = min(length, step)
    var i = 0
    while i < head {
        destination[i] = destination[i &- offset]
        i &+= 1
    }
    while i < length {
        copy8(destination + i, UnsafePointer(destination + (i &- step)))
        i &+= 8
    }
}

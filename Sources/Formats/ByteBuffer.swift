// The decoder's output and literals buffers: growable byte storage whose appends skip Array's per-call
// uniqueness and capacity bookkeeping. Callers check every length against the input and the output limit
// before they append; the buffer only grows.

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
        fresh.update(from: base, count: count)
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

    func append(repeating byte: UInt8, _ n: Int) {
        reserve(n)
        (base + count).initialize(repeating: byte, count: n)
        count += n
    }

    /// Appends `length` bytes copied from `offset` bytes back (1 ≤ offset ≤ count). When the source
    /// overlaps the bytes being written the result repeats with period `offset`: it is copied in chunks
    /// that double, each from the start of the repeating pattern, so no chunk overlaps its source.
    func appendMatch(offset: Int, length: Int) {
        reserve(length)
        let destination = base + count
        let source = destination - offset
        if offset >= length {
            destination.update(from: source, count: length)
        } else {
            var copied = 0
            while copied < length {
                let chunk = min(offset + copied, length - copied)
                (destination + copied).update(from: source, count: chunk)
                copied += chunk
            }
        }
        count += length
    }

    /// The bytes `from..<count` as a raw buffer.
    func bytes(from start: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + start, count: count - start)
    }

    /// A copy of the contents as an array.
    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

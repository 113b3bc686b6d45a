// The zstd decoder's fast paths on their own: the 64-bit backward bit reader against a bit-by-bit
// reference (also past the stream's start, where values must stay below 2^n), the wide literal and match
// copies against byte-by-byte copies (every short period, and no write beyond the promised 15-byte
// overshoot), the word-wise fill, and random block contents behind valid headers (errors, never traps).

import Testing
@testable import Formats

/// Reads a backward stream one bit at a time, as RFC 8878 describes it; bits before the start read as 0.
struct ReferenceBackwardBits {
    let bytes: [UInt8]
    var remaining: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        remaining = bytes.count * 8 - (bytes.last!.leadingZeroBitCount + 1)
    }

    mutating func read(_ n: Int) -> Int {
        var value = 0
        for _ in 0..<n {
            remaining -= 1
            let bit = remaining >= 0 ? Int(bytes[remaining >> 3] >> UInt8(remaining & 7)) & 1 : 0
            value = value << 1 | bit
        }
        return value
    }
}

@Suite("zstd fast paths")
struct ZstdFastPathTests {
    @Test("the backward bit reader matches a bit-by-bit reader, and past the start stays below 2^n")
    func backwardBits() throws {
        var rng = Seeded(state: 0xb175)
        for round in 0..<3000 {
            let size = 1 + rng.below(round < 200 ? 9 : 40)
            var bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if bytes[size - 1] == 0 { bytes[size - 1] = 1 }
            var reference = ReferenceBackwardBits(bytes)
            try bytes.withUnsafeBytes { raw in
                var bits = try BackwardBits(ByteView(base: raw, lower: 0, upper: raw.count))
                #expect(bits.remaining == reference.remaining)
                var sinceReload = 0
                while reference.remaining > -64 {
                    let n = rng.below(26)
                    if sinceReload + n > 57 || rng.below(4) == 0 {
                        bits.reload()
                        sinceReload = 0
                    }
                    // With bits left, a read is exact (short reads end in zeros); with none, only its range counts.
                    let trusted = reference.remaining > 0 || n == 0
                    let expected = reference.read(n)
                    let got = bits.take(n)
                    sinceReload += n
                    #expect(got >= 0 && got < 1 << n, "a value of \(n) bits is below 2^\(n)")
                    if trusted { #expect(got == expected, "round \(round): \(n) bits") }
                    #expect(bits.remaining == reference.remaining)
                    #expect(bits.overflowed == (reference.remaining < 0))
                }
            }
        }
    }

    /// A buffer with room and a guard pattern after `used` bytes.
    static func guarded(_ used: Int) -> [UInt8] { [UInt8](repeating: 0xEE, count: used + 64) }

    @Test("match copies equal byte-by-byte copies for every period and write at most 15 bytes past the end")
    func matchCopies() {
        var rng = Seeded(state: 0xc0b1)
        for offset in 1...40 {
            for length in 0...100 {
                let prefix = (0..<offset).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                var fast = prefix + Self.guarded(length)
                var slow = fast
                for i in 0..<length { slow[offset + i] = slow[i] }
                fast.withUnsafeMutableBufferPointer { b in copyMatch(b.baseAddress! + offset, offset: offset, length: length) }
                #expect(Array(fast[..<(offset + length)]) == Array(slow[..<(offset + length)]), "offset \(offset) length \(length)")
                #expect(fast[(offset + length + 15)...].allSatisfy { $0 == 0xEE }, "offset \(offset) length \(length) wrote too far")
            }
        }
    }

    @Test("wide copies and fills write exactly the bytes asked for, with at most 15 bytes of overshoot")
    func wideCopiesAndFills() {
        var rng = Seeded(state: 0x1de)
        for length in 0...100 {
            let source = (0..<(length + 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var target = Self.guarded(length)
            source.withUnsafeBufferPointer { s in
                target.withUnsafeMutableBufferPointer { t in wideCopy(t.baseAddress!, s.baseAddress!, length) }
            }
            #expect(Array(target[..<length]) == Array(source[..<length]))
            #expect(target[(length + 15)...].allSatisfy { $0 == 0xEE })
            let buffer = ByteBuffer(capacity: 1)
            buffer.append(repeating: 0x5A, 3)
            buffer.append(repeating: 0xA5, length)
            #expect(buffer.array == [0x5A, 0x5A, 0x5A] + [UInt8](repeating: 0xA5, count: length))
        }
    }

    @Test("random compressed blocks behind valid headers end in an error or bytes, never a trap")
    func randomBlocks() {
        var rng = Seeded(state: 0xf00d)
        var errors = 0
        for _ in 0..<20_000 {
            let size = 1 + rng.below(300)
            // Frame header: magic, descriptor (single segment, 2-byte content size: 256 + value), size.
            var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x60, UInt8(truncatingIfNeeded: rng.below(256)), UInt8(truncatingIfNeeded: rng.below(256))]
            // One last compressed block of `size` bytes.
            let header = 1 | (2 << 1) | (size << 3)
            frame += [UInt8(header & 0xFF), UInt8((header >> 8) & 0xFF), UInt8(header >> 16)]
            var body = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Often a plausible literals header (raw, RLE or Huffman) so decoding reaches the sequences.
            if rng.below(2) == 0 { body[0] = UInt8(rng.below(4)) | UInt8(rng.below(4) << 2) | UInt8(truncatingIfNeeded: rng.below(4) << 4) }
            frame += body
            do { _ = try zstdDecompress(frame) } catch { errors += 1 }
        }
        #expect(errors > 15_000)
    }
}

// The Swift Zstandard decoder against libzstd: thousands of generated inputs compressed by libzstd at
// levels 1-19 (and with long-distance matching) must decode byte for byte; every truncation and a sample
// of bit flips of real frames must end in an error or, for a flip in a bit the format ignores, in the
// original content, never in a trap, a hang or different bytes.

import CZstd
import KernelCore
import Testing
@testable import Formats

/// A small deterministic generator (splitmix64, Core/SplitMix.swift) so every run tests the same inputs.
struct Seeded {
    var generator: SplitMix64
    init(state: UInt64) { generator = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func below(_ n: Int) -> Int { Int(generator.next(below: UInt64(n))) }
}

/// Kinds of content the generator makes.
enum Content: CaseIterable {
    case text, binary, random, repeats, runs

    func make(size: Int, _ rng: inout Seeded) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size)
        switch self {
        case .text:
            let words = ["the", "kernel", "maps", "a", "frame", "into", "every", "process", "handle", "rights",
                         "endpoint", "reply", "thread", "of", "and", "scheduler", "zstd", "Swift", "\n", "."]
            while out.count < size {
                out.append(contentsOf: Array(words[rng.below(words.count)].utf8))
                out.append(0x20)
            }
        case .binary:
            // Structured records: little counters, pointers, padding, like an ELF image.
            var counter: UInt64 = 0x400000
            while out.count < size {
                counter &+= UInt64(rng.below(64))
                for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: counter >> UInt64(8 * k))) }
                out.append(contentsOf: repeatElement(0, count: rng.below(12)))
                out.append(UInt8(rng.below(4)))
            }
        case .random:
            while out.count < size { out.append(UInt8(truncatingIfNeeded: rng.next())) }
        case .repeats:
            // A random block repeated at long distances, with a few changes.
            let unit = (0..<max(1, min(size, 1000 + rng.below(40_000)))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            while out.count < size {
                out.append(contentsOf: unit)
                if !out.isEmpty { out[rng.below(out.count)] ^= 0x5a }
            }
        case .runs:
            while out.count < size {
                out.append(contentsOf: repeatElement(UInt8(rng.below(3)), count: 1 + rng.below(300)))
            }
        }
        return Array(out.prefix(size))
    }
}

/// Compresses with libzstd, with the content checksum on; `long` turns on long-distance matching (window 8 MiB).
func compress(_ data: [UInt8], level: Int32, long: Bool = false, checksum: Bool = true) -> [UInt8] {
    let cctx = ZSTD_createCCtx()!
    defer { ZSTD_freeCCtx(cctx) }
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum ? 1 : 0)
    if long {
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 23)
    }
    var out = [UInt8](repeating: 0, count: ZSTD_compressBound(data.count))
    let n = out.withUnsafeMutableBytes { o in
        data.withUnsafeBytes { i in ZSTD_compress2(cctx, o.baseAddress, o.count, i.baseAddress, i.count) }
    }
    precondition(ZSTD_isError(n) == 0, "libzstd failed to compress")
    return Array(out.prefix(n))
}

/// libzstd's own verdict on a frame: its content, or nil for an error.
func referenceDecompress(_ frame: [UInt8], capacity: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: max(capacity, 1))
    let n = out.withUnsafeMutableBytes { o in
        frame.withUnsafeBytes { i in ZSTD_decompress(o.baseAddress, o.count, i.baseAddress, i.count) }
    }
    return ZSTD_isError(n) != 0 ? nil : Array(out.prefix(n))
}

@Suite("zstd decoder against libzstd")
struct ZstdTests {
    @Test("generated inputs at levels 1-19 decode byte for byte")
    func generatedInputs() throws {
        var rng = Seeded(state: 0x5eed)
        let sizes = [0, 1, 2, 3, 7, 31, 32, 100, 255, 256, 257, 1000, 1023, 1024, 1025, 4095, 4096, 16_383,
                     16_384, 65_535, 131_071, 131_072, 131_073, 200_000]
        var frames = 0
        for content in Content.allCases {
            for size in sizes {
                let data = content.make(size: size, &rng)
                // Large inputs at a few levels (level 19 is slow to compress); small ones at every level.
                let levels: [Int32] = size > 70_000 ? [1, 3, 9, 19] : Array(1...19)
                for level in levels {
                    let frame = compress(data, level: level)
                    let decoded = try zstdDecompress(frame)
                    #expect(decoded == data, "content \(content) size \(size) level \(level)")
                    frames += 1
                }
            }
        }
        // Many more short random-sized inputs at random levels.
        for _ in 0..<1500 {
            let content = Content.allCases[rng.below(Content.allCases.count)]
            let data = content.make(size: rng.below(6000), &rng)
            let level = Int32(1 + rng.below(19))
            #expect(try zstdDecompress(compress(data, level: level)) == data, "content \(content) level \(level)")
            frames += 1
        }
        #expect(frames > 3000)
    }

    @Test("long-distance matching with an 8 MiB window")
    func longMode() throws {
        var rng = Seeded(state: 0x1077)
        // 3 MiB: a random MiB, other content, then the first MiB again (a match 2 MiB back).
        let first = Content.random.make(size: 1 << 20, &rng)
        let data = first + Content.text.make(size: 1 << 20, &rng) + first
        for level: Int32 in [1, 9, 19] {
            let frame = compress(data, level: level, long: true)
            #expect(frame.count < data.count / 2, "long mode found the distant repeat")
            #expect(try zstdDecompress(frame) == data)
        }
    }

    @Test("frames without checksum, concatenated frames and skippable frames")
    func framing() throws {
        var rng = Seeded(state: 42)
        let a = Content.text.make(size: 5000, &rng), b = Content.binary.make(size: 7000, &rng)
        let skippable: [UInt8] = [0x53, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 9, 9, 9]
        let stream = compress(a, level: 3, checksum: false) + skippable + compress(b, level: 12)
        #expect(try zstdDecompress(stream) == a + b)
        #expect(throws: ZstdError.badMagic) { try zstdDecompress([1, 2, 3, 4, 5]) }
        #expect(try zstdDecompress([]) == [])
    }

    @Test("output limit refuses a frame that claims more than allowed")
    func outputLimit() throws {
        let frame = compress([UInt8](repeating: 7, count: 100_000), level: 3)
        #expect(throws: ZstdError.tooLarge) { try zstdDecompress(frame, maxOutput: 50_000) }
        #expect(try zstdDecompress(frame, maxOutput: 100_000).count == 100_000)
    }

    @Test("every truncation is an error")
    func truncations() {
        var rng = Seeded(state: 7)
        for content in Content.allCases {
            let data = content.make(size: 3000, &rng)
            let frame = compress(data, level: 19)
            for cut in 0..<frame.count {
                let prefix = Array(frame.prefix(cut))
                if cut == 0 { continue }   // the empty input is an empty stream
                #expect(throws: ZstdError.self, "cut at \(cut) of \(frame.count)") { try zstdDecompress(prefix) }
            }
        }
    }

    @Test("bit flips give an error or the original content, never other bytes")
    func bitFlips() {
        var rng = Seeded(state: 99)
        var errors = 0, harmless = 0
        for content in Content.allCases {
            for level: Int32 in [1, 7, 19] {
                let data = content.make(size: 8_000, &rng)
                let frame = compress(data, level: level)
                for _ in 0..<200 {
                    var flipped = frame
                    let bit = rng.below(frame.count * 8)
                    flipped[bit / 8] ^= UInt8(1 << (bit % 8))
                    do {
                        let out = try zstdDecompress(flipped)
                        #expect(out == data, "bit \(bit) of a \(content) frame at level \(level) decoded to other bytes")
                        harmless += 1
                    } catch {
                        errors += 1
                    }
                }
            }
        }
        #expect(errors > harmless)
    }

    @Test("predefined FSE tables match RFC 8878 appendix A")
    func predefinedTables() throws {
        let ll = try FSETable(distribution: PredefinedTables.literalLengths, accuracyLog: 6)
        let ml = try FSETable(distribution: PredefinedTables.matchLengths, accuracyLog: 6)
        let of = try FSETable(distribution: PredefinedTables.offsets, accuracyLog: 5)
        func row(_ t: FSETable, _ s: Int) -> [Int] { [Int(t.entries[s].symbol), Int(t.entries[s].bits), Int(t.entries[s].baseline)] }
        #expect(row(ll, 0) == [0, 4, 0]); #expect(row(ll, 2) == [1, 5, 32]); #expect(row(ll, 10) == [14, 6, 0])
        #expect(row(ll, 39) == [25, 4, 16]); #expect(row(ll, 63) == [32, 6, 0])
        #expect(row(ml, 0) == [0, 6, 0]); #expect(row(ml, 43) == [1, 4, 32]); #expect(row(ml, 57) == [52, 6, 0])
        #expect(row(of, 1) == [6, 4, 0]); #expect(row(of, 15) == [7, 4, 16]); #expect(row(of, 20) == [8, 4, 16])
    }

    @Test("xxHash64 of the empty input and through frame checksums")
    func xxhash() throws {
        #expect([UInt8]().withUnsafeBytes { xxHash64($0) } == 0xEF46_DB37_51D8_E999)
        // A frame whose stored checksum was altered is refused as a mismatch.
        var frame = compress(Array("checksummed content".utf8), level: 5)
        frame[frame.count - 1] ^= 1
        #expect(throws: ZstdError.checksumMismatch) { try zstdDecompress(frame) }
    }
}

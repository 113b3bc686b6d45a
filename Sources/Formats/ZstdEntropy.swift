// The entropy tables of the Zstandard decoder (RFC 8878 section 4): FSE decoding tables built from a
// normalized distribution (read from a table description, or one of the predefined ones), and the Huffman
// decoding table for literals built from symbol weights. Every count, accuracy and symbol read from the
// input is checked against the format's limits before it sizes or indexes anything.

/// One state of an FSE decoding table: the symbol it decodes, how to reach the next state, and what the
/// symbol means as a sequence code (`codes`): the value's base and how many extra bits follow it, so the
/// sequence loop needs no second table lookup.
struct FSEEntry {
    var symbol: UInt8 = 0
    var bits: UInt8 = 0
    /// Extra bits read after the code (0 for plain symbols).
    var extraBits: UInt8 = 0
    var baseline: UInt16 = 0
    /// The value's base before its extra bits (the symbol itself for plain symbols).
    var base: UInt32 = 0
}

/// What an FSE table's symbols stand for (RFC 8878 3.1.1.3.2.1): plain symbols (Huffman weights) or
/// literal-length, match-length and offset codes.
enum FSECodes {
    case symbols, literalLengths, matchLengths, offsets

    /// Baselines and extra-bit counts of the literal-length codes 0...35.
    static let literalLengthBase: [UInt32] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
    static let literalLengthBits: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    /// Baselines and extra-bit counts of the match-length codes 0...52.
    static let matchLengthBase: [UInt32] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
        19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
        35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539]
    static let matchLengthBits: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]

    /// The largest symbol a table of these codes may hold (offset codes: the reference decoder's limit).
    var maxSymbol: Int {
        switch self {
        case .symbols: 255
        case .literalLengths: 35
        case .matchLengths: 52
        case .offsets: 31
        }
    }

    /// Base and extra bits of `symbol`, which is at most `maxSymbol`.
    func meaning(of symbol: Int) -> (base: UInt32, extraBits: UInt8) {
        switch self {
        case .symbols: (UInt32(symbol), 0)
        case .literalLengths: (FSECodes.literalLengthBase[symbol], FSECodes.literalLengthBits[symbol])
        case .matchLengths: (FSECodes.matchLengthBase[symbol], FSECodes.matchLengthBits[symbol])
        case .offsets: (UInt32(1) << UInt32(symbol), UInt8(symbol))   // offset value = 2^code + code extra bits
        }
    }
}

/// An FSE decoding table of 2^accuracyLog states (accuracyLog 0 is the one-symbol table of RLE mode).
/// The entries live in memory the table owns (a class, so a block's sequence loop reads them through a
/// plain pointer: no Array bounds checks, copy-on-write or reference counting per sequence).
/// Immutable once built (the entries are written only in `init`), so sharing the predefined tables is safe.
final class FSETable: @unchecked Sendable {
    let accuracyLog: Int
    /// The 2^accuracyLog entries.
    let table: UnsafeMutablePointer<FSEEntry>
    let count: Int

    /// The entries, for reading (tests, table-driven decoding outside the hot loop).
    var entries: UnsafeBufferPointer<FSEEntry> { UnsafeBufferPointer(start: table, count: count) }

    /// A table that always decodes `symbol` and reads no bits (RLE mode); `symbol` ≤ `codes.maxSymbol`.
    static func rle(_ symbol: UInt8, codes: FSECodes = .symbols) -> FSETable {
        let (base, extra) = codes.meaning(of: Int(symbol))
        return FSETable(accuracyLog: 0, entries: [FSEEntry(symbol: symbol, bits: 0, extraBits: extra, baseline: 0, base: base)])
    }

    init(accuracyLog: Int, entries: [FSEEntry]) {
        self.accuracyLog = accuracyLog
        count = entries.count
        table = .allocate(capacity: max(entries.count, 1))
        for (i, e) in entries.enumerated() { (table + i).initialize(to: e) }
    }

    deinit { table.deallocate() }

    /// Builds the table for a normalized distribution whose entries add up to 2^accuracyLog (-1 counts as 1);
    /// the distribution has at most `codes.maxSymbol + 1` entries.
    ///
    /// Every state's next-state range stays inside the table: a symbol of probability p owns p states,
    /// numbered p..<2p in `next`; state s reads bits = accuracyLog - highbit(s) and its baseline is
    /// (s << bits) - size, so baseline + 2^bits = (s + 1) << bits - size ≤ 2 · 2^highbit(s) << bits - size
    /// = 2 · size - size = size. So `baseline + (any value below 2^bits)` indexes the table.
    @_optimize(speed)
    convenience init(distribution: [Int16], accuracyLog: Int, codes: FSECodes = .symbols) throws(ZstdError) {
        let size = 1 << accuracyLog
        var entries = [FSEEntry](repeating: FSEEntry(), count: size)
        var next = [Int](repeating: 0, count: distribution.count)
        var high = size - 1
        for (symbol, p) in distribution.enumerated() where p == -1 {
            entries[high].symbol = UInt8(truncatingIfNeeded: symbol)
            high -= 1
            next[symbol] = 1
        }
        let step = (size >> 1) + (size >> 3) + 3
        var position = 0
        for (symbol, p) in distribution.enumerated() where p > 0 {
            next[symbol] = Int(p)
            for _ in 0..<Int(p) {
                entries[position].symbol = UInt8(truncatingIfNeeded: symbol)
                repeat { position = (position + step) & (size - 1) } while position > high
            }
        }
        guard position == 0 else { throw .corrupt }   // the spread covers the table exactly once
        for i in 0..<size {
            let symbol = Int(entries[i].symbol)
            let state = next[symbol]
            next[symbol] += 1
            let bits = accuracyLog - (Int.bitWidth - 1 - state.leadingZeroBitCount)
            entries[i].bits = UInt8(bits)
            entries[i].baseline = UInt16((state << bits) - size)
            (entries[i].base, entries[i].extraBits) = codes.meaning(of: symbol)
        }
        self.init(accuracyLog: accuracyLog, entries: entries)
    }

    /// Reads a table description (RFC 8878 4.1.1) from the start of `view`; returns the table and the bytes used.
    @_optimize(speed)
    static func read(_ view: ByteView, maxAccuracyLog: Int, maxSymbol: Int, codes: FSECodes = .symbols) throws(ZstdError) -> (FSETable, Int) {
        var bits = ForwardBits(view)
        guard view.count > 0 else { throw .truncated }
        let accuracyLog = Int(bits.peek(4)) + 5
        try bits.skip(4)
        guard accuracyLog <= maxAccuracyLog else { throw .corrupt }
        let size = 1 << accuracyLog
        var distribution: [Int16] = []
        var allocated = 0
        while allocated < size {
            guard distribution.count <= maxSymbol else { throw .corrupt }
            let remaining = size - allocated + 1          // values 0...remaining can be read
            let width = Int.bitWidth - remaining.leadingZeroBitCount   // smallest T with 2^T > remaining
            let short = (1 << width) - 1 - remaining      // this many low values use width - 1 bits
            var value = Int(bits.peek(width - 1))
            if value < short {
                try bits.skip(width - 1)
            } else {
                value = Int(bits.peek(width))
                if value >= 1 << (width - 1) { value -= short }
                try bits.skip(width)
            }
            let probability = value - 1
            allocated += probability == -1 ? 1 : probability
            distribution.append(Int16(probability))
            if probability == 0 {
                while true {
                    let repeatCount = Int(bits.peek(2))
                    try bits.skip(2)
                    for _ in 0..<repeatCount { distribution.append(0) }
                    guard distribution.count <= maxSymbol + 1 else { throw .corrupt }
                    if repeatCount != 3 { break }
                }
            }
        }
        guard allocated == size, distribution.count <= maxSymbol + 1 else { throw .corrupt }
        guard distribution.filter({ $0 != 0 }).count >= 2 else { throw .corrupt }
        return (try FSETable(distribution: distribution, accuracyLog: accuracyLog, codes: codes), bits.bytesUsed)
    }
}

/// The predefined distributions (RFC 8878 3.1.1.3.2.2).
enum PredefinedTables {
    static let literalLengths: [Int16] = [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1]
    static let matchLengths: [Int16] = [1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
                                        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1]
    static let offsets: [Int16] = [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
                                   1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1]

    /// Their decoding tables, built once (the distributions are valid, so building cannot fail).
    static let literalLengthTable = try! FSETable(distribution: literalLengths, accuracyLog: 6, codes: .literalLengths)
    static let matchLengthTable = try! FSETable(distribution: matchLengths, accuracyLog: 6, codes: .matchLengths)
    static let offsetTable = try! FSETable(distribution: offsets, accuracyLog: 5, codes: .offsets)
}

/// One entry of the Huffman decoding table: indexed by the next `maxBits` bits of the stream.
struct HuffmanEntry {
    var symbol: UInt8 = 0
    var bits: UInt8 = 0
}

/// The Huffman decoding table for literals, built from the weights of a tree description.
struct HuffmanTable {
    var maxBits: Int
    var entries: [HuffmanEntry]

    /// Reads a Huffman tree description (RFC 8878 4.2.1) at the start of `view`; returns the table and the bytes used.
    static func read(_ view: ByteView) throws(ZstdError) -> (HuffmanTable, Int) {
        guard view.count > 0 else { throw .truncated }
        let header = Int(view.byte(0))
        var weights: [UInt8] = []
        let used: Int
        if header >= 128 {
            let count = header - 127
            let bytes = (count + 1) / 2
            guard bytes < view.count else { throw .truncated }
            for i in 0..<count {
                let b = view.byte(1 + i / 2)
                weights.append(i % 2 == 0 ? b >> 4 : b & 0x0f)
            }
            used = 1 + bytes
        } else {
            guard header > 0, let region = view.slice(1, header) else { throw .truncated }
            weights = try readCompressedWeights(region)
            used = 1 + header
        }
        return (try HuffmanTable(weights: weights), used)
    }

    /// FSE-compressed weights: one table, two interleaved states on one backward stream.
    @_optimize(speed)
    private static func readCompressedWeights(_ region: ByteView) throws(ZstdError) -> [UInt8] {
        let (table, descriptionSize) = try FSETable.read(region, maxAccuracyLog: 6, maxSymbol: 11)
        guard let stream = region.slice(descriptionSize, region.count - descriptionSize) else { throw .corrupt }
        var bits = try BackwardBits(stream)
        var states = (Int(bits.read(table.accuracyLog)), Int(bits.read(table.accuracyLog)))
        var weights: [UInt8] = []
        while true {
            let e1 = table.entries[states.0]
            weights.append(e1.symbol)
            states.0 = Int(e1.baseline) + Int(bits.read(Int(e1.bits)))
            if bits.overflowed { weights.append(table.entries[states.1].symbol); break }
            let e2 = table.entries[states.1]
            weights.append(e2.symbol)
            states.1 = Int(e2.baseline) + Int(bits.read(Int(e2.bits)))
            if bits.overflowed { weights.append(table.entries[states.0].symbol); break }
            guard weights.count <= 255 else { throw .corrupt }
        }
        guard weights.count <= 255 else { throw .corrupt }
        return weights
    }

    /// Builds the table: the last symbol's weight completes the total to a power of two.
    @_optimize(speed)
    init(weights given: [UInt8]) throws(ZstdError) {
        var total = 0
        for w in given {
            guard w <= 11 else { throw .corrupt }
            if w > 0 { total += 1 << (Int(w) - 1) }
        }
        guard total > 0, given.count < 256 else { throw .corrupt }
        let maxBits = Int.bitWidth - total.leadingZeroBitCount      // highbit(total) + 1
        guard maxBits <= 11 else { throw .corrupt }
        let leftover = (1 << maxBits) - total
        guard leftover & (leftover - 1) == 0 else { throw .corrupt }
        var weights = given
        weights.append(UInt8(Int.bitWidth - leftover.leadingZeroBitCount))   // log2(leftover) + 1
        guard weights.filter({ $0 > 0 }).count >= 2 else { throw .corrupt }
        self.maxBits = maxBits
        entries = [HuffmanEntry](repeating: HuffmanEntry(), count: 1 << maxBits)
        // Codes go out in order of increasing weight, symbols of one weight in natural order.
        var position = 0
        for weight in 1...maxBits {
            for (symbol, w) in weights.enumerated() where Int(w) == weight {
                let span = 1 << (weight - 1)
                let entry = HuffmanEntry(symbol: UInt8(truncatingIfNeeded: symbol), bits: UInt8(maxBits + 1 - weight))
                for i in position..<(position + span) { entries[i] = entry }
                position += span
            }
        }
    }

    /// Decodes one backward stream of exactly `count` symbols into `out`; the stream must be used up exactly.
    /// Four symbols (at most 4 · 11 = 44 bits) per reload. Each lookup index is `peek(maxBits)`, below
    /// 2^maxBits = the table's size (BackwardBits explains why that holds for any input), so the table is
    /// read through its base pointer without bounds checks.
    @_optimize(speed)
    func decode(_ view: ByteView, count: Int, into out: ByteBuffer) throws(ZstdError) {
        var bits = try BackwardBits(view)
        out.reserve(count)
        let start = out.base + out.count
        let maxBits = self.maxBits
        entries.withUnsafeBufferPointer { buffer in
            let table = buffer.baseAddress!
            var i = 0
            while count &- i >= 4 {
                bits.reload()
                var e = table[bits.peek(maxBits)]; start[i] = e.symbol; bits.skip(Int(e.bits))
                e = table[bits.peek(maxBits)]; start[i &+ 1] = e.symbol; bits.skip(Int(e.bits))
                e = table[bits.peek(maxBits)]; start[i &+ 2] = e.symbol; bits.skip(Int(e.bits))
                e = table[bits.peek(maxBits)]; start[i &+ 3] = e.symbol; bits.skip(Int(e.bits))
                i &+= 4
            }
            while i < count {
                bits.reload()
                let e = table[bits.peek(maxBits)]
                start[i] = e.symbol
                bits.skip(Int(e.bits))
                i &+= 1
            }
        }
        guard bits.remaining == 0 else { throw .corrupt }
        out.didAppend(count)
    }
}

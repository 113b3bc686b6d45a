// Compressed blocks of the Zstandard decoder (RFC 8878 3.1.1.3): the literals section (raw, RLE, Huffman
// with its tree, or treeless reusing the previous tree; 1 or 4 streams), then the sequences section (the
// three FSE tables in their modes, one backward stream of interleaved codes and extra bits), then the
// execution of each sequence against the output: literals copied, then a match from earlier output.

extension ZstdDecoder {
    mutating func decodeCompressedBlock(_ block: ByteView) throws(ZstdError) {
        let literalsSize = try readLiterals(block)
        guard let sequences = block.slice(literalsSize, block.count - literalsSize) else { throw .corrupt }
        try readSequences(sequences)
    }

    /// Decodes the literals section into `literals`; returns its size in bytes.
    mutating func readLiterals(_ block: ByteView) throws(ZstdError) -> Int {
        guard block.count > 0 else { throw .corrupt }
        let b0 = Int(block.byte(0))
        let type = b0 & 3
        let format = (b0 >> 2) & 3
        literals.removeAll()
        if type < 2 {
            var headerSize = 1
            var size = b0 >> 3
            if format == 1 {
                headerSize = 2
                guard block.count >= 2 else { throw .corrupt }
                size = (b0 >> 4) + (Int(block.byte(1)) << 4)
            } else if format == 3 {
                headerSize = 3
                guard block.count >= 3 else { throw .corrupt }
                size = (b0 >> 4) + (Int(block.byte(1)) << 4) + (Int(block.byte(2)) << 12)
            }
            guard size <= blockLimit else { throw .corrupt }
            if type == 0 {
                guard let data = block.slice(headerSize, size) else { throw .corrupt }
                if size > 0 { literals.append(data.base.baseAddress! + data.lower, size) }
                return headerSize + size
            }
            guard block.count > headerSize else { throw .corrupt }
            literals.append(repeating: block.byte(headerSize), size)
            return headerSize + 1
        }
        // Huffman-coded: sizes of 10, 14 or 18 bits each, in 3, 4 or 5 header bytes.
        let headerSize = [3, 3, 4, 5][format]
        let fieldBits = [10, 10, 14, 18][format]
        guard block.count >= headerSize else { throw .corrupt }
        var header: UInt64 = 0
        for i in 0..<headerSize { header |= UInt64(block.byte(i)) << UInt64(8 * i) }
        let mask: UInt64 = (1 << UInt64(fieldBits)) - 1
        let regenerated = Int((header >> 4) & mask)
        let compressed = Int((header >> UInt64(4 + fieldBits)) & mask)
        guard regenerated <= blockLimit else { throw .corrupt }
        guard let payload = block.slice(headerSize, compressed) else { throw .corrupt }
        var streams = payload
        if type == 2 {
            let (table, used) = try HuffmanTable.read(payload)
            huffman = table
            guard let rest = payload.slice(used, payload.count - used) else { throw .corrupt }
            streams = rest
        }
        guard let table = huffman else { throw .corrupt }
        literals.reserve(regenerated)
        if format == 0 {
            try table.decode(streams, count: regenerated, into: literals)
        } else {
            try decodeFourStreams(streams, table: table, regenerated: regenerated)
        }
        return headerSize + compressed
    }

    private mutating func decodeFourStreams(_ streams: ByteView, table: HuffmanTable, regenerated: Int) throws(ZstdError) {
        guard streams.count >= 10 else { throw .corrupt }
        let s1 = Int(streams.byte(0)) | Int(streams.byte(1)) << 8
        let s2 = Int(streams.byte(2)) | Int(streams.byte(3)) << 8
        let s3 = Int(streams.byte(4)) | Int(streams.byte(5)) << 8
        let s4 = streams.count - 6 - s1 - s2 - s3
        guard s4 >= 1 else { throw .corrupt }
        let quarter = (regenerated + 3) / 4
        guard regenerated >= 3 * quarter else { throw .corrupt }
        var offset = 6
        for (i, size) in [s1, s2, s3, s4].enumerated() {
            guard let stream = streams.slice(offset, size) else { throw .corrupt }
            try table.decode(stream, count: i < 3 ? quarter : regenerated - 3 * quarter, into: literals)
            offset += size
        }
    }

    /// Reads one table in its mode; `previous` is the table repeat mode reuses.
    private mutating func readTable(mode: Int, at view: ByteView, predefined: FSETable,
                                    maxLog: Int, codes: FSECodes, previous: FSETable?) throws(ZstdError) -> (FSETable, Int) {
        switch mode {
        case 0:
            return (predefined, 0)
        case 1:
            guard view.count >= 1 else { throw .corrupt }
            let symbol = view.byte(0)
            guard Int(symbol) <= codes.maxSymbol else { throw .corrupt }
            return (FSETable.rle(symbol, codes: codes), 1)
        case 2:
            return try FSETable.read(view, maxAccuracyLog: maxLog, maxSymbol: codes.maxSymbol, codes: codes)
        default:
            guard let table = previous else { throw .corrupt }
            return (table, 0)
        }
    }

    mutating func readSequences(_ section: ByteView) throws(ZstdError) {
        guard section.count >= 1 else { throw .corrupt }
        let b0 = Int(section.byte(0))
        var count = b0
        var at = 1
        if b0 >= 128 && b0 < 255 {
            guard section.count >= 2 else { throw .corrupt }
            count = ((b0 - 128) << 8) + Int(section.byte(1))
            at = 2
        } else if b0 == 255 {
            guard section.count >= 3 else { throw .corrupt }
            count = Int(section.byte(1)) + (Int(section.byte(2)) << 8) + 0x7F00
            at = 3
        }
        if count == 0 {
            guard at == section.count else { throw .corrupt }
            try grow(by: literals.count)
            output.append(literals.base, literals.count)
            return
        }
        guard at < section.count else { throw .corrupt }
        let modes = Int(section.byte(at))
        at += 1
        guard modes & 3 == 0 else { throw .corrupt }
        func rest(_ from: Int) throws(ZstdError) -> ByteView {
            guard let view = section.slice(from, section.count - from) else { throw .corrupt }
            return view
        }
        let (ll, llSize) = try readTable(mode: modes >> 6, at: try rest(at), predefined: PredefinedTables.literalLengthTable, maxLog: 9, codes: .literalLengths, previous: literalLengthTable)
        at += llSize
        let (of, ofSize) = try readTable(mode: (modes >> 4) & 3, at: try rest(at), predefined: PredefinedTables.offsetTable, maxLog: 8, codes: .offsets, previous: offsetTable)
        at += ofSize
        let (ml, mlSize) = try readTable(mode: (modes >> 2) & 3, at: try rest(at), predefined: PredefinedTables.matchLengthTable, maxLog: 9, codes: .matchLengths, previous: matchLengthTable)
        at += mlSize
        literalLengthTable = ll
        offsetTable = of
        matchLengthTable = ml
        try execute(count: count, stream: try rest(at), ll: ll, of: of, ml: ml)
    }

    /// Runs the block's sequences: for each, decodes its codes and extra bits (one backward stream), copies
    /// its literals, then its match from earlier output. Bits per sequence: offset extra ≤ 31 (codes ≤ 31),
    /// match and literal length extras ≤ 16 each, state updates ≤ 9 + 9 + 8; the stream is reloaded
    /// before the offset, before the literal length when the three extras pass the 57 bits a reload
    /// guarantees, and before the state updates. Table indexes are FSE states (in range by construction,
    /// FSETable). Every length is checked against the literals left, the block's room (≤ 128 KiB, and the
    /// caller's output limit) and every offset against the frame's output and window, before any copy;
    /// the output and literals buffers keep `wideCopySlack` spare bytes for the wide copies' overshoot.
    @_optimize(speed)
    private mutating func execute(count: Int, stream: ByteView, ll: FSETable, of: FSETable, ml: FSETable) throws(ZstdError) {
        var bits = try BackwardBits(stream)
        let llTable = ll.table, ofTable = of.table, mlTable = ml.table
        var llState = bits.read(ll.accuracyLog)
        var ofState = bits.read(of.accuracyLog)
        var mlState = bits.read(ml.accuracyLog)
        let room = min(blockLimit, maxOutput - output.count)
        output.reserve(room + wideCopySlack)
        literals.reserve(wideCopySlack)
        let out = output.base + output.count
        let lit = UnsafePointer(literals.base)
        let literalCount = literals.count
        let producedBefore = output.count - frameStart
        let window = windowSize
        var written = 0, literalAt = 0
        var (r1, r2, r3) = repeatOffsets
        // Wrapping arithmetic below: every value is bounded (lengths below 2^17 + 2^16, offsets below
        // 2^32, positions within the block's room), so none can overflow.
        for i in 0..<count {
            let llEntry = llTable[llState], ofEntry = ofTable[ofState], mlEntry = mlTable[mlState]
            bits.reload()
            let offsetValue = Int(ofEntry.base) &+ bits.take(Int(ofEntry.extraBits))
            let matchLength = Int(mlEntry.base) &+ bits.take(Int(mlEntry.extraBits))
            if Int(ofEntry.extraBits) &+ Int(mlEntry.extraBits) &+ Int(llEntry.extraBits) > 57 { bits.reload() }
            let literalLength = Int(llEntry.base) &+ bits.take(Int(llEntry.extraBits))
            if i != count &- 1 {
                bits.reload()
                llState = Int(llEntry.baseline) &+ bits.take(Int(llEntry.bits))
                mlState = Int(mlEntry.baseline) &+ bits.take(Int(mlEntry.bits))
                ofState = Int(ofEntry.baseline) &+ bits.take(Int(ofEntry.bits))
            }
            guard !bits.overflowed else { throw .corrupt }
            // The offset (RFC 8878 3.1.2.5): a new one, or one of the three repeat offsets.
            let offset: Int
            if offsetValue > 3 {
                offset = offsetValue &- 3
                (r1, r2, r3) = (offset, r1, r2)
            } else {
                switch literalLength == 0 ? offsetValue &+ 1 : offsetValue {   // 1...4; 4 means r1 - 1
                case 1: offset = r1
                case 2: offset = r2; (r1, r2) = (r2, r1)
                case 3: offset = r3; (r1, r2, r3) = (r3, r1, r2)
                default: offset = r1 &- 1; (r1, r2, r3) = (offset, r1, r2)
                }
            }
            guard literalLength <= literalCount &- literalAt else { throw .corrupt }
            guard literalLength &+ matchLength <= room &- written else {
                throw output.count + written + literalLength + matchLength > maxOutput ? .tooLarge : .corrupt
            }
            let produced = producedBefore &+ written &+ literalLength
            guard offset > 0, offset <= produced, offset <= window else { throw .corrupt }
            wideCopy(out + written, lit + literalAt, literalLength)
            written &+= literalLength
            literalAt &+= literalLength
            copyMatch(out + written, offset: offset, length: matchLength)
            written &+= matchLength
        }
        repeatOffsets = (r1, r2, r3)
        guard bits.remaining == 0 else { throw .corrupt }
        let rest = literalCount - literalAt
        guard rest <= room - written else { throw output.count + written + rest > maxOutput ? .tooLarge : .corrupt }
        wideCopy(out + written, lit + literalAt, rest)
        output.didAppend(written + rest)
    }

}

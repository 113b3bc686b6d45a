// A Zstandard decoder (RFC 8878) in plain Swift, for the guest (Embedded Swift: it unpacks the initfs) and
// the host (where the tests compare it with libzstd). It decodes whole buffers: every frame of the input,
// concatenated, skippable frames skipped. Supported: raw, RLE and compressed blocks; raw, RLE, Huffman and
// treeless literals with 1 or 4 streams; FSE sequences in predefined, RLE, compressed and repeat modes;
// repeat offsets; the content checksum (xxHash64). Not supported: dictionaries (a frame that names one is
// refused with `.unsupported`). Malformed input of any kind ends in a thrown ZstdError, never a trap.

/// Why decoding stopped.
public enum ZstdError: Error, Equatable {
    /// The input ends inside a frame.
    case truncated
    /// A frame does not start with the Zstandard or a skippable magic number.
    case badMagic
    /// A field breaks the format's rules.
    case corrupt
    /// The frame needs a dictionary, or a window larger than the decoder allows.
    case unsupported
    /// The decoded content does not match the frame's checksum.
    case checksumMismatch
    /// The content would exceed the output limit the caller gave.
    case tooLarge
}

/// Decodes every frame in `input` and returns the concatenated content.
/// `maxOutput` bounds the result (and so the memory a hostile header can make the decoder reserve);
/// `maxWindow` bounds the window size a frame may declare.
public func zstdDecompress(_ input: [UInt8], maxOutput: Int = 1 << 30, maxWindow: Int = 1 << 27) throws(ZstdError) -> [UInt8] {
    var result: Result<[UInt8], ZstdError> = .success([])
    input.withUnsafeBytes { raw in
        do throws(ZstdError) {
            var decoder = ZstdDecoder(input: ByteView(base: raw, lower: 0, upper: raw.count),
                                      maxOutput: maxOutput, maxWindow: maxWindow)
            try decoder.decodeAll()
            result = .success(decoder.output.array)
        } catch {
            result = .failure(error)
        }
    }
    return try result.get()
}

/// The frame and block walker; holds the tables that later blocks of a frame may repeat.
struct ZstdDecoder {
    let input: ByteView
    let maxOutput: Int
    let maxWindow: Int
    let output = ByteBuffer(capacity: 1 << 16)
    var position = 0

    // Per-frame state.
    var frameStart = 0
    var windowSize = 0
    var blockLimit = 0
    var huffman: HuffmanTable? = nil
    var literalLengthTable: FSETable? = nil
    var offsetTable: FSETable? = nil
    var matchLengthTable: FSETable? = nil
    var repeatOffsets = (1, 4, 8)
    let literals = ByteBuffer(capacity: 128 * 1024)

    init(input: ByteView, maxOutput: Int, maxWindow: Int) {
        self.input = input
        self.maxOutput = maxOutput
        self.maxWindow = maxWindow
    }

    mutating func decodeAll() throws(ZstdError) {
        while position < input.count {
            guard position + 4 <= input.count else { throw .truncated }
            let magic = readLE(position, 4)
            position += 4
            if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                guard position + 4 <= input.count else { throw .truncated }
                let size = Int(readLE(position, 4))
                guard size <= input.count - position - 4 else { throw .truncated }
                position += 4 + size
            } else if magic == 0xFD2F_B528 {
                try decodeFrame()
            } else {
                throw .badMagic
            }
        }
    }

    /// Little-endian value of `count` (≤ 8) input bytes at `at`; the caller checked the bounds.
    func readLE(_ at: Int, _ count: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(input.byte(at + i)) << UInt64(8 * i) }
        return value
    }

    /// Takes `count` bytes at the current position, or throws `.truncated`.
    mutating func take(_ count: Int) throws(ZstdError) -> Int {
        guard count >= 0, count <= input.count - position else { throw .truncated }
        defer { position += count }
        return position
    }

    mutating func decodeFrame() throws(ZstdError) {
        let descriptor = input.byte(try take(1))
        let sizeFlag = Int(descriptor >> 6)
        let singleSegment = descriptor & 0x20 != 0
        let hasChecksum = descriptor & 0x04 != 0
        let dictionaryFlag = Int(descriptor & 3)
        guard descriptor & 0x08 == 0 else { throw .corrupt }
        var window = 0
        if !singleSegment {
            let w = Int(input.byte(try take(1)))
            let log = 10 + (w >> 3)
            let base = 1 << log
            window = base + (base / 8) * (w & 7)
        }
        let dictionaryBytes = [0, 1, 2, 4][dictionaryFlag]
        if dictionaryBytes > 0 {
            let at = try take(dictionaryBytes)
            guard readLE(at, dictionaryBytes) == 0 else { throw .unsupported }
        }
        let sizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][sizeFlag]
        var contentSize: UInt64? = nil
        if sizeBytes > 0 {
            let at = try take(sizeBytes)
            contentSize = readLE(at, sizeBytes) + (sizeBytes == 2 ? 256 : 0)
        }
        if singleSegment { window = Int(clamping: contentSize ?? 0) }
        guard window <= maxWindow else { throw .unsupported }
        if let size = contentSize {
            guard size <= UInt64(maxOutput - output.count) else { throw .tooLarge }
            // Reserve what the header claims, but no more than a bounded guess: a header may lie.
            output.reserve(min(Int(size), 16 << 20))
        }
        startFrame(window: window)
        var last = false
        while !last {
            let at = try take(3)
            let header = Int(readLE(at, 3))
            last = header & 1 != 0
            try decodeBlock(type: (header >> 1) & 3, size: header >> 3)
        }
        let produced = output.count - frameStart
        if let size = contentSize, UInt64(produced) != size { throw .corrupt }
        if hasChecksum {
            let at = try take(4)
            let expected = UInt32(truncatingIfNeeded: readLE(at, 4))
            let actual = UInt32(truncatingIfNeeded: xxHash64(output.bytes(from: frameStart)))
            guard expected == actual else { throw .checksumMismatch }
        }
    }

    mutating func startFrame(window: Int) {
        frameStart = output.count
        windowSize = window
        blockLimit = min(window, 128 * 1024)
        huffman = nil
        literalLengthTable = nil
        offsetTable = nil
        matchLengthTable = nil
        repeatOffsets = (1, 4, 8)
    }

    mutating func decodeBlock(type: Int, size: Int) throws(ZstdError) {
        switch type {
        case 0:
            guard size <= blockLimit else { throw .corrupt }
            let at = try take(size)
            try grow(by: size)
            if size > 0 { output.append(input.base.baseAddress! + input.lower + at, size) }
        case 1:
            guard size <= blockLimit else { throw .corrupt }
            let at = try take(1)
            try grow(by: size)
            output.append(repeating: input.byte(at), size)
        case 2:
            guard size <= blockLimit else { throw .corrupt }
            let at = try take(size)
            guard let block = input.slice(at, size) else { throw .truncated }
            let before = output.count
            try decodeCompressedBlock(block)
            guard output.count - before <= blockLimit else { throw .corrupt }
        default:
            throw .corrupt
        }
    }

    /// Checks that `count` more bytes stay within the caller's output limit.
    func grow(by count: Int) throws(ZstdError) {
        guard count <= maxOutput - output.count else { throw .tooLarge }
    }
}

// A reader of ustar archives (POSIX.1-1988 headers, with the pax extended headers of POSIX.1-2001 for long
// paths, link targets and sizes, and GNU's long-name entries), for the initfs. It lists the entries and
// says where each one's data lies in the archive; it copies nothing. A header whose checksum, octal fields
// or sizes do not hold up is an error, and so is an archive that ends inside an entry.

/// Why an archive was refused.
public enum TarError: Error, Equatable {
    /// The archive ends inside a header or an entry's data.
    case truncated
    /// A header's checksum does not match its bytes.
    case badChecksum
    /// A numeric field is not octal (or base-256), or a size is impossible.
    case badHeader
    /// A pax extended header's records are malformed.
    case badExtendedHeader
}

/// One member of an archive.
public struct TarEntry: Equatable {
    /// What the member is.
    public enum Kind: Equatable {
        case file, directory, symlink, hardLink
        /// Any other type flag (devices, FIFOs, …), kept so callers can say what they skip.
        case other(UInt8)
    }

    /// The path inside the archive, without a trailing slash.
    public var path: [UInt8]
    public var kind: Kind
    public var mode: UInt32
    public var size: Int
    public var modificationTime: Int64
    /// The target of a symbolic or hard link.
    public var linkTarget: [UInt8]
    /// Where the member's data starts in the archive.
    public var dataOffset: Int
}

/// Lists the members of a ustar/pax archive.
public func tarEntries(_ archive: [UInt8]) throws(TarError) -> [TarEntry] {
    var entries: [TarEntry] = []
    var at = 0
    var pending = PendingNames()
    while true {
        // The archive ends with zero blocks (POSIX asks for two; one is accepted): without them it was cut.
        guard at + 512 <= archive.count else { throw .truncated }
        let header = archive[at..<(at + 512)]
        if header.allSatisfy({ $0 == 0 }) {
            guard pending.isEmpty else { throw .truncated }
            return entries
        }
        try verifyChecksum(header)
        let size = try number(header, 124, 12)
        guard size >= 0, size <= Int64(archive.count) else { throw .truncated }
        let dataOffset = at + 512
        guard Int(size) <= archive.count - dataOffset else { throw .truncated }
        let data = archive[dataOffset..<(dataOffset + Int(size))]
        at = dataOffset + (Int(size) + 511) / 512 * 512
        let flag = header[header.startIndex + 156]
        switch flag {
        case UInt8(ascii: "x"):
            try pending.readPax(data)
            continue
        case UInt8(ascii: "g"):
            continue    // global pax records: nothing here needs them
        case UInt8(ascii: "L"):
            pending.path = trimmed(data)
            continue
        case UInt8(ascii: "K"):
            pending.linkTarget = trimmed(data)
            continue
        default:
            break
        }
        var entry = TarEntry(path: [], kind: kind(flag), mode: UInt32(truncatingIfNeeded: try number(header, 100, 8)),
                             size: Int(size), modificationTime: try number(header, 136, 12),
                             linkTarget: field(header, 157, 100), dataOffset: dataOffset)
        let name = field(header, 0, 100)
        let magic = Array(header[(header.startIndex + 257)..<(header.startIndex + 262)])
        let prefix = magic == Array("ustar".utf8) ? field(header, 345, 155) : []
        entry.path = prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
        if let p = pending.path { entry.path = p }
        if let l = pending.linkTarget { entry.linkTarget = l }
        if let s = pending.size {
            // A pax size replaces the header's: the data runs that long.
            guard s <= archive.count - dataOffset else { throw .truncated }
            entry.size = s
            at = dataOffset + (s + 511) / 512 * 512
        }
        pending = PendingNames()
        while entry.path.last == UInt8(ascii: "/") { entry.path.removeLast() }
        if entry.kind == .file && entry.path.isEmpty { throw .badHeader }
        entries.append(entry)
    }
}

/// Values carried by pax or GNU headers for the entry that follows them.
private struct PendingNames {
    var path: [UInt8]? = nil
    var linkTarget: [UInt8]? = nil
    var size: Int? = nil

    var isEmpty: Bool { path == nil && linkTarget == nil && size == nil }

    /// Reads pax records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record.
    mutating func readPax(_ data: ArraySlice<UInt8>) throws(TarError) {
        var at = data.startIndex
        while at < data.endIndex {
            var length = 0
            var i = at
            while i < data.endIndex, data[i] != UInt8(ascii: " ") {
                let digit = Int(data[i]) - Int(UInt8(ascii: "0"))
                guard digit >= 0 && digit <= 9, length < 1 << 40 else { throw .badExtendedHeader }
                length = length * 10 + digit
                i += 1
            }
            guard i < data.endIndex, length > i - at + 1, length <= data.endIndex - at else { throw .badExtendedHeader }
            let record = data[(i + 1)..<(at + length)]
            guard record.last == UInt8(ascii: "\n"), let eq = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw .badExtendedHeader
            }
            let key = Array(record[record.startIndex..<eq])
            let value = Array(record[(eq + 1)..<(record.endIndex - 1)])
            if key == Array("path".utf8) { path = value }
            if key == Array("linkpath".utf8) { linkTarget = value }
            if key == Array("size".utf8) {
                var n = 0
                for c in value {
                    let digit = Int(c) - Int(UInt8(ascii: "0"))
                    guard digit >= 0 && digit <= 9, n < 1 << 50 else { throw .badExtendedHeader }
                    n = n * 10 + digit
                }
                guard !value.isEmpty else { throw .badExtendedHeader }
                size = n
            }
            at += length
        }
    }
}

private func kind(_ flag: UInt8) -> TarEntry.Kind {
    switch flag {
    case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): .file
    case UInt8(ascii: "5"): .directory
    case UInt8(ascii: "2"): .symlink
    case UInt8(ascii: "1"): .hardLink
    default: .other(flag)
    }
}

/// A NUL-terminated text field of the header.
private func field(_ header: ArraySlice<UInt8>, _ offset: Int, _ length: Int) -> [UInt8] {
    let start = header.startIndex + offset
    let bytes = header[start..<(start + length)]
    return Array(bytes.prefix { $0 != 0 })
}

/// GNU long names carry a trailing NUL.
private func trimmed(_ data: ArraySlice<UInt8>) -> [UInt8] { Array(data.prefix { $0 != 0 }) }

/// A numeric field: octal digits (space or NUL padded), or GNU's base-256 with the top bit set.
private func number(_ header: ArraySlice<UInt8>, _ offset: Int, _ length: Int) throws(TarError) -> Int64 {
    let start = header.startIndex + offset
    let bytes = header[start..<(start + length)]
    if let first = bytes.first, first & 0x80 != 0 {
        guard first & 0x40 == 0 else { throw .badHeader }     // negative values: not for us
        var value: Int64 = Int64(first & 0x3f)
        for b in bytes.dropFirst() {
            guard value < Int64(1) << 54 else { throw .badHeader }
            value = value << 8 | Int64(b)
        }
        return value
    }
    var value: Int64 = 0
    var seenDigit = false
    for b in bytes {
        if b == 0 || b == UInt8(ascii: " ") {
            if seenDigit { break } else { continue }
        }
        guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "7"), value < Int64(1) << 60 else { throw .badHeader }
        value = value << 3 | Int64(b - UInt8(ascii: "0"))
        seenDigit = true
    }
    return value
}

/// The header checksum: the sum of its bytes with the checksum field read as spaces.
private func verifyChecksum(_ header: ArraySlice<UInt8>) throws(TarError) {
    let stored = try number(header, 148, 8)
    var sum: Int64 = 0
    for (i, b) in header.enumerated() { sum += (i >= 148 && i < 156) ? 32 : Int64(b) }
    guard sum == stored else { throw .badChecksum }
}

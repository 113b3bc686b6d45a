// FAT32 directories: 32-byte entries in a cluster chain, short (8.3) entries and the VFAT long-name
// entries before them (13 UTF-16 units each, in reverse order, the last one flagged 0x40, each with the
// checksum of its short entry), the 8.3 alias made for a long name (`BASE~N.EXT`), lookup (ASCII
// letters compared without case, as FAT does for them), and the FAT date and time fields.
//
// A long-name run whose order or checksum is wrong is ignored (the short name is used), as the spec
// says; an entry's cluster number is checked when it is used, not when it is listed.

/// One file or directory of a FAT32 volume, as its directory entry says.
public struct FATNode: Equatable, Sendable {
    /// The name (UTF-8): the long name when there is a valid one, else the 8.3 name.
    public var name: [UInt8]
    public var attributes: UInt8
    public var firstCluster: UInt32
    public var size: UInt32
    /// Seconds since 1970 (the FAT fields are local time without a zone; taken as UTC here).
    public var modified: UInt64
    public var created: UInt64
    /// The directory holding it (its first cluster; 0 for the root itself) and its short entry's slot.
    public var parent: UInt32
    public var slot: Int
    /// The first slot of its entries (its first long-name entry, or `slot`).
    var firstSlot: Int
    /// The raw 11-byte 8.3 name.
    public var shortName: [UInt8]

    public var isDirectory: Bool { attributes & FATAttribute.directory != 0 }
}

public enum FATAttribute {
    public static let readOnly: UInt8 = 0x01
    public static let hidden: UInt8 = 0x02
    public static let system: UInt8 = 0x04
    public static let volumeID: UInt8 = 0x08
    public static let directory: UInt8 = 0x10
    public static let archive: UInt8 = 0x20
    public static let longName: UInt8 = 0x0F
}

extension FAT32Volume {
    static var slotBytes: Int { 32 }
    /// A directory holds at most this many entries (the spec's limit).
    static var maxSlots: Int { 65536 }

    var slotsPerCluster: Int { clusterBytes / 32 }

    /// The root directory as a node.
    public var root: FATNode {
        FATNode(name: [], attributes: FATAttribute.directory, firstCluster: rootCluster, size: 0, modified: 0, created: 0,
                parent: 0, slot: 0, firstSlot: 0, shortName: [])
    }

    /// A pointer to slot `i` of the directory whose chain is `chain`, in the cluster cache (valid until the
    /// next cache access). With `dirty` the cluster is marked for writing.
    func slotPointer(_ chain: [UInt32], _ i: Int, dirty: Bool = false) throws(DiskError) -> UnsafeMutableRawPointer {
        let k = i / slotsPerCluster
        guard k < chain.count else { throw .corrupt }
        let s = try clusterSlot(chain[k])
        if dirty { dataCache.dirty[s] = true }
        return dataCache.pointer(s) + (i % slotsPerCluster) * 32
    }

    /// Calls `visit` with each entry of directory `dir` (a first cluster) in order, `.`/`..` and volume
    /// labels left out; `visit` returns true to stop. Returns the chain, the slot of the end marker (or the
    /// slot count) and the short names seen.
    @discardableResult
    func scan(_ dir: UInt32, collectShortNames: Bool = false,
              _ visit: (FATNode) throws(DiskError) -> Bool) throws(DiskError)
        -> (chain: [UInt32], end: Int, shortNames: [[UInt8]]) {
        let chain = try chain(dir)
        let total = chain.count * slotsPerCluster
        var shortNames: [[UInt8]] = []
        var units: [UInt16] = []
        var expect = 0, checksum: UInt8 = 0, lfnStart = 0
        var i = 0
        while i < total {
            let k = i / slotsPerCluster
            let s = try clusterSlot(chain[k])
            let base = dataCache.pointer(s)
            var j = i % slotsPerCluster
            while j < slotsPerCluster {
                let e = base + j * 32
                let slot = k * slotsPerCluster + j
                let b0 = e.load(fromByteOffset: 0, as: UInt8.self)
                let attr = e.load(fromByteOffset: 11, as: UInt8.self)
                j += 1
                if b0 == 0 { return (chain, slot, shortNames) }
                if b0 == 0xE5 { expect = 0; continue }
                if attr & 0x3F == FATAttribute.longName {
                    let ord = Int(b0 & 0x1F)
                    let sum = e.load(fromByteOffset: 13, as: UInt8.self)
                    if b0 & 0x40 != 0, ord >= 1, ord <= 20 {
                        units = [UInt16](repeating: 0xFFFF, count: ord * 13)
                        checksum = sum
                        lfnStart = slot
                        expect = ord
                        longNameUnits(e, into: &units, part: ord - 1)
                    } else if expect > 1, ord == expect - 1, sum == checksum {
                        expect = ord
                        longNameUnits(e, into: &units, part: ord - 1)
                    } else {
                        expect = 0
                    }
                    continue
                }
                let hadLong = expect == 1
                expect = 0
                if attr & FATAttribute.volumeID != 0 || b0 == UInt8(ascii: ".") { continue }
                let short = Array(UnsafeRawBufferPointer(start: e, count: 11))
                if collectShortNames { shortNames.append(short) }
                var name: [UInt8] = []
                var first = slot
                if hadLong && shortNameChecksum(short) == checksum, let decoded = utf8(fromUTF16: units) {
                    name = decoded
                    first = lfnStart
                } else {
                    name = displayName(short, caseBits: e.load(fromByteOffset: 12, as: UInt8.self))
                }
                let node = FATNode(name: name, attributes: attr,
                                   firstCluster: UInt32(le16(e, 20)) << 16 | UInt32(le16(e, 26)),
                                   size: le32(e, 28), modified: unixTime(date: le16(e, 24), time: le16(e, 22)),
                                   created: unixTime(date: le16(e, 16), time: le16(e, 14)),
                                   parent: dir, slot: slot, firstSlot: first, shortName: short)
                if try visit(node) { return (chain, slot, shortNames) }
            }
            i = (k + 1) * slotsPerCluster
        }
        return (chain, total, shortNames)
    }

    /// The entries of a directory.
    public func list(_ dir: FATNode) throws(DiskError) -> [FATNode] {
        guard dir.isDirectory else { throw .notDirectory }
        var result: [FATNode] = []
        try scan(dir.firstCluster) { (n: FATNode) throws(DiskError) -> Bool in result.append(n); return false }
        return result
    }

    /// The entry called `name` in `dir` (ASCII letters compared without case), or nil.
    public func find(_ name: [UInt8], in dir: FATNode) throws(DiskError) -> FATNode? {
        guard dir.isDirectory else { throw .notDirectory }
        var found: FATNode? = nil
        try scan(dir.firstCluster) { (n: FATNode) throws(DiskError) -> Bool in
            if namesMatch(n.name, name) || namesMatch(displayName(n.shortName, caseBits: 0), name) { found = n; return true }
            return false
        }
        return found
    }

    /// The node at a path of components (empty: the root).
    public func lookup(_ path: [[UInt8]]) throws(DiskError) -> FATNode {
        var node = root
        for part in path {
            guard node.isDirectory else { throw .notDirectory }
            guard let next = try find(part, in: node) else { throw .notFound }
            node = next
        }
        return node
    }

    /// Writes the entries for `name` into `dir`: long-name entries when needed, then the short entry
    /// made from `template` (attributes, cluster, size, times). Fails with `.exists` if the name is taken.
    func addEntry(_ name: [UInt8], in dir: FATNode, template: FATNode) throws(DiskError) -> FATNode {
        guard dir.isDirectory else { throw .notDirectory }
        let units = try checkName(name)
        var taken = false
        let (_, _, shortNames) = try scan(dir.firstCluster, collectShortNames: true) { (n: FATNode) throws(DiskError) -> Bool in
            taken = namesMatch(n.name, name) || namesMatch(displayName(n.shortName, caseBits: 0), name)
            return taken
        }
        if taken { throw .exists }
        let (short, caseBits, needsLong) = try makeShortName(name, avoiding: shortNames)
        let longCount = needsLong ? (units.count + 12) / 13 : 0
        let first = try freeSlots(dir.firstCluster, count: longCount + 1)
        let chain = try chain(dir.firstCluster)
        let sum = shortNameChecksum(short)
        for k in 0..<longCount {
            let ord = longCount - k
            let e = try slotPointer(chain, first + k, dirty: true)
            writeLongEntry(e, units: units, ord: ord, last: k == 0, checksum: sum)
        }
        let slot = first + longCount
        let e = try slotPointer(chain, slot, dirty: true)
        e.initializeMemory(as: UInt8.self, repeating: 0, count: 32)
        short.withUnsafeBytes { e.copyMemory(from: $0.baseAddress!, byteCount: 11) }
        e.storeBytes(of: template.attributes, toByteOffset: 11, as: UInt8.self)
        e.storeBytes(of: caseBits, toByteOffset: 12, as: UInt8.self)
        var node = template
        node.name = name
        node.parent = dir.firstCluster
        node.slot = slot
        node.firstSlot = first
        node.shortName = short
        writeShortFields(e, node)
        let created = fatDateTime(node.created)
        put16(e, 14, created.time)
        put16(e, 16, created.date)
        return node
    }

    /// Rewrites a node's short entry: cluster, size, modification time.
    func updateEntry(_ node: FATNode) throws(DiskError) {
        guard node.parent != 0 else { return }   // the root has no entry
        let e = try slotPointer(try chain(node.parent), node.slot, dirty: true)
        writeShortFields(e, node)
    }

    func writeShortFields(_ e: UnsafeMutableRawPointer, _ node: FATNode) {
        put16(e, 20, UInt16(truncatingIfNeeded: node.firstCluster >> 16))
        put16(e, 26, UInt16(truncatingIfNeeded: node.firstCluster))
        put32(e, 28, node.isDirectory ? 0 : node.size)
        let m = fatDateTime(node.modified)
        put16(e, 22, m.time)
        put16(e, 24, m.date)
        put16(e, 18, m.date)   // last access date
    }

    /// Marks a node's entries deleted (its clusters stay: the caller frees or reuses them).
    func removeEntry(_ node: FATNode) throws(DiskError) {
        let chain = try chain(node.parent)
        for i in node.firstSlot...node.slot {
            try slotPointer(chain, i, dirty: true).storeBytes(of: 0xE5, as: UInt8.self)
        }
    }

    /// The first of `count` consecutive free slots in directory `dir`, which grows by zeroed clusters when
    /// it has none (`.tooLarge` past 65,536 entries).
    func freeSlots(_ dir: UInt32, count: Int) throws(DiskError) -> Int {
        let chain = try chain(dir)
        let total = chain.count * slotsPerCluster
        var run = 0, start = 0
        var i = 0
        while i < total {
            let b0 = try slotPointer(chain, i).load(as: UInt8.self)
            if b0 == 0 {
                // The end marker: every slot from here on is free.
                if run == 0 { start = i }
                run += total - i
                break
            }
            if b0 == 0xE5 {
                if run == 0 { start = i }
                run += 1
                if run >= count { return start }
            } else {
                run = 0
            }
            i += 1
        }
        if run >= count { return start }
        if run == 0 { start = total }
        let needed = (count - run + slotsPerCluster - 1) / slotsPerCluster
        guard total + needed * slotsPerCluster <= FAT32Volume.maxSlots else { throw .tooLarge }
        _ = try resizeChain(dir, to: chain.count + needed, zero: true)
        return start
    }

    /// The `..` cluster of a directory (0 means the root).
    func parentCluster(of dir: UInt32) throws(DiskError) -> UInt32 {
        let e = try slotPointer(try chain(dir), 1)
        guard e.load(as: UInt8.self) == UInt8(ascii: "."), e.load(fromByteOffset: 1, as: UInt8.self) == UInt8(ascii: ".") else {
            throw .corrupt
        }
        return UInt32(le16(e, 20)) << 16 | UInt32(le16(e, 26))
    }
}

// MARK: Names

/// The 8.3 checksum kept in every long-name entry.
func shortNameChecksum(_ short: [UInt8]) -> UInt8 {
    var sum: UInt8 = 0
    for b in short.prefix(11) { sum = ((sum & 1) << 7) &+ (sum >> 1) &+ b }
    return sum
}

/// Copies the 13 UTF-16 units of one long-name entry into `units` at part `part`.
func longNameUnits(_ e: UnsafeRawPointer, into units: inout [UInt16], part: Int) {
    let offsets = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
    for (k, at) in offsets.enumerated() { units[part * 13 + k] = le16(e, at) }
}

/// Writes long-name entry `ord` (1-based) of `units`.
func writeLongEntry(_ e: UnsafeMutableRawPointer, units: [UInt16], ord: Int, last: Bool, checksum: UInt8) {
    let offsets = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
    e.initializeMemory(as: UInt8.self, repeating: 0, count: 32)
    e.storeBytes(of: UInt8(ord) | (last ? 0x40 : 0), as: UInt8.self)
    e.storeBytes(of: FATAttribute.longName, toByteOffset: 11, as: UInt8.self)
    e.storeBytes(of: checksum, toByteOffset: 13, as: UInt8.self)
    for (k, at) in offsets.enumerated() {
        let i = (ord - 1) * 13 + k
        let unit: UInt16 = i < units.count ? units[i] : (i == units.count ? 0 : 0xFFFF)
        put16(e, at, unit)
    }
}

/// A long name's UTF-16 units (up to the first 0x0000 or 0xFFFF) as UTF-8; nil if it is not valid UTF-16.
func utf8(fromUTF16 units: [UInt16]) -> [UInt8]? {
    var out: [UInt8] = []
    var i = 0
    while i < units.count {
        let u = units[i]
        if u == 0 || u == 0xFFFF { break }
        var scalar = UInt32(u)
        if u >= 0xD800 && u < 0xDC00 {
            guard i + 1 < units.count, units[i + 1] >= 0xDC00, units[i + 1] < 0xE000 else { return nil }
            scalar = 0x10000 + ((UInt32(u) - 0xD800) << 10) + (UInt32(units[i + 1]) - 0xDC00)
            i += 1
        } else if u >= 0xDC00 && u < 0xE000 {
            return nil
        }
        appendUTF8(&out, scalar)
        i += 1
    }
    return out.isEmpty ? nil : out
}

func appendUTF8(_ out: inout [UInt8], _ s: UInt32) {
    switch s {
    case 0..<0x80: out.append(UInt8(s))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | s >> 6)); out.append(UInt8(0x80 | s & 0x3F))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | s >> 12)); out.append(UInt8(0x80 | (s >> 6) & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
    default:
        out.append(UInt8(0xF0 | s >> 18)); out.append(UInt8(0x80 | (s >> 12) & 0x3F))
        out.append(UInt8(0x80 | (s >> 6) & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
    }
}

/// UTF-8 as UTF-16 units; nil for bad UTF-8.
func utf16(fromUTF8 bytes: [UInt8]) -> [UInt16]? {
    var out: [UInt16] = []
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        var scalar: UInt32, extra: Int
        switch b {
        case 0..<0x80: scalar = UInt32(b); extra = 0
        case 0xC2..<0xE0: scalar = UInt32(b & 0x1F); extra = 1
        case 0xE0..<0xF0: scalar = UInt32(b & 0x0F); extra = 2
        case 0xF0..<0xF5: scalar = UInt32(b & 0x07); extra = 3
        default: return nil
        }
        guard i + extra < bytes.count else { return nil }
        for k in 0..<extra {
            let c = bytes[i + 1 + k]
            guard c & 0xC0 == 0x80 else { return nil }
            scalar = scalar << 6 | UInt32(c & 0x3F)
        }
        let minimum: UInt32 = [0, 0x80, 0x800, 0x10000][extra]
        guard scalar >= minimum, scalar <= 0x10FFFF, !(scalar >= 0xD800 && scalar < 0xE000) else { return nil }
        if scalar >= 0x10000 {
            out.append(UInt16(0xD800 + ((scalar - 0x10000) >> 10)))
            out.append(UInt16(0xDC00 + ((scalar - 0x10000) & 0x3FF)))
        } else {
            out.append(UInt16(scalar))
        }
        i += 1 + extra
    }
    return out
}

/// Checks a new name; its UTF-16 units. Names FAT cannot hold: empty, `.`, `..`, ending in a dot or a
/// space, control characters, `"*/:<>?\|`.
func checkName(_ name: [UInt8]) throws(DiskError) -> [UInt16] {
    guard !name.isEmpty, name != [0x2E], name != [0x2E, 0x2E] else { throw .invalidName }
    guard name.count <= 1020 else { throw .nameTooLong }
    guard let units = utf16(fromUTF8: name) else { throw .invalidName }
    guard units.count <= 255 else { throw .nameTooLong }
    let forbidden: [UInt8] = Array("\"*/:<>?\\|".utf8)
    for b in name where b < 0x20 || b == 0x7F || forbidden.contains(b) { throw .invalidName }
    if name.last == UInt8(ascii: ".") || name.last == UInt8(ascii: " ") { throw .invalidName }
    return units
}

@inline(__always) func asciiUpper(_ b: UInt8) -> UInt8 { b >= 0x61 && b <= 0x7A ? b - 0x20 : b }

/// Two names equal with ASCII letters compared without case.
func namesMatch(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    for i in 0..<a.count where asciiUpper(a[i]) != asciiUpper(b[i]) { return false }
    return true
}

/// The 8.3 name as text: `BASE.EXT` (lower case where the NT case bits say so; 0x05 stands for 0xE5).
func displayName(_ short: [UInt8], caseBits: UInt8) -> [UInt8] {
    var base = Array(short[0..<8]), ext = Array(short[8..<11])
    if base[0] == 0x05 { base[0] = 0xE5 }
    while base.last == 0x20 { base.removeLast() }
    while ext.last == 0x20 { ext.removeLast() }
    func lower(_ s: [UInt8]) -> [UInt8] { s.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 } }
    if caseBits & 0x08 != 0 { base = lower(base) }
    if caseBits & 0x10 != 0 { ext = lower(ext) }
    return ext.isEmpty ? base : base + [0x2E] + ext
}

/// Characters an 8.3 name may hold besides letters and digits.
let shortNameSpecials: [UInt8] = Array("$%'-_@~`!(){}^#&".utf8)

func isShortChar(_ b: UInt8) -> Bool {
    (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || shortNameSpecials.contains(b)
}

/// The 8.3 name for `name`, the NT case bits, and whether long-name entries are needed. A name that
/// is a valid 8.3 name in one case per part needs none; any other gets the alias `BASIS~N.EXT` with the
/// smallest N not in `avoiding`.
func makeShortName(_ name: [UInt8], avoiding: [[UInt8]]) throws(DiskError) -> ([UInt8], UInt8, Bool) {
    let dot = name.lastIndex(of: 0x2E)
    let basePart = dot.map { Array(name[..<$0]) } ?? name
    let extPart = dot.map { Array(name[($0 + 1)...]) } ?? []
    // Exact: 1-8 and 0-3 valid characters, one dot at most, each part in one case.
    func caseOf(_ s: [UInt8]) -> Int? {   // 0 upper (or no letters), 1 lower, nil mixed
        let hasLower = s.contains { $0 >= 0x61 && $0 <= 0x7A }, hasUpper = s.contains { $0 >= 0x41 && $0 <= 0x5A }
        return hasLower && hasUpper ? nil : (hasLower ? 1 : 0)
    }
    if !basePart.isEmpty, basePart.count <= 8, extPart.count <= 3, !(dot != nil && extPart.isEmpty),
       basePart.allSatisfy({ isShortChar(asciiUpper($0)) }), extPart.allSatisfy({ isShortChar(asciiUpper($0)) }),
       let bc = caseOf(basePart), let ec = caseOf(extPart) {
        var short = [UInt8](repeating: 0x20, count: 11)
        for (i, b) in basePart.enumerated() { short[i] = asciiUpper(b) }
        for (i, b) in extPart.enumerated() { short[8 + i] = asciiUpper(b) }
        if short[0] == 0xE5 { short[0] = 0x05 }
        if !avoiding.contains(short) {
            return (short, (bc == 1 ? 0x08 : 0) | (ec == 1 ? 0x10 : 0), false)
        }
    }
    // The basis: upper case, spaces and dots dropped, other characters that 8.3 lacks become `_`.
    func basis(_ s: [UInt8], _ limit: Int) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < s.count && out.count < limit {
            let b = s[i]
            if b >= 0x80 {
                out.append(UInt8(ascii: "_"))
                i += 1
                while i < s.count && s[i] & 0xC0 == 0x80 { i += 1 }   // one `_` per character
                continue
            }
            if b != 0x20 && b != 0x2E { out.append(isShortChar(asciiUpper(b)) ? asciiUpper(b) : UInt8(ascii: "_")) }
            i += 1
        }
        return out
    }
    // A name of a leading dot only (`.profile`) has no extension: its basis is the rest.
    let dotted = basePart.allSatisfy { $0 == 0x2E }
    let base = basis(dotted ? name : basePart, 8)
    let ext = dotted ? [] : basis(extPart, 3)
    // The numbers N already used with this basis (one pass over the directory's short names), then
    // the smallest free one.
    let stemFor = { (n: Int) -> [UInt8] in
        var digits: [UInt8] = []
        var v = n
        while v > 0 { digits.insert(UInt8(ascii: "0") + UInt8(v % 10), at: 0); v /= 10 }
        let keep = min(base.count, 8 - 1 - digits.count)
        return (base.isEmpty ? [UInt8(ascii: "_")] : Array(base[0..<keep])) + [UInt8(ascii: "~")] + digits
    }
    var extField = [UInt8](repeating: 0x20, count: 3)
    for (i, b) in ext.enumerated() { extField[i] = b }
    var used = [Bool](repeating: false, count: avoiding.count + 2)
    for s in avoiding where s.count == 11 && Array(s[8..<11]) == extField {
        guard let tilde = s[0..<8].firstIndex(of: UInt8(ascii: "~")) else { continue }
        var n = 0, k = tilde + 1
        while k < 8 && s[k] >= 0x30 && s[k] <= 0x39 { n = n * 10 + Int(s[k] - 0x30); k += 1 }
        guard n > 0, n < used.count, Array(s[0..<k]) == stemFor(n) else { continue }
        used[n] = true
    }
    for n in 1..<used.count where !used[n] && n < 1_000_000 {
        var short = [UInt8](repeating: 0x20, count: 11)
        for (i, b) in stemFor(n).enumerated() where i < 8 { short[i] = b }
        for i in 0..<3 { short[8 + i] = extField[i] }
        if !avoiding.contains(short) { return (short, 0, true) }
    }
    throw .exists
}

// MARK: Times

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
}

/// The civil date of a day count since 1970-01-01.
func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
    let z = z0 + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}

/// FAT's date and time fields for a time in seconds since 1970 (clamped to 1980…2107).
func fatDateTime(_ unix: UInt64) -> (date: UInt16, time: UInt16) {
    let lowest = UInt64(daysFromCivil(1980, 1, 1)) * 86400
    let highest = UInt64(daysFromCivil(2107, 12, 31)) * 86400 + 86399
    let t = min(max(unix, lowest), highest)
    let (y, m, d) = civilFromDays(Int(t / 86400))
    let s = Int(t % 86400)
    let date = UInt16((y - 1980) << 9 | m << 5 | d)
    let time = UInt16((s / 3600) << 11 | ((s / 60) % 60) << 5 | (s % 60) / 2)
    return (date, time)
}

/// Seconds since 1970 for FAT's date and time fields (0 for a date of 0 or out of range).
func unixTime(date: UInt16, time: UInt16) -> UInt64 {
    let y = 1980 + Int(date >> 9), m = Int(date >> 5 & 0xF), d = Int(date & 0x1F)
    guard m >= 1, m <= 12, d >= 1, d <= 31 else { return 0 }
    let h = Int(time >> 11), mi = Int(time >> 5 & 0x3F), s = Int(time & 0x1F) * 2
    guard h < 24, mi < 60, s < 60 else { return 0 }
    return UInt64(daysFromCivil(y, m, d) * 86400 + h * 3600 + mi * 60 + s)
}

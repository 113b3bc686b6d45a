// The text utilities' logic over bytes, fed in pieces as a file is read: hexdump (-C and the default
// two-byte words), wc's counts, grep's fixed-string matching, head's line limit and tail's ring of the
// last lines, and ls -l's long lines. Host-tested in Tests/FormatsTests/UtilitiesTests.swift against
// the output of util-linux's hexdump and GNU coreutils where they agree.

/// hexdump's output, fed in pieces: 16 bytes a line; a line equal to the one before is shown once as
/// `*` (as hexdump does without -v).
public struct HexDump {
    /// Canonical (`-C`): offset, 16 bytes in hex in two groups, `|ascii|`; else two-byte little-endian
    /// words in hex (hexdump's default).
    public let canonical: Bool
    var pending: [UInt8] = []
    var offset: UInt64 = 0
    var previous: [UInt8]? = nil
    var starred = false

    public init(canonical: Bool) { self.canonical = canonical }

    /// Takes more bytes; returns the whole lines they complete.
    public mutating func feed(_ bytes: [UInt8]) -> String {
        pending += bytes
        var out = ""
        var at = 0
        while pending.count - at >= 16 {
            out += line(Array(pending[at..<(at + 16)]))
            at += 16
        }
        pending.removeFirst(at)
        return out
    }

    /// The last, short line and the final offset.
    public mutating func finish() -> String {
        var out = ""
        if !pending.isEmpty {
            previous = nil   // a short last line is always shown
            out += line(pending)
            pending = []
        }
        if offset > 0 { out += UtilityFormat.hex(offset, digits: canonical ? 8 : 7) + "\n" }
        return out
    }

    mutating func line(_ bytes: [UInt8]) -> String {
        defer { offset += UInt64(bytes.count) }
        if bytes.count == 16, let previous, previous == bytes {
            if starred { return "" }
            starred = true
            return "*\n"
        }
        starred = false
        previous = bytes
        return canonical ? canonicalLine(bytes) : wordLine(bytes)
    }

    func canonicalLine(_ bytes: [UInt8]) -> String {
        var s = UtilityFormat.hex(offset, digits: 8) + " "
        for i in 0..<16 {
            if i == 8 { s += " " }
            s += i < bytes.count ? " " + UtilityFormat.hex(UInt64(bytes[i]), digits: 2) : "   "
        }
        s += "  |"
        s += String(decoding: bytes.map { $0 >= 0x20 && $0 < 0x7f ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
        return s + "|\n"
    }

    func wordLine(_ bytes: [UInt8]) -> String {
        var s = UtilityFormat.hex(offset, digits: 7)
        var i = 0
        while i < bytes.count {
            let high: UInt64 = i + 1 < bytes.count ? UInt64(bytes[i + 1]) : 0
            s += " " + UtilityFormat.hex(high << 8 | UInt64(bytes[i]), digits: 4)
            i += 2
        }
        return s + String(repeating: " ", count: (16 - i) / 2 * 5) + "\n"
    }
}

/// wc's counts: newlines, words (runs of bytes between white space with a printable one), bytes.
public struct WordCount: Equatable {
    public var lines: UInt64 = 0
    public var words: UInt64 = 0
    public var bytes: UInt64 = 0
    var inWord = false

    public init() {}

    public mutating func feed(_ data: [UInt8]) {
        bytes += UInt64(data.count)
        for b in data {
            if b == 10 { lines += 1 }
            // As GNU wc in the C locale: white space ends a word, a printable byte starts one, other
            // bytes (controls, bytes past ASCII) do neither.
            if b == 32 || (b >= 9 && b <= 13) {
                inWord = false
            } else if b > 32 && b < 127 && !inWord {
                words += 1
                inWord = true
            }
        }
    }

    public static func + (a: WordCount, b: WordCount) -> WordCount {
        var r = WordCount()
        r.lines = a.lines + b.lines
        r.words = a.words + b.words
        r.bytes = a.bytes + b.bytes
        return r
    }

    /// One output line: the chosen counts (lines, words, bytes when none is chosen) and the name. A
    /// single count alone is printed bare (`wc -l < f` says `3`); several are right-aligned in `width`.
    public func line(lines l: Bool, words w: Bool, bytes c: Bool, name: String?, width: Int) -> String {
        let all = !l && !w && !c
        var counts: [UInt64] = []
        if l || all { counts.append(lines) }
        if w || all { counts.append(words) }
        if c || all { counts.append(bytes) }
        var s: String
        if counts.count == 1 && name == nil {
            s = "\(counts[0])"
        } else {
            s = counts.map { UtilityFormat.right("\($0)", width) }.joined(separator: " ")
        }
        if let name { s += " " + name }
        return s
    }

    /// The column width GNU wc uses for these totals: the digits of the largest byte count (at least 1).
    public static func width(_ totals: WordCount) -> Int { max(1, "\(max(totals.bytes, max(totals.lines, totals.words)))".utf8.count) }
}

/// Splits a byte stream into lines as it is fed; the last line may lack its newline.
public struct LineSplitter {
    var partial: [UInt8] = []
    public init() {}

    /// The complete lines in `data` (without their newlines), keeping the rest for later.
    public mutating func feed(_ data: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        for b in data {
            if b == 10 { lines.append(partial); partial = [] } else { partial.append(b) }
        }
        return lines
    }

    /// The last line when the data did not end with a newline.
    public mutating func finish() -> [UInt8]? {
        defer { partial = [] }
        return partial.isEmpty ? nil : partial
    }
}

/// grep's matching of fixed strings (-F, the only kind built): a line is selected when it contains the
/// pattern (case folded for ASCII with -i), or does not with -v.
public struct FixedMatcher {
    let pattern: [UInt8]
    let ignoreCase: Bool
    let invert: Bool

    public init(_ pattern: String, ignoreCase: Bool = false, invert: Bool = false) {
        self.ignoreCase = ignoreCase
        self.invert = invert
        self.pattern = ignoreCase ? Array(pattern.utf8).map(FixedMatcher.fold) : Array(pattern.utf8)
    }

    static func fold(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b | 0x20 : b }

    /// Whether grep prints this line.
    public func selects(_ line: [UInt8]) -> Bool { contains(line) != invert }

    func contains(_ line: [UInt8]) -> Bool {
        let n = pattern.count
        if n == 0 { return true }
        if line.count < n { return false }
        for start in 0...(line.count - n) {
            var k = 0
            while k < n, (ignoreCase ? FixedMatcher.fold(line[start + k]) : line[start + k]) == pattern[k] { k += 1 }
            if k == n { return true }
        }
        return false
    }
}

/// tail's ring: the last `limit` lines seen.
public struct TailRing {
    public let limit: Int
    var lines: [[UInt8]] = []
    var next = 0

    public init(limit: Int) { self.limit = limit }

    public mutating func add(_ line: [UInt8]) {
        guard limit > 0 else { return }
        if lines.count < limit { lines.append(line); return }
        lines[next] = line
        next = (next + 1) % limit
    }

    /// The kept lines, oldest first.
    public var contents: [[UInt8]] { Array(lines[next...] + lines[..<next]) }
}

/// ls -l's long line for one file.
public enum LongListing {
    /// `drwxr-xr-x` / `-rw-r--r--` from the kind and permission bits.
    public static func modeString(directory: Bool, mode: UInt64) -> String {
        var s: [UInt8] = [directory ? UInt8(ascii: "d") : UInt8(ascii: "-")]
        let letters = Array("rwx".utf8)
        for i in 0..<9 {
            let bit = UInt64(1) << UInt64(8 - i)
            s.append(mode & bit != 0 ? letters[i % 3] : UInt8(ascii: "-"))
        }
        return String(decoding: s, as: UTF8.self)
    }

    /// `2026-11-27 10:05` from seconds since 1970 (UTC); `-` padding when unknown (0).
    public static func time(_ seconds: UInt64) -> String {
        guard seconds > 0 else { return "                " }
        let t = CivilDateTime(unixSeconds: Int64(seconds))
        return "\(t.year)-\(UtilityFormat.two(t.month))-\(UtilityFormat.two(t.day)) \(UtilityFormat.two(t.hour)):\(UtilityFormat.two(t.minute))"
    }

    /// One line: mode, size right-aligned in `sizeWidth`, time, name.
    public static func line(directory: Bool, mode: UInt64, size: UInt64, modified: UInt64, name: String,
                            sizeWidth: Int) -> String {
        modeString(directory: directory, mode: mode) + " " + UtilityFormat.right("\(size)", sizeWidth) + " "
            + time(modified) + " " + name
    }
}

// The core utilities' pure logic (bin/ls, cat, grep, …; Sources/Servers/coreutils is the thin program
// around it): argument parsing with POSIX-style short options, paths and URIs (basename, joining, the
// parents `mkdir -p` makes), and number formatting. Compiled into the guest programs and tested on the
// host (Tests/FormatsTests/UtilitiesTests.swift). Text is handled as bytes: no Unicode tables needed.

/// What a utility's command line asked for: its flags, option values and operands.
public struct UtilityArguments: Equatable {
    /// Flags given (`-l`, `-la` gives both).
    public var flags: Set<UInt8> = []
    /// Values of options that take one (`-n 5`, `-n5`), by option letter.
    public var values: [UInt8: String] = [:]
    /// The rest, in order (after `--`, everything).
    public var operands: [String] = []

    public init() {}

    /// Whether flag `c` was given.
    public func has(_ c: Character) -> Bool { flags.contains(c.asciiValue ?? 0) }
    /// The value of option `c`, if given.
    public func value(_ c: Character) -> String? { values[c.asciiValue ?? 0] }
}

/// A command line a utility refuses.
public enum UtilityUsageError: Error, Equatable {
    /// An option letter the utility does not know.
    case unknownOption(Character)
    /// An option that needs a value came last.
    case missingValue(Character)

    /// The message after `NAME: `, as the usual utilities word it.
    public var message: String {
        switch self {
        case .unknownOption(let c): return "invalid option -- '\(c)'"
        case .missingValue(let c): return "option requires an argument -- '\(c)'"
        }
    }
}

extension UtilityArguments {
    /// Parses `arguments` (without the program name): `-abc` are flags from `flags`, an option from
    /// `valued` takes the rest of its word or the next word; `--` ends options; `-` alone and words not
    /// starting with `-` are operands, and options may follow operands (as GNU's utilities allow).
    /// A word of digits after `-` is the value of `digitOption` when given (`head -5`).
    public static func parse(_ arguments: [String], flags: String, valued: String = "",
                             digitOption: Character? = nil) throws(UtilityUsageError) -> UtilityArguments {
        var result = UtilityArguments()
        let known = Set(flags.utf8), takesValue = Set(valued.utf8)
        var i = 0, optionsEnded = false
        while i < arguments.count {
            let word = Array(arguments[i].utf8)
            i += 1
            if optionsEnded || word.count < 2 || word[0] != UInt8(ascii: "-") {
                result.operands.append(String(decoding: word, as: UTF8.self))
                continue
            }
            if word == [UInt8(ascii: "-"), UInt8(ascii: "-")] { optionsEnded = true; continue }
            if let d = digitOption, word.dropFirst().allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                result.values[d.asciiValue!] = String(decoding: word.dropFirst(), as: UTF8.self)
                continue
            }
            var k = 1
            while k < word.count {
                let c = word[k]
                k += 1
                if takesValue.contains(c) {
                    if k < word.count {
                        result.values[c] = String(decoding: word[k...], as: UTF8.self)
                    } else if i < arguments.count {
                        result.values[c] = arguments[i]
                        i += 1
                    } else {
                        throw .missingValue(Character(Unicode.Scalar(c)))
                    }
                    break
                }
                guard known.contains(c) else { throw .unknownOption(Character(Unicode.Scalar(c))) }
                result.flags.insert(c)
            }
        }
        return result
    }
}

/// Paths and URIs as the utilities handle them: `initfs:///etc/motd`, `fs:///tmp/a`, `/tmp/a` (fs://).
public enum UtilityPath {
    /// The part before the path: `initfs://` of `initfs:///etc`, "" for a bare path.
    public static func scheme(_ path: String) -> String {
        guard let end = schemeEnd(path) else { return "" }
        return String(decoding: Array(path.utf8)[..<end], as: UTF8.self)
    }

    /// The path without its scheme prefix.
    public static func local(_ path: String) -> String {
        guard let end = schemeEnd(path) else { return path }
        return String(decoding: Array(path.utf8)[end...], as: UTF8.self)
    }

    /// The byte offset just past `://` when the path starts with a scheme (letters, digits, `.`, `-`).
    static func schemeEnd(_ path: String) -> Int? {
        let b = Array(path.utf8)
        var i = 0
        while i < b.count, b[i] != UInt8(ascii: ":") {
            let c = b[i] | 0x20
            guard (c >= 97 && c <= 122) || (b[i] >= 48 && b[i] <= 57) || b[i] == 46 || b[i] == 45 else { return nil }
            i += 1
        }
        guard i > 0 else { return nil }
        guard i + 3 <= b.count, b[i + 1] == UInt8(ascii: "/"), b[i + 2] == UInt8(ascii: "/") else { return nil }
        return i + 3
    }

    /// The last component (`ls` of `fs:///a/b/` is `b`); "/" for the root.
    public static func basename(_ path: String) -> String {
        let parts = local(path).split(separator: "/")
        return parts.last.map(String.init) ?? "/"
    }

    /// The path of the directory holding `path` (`fs:///a/b` → `fs:///a`, `fs:///a` → `fs:///`).
    public static func dirname(_ path: String) -> String {
        let s = scheme(path)
        var parts = local(path).split(separator: "/")
        if !parts.isEmpty { parts.removeLast() }
        return s + "/" + parts.joined(separator: "/")
    }

    /// `name` inside directory `directory`, with one slash between.
    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// `path` made absolute against `cwd` when it is relative (no scheme, no leading slash); `.` and
    /// `..` components are resolved (a `..` at the root stays at the root).
    public static func resolve(_ path: String, cwd: String) -> String {
        let full = !scheme(path).isEmpty || path.hasPrefix("/") ? path : join(cwd, path)
        var out: [Substring] = []
        for part in local(full).split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(part)
        }
        return scheme(full) + "/" + out.joined(separator: "/")
    }

    /// The directories `mkdir -p` makes for `path`, outermost first (the root is never listed):
    /// `fs:///a/b/c` → `fs:///a`, `fs:///a/b`, `fs:///a/b/c`.
    public static func parents(_ path: String) -> [String] {
        let s = scheme(path)
        var result: [String] = [], so = ""
        for part in local(path).split(separator: "/") {
            so += "/" + part
            result.append(s + so)
        }
        return result
    }

    /// Where `cp`/`mv` put `source` given `destination`: inside it when it is a directory.
    public static func target(source: String, destination: String, destinationIsDirectory: Bool) -> String {
        destinationIsDirectory ? join(destination, basename(source)) : destination
    }
}

/// Number formatting without Foundation.
public enum UtilityFormat {
    /// `text` right-aligned in `width` columns.
    public static func right(_ text: String, _ width: Int) -> String {
        let n = text.utf8.count
        return n >= width ? text : String(repeating: " ", count: width - n) + text
    }

    /// `text` left-aligned in `width` columns.
    public static func left(_ text: String, _ width: Int) -> String {
        let n = text.utf8.count
        return n >= width ? text : text + String(repeating: " ", count: width - n)
    }

    /// `value` in hexadecimal, lower case, zero-padded to `digits`.
    public static func hex(_ value: UInt64, digits: Int) -> String {
        let table = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        var v = value
        repeat { out.append(table[Int(v & 15)]); v >>= 4 } while v != 0
        while out.count < digits { out.append(UInt8(ascii: "0")) }
        return String(decoding: out.reversed(), as: UTF8.self)
    }

    /// `value` with two decimal digits, zero-padded (`7` → `07`).
    public static func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// A byte count in the units `ls -h`/`df -h`/`free -h` use: `512`, `1.5K`, `12M`, `3.0G`.
    public static func human(_ bytes: UInt64) -> String {
        let units: [String] = ["", "K", "M", "G", "T", "P"]
        var unit = 0
        var scaled = bytes
        var tenths: UInt64 = 0
        while scaled >= 1024 && unit < units.count - 1 {
            tenths = (scaled % 1024) * 10 / 1024
            scaled /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes)" }
        if scaled < 10 { return "\(scaled).\(tenths)\(units[unit])" }
        return "\(scaled + (tenths >= 5 ? 1 : 0))\(units[unit])"
    }

    /// Parses a decimal count (`head -n 10`); nil for anything else.
    public static func count(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        var v = 0
        for c in text.utf8 { v = v * 10 + Int(c - 48) }
        return v
    }

    /// Parses a `sleep` duration: a decimal number of seconds with an optional fraction and an optional
    /// suffix s, m, h or d, in nanoseconds; nil when malformed or past a year.
    public static func duration(_ text: String) -> UInt64? {
        var bytes = Array(text.utf8)
        var unit: UInt64 = 1_000_000_000
        if let last = bytes.last, last >= UInt8(ascii: "a") {
            switch last {
            case UInt8(ascii: "s"): unit = 1_000_000_000
            case UInt8(ascii: "m"): unit = 60_000_000_000
            case UInt8(ascii: "h"): unit = 3_600_000_000_000
            case UInt8(ascii: "d"): unit = 86_400_000_000_000
            default: return nil
            }
            bytes.removeLast()
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard !bytes.isEmpty, parts.count <= 2, parts.allSatisfy({ $0.allSatisfy { $0 >= 48 && $0 <= 57 } }),
              parts[0].count <= 8 else { return nil }
        var whole: UInt64 = 0
        for c in parts[0] { whole = whole * 10 + UInt64(c - 48) }
        var result = whole * unit
        if parts.count == 2 {
            var scale = unit / 10
            for c in parts[1] where scale > 0 {
                result += UInt64(c - 48) * scale
                scale /= 10
            }
        }
        return result <= 366 * 86_400_000_000_000 ? result : nil
    }
}

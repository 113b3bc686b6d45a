// The shell's word expansion after parsing (ShellSyntax.swift), pure so the host tests it: parameters
// and command substitutions are replaced (a substitution's trailing newlines removed), the results of
// unquoted ones are split into fields on IFS (default space, tab, newline: runs of IFS white space
// separate fields and vanish at the ends; any other IFS byte ends a field, so `a::b` with IFS=: is a, "",
// b), and each field with an unquoted `*`, `?` or `[` is a pattern matched against directory listings
// (ShellGlob): the matching paths in byte order, or the field as written when nothing matches. A word
// made only of an unquoted expansion that is empty gives no field; `""` gives one empty field.

/// One field after splitting: its bytes and, for each, whether it may be a pattern character (it came
/// unquoted from the command line or from an unquoted expansion).
public struct ShellField: Equatable, Sendable {
    public var bytes: [UInt8] = []
    public var special: [Bool] = []
    public init() {}
    public init(_ text: String, special: Bool) {
        bytes = Array(text.utf8)
        self.special = Array(repeating: special, count: bytes.count)
    }
    public var text: String { String(decoding: bytes, as: UTF8.self) }
    mutating func append(_ b: UInt8, special s: Bool) {
        bytes.append(b)
        special.append(s)
    }
}

public enum ShellExpansion {
    /// IFS when the variable is unset.
    public static let defaultIFS = " \t\n"

    /// `text` without its trailing newlines (what a command substitution gives).
    public static func trimmingNewlines(_ text: String) -> String {
        var b = Array(text.utf8)
        while b.last == 10 { b.removeLast() }
        return String(decoding: b, as: UTF8.self)
    }

    /// The fields of `word`: parameters through `lookup` (nil: empty), commands through `substitute`
    /// (their output), unquoted results split on `ifs`.
    public static func fields(_ word: ShellWord, ifs: String = defaultIFS, lookup: (String) -> String?,
                              substitute: (String) -> String = { _ in "" }) -> [ShellField] {
        let separators = Array(ifs.utf8)
        var out: [ShellField] = []
        var current = ShellField()
        var started = false         // the current field exists (even empty: "" or a quoted empty value)
        func split(_ value: String) {
            for b in value.utf8 {
                if separators.contains(b) {
                    let white = b == 32 || b == 9 || b == 10
                    if started || !white { out.append(current) }
                    current = ShellField()
                    started = false
                } else {
                    current.append(b, special: true)
                    started = true
                }
            }
        }
        for part in word.parts {
            switch part {
            case .text(let t):
                for b in t.utf8 { current.append(b, special: true) }
                started = true
            case .quoted(let t):
                for b in t.utf8 { current.append(b, special: false) }
                started = true
            case .parameter(let name, let quoted):
                let value = lookup(name) ?? ""
                if quoted {
                    for b in value.utf8 { current.append(b, special: false) }
                    started = true
                } else {
                    split(value)
                }
            case .command(let text, let quoted):
                let value = trimmingNewlines(substitute(text))
                if quoted {
                    for b in value.utf8 { current.append(b, special: false) }
                    started = true
                } else {
                    split(value)
                }
            }
        }
        if started { out.append(current) }
        return out
    }
}

/// Pathname expansion: `*` (any bytes), `?` (one byte), `[abc]`, `[a-z]`, `[!…]`/`[^…]` (none of them),
/// matched one path component at a time against directory listings; a leading `.` of a name matches
/// only a `.` written in the pattern; `/` is never matched by a pattern.
public enum ShellGlob {
    /// Whether the field holds an unquoted pattern character.
    public static func hasPattern(_ f: ShellField) -> Bool {
        for (b, s) in zip(f.bytes, f.special) where s {
            if b == UInt8(ascii: "*") || b == UInt8(ascii: "?") || b == UInt8(ascii: "[") { return true }
        }
        return false
    }

    /// The paths `f` matches: `list(DIR)` gives a directory's entry names (nil when it cannot be read).
    /// Sorted; the field's own text when it is no pattern or nothing matches.
    public static func expand(_ f: ShellField, list: (String) -> [String]?) -> [String] {
        guard hasPattern(f) else { return [f.text] }
        // The components between slashes, each with its pattern flags.
        var components: [ShellField] = [ShellField()]
        for (b, s) in zip(f.bytes, f.special) {
            if b == UInt8(ascii: "/") { components.append(ShellField()) } else { components[components.count - 1].append(b, special: s) }
        }
        var paths: [String] = [""]
        for (k, c) in components.enumerated() {
            if !hasPattern(c) {
                paths = paths.map { k == 0 ? c.text : $0 + "/" + c.text }
                continue
            }
            var next: [String] = []
            for path in paths {
                let directory = k == 0 ? "." : (path.isEmpty || path.hasSuffix("/") ? path + "/" : path)
                guard let names = list(directory) else { continue }
                for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
                where name != "." && name != ".." && matches(c, Array(name.utf8)) {
                    next.append(k == 0 ? name : path + "/" + name)
                }
            }
            paths = next
            if paths.isEmpty { return [f.text] }
        }
        return paths
    }

    /// Whether `name` (one path component) matches the pattern `p`.
    public static func matches(_ p: ShellField, _ name: [UInt8]) -> Bool {
        if name.first == UInt8(ascii: ".") && !(p.bytes.first == UInt8(ascii: ".")) { return false }
        let pattern = p.bytes, special = p.special
        var pi = 0, ni = 0
        var starAt = -1, starName = 0       // backtracking point: the last `*` and where it started matching
        while ni < name.count {
            if pi < pattern.count && special[pi] && pattern[pi] == UInt8(ascii: "*") {
                starAt = pi
                starName = ni
                pi += 1
                continue
            }
            if pi < pattern.count {
                if special[pi] && pattern[pi] == UInt8(ascii: "?") {
                    pi += 1; ni += 1
                    continue
                }
                if special[pi] && pattern[pi] == UInt8(ascii: "["), let (hit, end) = bracket(pattern, pi, name[ni]) {
                    if hit { pi = end; ni += 1; continue }
                } else if pattern[pi] == name[ni] {
                    pi += 1; ni += 1
                    continue
                }
            }
            guard starAt >= 0 else { return false }
            pi = starAt + 1
            starName += 1
            ni = starName
        }
        while pi < pattern.count && special[pi] && pattern[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == pattern.count
    }

    /// A bracket expression at `p[start]` (`[`): whether `b` is in it and the index after its `]`; nil
    /// when there is no closing `]` (then `[` is an ordinary byte).
    static func bracket(_ p: [UInt8], _ start: Int, _ b: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && (p[i] == UInt8(ascii: "!") || p[i] == UInt8(ascii: "^")) { negate = true; i += 1 }
        var hit = false
        var first = true
        while i < p.count {
            if p[i] == UInt8(ascii: "]") && !first { return (hit != negate, i + 1) }
            first = false
            if i + 2 < p.count && p[i + 1] == UInt8(ascii: "-") && p[i + 2] != UInt8(ascii: "]") {
                if p[i] <= b && b <= p[i + 2] { hit = true }
                i += 3
            } else {
                if p[i] == b { hit = true }
                i += 1
            }
        }
        return nil
    }
}

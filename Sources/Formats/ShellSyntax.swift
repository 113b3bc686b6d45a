// The shell's command language (sh, Sources/Servers/sh), parsed here in pure Swift so the host tests it:
// lists of and-or lists (`;`, newline, `&&`, `||`) of pipelines (`|`) of simple commands: words,
// `NAME=value` assignments before the first word, and redirections (`<`, `>`, `>>`, `N<`, `N>`, `N>>`,
// `N>&M`, `2>`). Quoting: '…' keeps every byte, "…" keeps bytes but expands `$NAME`, `${NAME}`, `$?`, `$$`
// and takes `\` before `"`, `\`, `$` and a backquote; unquoted, `\` keeps the next byte and `$…` expands.
// `#` at the start of a word begins a comment. Expansion happens when a command runs (ShellWord.expand):
// an expansion's value is not split into fields and there is no globbing.

/// One piece of a word: text as written, or a parameter to expand.
public enum ShellWordPart: Equatable, Sendable {
    case text(String)
    /// `$NAME`, `${NAME}`, `$?`, `$$`.
    case parameter(String)
}

/// A word of the command line before expansion.
public struct ShellWord: Equatable, Sendable {
    public var parts: [ShellWordPart]
    public init(_ parts: [ShellWordPart]) { self.parts = parts }
    /// A word of plain text.
    public static func literal(_ s: String) -> ShellWord { ShellWord([.text(s)]) }

    /// The word's text with each parameter replaced by `lookup`'s value (empty when nil).
    public func expand(_ lookup: (String) -> String?) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t): out += t
            case .parameter(let name): out += lookup(name) ?? ""
            }
        }
        return out
    }

    /// The text when the word has no parameters.
    public var literalText: String? {
        var out = ""
        for p in parts {
            guard case .text(let t) = p else { return nil }
            out += t
        }
        return out
    }
}

/// A redirection of a command's descriptor.
public struct ShellRedirection: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// `N< FILE` (N defaults to 0).
        case input
        /// `N> FILE` (N defaults to 1): created or truncated.
        case output
        /// `N>> FILE`: created or appended to.
        case append
        /// `N>&M`: descriptor N becomes a copy of M.
        case duplicate(Int)
    }
    public var descriptor: Int
    public var kind: Kind
    /// The file (empty for `.duplicate`).
    public var target: ShellWord

    public init(descriptor: Int, kind: Kind, target: ShellWord) {
        self.descriptor = descriptor
        self.kind = kind
        self.target = target
    }
}

/// A simple command: assignments, words (the first is the program or built-in), redirections in order.
public struct ShellCommand: Equatable, Sendable {
    public var assignments: [ShellAssignment] = []
    public var words: [ShellWord] = []
    public var redirections: [ShellRedirection] = []
    public init(assignments: [ShellAssignment] = [], words: [ShellWord] = [], redirections: [ShellRedirection] = []) {
        self.assignments = assignments
        self.words = words
        self.redirections = redirections
    }
}

public struct ShellAssignment: Equatable, Sendable {
    public var name: String
    public var value: ShellWord
    public init(name: String, value: ShellWord) {
        self.name = name
        self.value = value
    }
}

/// Commands joined by `|`.
public struct ShellPipeline: Equatable, Sendable {
    public var commands: [ShellCommand]
    public init(_ commands: [ShellCommand]) { self.commands = commands }
}

/// How a pipeline follows the one before it in an and-or list.
public enum ShellConnector: Equatable, Sendable {
    /// `&&`: runs when the previous status is 0.
    case and
    /// `||`: runs when the previous status is not 0.
    case or
}

/// `p1 && p2 || p3 …`.
public struct ShellAndOr: Equatable, Sendable {
    public var first: ShellPipeline
    public var rest: [(ShellConnector, ShellPipeline)]
    public init(first: ShellPipeline, rest: [(ShellConnector, ShellPipeline)] = []) {
        self.first = first
        self.rest = rest
    }
    public static func == (a: ShellAndOr, b: ShellAndOr) -> Bool {
        a.first == b.first && a.rest.count == b.rest.count && zip(a.rest, b.rest).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

public enum ShellSyntaxError: Error, Equatable, Sendable {
    case unterminatedQuote
    case unterminatedBrace
    /// An operator where a command was expected (`| x`, `a && && b`, `;;`).
    case unexpected(String)
    /// A redirection with no file after it.
    case missingTarget
    case badDescriptor

    public var message: String {
        switch self {
        case .unterminatedQuote: return "unterminated quote"
        case .unterminatedBrace: return "missing } in ${"
        case .unexpected(let op): return "syntax error near unexpected `\(op)`"
        case .missingTarget: return "syntax error: a redirection needs a file"
        case .badDescriptor: return "bad file descriptor in redirection"
        }
    }
}

/// The tokens the parser sees.
enum ShellToken: Equatable {
    /// `quotedStart`: the word begins with a quote or a backslash (so it is no `NAME=value` assignment).
    case word(ShellWord, quotedStart: Bool)
    case op(String)
    /// A redirection operator with its descriptor (-1: the default).
    case redirect(String, Int)
}

public enum ShellSyntax {
    /// Parses one or more lines into and-or lists, in order.
    public static func parse(_ text: String) throws(ShellSyntaxError) -> [ShellAndOr] {
        let tokens = try tokenize(Array(text.utf8))
        var lists: [ShellAndOr] = []
        var i = 0
        while i < tokens.count {
            if tokens[i] == .op(";") || tokens[i] == .op("\n") {
                if tokens[i] == .op(";") && (lists.isEmpty || i == 0 || tokens[i - 1] == .op(";")) { throw .unexpected(";") }
                i += 1
                continue
            }
            lists.append(try andOr(tokens, &i))
        }
        return lists
    }

    static func andOr(_ t: [ShellToken], _ i: inout Int) throws(ShellSyntaxError) -> ShellAndOr {
        var list = ShellAndOr(first: try pipeline(t, &i))
        while i < t.count, case .op(let o) = t[i], o == "&&" || o == "||" {
            i += 1
            while i < t.count && t[i] == .op("\n") { i += 1 }
            list.rest.append((o == "&&" ? .and : .or, try pipeline(t, &i)))
        }
        return list
    }

    static func pipeline(_ t: [ShellToken], _ i: inout Int) throws(ShellSyntaxError) -> ShellPipeline {
        var commands = [try command(t, &i)]
        while i < t.count && t[i] == .op("|") {
            i += 1
            while i < t.count && t[i] == .op("\n") { i += 1 }
            commands.append(try command(t, &i))
        }
        return ShellPipeline(commands)
    }

    static func command(_ t: [ShellToken], _ i: inout Int) throws(ShellSyntaxError) -> ShellCommand {
        var c = ShellCommand()
        while i < t.count {
            switch t[i] {
            case .op:
                if c.words.isEmpty && c.assignments.isEmpty && c.redirections.isEmpty {
                    if case .op(let o) = t[i] { throw .unexpected(o == "\n" ? "newline" : o) }
                }
                return c
            case .redirect(let op, let fd):
                i += 1
                if op.hasSuffix("&") {
                    guard i < t.count, case .word(let w, _) = t[i], let text = w.literalText, let target = Int(text), target >= 0 else {
                        throw .badDescriptor
                    }
                    c.redirections.append(ShellRedirection(descriptor: fd < 0 ? 1 : fd, kind: .duplicate(target), target: ShellWord([])))
                    i += 1
                    continue
                }
                guard i < t.count, case .word(let w, _) = t[i] else { throw .missingTarget }
                let kind: ShellRedirection.Kind = op == "<" ? .input : op == ">>" ? .append : .output
                c.redirections.append(ShellRedirection(descriptor: fd >= 0 ? fd : (op == "<" ? 0 : 1), kind: kind, target: w))
                i += 1
            case .word(let w, let quotedStart):
                if c.words.isEmpty, !quotedStart, let a = assignment(w) { c.assignments.append(a) } else { c.words.append(w) }
                i += 1
            }
        }
        if c.words.isEmpty && c.assignments.isEmpty && c.redirections.isEmpty { throw .unexpected("end of line") }
        return c
    }

    /// `NAME=value` (NAME: a letter or `_`, then letters, digits, `_`), or nil.
    static func assignment(_ w: ShellWord) -> ShellAssignment? {
        guard case .text(let first)? = w.parts.first, let eq = first.utf8.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        let name = Array(first.utf8[first.utf8.startIndex..<eq])
        guard let head = name.first, isNameStart(head), name.allSatisfy(isNameByte) else { return nil }
        let rest = String(decoding: first.utf8[first.utf8.index(after: eq)...], as: UTF8.self)
        var parts = w.parts
        parts[0] = .text(rest)
        if rest.isEmpty { parts.removeFirst() }
        return ShellAssignment(name: String(decoding: name, as: UTF8.self), value: ShellWord(parts))
    }

    static func isNameStart(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 }
    static func isNameByte(_ b: UInt8) -> Bool { isNameStart(b) || (b >= 48 && b <= 57) }

    /// The tokens of `b`: words (with their quoting resolved into parts), operators, redirections.
    static func tokenize(_ b: [UInt8]) throws(ShellSyntaxError) -> [ShellToken] {
        var tokens: [ShellToken] = []
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 32 || c == 9 || c == 13 { i += 1; continue }
            if c == 10 { tokens.append(.op("\n")); i += 1; continue }
            if c == UInt8(ascii: "#") {
                while i < b.count && b[i] != 10 { i += 1 }
                continue
            }
            if let (op, length) = operatorAt(b, i) {
                tokens.append(op)
                i += length
                continue
            }
            // A descriptor number right before a redirection: `2>`, `2>>`, `0<`, `2>&1`.
            var j = i
            while j < b.count && b[j] >= 48 && b[j] <= 57 { j += 1 }
            if j > i, j < b.count, b[j] == UInt8(ascii: ">") || b[j] == UInt8(ascii: "<"),
               let fd = Int(String(decoding: b[i..<j], as: UTF8.self)), let (op, length) = operatorAt(b, j),
               case .redirect(let name, _) = op {
                guard fd < 1024 else { throw .badDescriptor }
                tokens.append(.redirect(name, fd))
                i = j + length
                continue
            }
            let (word, _, next) = try readWord(b, i)
            let first = b[i]
            tokens.append(.word(word, quotedStart: first == UInt8(ascii: "'") || first == UInt8(ascii: "\"") || first == UInt8(ascii: "\\")))
            i = next
        }
        return tokens
    }

    static func operatorAt(_ b: [UInt8], _ i: Int) -> (ShellToken, Int)? {
        let c = b[i]
        let next: UInt8 = i + 1 < b.count ? b[i + 1] : 0
        switch c {
        case UInt8(ascii: ";"): return (.op(";"), 1)
        case UInt8(ascii: "&"): return next == UInt8(ascii: "&") ? (.op("&&"), 2) : (.op("&"), 1)
        case UInt8(ascii: "|"): return next == UInt8(ascii: "|") ? (.op("||"), 2) : (.op("|"), 1)
        case UInt8(ascii: "<"): return (.redirect("<", -1), 1)
        case UInt8(ascii: ">"):
            if next == UInt8(ascii: ">") { return (.redirect(">>", -1), 2) }
            if next == UInt8(ascii: "&") { return (.redirect(">&", -1), 2) }
            return (.redirect(">", -1), 1)
        default: return nil
        }
    }

    static func isWordEnd(_ c: UInt8) -> Bool {
        c == 32 || c == 9 || c == 10 || c == 13 || c == UInt8(ascii: ";") || c == UInt8(ascii: "&")
            || c == UInt8(ascii: "|") || c == UInt8(ascii: "<") || c == UInt8(ascii: ">")
    }

    /// One word from `start`: its parts, whether any of it was quoted, and where the next token starts.
    static func readWord(_ b: [UInt8], _ start: Int) throws(ShellSyntaxError) -> (ShellWord, Bool, Int) {
        var parts: [ShellWordPart] = []
        var text: [UInt8] = []
        var quoted = false
        func flush() {
            if !text.isEmpty { parts.append(.text(String(decoding: text, as: UTF8.self))); text = [] }
        }
        var i = start
        while i < b.count && !isWordEnd(b[i]) {
            let c = b[i]
            if c == UInt8(ascii: "'") {
                quoted = true
                guard let end = b[(i + 1)...].firstIndex(of: UInt8(ascii: "'")) else { throw .unterminatedQuote }
                text += b[(i + 1)..<end]
                i = end + 1
            } else if c == UInt8(ascii: "\"") {
                quoted = true
                i += 1
                while true {
                    guard i < b.count else { throw .unterminatedQuote }
                    let d = b[i]
                    if d == UInt8(ascii: "\"") { i += 1; break }
                    if d == UInt8(ascii: "\\"), i + 1 < b.count,
                       [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"), UInt8(ascii: "`"), 10].contains(b[i + 1]) {
                        if b[i + 1] != 10 { text.append(b[i + 1]) }
                        i += 2
                    } else if d == UInt8(ascii: "$"), let (name, next) = try parameter(b, i) {
                        flush()
                        parts.append(.parameter(name))
                        i = next
                    } else {
                        text.append(d)
                        i += 1
                    }
                }
            } else if c == UInt8(ascii: "\\") {
                quoted = true
                if i + 1 < b.count {
                    if b[i + 1] != 10 { text.append(b[i + 1]) }
                    i += 2
                } else {
                    i += 1
                }
            } else if c == UInt8(ascii: "$"), let (name, next) = try parameter(b, i) {
                flush()
                parts.append(.parameter(name))
                i = next
            } else {
                text.append(c)
                i += 1
            }
        }
        flush()
        if parts.isEmpty { parts = [.text("")] }
        return (ShellWord(parts), quoted, i)
    }

    /// A parameter at `$` (`$NAME`, `${NAME}`, `$?`, `$$`, `$0`-`$9`): its name and where it ends; nil
    /// when the `$` is a plain dollar sign.
    static func parameter(_ b: [UInt8], _ i: Int) throws(ShellSyntaxError) -> (String, Int)? {
        guard i + 1 < b.count else { return nil }
        let c = b[i + 1]
        if c == UInt8(ascii: "?") || c == UInt8(ascii: "$") || (c >= 48 && c <= 57) || c == UInt8(ascii: "#") {
            return (String(decoding: [c], as: UTF8.self), i + 2)
        }
        if c == UInt8(ascii: "{") {
            guard let end = b[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else { throw .unterminatedBrace }
            return (String(decoding: b[(i + 2)..<end], as: UTF8.self), end + 1)
        }
        guard isNameStart(c) else { return nil }
        var j = i + 1
        while j < b.count && isNameByte(b[j]) { j += 1 }
        return (String(decoding: b[(i + 1)..<j], as: UTF8.self), j)
    }
}

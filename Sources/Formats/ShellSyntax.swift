// The shell's command language (sh, Sources/Servers/sh), parsed here in pure Swift so the host tests it:
// lists of and-or lists (`;`, newline, `&` for a background job, `&&`, `||`) of pipelines (`|`, `!` in
// front negates the status) of commands. A command is a simple command (words, `NAME=value` assignments
// before the first word, redirections `<`, `>`, `>>`, `N<`, `N>`, `N>>`, `N>&M`) or a compound command
// with its own redirections after it: `{ LIST; }`, `if LIST; then LIST; [elif LIST; then LIST;]...
// [else LIST;] fi`, `while LIST; do LIST; done`, `until LIST; do LIST; done`, `for NAME [in WORDS]; do
// LIST; done`. Reserved words count only unquoted and where a command starts.
// Quoting: '…' keeps every byte, "…" keeps bytes but expands `$NAME`, `${NAME}`, `$?`, `$$`, `$!`, `$(…)`
// and `…` (backquotes), and takes `\` before `"`, `\`, `$` and a backquote; unquoted, `\` keeps the next
// byte and `$…` expands. `#` at the start of a word begins a comment. Expansion happens when a command
// runs (ShellExpansion.swift: field splitting and globbing of what is unquoted).
// Input that stops inside a construct (an open quote, `if` without `fi`, a trailing `|` or `&&`) throws
// an error whose `needsMore` is true: the interactive shell then reads another line (`> `).

/// One piece of a word: text as written, or a parameter or command to expand.
public enum ShellWordPart: Equatable, Sendable {
    /// Unquoted text (globbing applies).
    case text(String)
    /// Text from quotes or after a backslash.
    case quoted(String)
    /// `$NAME`, `${NAME}`, `$?`, `$$`, `$!`, `$#`, `$0`-`$9`; quoted inside "…" (then not split).
    case parameter(String, quoted: Bool)
    /// `$(COMMANDS)` or `` `COMMANDS` ``: their output, trailing newlines removed.
    case command(String, quoted: Bool)
}

/// A word of the command line before expansion.
public struct ShellWord: Equatable, Sendable {
    public var parts: [ShellWordPart]
    public init(_ parts: [ShellWordPart]) { self.parts = parts }
    /// A word of plain text.
    public static func literal(_ s: String) -> ShellWord { ShellWord([.text(s)]) }

    /// The word's text with each parameter replaced by `lookup`'s value (empty when nil) and each
    /// command by `substitute`'s output (trailing newlines removed): no field splitting, no globbing.
    public func expand(_ lookup: (String) -> String?, substitute: (String) -> String = { _ in "" }) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t), .quoted(let t): out += t
            case .parameter(let name, _): out += lookup(name) ?? ""
            case .command(let text, _): out += ShellExpansion.trimmingNewlines(substitute(text))
            }
        }
        return out
    }

    /// The text when the word has no parameters or commands.
    public var literalText: String? {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t), .quoted(let t): out += t
            default: return nil
            }
        }
        return out
    }

    /// The text when the word is unquoted plain text (a reserved word or a name can only be that).
    public var plainText: String? {
        guard parts.count == 1, case .text(let t) = parts[0] else { return nil }
        return t
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

/// A command: assignments, words (the first is the program or built-in), redirections in order; or a
/// compound command (then `words` and `assignments` are empty) with its redirections.
public struct ShellCommand: Equatable, Sendable {
    public var assignments: [ShellAssignment] = []
    public var words: [ShellWord] = []
    public var redirections: [ShellRedirection] = []
    public var compound: ShellCompound? = nil
    public init(assignments: [ShellAssignment] = [], words: [ShellWord] = [], redirections: [ShellRedirection] = [],
                compound: ShellCompound? = nil) {
        self.assignments = assignments
        self.words = words
        self.redirections = redirections
        self.compound = compound
    }
}

/// One `if`/`elif` branch: the body runs when the condition's status is 0.
public struct ShellBranch: Equatable, Sendable {
    public var condition: [ShellAndOr]
    public var body: [ShellAndOr]
    public init(condition: [ShellAndOr], body: [ShellAndOr]) {
        self.condition = condition
        self.body = body
    }
}

/// The compound commands.
public indirect enum ShellCompound: Equatable, Sendable {
    /// `{ LIST; }`.
    case group([ShellAndOr])
    /// `if … then … elif … then … else … fi`.
    case ifClause([ShellBranch], otherwise: [ShellAndOr]?)
    /// `while COND; do BODY; done` (`until`: while the condition fails).
    case loop(condition: [ShellAndOr], body: [ShellAndOr], until: Bool)
    /// `for NAME in WORDS; do BODY; done` (words nil: `for NAME; do`, the positional parameters).
    case forLoop(name: String, words: [ShellWord]?, body: [ShellAndOr])
}

public struct ShellAssignment: Equatable, Sendable {
    public var name: String
    public var value: ShellWord
    public init(name: String, value: ShellWord) {
        self.name = name
        self.value = value
    }
}

/// Commands joined by `|`; `!` in front negates the last one's status.
public struct ShellPipeline: Equatable, Sendable {
    public var commands: [ShellCommand]
    public var negated: Bool
    public init(_ commands: [ShellCommand], negated: Bool = false) {
        self.commands = commands
        self.negated = negated
    }
}

/// How a pipeline follows the one before it in an and-or list.
public enum ShellConnector: Equatable, Sendable {
    /// `&&`: runs when the previous status is 0.
    case and
    /// `||`: runs when the previous status is not 0.
    case or
}

/// `p1 && p2 || p3 …`, ended by `;`, a newline or `&` (background).
public struct ShellAndOr: Equatable, Sendable {
    public var first: ShellPipeline
    public var rest: [(ShellConnector, ShellPipeline)]
    /// Ended by `&`: runs as a background job.
    public var background = false
    /// The source text (for `jobs` and for running it in a shell of its own).
    public var text = ""
    public init(first: ShellPipeline, rest: [(ShellConnector, ShellPipeline)] = [], background: Bool = false, text: String = "") {
        self.first = first
        self.rest = rest
        self.background = background
        self.text = text
    }
    public static func == (a: ShellAndOr, b: ShellAndOr) -> Bool {
        a.first == b.first && a.background == b.background && a.rest.count == b.rest.count
            && zip(a.rest, b.rest).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

public enum ShellSyntaxError: Error, Equatable, Sendable {
    case unterminatedQuote
    case unterminatedBrace
    /// `$(` without its `)`, a backquote without its pair.
    case unterminatedCommand
    /// An operator or reserved word where it cannot stand (`| x`, `a && && b`, `;;`, `then` alone).
    case unexpected(String)
    /// The input ends inside a construct (`if` without `fi`, `a |`, `a &&`).
    case incomplete
    /// A redirection with no file after it.
    case missingTarget
    case badDescriptor

    /// More input could complete it (the interactive shell reads another line).
    public var needsMore: Bool {
        self == .incomplete || self == .unterminatedQuote || self == .unterminatedCommand
    }

    public var message: String {
        switch self {
        case .unterminatedQuote: return "unterminated quote"
        case .unterminatedBrace: return "missing } in ${"
        case .unterminatedCommand: return "missing ) in $("
        case .unexpected(let op): return "syntax error near unexpected `\(op)`"
        case .incomplete: return "syntax error: unexpected end of file"
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
        let bytes = Array(text.utf8)
        var p = Parser(tokens: try tokenize(bytes), source: bytes)
        return try p.list(until: [])
    }

    /// The reserved words that end a list (and so cannot start a command).
    static let closers: Set<String> = ["then", "elif", "else", "fi", "do", "done", "}"]

    /// A recursive-descent parser over the tokens (with each token's byte range in the source).
    struct Parser {
        let tokens: [(token: ShellToken, start: Int, end: Int)]
        let source: [UInt8]
        var i = 0

        init(tokens: [(token: ShellToken, start: Int, end: Int)], source: [UInt8]) {
            self.tokens = tokens
            self.source = source
        }

        var atEnd: Bool { i >= tokens.count }
        func isOp(_ o: String) -> Bool { !atEnd && tokens[i].token == .op(o) }
        /// The current token as a reserved word (unquoted plain text), or nil.
        var reserved: String? {
            guard !atEnd, case .word(let w, _) = tokens[i].token else { return nil }
            return w.plainText
        }
        mutating func skipNewlines() { while isOp("\n") { i += 1 } }

        /// And-or lists up to one of `closers` (not consumed) or the end (only when `closers` is empty).
        mutating func list(until closers: Set<String>) throws(ShellSyntaxError) -> [ShellAndOr] {
            var lists: [ShellAndOr] = []
            while true {
                skipNewlines()
                if atEnd {
                    if closers.isEmpty { return lists }
                    throw .incomplete
                }
                if let word = reserved, closers.contains(word) { return lists }
                if case .op(let o) = tokens[i].token { throw .unexpected(o) }
                let start = tokens[i].start
                var item = try andOr()
                item.text = String(decoding: source[start..<tokens[i - 1].end], as: UTF8.self)
                if isOp("&") || isOp(";") {
                    item.background = isOp("&")
                    i += 1
                } else if !atEnd && !isOp("\n") && !(reserved.map { closers.contains($0) } ?? false) {
                    if case .op(let o) = tokens[i].token { throw .unexpected(o) }
                    throw .unexpected(reserved ?? "word")
                }
                lists.append(item)
            }
        }

        /// A list that must hold at least one command, then the closer it ends with (consumed).
        mutating func body(until closers: Set<String>) throws(ShellSyntaxError) -> ([ShellAndOr], String) {
            let l = try list(until: closers)
            let closer = reserved!
            guard !l.isEmpty else { throw .unexpected(closer) }
            i += 1
            return (l, closer)
        }

        mutating func expect(_ word: String) throws(ShellSyntaxError) {
            skipNewlines()
            guard !atEnd else { throw .incomplete }
            guard reserved == word else { throw .unexpected(reserved ?? "word") }
            i += 1
        }

        mutating func andOr() throws(ShellSyntaxError) -> ShellAndOr {
            var list = ShellAndOr(first: try pipeline())
            while !atEnd, case .op(let o) = tokens[i].token, o == "&&" || o == "||" {
                i += 1
                skipNewlines()
                list.rest.append((o == "&&" ? .and : .or, try pipeline()))
            }
            return list
        }

        mutating func pipeline() throws(ShellSyntaxError) -> ShellPipeline {
            var negated = false
            if reserved == "!" {
                negated = true
                i += 1
            }
            var commands = [try command()]
            while isOp("|") {
                i += 1
                skipNewlines()
                commands.append(try command())
            }
            return ShellPipeline(commands, negated: negated)
        }

        mutating func command() throws(ShellSyntaxError) -> ShellCommand {
            guard !atEnd else { throw .incomplete }
            if let word = reserved {
                if ShellSyntax.closers.contains(word) { throw .unexpected(word) }
                if let compound = try compound(word) {
                    var c = ShellCommand(compound: compound)
                    while !atEnd, case .redirect = tokens[i].token { c.redirections.append(try redirection()) }
                    if !atEnd, case .word = tokens[i].token, !(reserved.map { ShellSyntax.closers.contains($0) } ?? false) {
                        throw .unexpected(reserved ?? "word")
                    }
                    return c
                }
            }
            var c = ShellCommand()
            while !atEnd {
                switch tokens[i].token {
                case .op(let o):
                    if c.words.isEmpty && c.assignments.isEmpty && c.redirections.isEmpty {
                        throw o == "\n" ? .incomplete : .unexpected(o)
                    }
                    return c
                case .redirect:
                    c.redirections.append(try redirection())
                case .word(let w, let quotedStart):
                    if c.words.isEmpty, !quotedStart, let a = ShellSyntax.assignment(w) { c.assignments.append(a) } else { c.words.append(w) }
                    i += 1
                }
            }
            if c.words.isEmpty && c.assignments.isEmpty && c.redirections.isEmpty { throw .incomplete }
            return c
        }

        mutating func redirection() throws(ShellSyntaxError) -> ShellRedirection {
            guard case .redirect(let op, let fd) = tokens[i].token else { throw .unexpected("redirection") }
            i += 1
            if op.hasSuffix("&") {
                guard !atEnd, case .word(let w, _) = tokens[i].token, let text = w.literalText, let target = Int(text), target >= 0 else {
                    throw .badDescriptor
                }
                i += 1
                return ShellRedirection(descriptor: fd < 0 ? 1 : fd, kind: .duplicate(target), target: ShellWord([]))
            }
            guard !atEnd, case .word(let w, _) = tokens[i].token else { throw .missingTarget }
            i += 1
            let kind: ShellRedirection.Kind = op == "<" ? .input : op == ">>" ? .append : .output
            return ShellRedirection(descriptor: fd >= 0 ? fd : (op == "<" ? 0 : 1), kind: kind, target: w)
        }

        /// The compound command `word` starts, or nil when it starts none.
        mutating func compound(_ word: String) throws(ShellSyntaxError) -> ShellCompound? {
            switch word {
            case "{":
                i += 1
                return .group(try body(until: ["}"]).0)
            case "if":
                i += 1
                var branches: [ShellBranch] = []
                while true {
                    let (condition, _) = try body(until: ["then"])
                    let (then, closer) = try body(until: ["elif", "else", "fi"])
                    branches.append(ShellBranch(condition: condition, body: then))
                    if closer == "fi" { return .ifClause(branches, otherwise: nil) }
                    if closer == "else" {
                        let (otherwise, _) = try body(until: ["fi"])
                        return .ifClause(branches, otherwise: otherwise)
                    }
                }
            case "while", "until":
                i += 1
                let (condition, _) = try body(until: ["do"])
                let (loopBody, _) = try body(until: ["done"])
                return .loop(condition: condition, body: loopBody, until: word == "until")
            case "for":
                i += 1
                guard !atEnd else { throw .incomplete }
                guard let name = reserved, let first = name.utf8.first, ShellSyntax.isNameStart(first),
                      name.utf8.allSatisfy(ShellSyntax.isNameByte) else { throw .unexpected(reserved ?? "word") }
                i += 1
                var words: [ShellWord]? = nil
                if isOp(";") { i += 1 }
                skipNewlines()
                if reserved == "in" {
                    i += 1
                    var list: [ShellWord] = []
                    while !atEnd, case .word(let w, _) = tokens[i].token {
                        list.append(w)
                        i += 1
                    }
                    guard !atEnd else { throw .incomplete }
                    guard isOp(";") || isOp("\n") else {
                        if case .op(let o) = tokens[i].token { throw .unexpected(o) }
                        throw .unexpected("redirection")
                    }
                    i += 1
                    words = list
                }
                try expect("do")
                let (loopBody, _) = try body(until: ["done"])
                return .forLoop(name: name, words: words, body: loopBody)
            default:
                return nil
            }
        }
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

    /// The tokens of `b` with their byte ranges: words (with their quoting resolved into parts),
    /// operators, redirections.
    static func tokenize(_ b: [UInt8]) throws(ShellSyntaxError) -> [(token: ShellToken, start: Int, end: Int)] {
        var tokens: [(token: ShellToken, start: Int, end: Int)] = []
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 32 || c == 9 || c == 13 { i += 1; continue }
            if c == 10 { tokens.append((.op("\n"), i, i + 1)); i += 1; continue }
            if c == UInt8(ascii: "#") {
                while i < b.count && b[i] != 10 { i += 1 }
                continue
            }
            // A backslash-newline joins lines.
            if c == UInt8(ascii: "\\") && i + 1 < b.count && b[i + 1] == 10 { i += 2; continue }
            if let (op, length) = operatorAt(b, i) {
                tokens.append((op, i, i + length))
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
                tokens.append((.redirect(name, fd), i, j + length))
                i = j + length
                continue
            }
            let (word, _, next) = try readWord(b, i)
            let first = b[i]
            tokens.append((.word(word, quotedStart: first == UInt8(ascii: "'") || first == UInt8(ascii: "\"") || first == UInt8(ascii: "\\")), i, next))
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
        var textQuoted = false
        var emitEmpty = false       // an opened quote makes a part even when nothing is inside it
        var quoted = false
        func flush() {
            if !text.isEmpty || emitEmpty {
                let s = String(decoding: text, as: UTF8.self)
                parts.append(textQuoted ? .quoted(s) : .text(s))
            }
            text = []
            emitEmpty = false
        }
        /// Appends `bytes` as quoted or unquoted text (a change of kind starts a new part).
        func add(_ bytes: ArraySlice<UInt8>, quoted q: Bool) {
            if q != textQuoted { flush(); textQuoted = q }
            text += bytes
        }
        func openQuote() {
            quoted = true
            add([], quoted: true)
            emitEmpty = true
        }
        var i = start
        while i < b.count && !isWordEnd(b[i]) {
            let c = b[i]
            if c == UInt8(ascii: "'") {
                guard let end = b[(i + 1)...].firstIndex(of: UInt8(ascii: "'")) else { throw .unterminatedQuote }
                openQuote()
                add(b[(i + 1)..<end], quoted: true)
                i = end + 1
            } else if c == UInt8(ascii: "\"") {
                openQuote()
                i += 1
                while true {
                    guard i < b.count else { throw .unterminatedQuote }
                    let d = b[i]
                    if d == UInt8(ascii: "\"") { i += 1; break }
                    if d == UInt8(ascii: "\\"), i + 1 < b.count,
                       [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"), UInt8(ascii: "`"), 10].contains(b[i + 1]) {
                        if b[i + 1] != 10 { add([b[i + 1]], quoted: true) }
                        i += 2
                    } else if let (part, next) = try expansion(b, i, quoted: true) {
                        flush()
                        parts.append(part)
                        i = next
                    } else {
                        add([d], quoted: true)
                        i += 1
                    }
                }
            } else if c == UInt8(ascii: "\\") {
                quoted = true
                if i + 1 < b.count {
                    if b[i + 1] != 10 { add([b[i + 1]], quoted: true) }
                    i += 2
                } else {
                    throw .incomplete       // a line ending in `\` continues on the next
                }
            } else if let (part, next) = try expansion(b, i, quoted: false) {
                flush()
                parts.append(part)
                i = next
            } else {
                add([c], quoted: false)
                i += 1
            }
        }
        flush()
        if parts.isEmpty { parts = [.text("")] }
        return (ShellWord(parts), quoted, i)
    }

    /// A parameter or command substitution at `b[i]` (`$…` or a backquote), or nil.
    static func expansion(_ b: [UInt8], _ i: Int, quoted: Bool) throws(ShellSyntaxError) -> (ShellWordPart, Int)? {
        if b[i] == UInt8(ascii: "`") {
            var j = i + 1
            var inner: [UInt8] = []
            while j < b.count && b[j] != UInt8(ascii: "`") {
                if b[j] == UInt8(ascii: "\\") && j + 1 < b.count && [UInt8(ascii: "`"), UInt8(ascii: "\\"), UInt8(ascii: "$")].contains(b[j + 1]) {
                    j += 1
                }
                inner.append(b[j])
                j += 1
            }
            guard j < b.count else { throw .unterminatedCommand }
            return (.command(String(decoding: inner, as: UTF8.self), quoted: quoted), j + 1)
        }
        guard b[i] == UInt8(ascii: "$") else { return nil }
        if i + 1 < b.count && b[i + 1] == UInt8(ascii: "(") {
            let end = try closingParenthesis(b, i + 2)
            return (.command(String(decoding: b[(i + 2)..<end], as: UTF8.self), quoted: quoted), end + 1)
        }
        guard let (name, next) = try parameter(b, i) else { return nil }
        return (.parameter(name, quoted: quoted), next)
    }

    /// The index of the `)` that closes a `$(` whose text starts at `start` (quotes and nested
    /// parentheses skipped).
    static func closingParenthesis(_ b: [UInt8], _ start: Int) throws(ShellSyntaxError) -> Int {
        var depth = 0
        var j = start
        while j < b.count {
            switch b[j] {
            case UInt8(ascii: "\\"): j += 1
            case UInt8(ascii: "'"):
                guard let end = b[(j + 1)...].firstIndex(of: UInt8(ascii: "'")) else { throw .unterminatedCommand }
                j = end
            case UInt8(ascii: "\""):
                j += 1
                while j < b.count && b[j] != UInt8(ascii: "\"") {
                    if b[j] == UInt8(ascii: "\\") { j += 1 }
                    j += 1
                }
            case UInt8(ascii: "("): depth += 1
            case UInt8(ascii: ")"):
                if depth == 0 { return j }
                depth -= 1
            default: break
            }
            j += 1
        }
        throw .unterminatedCommand
    }

    /// A parameter at `$` (`$NAME`, `${NAME}`, `$?`, `$$`, `$!`, `$#`, `$0`-`$9`): its name and where it
    /// ends; nil when the `$` is a plain dollar sign.
    static func parameter(_ b: [UInt8], _ i: Int) throws(ShellSyntaxError) -> (String, Int)? {
        guard i + 1 < b.count else { return nil }
        let c = b[i + 1]
        if c == UInt8(ascii: "?") || c == UInt8(ascii: "$") || (c >= 48 && c <= 57) || c == UInt8(ascii: "#")
            || c == UInt8(ascii: "!") || c == UInt8(ascii: "@") || c == UInt8(ascii: "*") {
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

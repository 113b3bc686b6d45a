// The text utilities: echo, hexdump, head, tail, wc, grep. Each reads its files (or standard input) in
// pieces and feeds the pure logic of Sources/Formats/UtilitiesText.swift.

/// The operands as files to read: standard input (nil) when there are none.
func inputs(_ operands: [String]) -> [String?] { operands.isEmpty ? [nil] : operands.map { Optional($0) } }

/// echo [-n] [WORD...]
func echo(_ arguments: [String]) -> Int32 {
    var words = arguments
    var newline = true
    while words.first == "-n" { newline = false; words.removeFirst() }
    IO.out(words.joined(separator: " ") + (newline ? "\n" : ""))
    return 0
}

/// hexdump [-C] [FILE...]: the files as one stream.
func hexdump(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "Cv") else { return 1 }
    var dump = HexDump(canonical: a.has("C"))
    var status: Int32 = 0
    for input in inputs(a.operands) where !eachPiece(of: input, { IO.out(dump.feed($0)) }) { status = 1 }
    IO.out(dump.finish())
    return status
}

/// The line count of head and tail: `-n N`, `-N`, 10 by default; nil (after an error) when malformed.
func lineCount(_ a: UtilityArguments) -> Int? {
    guard let text = a.value("n") else { return 10 }
    guard let n = UtilityFormat.count(text) else {
        IO.error("invalid number of lines: '" + text + "'")
        return nil
    }
    return n
}

/// `==> NAME <==` before each file when there are several.
func header(_ input: String?, _ index: Int, _ count: Int) {
    if count > 1 { IO.line((index > 0 ? "\n" : "") + "==> " + (input ?? "standard input") + " <==") }
}

/// head [-n N] [FILE...]: the first N lines.
func head(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "", valued: "n", digitOption: "n"), let n = lineCount(a) else { return 1 }
    var status: Int32 = 0
    let all = inputs(a.operands)
    for (k, input) in all.enumerated() {
        header(input, k, all.count)
        var left = n
        let ok = eachPiece(of: input, until: { left == 0 }) { piece in
            var end = 0
            while end < piece.count && left > 0 {
                if piece[end] == 10 { left -= 1 }
                end += 1
            }
            if end > 0 { IO.out(Array(piece[..<end])) }
        }
        if !ok { status = 1 }
    }
    return status
}

/// tail [-n N] [FILE...]: the last N lines (a ring of N lines while reading).
func tail(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "", valued: "n", digitOption: "n"), let n = lineCount(a) else { return 1 }
    var status: Int32 = 0
    let all = inputs(a.operands)
    for (k, input) in all.enumerated() {
        header(input, k, all.count)
        var ring = TailRing(limit: n)
        var lines = LineSplitter()
        let ok = eachPiece(of: input) { piece in for line in lines.feed(piece) { ring.add(line + [10]) } }
        if let last = lines.finish() { ring.add(last) }
        for line in ring.contents { IO.out(line) }
        if !ok { status = 1 }
    }
    return status
}

/// wc [-l] [-w] [-c] [FILE...]: lines, words, bytes; a total line for several files.
func wc(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "lwc") else { return 1 }
    var status: Int32 = 0
    var results: [(name: String?, count: WordCount)] = []
    for input in inputs(a.operands) {
        var count = WordCount()
        if eachPiece(of: input, { count.feed($0) }) { results.append((input, count)) } else { status = 1 }
    }
    var total = WordCount()
    for r in results { total = total + r.count }
    let width = results.count == 1 && results[0].name == nil ? 7 : WordCount.width(total)
    for r in results { IO.line(r.count.line(lines: a.has("l"), words: a.has("w"), bytes: a.has("c"), name: r.name, width: width)) }
    if results.count > 1 { IO.line(total.line(lines: a.has("l"), words: a.has("w"), bytes: a.has("c"), name: "total", width: width)) }
    return status
}

/// grep [-i] [-v] [-c] [-n] [-q] [-F] PATTERN [FILE...]: lines holding the fixed string PATTERN.
/// Exit status 0 when a line was selected, 1 when none, 2 on an error.
func grep(_ arguments: [String]) -> Int32 {
    guard let a = options(arguments, flags: "ivcnqFhH") else { return 2 }
    guard let pattern = a.operands.first else {
        IO.error("usage: grep [-ivcnq] PATTERN [FILE...]")
        return 2
    }
    let matcher = FixedMatcher(pattern, ignoreCase: a.has("i"), invert: a.has("v"))
    let files = inputs(Array(a.operands.dropFirst()))
    let named = (files.count > 1 || a.has("H")) && !a.has("h")
    var selected = 0
    var failed = false
    for input in files {
        var lines = LineSplitter()
        var number = 0, count = 0
        let prefix = named ? (input ?? "(standard input)") + ":" : ""
        func take(_ line: [UInt8]) {
            number += 1
            guard matcher.selects(line) else { return }
            count += 1
            if a.has("c") || a.has("q") { return }
            IO.out(prefix + (a.has("n") ? "\(number):" : ""))
            IO.out(line + [10])
        }
        let ok = eachPiece(of: input) { piece in for line in lines.feed(piece) { take(line) } }
        if let last = lines.finish() { take(last) }
        if !ok { failed = true }
        if a.has("c") && !a.has("q") { IO.line(prefix + "\(count)") }
        selected += count
    }
    if a.has("q") && selected > 0 { return 0 }
    return failed ? 2 : selected > 0 ? 0 : 1
}

// Inline symbolization for `osh boot`: serial lines that are symbolizer markup ({{{reset}}},
// {{{module…}}}, {{{mmap…}}}, {{{bt…}}}) are shown rewritten; everything else passes through at once.

import Foundation
import Symbolizer

/// A console filter that rewrites lines starting with `{{{`. Only such lines are held back until their
/// newline (or until they grow past `maxLine`); any other text, partial lines included (a prompt), is
/// returned as soon as it is known not to start with `{{{`. Line endings (`\n` or `\r\n`) are kept, and a
/// rewrite spanning several lines uses the same ending for each.
public struct SymbolizingSerialFilter: SerialConsoleFilter {
    public static let maxLine = 4096
    static let opener: [UInt8] = Array("{{{".utf8)

    enum State {
        /// At the start of a line: the bytes seen so far are a prefix of `{{{` (possibly empty).
        case deciding([UInt8])
        /// Inside a markup line, held back.
        case markup([UInt8])
        /// Inside an ordinary line, passed through.
        case passing
    }

    var state: State = .deciding([])
    let rewriteLine: (String) -> String

    /// `rewriteLine` gets a markup line without its ending and returns its replacement (which may
    /// contain `\n`).
    public init(rewriteLine: @escaping (String) -> String) {
        self.rewriteLine = rewriteLine
    }

    /// Rewrites with a MarkupRewriter finding ELF files by build ID in `directories` (the run directory).
    public init(directories: [String], pathPrefix: String?) {
        let rewriter = MarkupRewriter(finder: ELFFinder(directories: directories), pathPrefix: pathPrefix)
        self.init(rewriteLine: { line in (try? rewriter.rewrite(line: line)) ?? line })
    }

    public mutating func process(_ chunk: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in chunk {
            switch state {
            case .passing:
                out.append(byte)
                if byte == UInt8(ascii: "\n") { state = .deciding([]) }
            case .deciding(var seen):
                seen.append(byte)
                if seen == SymbolizingSerialFilter.opener {
                    state = .markup(seen)
                } else if SymbolizingSerialFilter.opener.starts(with: seen) {
                    state = .deciding(seen)
                } else {
                    out += seen
                    state = byte == UInt8(ascii: "\n") ? .deciding([]) : .passing
                }
            case .markup(var line):
                line.append(byte)
                if byte == UInt8(ascii: "\n") {
                    out += rewrite(line)
                    state = .deciding([])
                } else if line.count >= SymbolizingSerialFilter.maxLine {
                    // Not a real markup line: show it as it is.
                    out += line
                    state = .passing
                } else {
                    state = .markup(line)
                }
            }
        }
        return out
    }

    public mutating func finish() -> [UInt8] {
        defer { state = .deciding([]) }
        switch state {
        case .passing: return []
        case .deciding(let seen): return seen
        case .markup(let line): return rewrite(line)
        }
    }

    /// The replacement of one held line (with or without its ending).
    func rewrite(_ line: [UInt8]) -> [UInt8] {
        var body = line[...]
        var ending: [UInt8] = []
        if body.last == UInt8(ascii: "\n") {
            body = body.dropLast()
            ending = [UInt8(ascii: "\n")]
            if body.last == UInt8(ascii: "\r") {
                body = body.dropLast()
                ending = Array("\r\n".utf8)
            }
        }
        let text = String(decoding: body, as: UTF8.self)
        let rewritten = rewriteLine(text)
        let separator = ending.isEmpty ? "\n" : String(decoding: ending, as: UTF8.self)
        return Array(rewritten.replacingOccurrences(of: "\n", with: separator).utf8) + ending
    }
}

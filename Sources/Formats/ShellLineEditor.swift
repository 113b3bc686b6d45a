// The shell's line editor (sh in raw terminal mode), pure Swift so the host tests it: it takes the bytes
// a terminal sends, one at a time, keeps the line and the cursor, and says what to write back to the
// terminal (echo, or a redraw of the line) and when a line is done. Keys: printable bytes insert at the
// cursor; left/right (ESC [ D / ESC [ C, Ctrl-B/Ctrl-F), home/end (ESC [ H / ESC [ F, ESC [ 1~ / 4~,
// ESC [ 7~ / 8~, ESC O H / O F, Ctrl-A/Ctrl-E); backspace (DEL or Ctrl-H) and delete (ESC [ 3~);
// history up/down (ESC [ A / ESC [ B, Ctrl-P/Ctrl-N; the line being typed is kept while browsing);
// Ctrl-U erases to the line's start, Ctrl-K to its end; Enter (CR or LF) ends the line; Ctrl-C drops it;
// Ctrl-D on an empty line is the end of input (else it deletes under the cursor). Bytes are treated as
// characters one column wide (multi-byte UTF-8 is kept but moved over byte by byte).

public struct ShellLineEditor: Sendable {
    /// What the terminal should do after a byte.
    public enum Event: Equatable, Sendable {
        /// Nothing more than `output` (which may be empty).
        case editing
        /// The line is done (without its newline); the editor is empty again.
        case line(String)
        /// Ctrl-C: the line was dropped.
        case interrupt
        /// Ctrl-D on an empty line.
        case endOfInput
    }

    public private(set) var line: [UInt8] = []
    public private(set) var cursor = 0
    public private(set) var history: [String] = []
    /// The prompt, written again on a redraw.
    public var prompt: [UInt8]
    /// Lines of history kept at most.
    public var historyLimit = 500
    /// Position while browsing history (history.count: the line being typed).
    var browsing = 0
    var draft: [UInt8] = []
    var escape: [UInt8] = []

    public init(prompt: String = "") {
        self.prompt = Array(prompt.utf8)
    }

    /// Starts a new line with `prompt`; the bytes that show the prompt.
    public mutating func begin(prompt: String) -> [UInt8] {
        self.prompt = Array(prompt.utf8)
        line = []
        cursor = 0
        browsing = history.count
        escape = []
        return self.prompt
    }

    /// Adds a line to the history (not an empty one, nor the same as the last).
    public mutating func remember(_ text: String) {
        guard !text.isEmpty, history.last != text else { return }
        history.append(text)
        if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        browsing = history.count
    }

    /// Takes one byte; what happened and the bytes to write to the terminal.
    public mutating func feed(_ byte: UInt8) -> (Event, [UInt8]) {
        if !escape.isEmpty || byte == 0x1b { return feedEscape(byte) }
        switch byte {
        case 13, 10:
            let text = String(decoding: line, as: UTF8.self)
            line = []
            cursor = 0
            browsing = history.count
            return (.line(text), [13, 10])
        case 3:
            line = []
            cursor = 0
            browsing = history.count
            return (.interrupt, Array("^C\r\n".utf8))
        case 4:
            if line.isEmpty { return (.endOfInput, []) }
            return (.editing, delete())
        case 0x7f, 8: return (.editing, backspace())
        case 1: return (.editing, move(to: 0))
        case 5: return (.editing, move(to: line.count))
        case 2: return (.editing, move(to: cursor - 1))
        case 6: return (.editing, move(to: cursor + 1))
        case 16: return (.editing, recall(-1))
        case 14: return (.editing, recall(1))
        case 21:
            line.removeFirst(cursor)
            cursor = 0
            return (.editing, redraw())
        case 11:
            line.removeLast(line.count - cursor)
            return (.editing, redraw())
        case 9: return (.editing, insert(32))
        default:
            guard byte >= 32 else { return (.editing, []) }
            return (.editing, insert(byte))
        }
    }

    mutating func feedEscape(_ byte: UInt8) -> (Event, [UInt8]) {
        escape.append(byte)
        if escape.count == 1 { return (.editing, []) }
        if escape.count == 2 {
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "O") { return (.editing, []) }
            escape = []
            return (.editing, [])
        }
        // ESC [ digits ~, or ESC [ letter / ESC O letter.
        if byte >= 48 && byte <= 57 && escape.count < 6 { return (.editing, []) }
        let sequence = escape
        escape = []
        switch byte {
        case UInt8(ascii: "A"): return (.editing, recall(-1))
        case UInt8(ascii: "B"): return (.editing, recall(1))
        case UInt8(ascii: "C"): return (.editing, move(to: cursor + 1))
        case UInt8(ascii: "D"): return (.editing, move(to: cursor - 1))
        case UInt8(ascii: "H"): return (.editing, move(to: 0))
        case UInt8(ascii: "F"): return (.editing, move(to: line.count))
        case UInt8(ascii: "~"):
            switch String(decoding: sequence[2..<(sequence.count - 1)], as: UTF8.self) {
            case "1", "7": return (.editing, move(to: 0))
            case "4", "8": return (.editing, move(to: line.count))
            case "3": return (.editing, delete())
            default: return (.editing, [])
            }
        default: return (.editing, [])
        }
    }

    mutating func insert(_ byte: UInt8) -> [UInt8] {
        line.insert(byte, at: cursor)
        cursor += 1
        if cursor == line.count { return [byte] }
        return redraw()
    }

    mutating func backspace() -> [UInt8] {
        guard cursor > 0 else { return [7] }
        line.remove(at: cursor - 1)
        cursor -= 1
        if cursor == line.count { return [8, 32, 8] }
        return redraw()
    }

    mutating func delete() -> [UInt8] {
        guard cursor < line.count else { return [] }
        line.remove(at: cursor)
        return redraw()
    }

    mutating func move(to position: Int) -> [UInt8] {
        let target = max(0, min(position, line.count))
        defer { cursor = target }
        if target < cursor { return ShellLineEditor.left(cursor - target) }
        if target > cursor { return Array(line[cursor..<target]) }
        return []
    }

    /// History entry `direction` (-1 older, +1 newer) from the one shown.
    mutating func recall(_ direction: Int) -> [UInt8] {
        let next = browsing + direction
        guard next >= 0, next <= history.count else { return [7] }
        if browsing == history.count { draft = line }
        browsing = next
        line = next == history.count ? draft : Array(history[next].utf8)
        cursor = line.count
        return redraw()
    }

    /// Carriage return, prompt, line, erase to the end, cursor back to its place.
    func redraw() -> [UInt8] {
        var out: [UInt8] = [13] + prompt + line + Array("\u{1b}[K".utf8)
        if cursor < line.count { out += ShellLineEditor.left(line.count - cursor) }
        return out
    }

    static func left(_ n: Int) -> [UInt8] { n == 1 ? [8] : Array("\u{1b}[\(n)D".utf8) }
}

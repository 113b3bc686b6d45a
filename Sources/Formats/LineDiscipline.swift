// The console's line discipline: what typed bytes do to the line being edited, what is echoed, what a
// reader gets, and what the terminal's last line shows (for the redraw after a kernel log line). Pure
// logic: the console server (Sources/Servers/console) feeds it the bytes from COM1 and the keyboard and
// writes what it answers; the host tests (Tests/FormatsTests/LineDisciplineTests.swift) drive it byte by
// byte.
//
// Cooked mode (TerminalMode without .raw): printable bytes (and UTF-8 sequences, and tab) join the line;
// Enter (CR or LF) ends it (the reader gets it with "\n"); backspace (DEL or BS) removes the last
// character; Ctrl-U removes the whole line; Ctrl-C drops the line and all typed input not read yet and
// reports an interrupt (the console then asks pm to end the foreground process); Ctrl-D on an empty line
// is the end of input (the next read returns 0 bytes), on a non-empty line hands the line over without a
// newline; escape sequences (arrow keys: ESC [ … final byte) are skipped; other control bytes are
// ignored. With .echo, each change is echoed ("\b \b" erases a character, "^C" shows an interrupt).
// Raw mode: every byte is handed over as it arrives, nothing is echoed or interpreted.

#if !USERSPACE
import ABI
#endif

public struct LineDiscipline: Sendable {
    public var mode: TerminalMode = .cooked
    /// The line being edited (cooked mode).
    public private(set) var line: [UInt8] = []
    /// Input ready for readers: whole lines (cooked) or bytes (raw); an empty chunk is an end of input.
    public private(set) var ready: [[UInt8]] = []
    /// The program output since the last newline (the prompt a redraw shows again), at most
    /// `maxPrompt` bytes.
    public private(set) var prompt: [UInt8] = []
    /// Whether `prompt` holds all of the output since the last newline (it was not cut to `maxPrompt`).
    public private(set) var promptWhole = true
    /// Whether a reader waits for input (the console says so: its line then counts as being edited).
    public var readerWaiting = false
    /// Bytes of an escape sequence being skipped (0: none; 1: after ESC; 2: inside CSI).
    var escape = 0
    public static let maxPrompt = 256
    /// The most input held for readers; more typed bytes are dropped (a bell is echoed).
    public static let maxReady = 4096

    public init() {}

    /// What one typed byte did: the bytes to echo and whether it was an interrupt (Ctrl-C).
    public struct Effect: Equatable, Sendable {
        public var echo: [UInt8] = []
        public var interrupt = false
        public init(echo: [UInt8] = [], interrupt: Bool = false) { self.echo = echo; self.interrupt = interrupt }
    }

    var readyCount: Int { ready.reduce(0) { $0 + $1.count } }

    /// Takes one typed byte.
    public mutating func type(_ byte: UInt8) -> Effect {
        if mode.contains(.raw) {
            guard readyCount < LineDiscipline.maxReady else { return Effect() }
            if let last = ready.last, !last.isEmpty { ready[ready.count - 1].append(byte) } else { ready.append([byte]) }
            return Effect()
        }
        var e = Effect()
        let echo = mode.contains(.echo)
        if escape == 1 {
            escape = byte == 0x5b || byte == 0x4f ? 2 : 0     // ESC [ or ESC O: a sequence; else ESC x
            return e
        }
        if escape == 2 {
            if byte >= 0x40 && byte <= 0x7e { escape = 0 }
            return e
        }
        switch byte {
        case 13, 10:
            line.append(10)
            ready.append(line)
            line = []
            if echo { e.echo = [13, 10] }
            prompt = []
        case 0x7f, 0x08:
            let n = lastCharacterLength()
            guard n > 0 else { break }
            line.removeLast(n)
            if echo { e.echo = [8, 32, 8] }
        case 0x15:
            let n = characterCount()
            line = []
            if echo { for _ in 0..<n { e.echo += [8, 32, 8] } }
        case 0x03:
            line = []
            ready = []
            e.interrupt = true
            if echo { e.echo = [0x5e, 0x43, 13, 10] }      // ^C
            prompt = []
        case 0x04:
            // Ctrl-D: the end of input on an empty line, else the line so far without a newline.
            ready.append(line)
            line = []
        case 0x1b:
            escape = 1
        case 9, 32...0x7e, 0x80...0xff:
            guard readyCount + line.count < LineDiscipline.maxReady else { if echo { e.echo = [7] }; break }
            line.append(byte)
            if echo { e.echo = [byte] }
        default:
            break
        }
        return e
    }

    /// The UTF-8 bytes of the line's last character (0 when the line is empty).
    func lastCharacterLength() -> Int {
        var n = 0
        var i = line.count
        while i > 0 {
            i -= 1
            n += 1
            if line[i] & 0xc0 != 0x80 { break }     // not a continuation byte: the character's start
        }
        return n
    }

    /// Characters on the line (UTF-8 start bytes).
    func characterCount() -> Int { line.filter { $0 & 0xc0 != 0x80 }.count }

    /// What a read of at most `limit` bytes gets: bytes, the end of input (0 bytes), or nothing yet
    /// (nil: the reader waits).
    public mutating func read(_ limit: Int) -> [UInt8]? {
        guard let first = ready.first else { return nil }
        if first.isEmpty {
            ready.removeFirst()
            return []
        }
        let n = min(limit, first.count)
        if n == first.count { ready.removeFirst() } else { ready[0].removeFirst(n) }
        return Array(first[0..<n])
    }

    /// Whether a read would answer now.
    public var hasInput: Bool { !ready.isEmpty }

    /// Program output went to the terminal: the prompt a redraw shows is what follows its last newline.
    public mutating func output(_ bytes: [UInt8]) {
        if let i = bytes.lastIndex(of: 10) {
            prompt = Array(bytes[(i + 1)...])
            promptWhole = true
        } else {
            prompt += bytes
        }
        if prompt.count > LineDiscipline.maxPrompt {
            prompt.removeFirst(prompt.count - LineDiscipline.maxPrompt)
            promptWhole = false
        }
    }

    /// What the terminal's last line shows (console_write's state). A raw-mode program waiting for keys
    /// (a shell's own line editor) edits its line by its output: the output since the last newline,
    /// written again, draws that line again, so it counts as being edited too (unless it was too long
    /// to keep whole).
    public var screen: KernelLog.TerminalState {
        let editing = !mode.contains(.raw) && mode.contains(.echo) && (!line.isEmpty || readerWaiting)
        if editing { return .editing }
        if mode.contains(.raw) && readerWaiting && !prompt.isEmpty && promptWhole { return .editing }
        return prompt.isEmpty && line.isEmpty ? .lineStart : .output
    }

    /// The bytes that draw the prompt and the line again on an empty line (after the kernel erased them).
    public var redraw: [UInt8] { prompt + line }
}

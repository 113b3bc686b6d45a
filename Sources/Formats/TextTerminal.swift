// A text terminal's screen: a grid of character cells with colours, a cursor, and the part of ECMA-48
// (ANSI X3.64, as VT100/xterm and the Linux console read it) that programs print: outputd draws it on the
// framebuffer. Pure logic, host-tested (TextTerminalTests); TerminalRenderer turns cells into pixels.
//
// Bytes understood:
//   printable ASCII 0x20-0x7e   a character at the cursor; the cursor advances, and a character after the
//                               last column wraps to the next line first (deferred wrap, as a VT100;
//                               cursor movement and erasing cancel a pending wrap, as in xterm and Linux)
//   UTF-8 sequences             one `?` cell per code point (the font has ASCII only); a stray
//                               continuation byte is dropped
//   BS 0x08, HT 0x09            cursor one left (not past column 0); to the next multiple of 8
//   LF 0x0a, VT, FF             next line, and column 0 (LF is taken as CR LF: nobody translates for us)
//   CR 0x0d                     column 0
//   ESC c                       full reset; ESC 7 / ESC 8 save / restore the cursor and attributes
//   CSI n A/B/C/D               CUU/CUD/CUF/CUB: cursor up/down/right/left n (default 1), stopping at edges
//   CSI n E/F, CSI n G          next/previous line n times at column 0; column n (CHA)
//   CSI r;c H, CSI r;c f        CUP: row r, column c (1-based, default 1), clamped to the screen
//   CSI n J                     ED: 0 cursor to end, 1 start to cursor, 2 and 3 the whole screen
//   CSI n K                     EL: 0 cursor to end of line, 1 start of line to cursor, 2 the whole line
//   CSI s / CSI u               save / restore the cursor
//   CSI ?25 l / h               hide / show the cursor
//   CSI ... m                   SGR: 0 reset, 1 bold, 22 not bold, 7 reverse, 27 not reverse, 30-37 and
//                               90-97 foreground, 39 default, 40-47 and 100-107 background, 49 default
// Other control bytes, escape sequences and CSI finals are consumed and ignored. Erased cells take the
// current colours; a line scrolled in is blank in the default colours. Bold shows as the bright variant
// of colours 0-7.
//
// Damage: the terminal remembers which rows changed and how many lines it scrolled since the renderer
// last asked (`takeDamage`), so a scroll moves pixels once and only changed rows are drawn again.

/// One character cell: the byte shown and its palette colours (0-15, TerminalPalette).
public struct TerminalCell: Equatable, Sendable {
    public var character: UInt8
    public var foreground: UInt8
    public var background: UInt8

    public init(character: UInt8, foreground: UInt8, background: UInt8) {
        self.character = character
        self.foreground = foreground
        self.background = background
    }
}

/// The attributes new characters get (SGR).
public struct TerminalAttributes: Equatable, Sendable {
    public var foreground: UInt8 = TextTerminal.defaultForeground
    public var background: UInt8 = TextTerminal.defaultBackground
    public var bold = false
    public var reverse = false

    public init() {}

    /// The cell colours these attributes give: bold brightens colours 0-7, reverse swaps.
    public var colours: (foreground: UInt8, background: UInt8) {
        let f = bold && foreground < 8 ? foreground + 8 : foreground
        return reverse ? (background, f) : (f, background)
    }
}

/// What changed since the last `takeDamage`: lines scrolled up (move the old pixels up by that many cell
/// rows first), then the rows to draw again.
public struct TerminalDamage: Equatable, Sendable {
    public var scrolled: Int
    public var rows: [Int]
}

public struct TextTerminal {
    public static let defaultForeground: UInt8 = 7
    public static let defaultBackground: UInt8 = 0
    /// The most CSI parameters kept (more are ignored).
    static let maxParameters = 16

    public let columns: Int
    public let rows: Int
    public private(set) var cells: [TerminalCell]
    public private(set) var cursorColumn = 0
    public private(set) var cursorRow = 0
    public private(set) var cursorVisible = true
    public private(set) var attributes = TerminalAttributes()
    /// A character was put in the last column: the next one wraps first.
    var pendingWrap = false
    var saved = (column: 0, row: 0, attributes: TerminalAttributes())

    enum State { case ground, escape, csi, utf8(remaining: Int) }
    var state = State.ground
    var parameters: [Int] = []
    var parameter: Int? = nil
    var privateMarker = false

    var dirty: [Bool]
    var scrolled = 0
    /// The row the renderer last drew the cursor on, if it did.
    var drawnCursorRow: Int? = nil

    /// A blank screen of `columns` x `rows` (at least 1 x 1).
    public init(columns: Int, rows: Int) {
        self.columns = max(1, columns)
        self.rows = max(1, rows)
        cells = Array(repeating: TerminalCell(character: 0x20, foreground: TextTerminal.defaultForeground,
                                              background: TextTerminal.defaultBackground),
                      count: self.columns * self.rows)
        dirty = Array(repeating: true, count: self.rows)
    }

    /// The cell at `column`, `row` (0-based).
    public func cell(_ column: Int, _ row: Int) -> TerminalCell { cells[row * columns + column] }

    /// The characters of `row`, trailing blanks dropped (for tests and logs).
    public func text(row: Int) -> String {
        var bytes = Array(cells[(row * columns)..<((row + 1) * columns)].map { $0.character })
        while let last = bytes.last, last == 0x20 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Feeds output bytes.
    public mutating func write<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { feed(b) }
    }

    /// What changed since the last call; the cursor's old and new rows count as changed.
    public mutating func takeDamage() -> TerminalDamage {
        if let r = drawnCursorRow, r - scrolled >= 0 { dirty[r - scrolled] = true }
        if cursorVisible { dirty[cursorRow] = true }
        drawnCursorRow = cursorVisible ? cursorRow : nil
        var changed: [Int] = []
        for r in 0..<rows where dirty[r] { changed.append(r) }
        // Scrolled by a whole screen or more: every row is drawn again, nothing needs moving.
        let damage = TerminalDamage(scrolled: scrolled >= rows ? 0 : scrolled, rows: changed)
        for r in 0..<rows { dirty[r] = false }
        scrolled = 0
        return damage
    }

    // MARK: - The parser

    mutating func feed(_ b: UInt8) {
        switch state {
        case .ground: ground(b)
        case .escape: escape(b)
        case .csi: csi(b)
        case .utf8(let remaining):
            if b & 0xc0 == 0x80 {
                state = remaining > 1 ? .utf8(remaining: remaining - 1) : .ground
            } else {
                state = .ground
                ground(b)
            }
        }
    }

    mutating func ground(_ b: UInt8) {
        switch b {
        case 0x20...0x7e: put(b)
        case 0x08:
            pendingWrap = false
            if cursorColumn > 0 { cursorColumn -= 1 }
        case 0x09:
            pendingWrap = false
            cursorColumn = min(columns - 1, (cursorColumn / 8 + 1) * 8)
        case 0x0a, 0x0b, 0x0c:
            cursorColumn = 0
            lineFeed()
        case 0x0d:
            pendingWrap = false
            cursorColumn = 0
        case 0x1b: state = .escape
        case 0x80...0xbf: break
        case 0xc0...0xdf: put(0x3f); state = .utf8(remaining: 1)
        case 0xe0...0xef: put(0x3f); state = .utf8(remaining: 2)
        case 0xf0...0xf7: put(0x3f); state = .utf8(remaining: 3)
        case 0xf8...0xff: put(0x3f)
        default: break
        }
    }

    mutating func escape(_ b: UInt8) {
        state = .ground
        switch b {
        case UInt8(ascii: "["):
            state = .csi
            parameters = []
            parameter = nil
            privateMarker = false
        case UInt8(ascii: "c"): reset()
        case UInt8(ascii: "7"): saved = (cursorColumn, cursorRow, attributes)
        case UInt8(ascii: "8"): restore()
        default: break
        }
    }

    mutating func csi(_ b: UInt8) {
        switch b {
        case 0x30...0x39:
            parameter = min(9999, (parameter ?? 0) * 10 + Int(b - 0x30))
        case UInt8(ascii: ";"):
            if parameters.count < TextTerminal.maxParameters { parameters.append(parameter ?? 0) }
            parameter = nil
        case 0x3c...0x3f: privateMarker = true
        case 0x20...0x2f: break
        case 0x40...0x7e:
            if let p = parameter, parameters.count < TextTerminal.maxParameters { parameters.append(p) }
            state = .ground
            finish(b)
        case 0x1b: state = .escape
        default: state = .ground
        }
    }

    /// Parameter `i`, or `fallback` when it is missing or 0.
    func count(_ i: Int, _ fallback: Int = 1) -> Int {
        i < parameters.count && parameters[i] != 0 ? parameters[i] : fallback
    }

    mutating func finish(_ final: UInt8) {
        if privateMarker {
            if parameters.first == 25 && (final == UInt8(ascii: "h") || final == UInt8(ascii: "l")) {
                cursorVisible = final == UInt8(ascii: "h")
            }
            return
        }
        switch final {
        case UInt8(ascii: "A"): moveTo(cursorColumn, cursorRow - count(0))
        case UInt8(ascii: "B"): moveTo(cursorColumn, cursorRow + count(0))
        case UInt8(ascii: "C"): moveTo(cursorColumn + count(0), cursorRow)
        case UInt8(ascii: "D"): moveTo(cursorColumn - count(0), cursorRow)
        case UInt8(ascii: "E"): moveTo(0, cursorRow + count(0))
        case UInt8(ascii: "F"): moveTo(0, cursorRow - count(0))
        case UInt8(ascii: "G"): moveTo(count(0) - 1, cursorRow)
        case UInt8(ascii: "H"), UInt8(ascii: "f"): moveTo(count(1) - 1, count(0) - 1)
        case UInt8(ascii: "J"): eraseDisplay(parameters.first ?? 0)
        case UInt8(ascii: "K"): eraseLine(parameters.first ?? 0)
        case UInt8(ascii: "m"): selectGraphicRendition()
        case UInt8(ascii: "s"): saved = (cursorColumn, cursorRow, attributes)
        case UInt8(ascii: "u"): restore()
        default: break
        }
    }

    mutating func selectGraphicRendition() {
        if parameters.isEmpty { parameters = [0] }
        for p in parameters {
            switch p {
            case 0: attributes = TerminalAttributes()
            case 1: attributes.bold = true
            case 22: attributes.bold = false
            case 7: attributes.reverse = true
            case 27: attributes.reverse = false
            case 30...37: attributes.foreground = UInt8(p - 30)
            case 90...97: attributes.foreground = UInt8(p - 90 + 8)
            case 39: attributes.foreground = TextTerminal.defaultForeground
            case 40...47: attributes.background = UInt8(p - 40)
            case 100...107: attributes.background = UInt8(p - 100 + 8)
            case 49: attributes.background = TextTerminal.defaultBackground
            default: break
            }
        }
    }

    // MARK: - The screen

    /// The cell written by an erase: a blank with the current background.
    var blank: TerminalCell {
        let c = attributes.colours
        return TerminalCell(character: 0x20, foreground: c.foreground, background: c.background)
    }

    mutating func put(_ b: UInt8) {
        if pendingWrap {
            pendingWrap = false
            cursorColumn = 0
            lineFeed()
        }
        let c = attributes.colours
        cells[cursorRow * columns + cursorColumn] = TerminalCell(character: b, foreground: c.foreground, background: c.background)
        dirty[cursorRow] = true
        if cursorColumn == columns - 1 { pendingWrap = true } else { cursorColumn += 1 }
    }

    mutating func lineFeed() {
        pendingWrap = false
        if cursorRow < rows - 1 { cursorRow += 1 } else { scrollUp() }
    }

    /// Moves every line up by one; the bottom line is blank in the default colours.
    mutating func scrollUp() {
        cells.removeFirst(columns)
        cells.append(contentsOf: Array(repeating: TerminalCell(character: 0x20, foreground: TextTerminal.defaultForeground,
                                                               background: TextTerminal.defaultBackground), count: columns))
        dirty.removeFirst()
        dirty.append(true)
        scrolled += 1
        if scrolled >= rows {
            // Nothing of the old picture is left: draw everything.
            for r in 0..<rows { dirty[r] = true }
        }
    }

    mutating func moveTo(_ column: Int, _ row: Int) {
        pendingWrap = false
        cursorColumn = min(max(column, 0), columns - 1)
        cursorRow = min(max(row, 0), rows - 1)
    }

    mutating func restore() {
        attributes = saved.attributes
        moveTo(saved.column, saved.row)
    }

    mutating func reset() {
        attributes = TerminalAttributes()
        cursorVisible = true
        saved = (0, 0, TerminalAttributes())
        eraseDisplay(2)
        moveTo(0, 0)
    }

    /// Blanks the cells from `start` up to `end` (cell indices, end excluded).
    mutating func erase(_ start: Int, _ end: Int) {
        guard start < end else { return }
        let b = blank
        for i in start..<end { cells[i] = b }
        for r in (start / columns)...((end - 1) / columns) { dirty[r] = true }
    }

    mutating func eraseDisplay(_ mode: Int) {
        pendingWrap = false
        let here = cursorRow * columns + cursorColumn
        switch mode {
        case 0: erase(here, cells.count)
        case 1: erase(0, here + 1)
        case 2, 3: erase(0, cells.count)
        default: break
        }
    }

    mutating func eraseLine(_ mode: Int) {
        pendingWrap = false
        let start = cursorRow * columns, here = start + cursorColumn
        switch mode {
        case 0: erase(here, start + columns)
        case 1: erase(start, here + 1)
        case 2: erase(start, start + columns)
        default: break
        }
    }
}

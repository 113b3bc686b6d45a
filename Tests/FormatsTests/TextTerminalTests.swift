import Foundation
import Testing
@testable import Formats

/// outputd's terminal (Sources/Formats/TextTerminal.swift) and renderer (TerminalRenderer.swift): the
/// escape sequences one by one, then random streams against pyte (a VT100/xterm emulator in Python,
/// Debian python3-pyte), and the glyphs and colours drawn into pixels.
@Suite struct TextTerminalTests {
    static func terminal(_ text: String, columns: Int = 20, rows: Int = 5) -> TextTerminal {
        var t = TextTerminal(columns: columns, rows: rows)
        t.write(Array(text.utf8))
        return t
    }

    @Test func printsWrapsAndScrolls() {
        var t = Self.terminal("hello\nworld")
        #expect(t.text(row: 0) == "hello" && t.text(row: 1) == "world")
        #expect(t.cursorColumn == 5 && t.cursorRow == 1)
        // 20 columns: the 21st character wraps (only when it comes, not after the 20th).
        t = Self.terminal(String(repeating: "a", count: 20))
        #expect(t.cursorRow == 0 && t.cursorColumn == 19)
        t.write(Array("b".utf8))
        #expect(t.text(row: 1) == "b" && t.cursorColumn == 1)
        t = Self.terminal("1\n2\n3\n4\n5\n6\n7")
        #expect((0..<5).map { t.text(row: $0) } == ["3", "4", "5", "6", "7"])
    }

    @Test func carriageReturnBackspaceAndTab() {
        let t = Self.terminal("abc\rX\tY\u{8}\u{8}Z")
        #expect(t.text(row: 0) == "Xbc    ZY")
    }

    @Test func cursorMovementAndErasing() {
        var t = Self.terminal("\u{1b}[3;5HX\u{1b}[AU\u{1b}[2BD\u{1b}[10DL\u{1b}[3CR")
        #expect(t.text(row: 2) == "    X")
        #expect(t.text(row: 1) == "     U")
        #expect(t.text(row: 3) == "L   R D")
        // Clamped at the edges.
        t.write(Array("\u{1b}[99;99H!\u{1b}[99A^".utf8))
        #expect(t.cell(19, 4).character == UInt8(ascii: "!") && t.cell(19, 0).character == UInt8(ascii: "^"))
        t = Self.terminal("abcdef\nghijkl\nmnopqr\u{1b}[2;3H\u{1b}[K")
        #expect(t.text(row: 1) == "gh" && t.text(row: 0) == "abcdef")
        t.write(Array("\u{1b}[1K".utf8))
        #expect(t.text(row: 1) == "")
        t = Self.terminal("abcdef\nghijkl\nmnopqr\u{1b}[2;3H\u{1b}[J")
        #expect(t.text(row: 0) == "abcdef" && t.text(row: 1) == "gh" && t.text(row: 2) == "")
        t = Self.terminal("abcdef\nghijkl\nmnopqr\u{1b}[2;3H\u{1b}[1J")
        #expect(t.text(row: 0) == "" && t.text(row: 1) == "   jkl" && t.text(row: 2) == "mnopqr")
        t.write(Array("\u{1b}[2J".utf8))
        #expect((0..<5).allSatisfy { t.text(row: $0) == "" })
        t = Self.terminal("x\u{1b}[2;4H\u{1b}7\u{1b}[5;1Hy\u{1b}8z\u{1b}[Gw")
        #expect(t.text(row: 1) == "w  z" && t.text(row: 4) == "y")
    }

    @Test func selectGraphicRendition() {
        let t = Self.terminal("a\u{1b}[31mb\u{1b}[1;32mc\u{1b}[22;44md\u{1b}[0me\u{1b}[91;103mf\u{1b}[7mg\u{1b}[39;49mh\u{1b}[mi\u{1b}[1mj")
        let colours = (0..<10).map { [t.cell($0, 0).foreground, t.cell($0, 0).background] }
        #expect(colours == [[7, 0], [1, 0], [10, 0], [2, 4], [7, 0], [9, 11], [11, 9], [0, 7], [7, 0], [15, 0]])
    }

    @Test func erasedCellsTakeTheCurrentColours() {
        let t = Self.terminal("abc\ndef\n\u{1b}[44m\u{1b}[2;2H\u{1b}[K\u{1b}[1;31m\u{1b}[3;1H\u{1b}[J\u{1b}[7m\u{1b}[1;3H\u{1b}[1K")
        #expect(t.text(row: 0) == "" && t.text(row: 1) == "d")
        #expect(t.cell(0, 0) == TerminalCell(character: 0x20, foreground: 4, background: 9))
        #expect(t.cell(3, 0) == TerminalCell(character: 0x20, foreground: 7, background: 0))
        #expect(t.cell(1, 1) == TerminalCell(character: 0x20, foreground: 7, background: 4))
        #expect(t.cell(19, 4) == TerminalCell(character: 0x20, foreground: 9, background: 4))
    }

    @Test func utf8AndUnknownSequencesAreHarmless() {
        var t = Self.terminal("é€😀x\u{80}y\u{1b}[?1049hz\u{1b}]0;title\u{7}w\u{1b}(Bv")
        // One `?` per code point (U+0080 too); the OSC's text shows (ESC ] is ignored, not parsed).
        #expect(t.text(row: 0) == "???x?yz0;titlewBv")
        // A stray continuation byte is dropped; a lead byte cut short by ASCII shows `?` and the ASCII.
        t = TextTerminal(columns: 10, rows: 1)
        t.write([0x61, 0x80, 0xbf, 0x62, 0xe2, 0x82, 0x63])
        #expect(t.text(row: 0) == "ab?c")
        t = TextTerminal(columns: 3, rows: 2)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { t.write([UInt8.random(in: 0...255, using: &rng)]) }
        #expect(t.cursorColumn < 3 && t.cursorRow < 2 && t.cells.count == 6)
    }

    @Test func damageNamesChangedRowsAndScrolls() {
        var t = TextTerminal(columns: 10, rows: 4)
        #expect(t.takeDamage() == TerminalDamage(scrolled: 0, rows: [0, 1, 2, 3]))
        t.write(Array("ab".utf8))
        #expect(t.takeDamage() == TerminalDamage(scrolled: 0, rows: [0]))
        #expect(t.takeDamage() == TerminalDamage(scrolled: 0, rows: [0]))  // the cursor's row
        t.write(Array("\n\n\n\nx".utf8))
        // One line scrolled: the cursor's old row (0) moved out, the blank row 3 moved to 2 with the
        // pixels; row 3 is new.
        let d = t.takeDamage()
        #expect(d.scrolled == 1 && d.rows == [3])
        t.write(Array(String(repeating: "\n", count: 9).utf8))
        #expect(t.takeDamage() == TerminalDamage(scrolled: 0, rows: [0, 1, 2, 3]))
    }

    @Test func glyphsAreTheFontsAndPrintableOnesAreNotBlank() {
        // 'A' of Lat15-Fixed16: an apex at rows 4-6, a crossbar at row 9, legs to row 13.
        let a = (0..<16).map { y in String((0..<8).map { TerminalRenderer.pixel(UInt8(ascii: "A"), x: $0, y: y) ? "#" : "." }) }
        #expect(a[4] == "...##..." && a[9] == ".######." && a[13] == ".#....#." && a[14] == "........")
        #expect((0..<16).allSatisfy { y in (0..<8).allSatisfy { !TerminalRenderer.pixel(0x20, x: $0, y: y) } })
        for c in UInt8(0x21)...0x7e {
            let lit = (0..<128).filter { TerminalRenderer.pixel(c, x: $0 % 8, y: $0 / 8) }.count
            #expect(lit > 0, "glyph \(c) is blank")
        }
        #expect(font8x16Glyphs.count == 95 * 2)
    }

    @Test func rendererDrawsCellsCursorAndScrolls() {
        var t = TextTerminal(columns: 4, rows: 3)
        let pitch = 40
        var pixels = [UInt32](repeating: 0xdeadbeef, count: pitch * 48)
        t.write(Array("\n\u{1b}[31;42mH\u{1b}[0mi".utf8))
        pixels.withUnsafeMutableBufferPointer { TerminalRenderer.render(t, t.takeDamage(), into: $0.baseAddress!, pitch: pitch) }
        func check(_ character: UInt8, column: Int, row: Int, fg: UInt32, bg: UInt32) {
            for y in 0..<16 {
                for x in 0..<8 {
                    let want = TerminalRenderer.pixel(character, x: x, y: y) ? fg : bg
                    #expect(pixels[(row * 16 + y) * pitch + column * 8 + x] == want, "\(character) at \(x),\(y)")
                }
            }
        }
        check(UInt8(ascii: "H"), column: 0, row: 1, fg: 0xaa0000, bg: 0x00aa00)
        check(UInt8(ascii: "i"), column: 1, row: 1, fg: 0xaaaaaa, bg: 0)
        check(0x20, column: 2, row: 1, fg: 0, bg: 0xaaaaaa)  // the cursor
        #expect(pixels[32] == 0xdeadbeef)  // past the 4 columns: untouched
        t.write(Array("\n\nz".utf8))
        let damage = t.takeDamage()
        #expect(damage == TerminalDamage(scrolled: 1, rows: [0, 2]))
        pixels.withUnsafeMutableBufferPointer { TerminalRenderer.render(t, damage, into: $0.baseAddress!, pitch: pitch) }
        // Scrolled by one: "Hi" moved to row 0 through the pixel copy, not drawn again.
        check(UInt8(ascii: "H"), column: 0, row: 0, fg: 0xaa0000, bg: 0x00aa00)
        check(UInt8(ascii: "z"), column: 0, row: 2, fg: 0xaaaaaa, bg: 0)
        check(0x20, column: 2, row: 0, fg: 0xaaaaaa, bg: 0)  // the old cursor is gone
    }

    /// A random stream of text, controls and the sequences TextTerminal knows, but ESC 7/8 (pyte keeps a
    /// stack of saved cursors where a VT100 has one slot; cursorMovementAndErasing covers them).
    static func randomStream(seed: UInt64) -> String {
        var rng = Seeded(state: seed)
        var s = ""
        for _ in 0..<Int.random(in: 50...400, using: &rng) {
            let p = { (n: Int) in Int.random(in: 0...n, using: &rng) }
            switch Int.random(in: 0..<16, using: &rng) {
            case 0...4:
                s += String((0..<p(30)).map { _ in Character(UnicodeScalar(UInt8.random(in: 0x20...0x7e, using: &rng))) })
            case 5: s += ["\n", "\r", "\t", "\u{8}", "\r\n"][p(4)]
            case 6: s += "\u{1b}[\(p(4))" + ["A", "B", "C", "D", "E", "F", "G"][p(6)]
            case 7: s += "\u{1b}[\(p(14));\(p(45))" + ["H", "f"][p(1)]
            case 8: s += "\u{1b}[\(p(3))J"
            case 9: s += "\u{1b}[\(p(2))K"
            case 10, 11:
                let codes = [0, 1, 7, 22, 27, 39, 49] + Array(30...37) + Array(40...47) + Array(90...97) + Array(100...107)
                s += "\u{1b}[" + (0..<p(3)).map { _ in String(codes[p(codes.count - 1)]) }.joined(separator: ";") + "m"
            case 12: s += "\u{1b}[\(p(24))G"
            case 13: s += "\u{1b}[H"
            default: s += String(repeating: "\n", count: p(3))
            }
        }
        return s
    }

    @Test func randomStreamsMatchPyte() throws {
        // Seeded, so a stream that differs is the same one on the next run (its seed is in the message).
        let seeds = (0..<150).map { UInt64($0) + 1 }
        let streams = seeds.map { Self.randomStream(seed: $0) }
        // pyte in line-feed/new-line mode (LNM: LF is CR LF, as TextTerminal takes it); each screen as
        // one line, a field per cell: the character code, then foreground and background as palette
        // indices; last the cursor. A blank's colours are not compared: pyte's ED recolours only cells written before
        // (its lines are sparse); selectGraphicRendition and erasedCellsTakeTheCurrentColours cover them.
        let script = """
        import sys, json, pyte
        names = ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"]
        def index(name, default):
            if name == "default": return default
            # pyte 0.8 spells bright magenta "bfightmagenta".
            if name.startswith("bright") or name.startswith("bfight"): return names.index(name[6:]) + 8
            return names.index(name)
        # A VT100 (and xterm, Linux) cancels a pending wrap (a character written in the last column)
        # on cursor movement and erasing; pyte keeps its cursor past the last column then.
        class Screen(pyte.Screen):
            pass
        def cancelling(name):
            method = getattr(pyte.Screen, name)
            def wrapped(self, *args, **kwargs):
                if self.cursor.x == self.columns: self.cursor.x -= 1
                return method(self, *args, **kwargs)
            setattr(Screen, name, wrapped)
        # pyte 0.8.0 (Debian 12's) takes SGR 90-97 and 100-107 as the normal colour plus bold; xterm, the Linux
        # console and later pyte take them as the bright colour with no bold: set them that way here, one
        # attribute at a time (the streams hold no 38/48, the only codes that take arguments).
        def sgr(self, *attrs):
            if not attrs: return pyte.Screen.select_graphic_rendition(self)
            for a in attrs:
                if 90 <= a <= 97: self.cursor.attrs = self.cursor.attrs._replace(fg="bright" + names[a - 90])
                elif 100 <= a <= 107: self.cursor.attrs = self.cursor.attrs._replace(bg="bright" + names[a - 100])
                else: pyte.Screen.select_graphic_rendition(self, a)
        Screen.select_graphic_rendition = sgr
        for name in ["cursor_up", "cursor_down", "cursor_up1", "cursor_down1", "cursor_forward", "cursor_back",
                     "cursor_position", "cursor_to_column", "erase_in_line", "erase_in_display"]:
            cancelling(name)
        for line in sys.stdin:
            screen = Screen(23, 11)
            screen.set_mode(pyte.modes.LNM)
            pyte.Stream(screen).feed(json.loads(line))
            out = []
            for y in range(11):
                for x in range(23):
                    c = screen.buffer[y][x]
                    fg, bg = index(c.fg, 7), index(c.bg, 0)
                    if c.bold and fg < 8: fg += 8
                    if c.reverse: fg, bg = bg, fg
                    out.append("32" if c.data == " " else "%d,%d,%d" % (ord(c.data), fg, bg))
            out.append("cursor:%d:%d" % (min(screen.cursor.x, screen.columns - 1), screen.cursor.y))
            print(" ".join(out))
        """
        let input = try streams.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        // The streams go through a file: written to a pipe, they could fill it while python3's answers
        // fill the other one.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pyte-\(UUID().uuidString).json")
        try input.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let p = Process()
        // Debian's python3, where scripts/deps.sh installs python3-pyte (a python3 found first on PATH, e.g.
        // pyenv's, need not have pyte).
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script]
        let stdout = Pipe()
        p.standardInput = try FileHandle(forReadingFrom: file)
        p.standardOutput = stdout
        try p.run()
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "python3 with pyte is needed (Debian python3-pyte, scripts/deps.sh)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == streams.count)
        for ((seed, stream), line) in zip(zip(seeds, streams), lines) {
            let t = Self.terminal(stream, columns: 23, rows: 11)
            let mine = t.cells.map { $0.character == 0x20 ? "32" : "\($0.character),\($0.foreground),\($0.background)" }
                + ["cursor:\(t.cursorColumn):\(t.cursorRow)"]
            let theirs = line.split(separator: " ").map(String.init)
            let first = zip(mine, theirs).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(first == nil && mine.count == theirs.count,
                    "cell \(first?.offset ?? -1) (column \((first?.offset ?? 0) % 23), row \((first?.offset ?? 0) / 23)): \(first?.element.0 ?? "") here, \(first?.element.1 ?? "") in pyte; seed \(seed), stream \(String(reflecting: stream))")
            if first != nil { break }
        }
    }
}

/// ZstdTests' seeded splitmix64, as the generator `Int.random(in:using:)` takes.
extension Seeded: RandomNumberGenerator {}

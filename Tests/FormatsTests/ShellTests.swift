// sh's pure parts: the command language (ShellSyntax) and the line editor (ShellLineEditor).

import Testing
@testable import Formats

@Suite("sh: command language and line editor")
struct ShellTests {
    func words(_ c: ShellCommand) -> [String] { c.words.map { $0.expand { name in ["HOME": "/home", "?": "3", "E": ""][name] } } }

    func one(_ text: String) throws -> ShellCommand {
        let lists = try ShellSyntax.parse(text)
        #expect(lists.count == 1 && lists[0].rest.isEmpty && lists[0].first.commands.count == 1, "\(text)")
        return lists[0].first.commands[0]
    }

    @Test("words, quotes and escapes")
    func quoting() throws {
        #expect(words(try one("echo a  b\tc")) == ["echo", "a", "b", "c"])
        #expect(words(try one("echo 'a b' \"c d\" e\\ f")) == ["echo", "a b", "c d", "e f"])
        #expect(words(try one("echo 'it''s' \"say \\\"hi\\\"\" \\$HOME")) == ["echo", "its", "say \"hi\"", "$HOME"])
        #expect(words(try one("echo '$HOME' \"$HOME/x\" $HOME ${HOME}y $? $E.")) == ["echo", "$HOME", "/home/x", "/home", "/homey", "3", "."])
        #expect(words(try one("echo a$ \"$\" ''")) == ["echo", "a$", "$", ""])
        #expect(words(try one("echo a # a comment")) == ["echo", "a"])
        #expect(words(try one("echo a#b")) == ["echo", "a#b"])
        #expect(throws: ShellSyntaxError.unterminatedQuote) { try ShellSyntax.parse("echo 'abc") }
        #expect(throws: ShellSyntaxError.unterminatedQuote) { try ShellSyntax.parse("echo \"abc") }
        #expect(throws: ShellSyntaxError.unterminatedBrace) { try ShellSyntax.parse("echo ${HOME") }
    }

    @Test("lists, and-or, pipelines")
    func structure() throws {
        let lists = try ShellSyntax.parse("a; b && c || d\ne | f | g")
        #expect(lists.count == 3)
        #expect(words(lists[0].first.commands[0]) == ["a"])
        #expect(lists[1].rest.map { $0.0 } == [.and, .or])
        #expect(words(lists[1].rest[1].1.commands[0]) == ["d"])
        #expect(lists[2].first.commands.map { words($0) } == [["e"], ["f"], ["g"]])
        #expect(try ShellSyntax.parse("a;").count == 1)
        #expect(try ShellSyntax.parse("").isEmpty)
        #expect(try ShellSyntax.parse("   # only a comment").isEmpty)
        #expect(try ShellSyntax.parse("a &&\nb").first?.rest.count == 1)
        for bad in ["| a", "a |", "a && && b", "a ;; b", "; a", "a || ", "a & & b", "& a"] {
            #expect(throws: ShellSyntaxError.self, "\(bad)") { try ShellSyntax.parse(bad) }
        }
    }

    @Test("redirections")
    func redirections() throws {
        let c = try one("cat < in > out 2> err >> log 2>&1 3<x")
        #expect(words(c) == ["cat"])
        let r = c.redirections
        #expect(r.count == 6)
        #expect(r[0] == ShellRedirection(descriptor: 0, kind: .input, target: .literal("in")))
        #expect(r[1] == ShellRedirection(descriptor: 1, kind: .output, target: .literal("out")))
        #expect(r[2] == ShellRedirection(descriptor: 2, kind: .output, target: .literal("err")))
        #expect(r[3] == ShellRedirection(descriptor: 1, kind: .append, target: .literal("log")))
        #expect(r[4].descriptor == 2 && r[4].kind == .duplicate(1))
        #expect(r[5] == ShellRedirection(descriptor: 0 + 3, kind: .input, target: .literal("x")))
        #expect(words(try one("echo a2>b")) == ["echo", "a2"])
        #expect(words(try one("echo 2 >b")) == ["echo", "2"])
        #expect(throws: ShellSyntaxError.missingTarget) { try ShellSyntax.parse("echo >") }
        #expect(throws: ShellSyntaxError.missingTarget) { try ShellSyntax.parse("echo > | b") }
        #expect(throws: ShellSyntaxError.badDescriptor) { try ShellSyntax.parse("echo 2>&x") }
        let bare = try one(">out")
        #expect(words(bare) == [] && bare.redirections.count == 1)
    }

    @Test("assignments")
    func assignments() throws {
        let c = try one("A=1 B='x y' cmd C=3")
        #expect(c.assignments.map { $0.name } == ["A", "B"])
        #expect(c.assignments[1].value.expand { _ in nil } == "x y")
        #expect(words(c) == ["cmd", "C=3"])
        let only = try one("PATH=$HOME/bin")
        #expect(only.words.isEmpty && only.assignments[0].value.expand { $0 == "HOME" ? "/h" : nil } == "/h/bin")
        #expect(words(try one("'A=1' x")) == ["A=1", "x"])
        #expect(words(try one("1A=2")) == ["1A=2"])
    }

    // MARK: Line editor

    /// Feeds `text` (with \u{1b} escapes); the events that were not `.editing`, and the editor.
    func type(_ text: String, into e: inout ShellLineEditor) -> [ShellLineEditor.Event] {
        var events: [ShellLineEditor.Event] = []
        for b in text.utf8 {
            let (event, _) = e.feed(b)
            if event != .editing { events.append(event) }
        }
        return events
    }

    @Test("typing, moving, erasing")
    func editing() {
        var e = ShellLineEditor()
        _ = e.begin(prompt: "/ $ ")
        #expect(type("ech", into: &e).isEmpty)
        #expect(e.line == Array("ech".utf8) && e.cursor == 3)
        #expect(type("o hi\r", into: &e) == [.line("echo hi")])
        #expect(e.line.isEmpty)
        // left twice, insert; home, insert; end, backspace.
        #expect(type("abcd\u{1b}[D\u{1b}[DX\u{1b}[HY\u{1b}[F\u{7f}", into: &e).isEmpty)
        #expect(String(decoding: e.line, as: UTF8.self) == "YabXc")
        // Ctrl-A, delete (ESC [ 3 ~), Ctrl-E, Ctrl-B, Ctrl-K.
        #expect(type("\u{01}\u{1b}[3~\u{05}\u{02}\u{0b}", into: &e).isEmpty)
        #expect(String(decoding: e.line, as: UTF8.self) == "abX")
        #expect(type("\u{1b}[1~Z\u{1b}[4~!\u{02}\u{15}", into: &e).isEmpty)
        #expect(String(decoding: e.line, as: UTF8.self) == "!" && e.cursor == 0)
        #expect(type("\r", into: &e) == [.line("!")])
    }

    @Test("what the terminal is sent")
    func output() {
        var e = ShellLineEditor()
        #expect(e.begin(prompt: "p> ") == Array("p> ".utf8))
        #expect(e.feed(UInt8(ascii: "a")).1 == [UInt8(ascii: "a")])
        _ = e.feed(UInt8(ascii: "b"))
        #expect(e.feed(0x7f).1 == [8, 32, 8])
        _ = e.feed(UInt8(ascii: "c"))
        _ = e.feed(0x1b); _ = e.feed(UInt8(ascii: "["))
        #expect(e.feed(UInt8(ascii: "D")).1 == [8])
        // An insert in the middle redraws: CR, prompt, line, erase to end, back to the cursor.
        #expect(e.feed(UInt8(ascii: "X")).1 == Array("\rp> aXc\u{1b}[K".utf8) + [8])
        #expect(e.feed(0x1b).1.isEmpty)
        #expect(e.feed(UInt8(ascii: "[")).1.isEmpty)
        #expect(e.feed(UInt8(ascii: "C")).1 == [UInt8(ascii: "c")])
        // Backspace at the start rings the bell.
        _ = type("\u{01}", into: &e)
        #expect(e.feed(0x7f).1 == [7])
        #expect(e.feed(13) == (.line("aXc"), [13, 10]))
    }

    @Test("history up and down keeps the draft")
    func history() {
        var e = ShellLineEditor()
        _ = e.begin(prompt: "$ ")
        for l in ["one", "two", "two", ""] { e.remember(l) }
        #expect(e.history == ["one", "two"])
        _ = e.begin(prompt: "$ ")
        _ = type("dr", into: &e)
        _ = type("\u{1b}[A", into: &e)
        #expect(String(decoding: e.line, as: UTF8.self) == "two")
        _ = type("\u{1b}[A", into: &e)
        #expect(String(decoding: e.line, as: UTF8.self) == "one")
        #expect(e.feed(0x1b).1.isEmpty && e.feed(91).1.isEmpty && e.feed(65).1 == [7])   // no older entry
        _ = type("\u{1b}[B\u{1b}[B", into: &e)
        #expect(String(decoding: e.line, as: UTF8.self) == "dr")
        _ = type("\u{10}x", into: &e)   // Ctrl-P, then edit the recalled line
        #expect(type("\n", into: &e) == [.line("twox")])
        var small = ShellLineEditor()
        small.historyLimit = 2
        for l in ["a", "b", "c"] { small.remember(l) }
        #expect(small.history == ["b", "c"])
    }

    @Test("Ctrl-C, Ctrl-D and bytes it ignores")
    func controlKeys() {
        var e = ShellLineEditor()
        _ = e.begin(prompt: "$ ")
        #expect(type("abc\u{03}", into: &e) == [.interrupt])
        #expect(e.line.isEmpty)
        #expect(type("\u{04}", into: &e) == [.endOfInput])
        #expect(type("ab\u{01}\u{04}", into: &e).isEmpty)
        #expect(String(decoding: e.line, as: UTF8.self) == "b")
        #expect(type("\u{00}\u{1f}\u{1b}x\u{1b}[9~\u{1b}[Z", into: &e).isEmpty)
        #expect(String(decoding: e.line, as: UTF8.self) == "b")
        #expect(type("\t\r", into: &e) == [.line(" b")])
    }
}

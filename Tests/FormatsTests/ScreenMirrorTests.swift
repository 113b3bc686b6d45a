import Foundation
import Testing
import ABI
import Formats

/// The console's screen mirror (Sources/Formats/ScreenMirror.swift): the serial line's interleaving of
/// terminal output and kernel lines, rebuilt for outputd's screen. Checked byte for byte and, through
/// TextTerminal (outputd's terminal), by what the screen's rows show.
@Suite struct ScreenMirrorTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func screen(_ stream: [UInt8], rows: Int = 6) -> [String] {
        var t = TextTerminal(columns: 40, rows: rows)
        t.write(stream)
        return (0..<rows).map { t.text(row: $0) }
    }

    @Test func aKernelLineWhileALineIsEditedErasesItAndTheRedrawFollows() {
        var m = ScreenMirror()
        var out = m.terminal(bytes("tty $ "), state: .editing)
        out += m.terminal(bytes("ab"), state: .editing)
        let kernel = m.kernel(bytes("init: started x\n"))
        #expect(kernel == [13, 27, 91, 75] + bytes("init: started x\n"))
        #expect(m.state == .lineStart && m.kernelAtLineStart)
        out += kernel
        out += m.terminal(bytes("tty $ ab"), state: .editing)     // the console's redraw
        #expect(screen(out).prefix(3) == ["init: started x", "tty $ ab", ""])
    }

    @Test func aKernelLineAfterUnfinishedOutputStartsOnANewLine() {
        var m = ScreenMirror()
        var out = m.terminal(bytes("progress..."), state: .output)
        out += m.kernel(bytes("kbd: key\n"))
        #expect(out == bytes("progress...\r\nkbd: key\n"))
        #expect(m.terminal(bytes("done\n"), state: .lineStart) == bytes("done\n"))
        #expect(screen(out + bytes("done\n")).prefix(3) == ["progress...", "kbd: key", "done"])
    }

    @Test func terminalOutputAfterAnUnfinishedKernelLineStartsOnANewLine() {
        var m = ScreenMirror()
        #expect(m.kernel(bytes("root: partial")) == bytes("root: partial"))
        #expect(!m.kernelAtLineStart)
        #expect(m.terminal(bytes("hello\n"), state: .lineStart) == bytes("\r\nhello\n"))
        // An empty write also ends the kernel's line, as console_write does.
        _ = m.kernel(bytes("more"))
        #expect(m.terminal([], state: .lineStart) == [13, 10])
    }

    @Test func aKernelLineReadInPiecesIsErasedBeforeOnce() {
        var m = ScreenMirror()
        _ = m.terminal(bytes("$ x"), state: .editing)
        #expect(m.kernel(bytes("ab")) == [13, 27, 91, 75] + bytes("ab"))
        #expect(m.kernel(bytes("c\nd")) == bytes("c\nd"))          // the second line: state is lineStart now
        #expect(m.kernel(bytes("\n")) == bytes("\n"))
        // At line start nothing is inserted.
        var fresh = ScreenMirror()
        #expect(fresh.kernel(bytes("boot\n")) == bytes("boot\n"))
        #expect(fresh.terminal(bytes("x"), state: .lineStart) == bytes("x"))
    }

    /// Random sessions: the screen stream is the inputs in their order with only the kernel's erases and
    /// line ends inserted, each kernel line once, and an erase only where a line was being edited.
    @Test func randomSessionsKeepEveryByteInOrder() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var m = ScreenMirror()
            var out: [UInt8] = []
            var plain: [UInt8] = []
            var erases = 0, expectedErases = 0
            var editing = false, atLineStart = true
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                let piece = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                    [UInt8(ascii: "a"), UInt8(ascii: "b"), 10][Int.random(in: 0...2, using: &rng)]
                }
                if Bool.random(using: &rng) {
                    if editing && atLineStart && !piece.isEmpty { expectedErases += 1 }
                    if !piece.isEmpty { editing = false; atLineStart = piece.last == 10 }
                    out += m.kernel(piece)
                } else {
                    let state = [KernelLog.TerminalState.lineStart, .output, .editing][Int.random(in: 0...2, using: &rng)]
                    editing = state == .editing
                    atLineStart = true
                    out += m.terminal(piece, state: state)
                }
                plain += piece
            }
            // Take the inserted sequences out again.
            var stripped: [UInt8] = []
            var i = 0
            while i < out.count {
                if out[i] == 13 && i + 3 < out.count && out[i + 1] == 27 && out[i + 2] == 91 && out[i + 3] == 75 {
                    erases += 1; i += 4; continue
                }
                if out[i] == 13 && i + 1 < out.count && out[i + 1] == 10 { i += 2; continue }
                stripped.append(out[i])
                i += 1
            }
            #expect(stripped == plain)
            #expect(erases == expectedErases)
        }
    }
}

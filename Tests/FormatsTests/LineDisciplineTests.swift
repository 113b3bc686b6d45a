import Foundation
import Testing
import ABI
import Formats

/// The console's line discipline (Sources/Formats/LineDiscipline.swift), byte by byte, and against the
/// Linux kernel's own canonical-mode line discipline through a pseudo-terminal: for the same typed bytes
/// both must hand a reader the same bytes and echo the same bytes.
@Suite struct LineDisciplineTests {
    func type(_ text: [UInt8], _ d: inout LineDiscipline) -> (echo: [UInt8], interrupts: Int) {
        var echo: [UInt8] = []
        var interrupts = 0
        for b in text {
            let e = d.type(b)
            echo += e.echo
            if e.interrupt { interrupts += 1 }
        }
        return (echo, interrupts)
    }

    func readAll(_ d: inout LineDiscipline) -> [UInt8] {
        var out: [UInt8] = []
        while let b = d.read(4096), !b.isEmpty { out += b }
        return out
    }

    @Test func enterHandsOverTheLineWithANewline() {
        var d = LineDiscipline()
        let (echo, _) = type(Array("ls -l\r".utf8), &d)
        #expect(echo == Array("ls -l\r\n".utf8))
        #expect(d.read(100) == Array("ls -l\n".utf8))
        #expect(d.read(100) == nil)                       // nothing more: the reader waits
    }

    @Test func aShortReadLeavesTheRestOfTheLine() {
        var d = LineDiscipline()
        _ = type(Array("abcdef\n".utf8), &d)
        #expect(d.read(4) == Array("abcd".utf8))
        #expect(d.read(4) == Array("ef\n".utf8))
    }

    @Test func backspaceAndControlUEdit() {
        var d = LineDiscipline()
        let (echo, _) = type(Array("abx".utf8) + [0x7f] + Array("c".utf8) + [0x08, 0x08, 0x08, 0x08] + Array("hello".utf8) + [0x15] + Array("ok\r".utf8), &d)
        #expect(d.read(100) == Array("ok\n".utf8))
        let erase: [UInt8] = [8, 32, 8]
        #expect(echo == Array("abx".utf8) + erase + Array("c".utf8) + erase + erase + erase + Array("hello".utf8)
                + erase + erase + erase + erase + erase + Array("ok\r\n".utf8))
    }

    @Test func backspaceRemovesAWholeUTF8Character() {
        var d = LineDiscipline()
        _ = type(Array("aé€".utf8) + [0x7f, 0x7f] + [13], &d)
        #expect(d.read(100) == Array("a\n".utf8))
    }

    @Test func controlDIsTheEndOfInputOnAnEmptyLineElseHandsTheLineOver() {
        var d = LineDiscipline()
        _ = type(Array("abc".utf8) + [4] + [4], &d)
        #expect(d.read(100) == Array("abc".utf8))
        #expect(d.read(100) == [])                        // the end of input: a read of 0 bytes
        #expect(d.read(100) == nil)
    }

    @Test func controlCDropsTheLineAndTypedInputAndInterrupts() {
        var d = LineDiscipline()
        let (echo, interrupts) = type(Array("first\rsecond".utf8) + [3] + Array("third\r".utf8), &d)
        #expect(interrupts == 1)
        #expect(echo == Array("first\r\nsecond^C\r\nthird\r\n".utf8))
        #expect(readAll(&d) == Array("third\n".utf8))
    }

    @Test func escapeSequencesAreSkippedInCookedMode() {
        var d = LineDiscipline()
        _ = type(Array("a\u{1b}[A\u{1b}[1;5Cb\u{1b}OHc\r".utf8), &d)
        #expect(d.read(100) == Array("abc\n".utf8))
    }

    @Test func rawModeHandsOverEveryByteWithoutEcho() {
        var d = LineDiscipline()
        d.mode = .raw
        let (echo, interrupts) = type([0x61, 3, 4, 0x7f, 0x1b, 0x5b, 0x41, 13], &d)
        #expect(echo.isEmpty && interrupts == 0)
        #expect(d.read(3) == [0x61, 3, 4])
        #expect(d.read(100) == [0x7f, 0x1b, 0x5b, 0x41, 13])
    }

    @Test func noEchoWithoutTheEchoBit() {
        var d = LineDiscipline()
        d.mode = []
        let (echo, _) = type(Array("secret\r".utf8), &d)
        #expect(echo.isEmpty)
        #expect(d.read(100) == Array("secret\n".utf8))
    }

    @Test func theScreenStateAndTheRedraw() {
        var d = LineDiscipline()
        #expect(d.screen == .lineStart)
        d.output(Array("boot done\n/ $ ".utf8))
        #expect(d.screen == .output)                      // a prompt, nobody reading yet
        d.readerWaiting = true
        #expect(d.screen == .editing)
        _ = type(Array("ech".utf8), &d)
        #expect(d.redraw == Array("/ $ ech".utf8))
        _ = type([13], &d)
        d.readerWaiting = false
        #expect(d.screen == .lineStart && d.redraw.isEmpty)
        d.mode = .raw
        d.output(Array("x".utf8))
        #expect(d.screen == .output)                      // raw, nobody reading: a partial output line
        // A raw-mode line editor waiting for keys: its prompt and echo, written again, redraw its line.
        d.output(Array("\n/ $ ls\u{1b}[D".utf8))
        d.readerWaiting = true
        #expect(d.screen == .editing && d.redraw == Array("/ $ ls\u{1b}[D".utf8))
        // Output since the newline too long to keep whole: a kernel line only starts a new line.
        d.output([UInt8](repeating: 65, count: LineDiscipline.maxPrompt + 1))
        #expect(d.screen == .output)
        d.output(Array("\n/ $ ".utf8))
        #expect(d.screen == .editing)
    }

    @Test func typedInputIsBounded() {
        var d = LineDiscipline()
        for _ in 0..<LineDiscipline.maxReady / 8 { _ = type(Array("1234567\r".utf8), &d) }
        let (echo, _) = type(Array("more".utf8), &d)
        #expect(echo == [7, 7, 7, 7])                     // a bell: no room
        #expect(readAll(&d).count == LineDiscipline.maxReady)
    }

    // MARK: against Linux's n_tty

    /// A pseudo-terminal in canonical mode with the echo flags this line discipline follows.
    final class PTY {
        let master: Int32
        let slave: Int32
        init() throws {
            // Glibc's module does not export the pty functions (they need _XOPEN_SOURCE): look them up.
            let libc = dlopen(nil, RTLD_NOW)
            func function<F>(_ name: String, _: F.Type) throws -> F {
                guard let f = dlsym(libc, name) else { throw POSIXError(.ENOSYS) }
                return unsafeBitCast(f, to: F.self)
            }
            let openpt = try function("posix_openpt", (@convention(c) (Int32) -> Int32).self)
            let grant = try function("grantpt", (@convention(c) (Int32) -> Int32).self)
            let unlock = try function("unlockpt", (@convention(c) (Int32) -> Int32).self)
            let name = try function("ptsname", (@convention(c) (Int32) -> UnsafeMutablePointer<CChar>?).self)
            master = openpt(O_RDWR | O_NOCTTY)
            guard master >= 0, grant(master) == 0, unlock(master) == 0, let name = name(master) else {
                throw POSIXError(.ENXIO)
            }
            slave = open(String(cString: name), O_RDWR | O_NOCTTY | O_NONBLOCK)
            guard slave >= 0 else { throw POSIXError(.ENXIO) }
            var t = termios()
            tcgetattr(slave, &t)
            t.c_iflag = tcflag_t(ICRNL | IUTF8)
            t.c_oflag = tcflag_t(OPOST | ONLCR)
            t.c_lflag = tcflag_t(ICANON | ECHO | ECHOE | ECHOK | ECHOKE | ECHOCTL)
            tcsetattr(slave, TCSANOW, &t)
            _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        }
        deinit { close(slave); close(master) }

        func drain(_ fd: Int32) -> [UInt8] {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { return out }
                out += buffer[0..<n]
            }
        }

        /// Types `bytes` one at a time; the echo and what a reader of the slave gets (read by read,
        /// so a Ctrl-D on an empty line shows as a read of 0).
        func type(_ bytes: [UInt8]) -> (echo: [UInt8], reads: [[UInt8]]) {
            var echo: [UInt8] = []
            var reads: [[UInt8]] = []
            for b in bytes {
                var byte = b
                _ = write(master, &byte, 1)
                usleep(300)
                echo += drain(master)
            }
            usleep(5000)
            echo += drain(master)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(slave, &buffer, buffer.count)
                if n < 0 { break }
                reads.append(Array(buffer[0..<n]))
            }
            return (echo, reads)
        }
    }

    @Test func matchesLinuxCanonicalModeOnRandomTyping() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [[UInt8]] = [Array("a".utf8), Array("Z".utf8), Array(" ".utf8), Array("é".utf8), [0x7f], [0x7f],
                                   [0x15], [13], [13], [4]]
        for round in 0..<40 {
            let pty = try PTY()
            var typed: [UInt8] = []
            for _ in 0..<Int.random(in: 5...40, using: &rng) { typed += alphabet.randomElement(using: &rng)! }
            let linux = pty.type(typed)
            var d = LineDiscipline()
            let mine = type(typed, &d)
            var reads: [[UInt8]] = []
            while let r = d.read(4096) { reads.append(r) }
            #expect(mine.echo == linux.echo, "round \(round): typed \(typed)")
            #expect(reads == linux.reads, "round \(round): typed \(typed)")
        }
    }
}

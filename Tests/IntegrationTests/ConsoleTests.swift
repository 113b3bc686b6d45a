import Foundation
import Testing
@testable import OSH

/// The console server seen from the serial line (Sources/Servers/console): with `consoletest` on the
/// kernel command line init runs bin/ttytest, a small command loop on console:///tty, and this test
/// types into QEMU's serial port through osh's standard input and reads the screen from its output:
/// echo, backspace, Ctrl-U, Ctrl-C, a kernel log line while a line is being edited (erased and drawn
/// again), raw mode, the kernel log ring through log_read, Ctrl-D. Then `osh boot --exec/--script`.
@Suite(.serialized) struct ConsoleTests {
    /// osh boot with its standard input and output on pipes.
    final class Guest: @unchecked Sendable {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        private let lock = NSLock()
        private var bytes = Data()

        init(_ arguments: [String]) throws {
            process.executableURL = Repo.osh
            process.arguments = ["boot", "--accel", "tcg", "--raw"] + arguments
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            output.fileHandleForReading.readabilityHandler = { [weak self] h in
                let d = h.availableData
                guard let self, !d.isEmpty else { return }
                self.lock.lock(); self.bytes.append(d); self.lock.unlock()
            }
            try process.run()
        }

        deinit {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
        }

        /// Everything the serial line said so far.
        var screen: String {
            lock.lock(); defer { lock.unlock() }
            return String(decoding: bytes, as: UTF8.self)
        }

        /// Waits until the screen after `offset` holds `text`; the screen's length after it (or nil).
        @discardableResult
        func waitFor(_ text: String, after offset: Int = 0, seconds: Double = 120) -> Int? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                let s = Array(screen.utf8)
                if offset <= s.count, let r = String(decoding: s[offset...], as: UTF8.self).range(of: text) {
                    let tail = String(decoding: s[offset...], as: UTF8.self)
                    return offset + tail[..<r.upperBound].utf8.count
                }
                if !process.isRunning { return nil }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return nil
        }

        func type(_ text: String) {
            input.fileHandleForWriting.write(Data(text.utf8))
        }

        var length: Int { screen.utf8.count }

        /// The screen from `offset` on.
        func since(_ offset: Int) -> String { String(decoding: Array(screen.utf8).dropFirst(offset), as: UTF8.self) }
    }

    @Test func lineEditingLogRedrawRawModeAndEndOfInput() throws {
        let g = try Guest(["--cmdline", "consoletest", "--timeout", "600"])
        let prompt = "tty $ "
        var at = try #require(g.waitFor(prompt, seconds: 400), "no prompt: \(g.screen)")

        // Echo and backspace: "abX", DEL, "c" is the line "echo abc".
        g.type("echo abX\u{7f}c\r")
        at = try #require(g.waitFor("\r\nabc\r\n" + prompt, after: at), "backspace: \(g.since(at))")
        #expect(g.screen.contains("echo abX\u{8} \u{8}c"))

        // Ctrl-U drops the line typed so far.
        var start = at
        g.type("echo junk\u{15}echo kept\r")
        at = try #require(g.waitFor("\r\nkept\r\n" + prompt, after: at), "Ctrl-U: \(g.since(start))")
        #expect(g.since(start).contains(String(repeating: "\u{8} \u{8}", count: 9)))
        #expect(!g.since(start).contains("\njunk"))

        // Ctrl-C in cooked mode: the line is dropped, ^C shown, nothing read.
        start = at
        g.type("echo lost\u{3}echo after\r")
        at = try #require(g.waitFor("\r\nafter\r\n" + prompt, after: at), "Ctrl-C: \(g.since(start))")
        #expect(g.since(start).contains("echo lost^C\r\n"))
        #expect(!g.since(start).contains("\nlost"))

        // A kernel log line (a program's debug_log) while a line is being edited: the line is erased,
        // the log line is whole on its own line, and the prompt and the line are drawn again after it.
        start = at
        g.type("logsoon 3000 a-log-line-from-ttytest\r")
        at = try #require(g.waitFor(prompt, after: at), "logsoon: \(g.since(start))")
        g.type("echo par")
        at = try #require(g.waitFor("a-log-line-from-ttytest", after: at, seconds: 60), "no log line: \(g.since(start))")
        at = try #require(g.waitFor(prompt + "echo par", after: at, seconds: 60), "no redraw: \(g.since(start))")
        #expect(g.since(start).contains("echo par\r\u{1b}[Ka-log-line-from-ttytest\r\n" + prompt + "echo par"),
                "\(g.since(start).debugDescription)")
        g.type("t\r")
        at = try #require(g.waitFor("\r\npart\r\n" + prompt, after: at), "after the redraw: \(g.since(start))")

        // Raw mode: bytes as they come, Ctrl-C and Ctrl-D among them, no echo.
        start = at
        g.type("raw 4\r")
        at = try #require(g.waitFor("raw: reading 4 bytes\r\n", after: at), "raw: \(g.since(start))")
        g.type("\u{3}q\u{4}\u{7f}")
        at = try #require(g.waitFor("raw: 03 71 04 7f\r\n" + prompt, after: at), "raw bytes: \(g.since(start))")

        // The kernel log ring: log_read finds the console's start line and the log line above.
        start = at
        g.type("dmesg a-log-line-from-ttytest\r")
        at = try #require(g.waitFor(prompt, after: at), "dmesg: \(g.since(start))")
        #expect(g.since(start).contains("dmesg: 1 lines with a-log-line-from-ttytest"), "\(g.since(start))")
        g.type("dmesg console: serving\r")
        at = try #require(g.waitFor(prompt, after: at), "dmesg: \(g.since(start))")
        #expect(g.since(start).contains("dmesg: 1 lines with console:"), "\(g.since(start))")
        #expect(g.since(start).contains("lost 0"))

        // Ctrl-D on an empty line: the end of input; ttytest exits with its last status (0), and init
        // with it.
        start = at
        g.type("\u{4}")
        try #require(g.waitFor("ttytest: end of input", after: at), "Ctrl-D: \(g.since(start))")
        #expect(g.waitFor("init: ttytest exited with code 0", after: at) != nil, "\(g.since(start))")
    }

    @Test func oshExecRunsACommandAndExitsWithItsStatus() throws {
        let ok = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--cmdline", "consoletest", "--timeout", "600",
                                         "--exec", "echo hello from the guest"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.split(separator: "\n").contains("hello from the guest"), "\(ok.stdout)")
        #expect(!ok.stdout.contains("OSH_EXIT_STATUS"))
        let failing = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--cmdline", "consoletest", "--timeout", "600",
                                              "--exec", "false"])
        #expect(failing.status == 1, "\(failing.stdout) \(failing.stderr)")
    }

    @Test func oshScriptFeedsAFileLineByLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-script-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("script.sh")
        try "# three commands\necho first\necho second\nnosuchcommand\n".write(to: script, atomically: true, encoding: .utf8)
        let r = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--cmdline", "consoletest", "--timeout", "600",
                                        "--script", script.path])
        #expect(r.status == 127, "\(r.stdout) \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("first") && lines.contains("second"), "\(r.stdout)")
        #expect(lines.contains("ttytest: nosuchcommand: not found"), "\(r.stdout)")
    }
}

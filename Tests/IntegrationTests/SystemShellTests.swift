import Foundation
import Testing

/// The system as `make run` boots it: no test word, so init starts sh on the console (pm spawns it with
/// the console's terminal as descriptors 0-2). The test types into the serial line and reads it back
/// (ConsoleTests.Guest): the message of the day, the prompt with the working directory, line editing and
/// history, built-ins, programs from initfs:///bin through PATH, a pipeline, a redirection into fs:///,
/// Ctrl-C ending the foreground program, a missing command, and `exit` (init starts sh again). Then
/// `osh boot --exec` on the same system.
@Suite(.serialized) struct SystemShellTests {
    @Test func theShellOnTheConsole() throws {
        let g = try ConsoleTests.Guest(["--timeout", "900"])
        var at = try #require(g.waitFor("/ $ ", seconds: 600), "no prompt: \(g.screen.suffix(4000))")
        #expect(g.screen.contains("Welcome."), "the message of the day: \(g.screen.suffix(2000))")

        g.type("echo hello   'two  words'\r")
        at = try #require(g.waitFor("hello two  words\r\n/ $ ", after: at), "echo: \(g.since(at))")

        // Line editing: a backspace, then the cursor moved left and a character put in the middle.
        g.type("echo abX\u{7f}c\u{1b}[D\u{1b}[Dz\r")
        at = try #require(g.waitFor("azbc\r\n/ $ ", after: at), "editing: \(g.since(at))")
        // History: the line before, again.
        g.type("\u{1b}[A\r")
        at = try #require(g.waitFor("azbc\r\n/ $ ", after: at), "history: \(g.since(at))")

        // A program through PATH, a pipeline, a redirection into fs:/// and back; the prompt follows cd.
        g.type("cd initfs:///etc\r")
        at = try #require(g.waitFor("initfs:///etc $ ", after: at), "cd: \(g.since(at))")
        g.type("ls | grep -c conf > /count.txt; cat /count.txt\r")
        let confs = try FileManager.default.contentsOfDirectory(atPath: Repo.root.appendingPathComponent("Sources/initfs/etc").path)
            .filter { $0.contains("conf") }.count
        at = try #require(g.waitFor("\(confs)\r\ninitfs:///etc $ ", after: at), "pipeline: \(g.since(at))")

        // yes ends when its reader does (EPIPE), ps lists the shell, dmesg reads the kernel log ring, and
        // `time` reports a program's cost.
        g.type("yes | head -2; ps | grep -c ' sh'; dmesg | grep -c 'sh: first prompt'; time true\r")
        at = try #require(g.waitFor("y\r\ny\r\n1\r\n1\r\n", after: at), "yes, ps, dmesg: \(g.since(at))")
        at = try #require(g.waitFor("TSC ticks, status 0\r\ninitfs:///etc $ ", after: at), "time: \(g.since(at))")

        // A missing command: 127.
        g.type("nosuchcommand; echo status $?\r")
        at = try #require(g.waitFor("status 127\r\ninitfs:///etc $ ", after: at), "not found: \(g.since(at))")
        #expect(g.screen.contains("sh: nosuchcommand: command not found"), "\(g.screen.suffix(500))")

        // Ctrl-C ends the foreground program (sent again until the prompt is back: the program may not be
        // the terminal's foreground yet when the first one arrives).
        g.type("sleep 300\r")
        var back: Int? = nil
        for _ in 0..<24 where back == nil {
            Thread.sleep(forTimeInterval: 5)
            g.type("\u{3}")
            back = g.waitFor("initfs:///etc $ ", after: at, seconds: 5)
        }
        at = try #require(back, "Ctrl-C: \(g.since(at))")
        g.type("echo after $?\r")
        at = try #require(g.waitFor("after 130\r\n", after: at), "status after Ctrl-C (SIGINT): \(g.since(at))")

        // exit: init starts sh again, in /.
        g.type("exit 3\r")
        at = try #require(g.waitFor("init: sh ended (code 3); starting it again", after: at, seconds: 120), "exit: \(g.since(at))")
        #expect(g.waitFor("/ $ ", after: at, seconds: 120) != nil, "a new shell: \(g.since(at))")
    }

    @Test func oshExecRunsCommandsInTheSystemShell() throws {
        let fstab = try String(contentsOf: Repo.root.appendingPathComponent("Sources/initfs/etc/fstab"), encoding: .utf8)
        let lines = fstab.split(separator: "\n", omittingEmptySubsequences: false).count - (fstab.hasSuffix("\n") ? 1 : 0)
        let r = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "600",
                                        "--exec", "cd initfs:///etc && wc -l < fstab; lspci | grep -c 'Host bridge'; ls initfs:///nosuch"])
        #expect(r.status != 0 && r.status != 127, "ls of a missing directory fails: \(r.status) \(r.stdout) \(r.stderr)")
        let out = r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(out.contains("\(lines)"), "wc -l: \(lines) lines expected in \(r.stdout)")
        // lspci reaches pcid: pm hands coreutils the `pci` its manifest imports.
        #expect(out.contains("1"), "lspci: one host bridge expected in \(r.stdout)")
        #expect(r.stdout.contains("nosuch"), "\(r.stdout)")
    }

    @Test func oshExecListsTheUtilitiesAndPassesStatuses() throws {
        let makefile = try String(contentsOf: Repo.root.appendingPathComponent("Makefile"), encoding: .utf8)
        let block = try #require(makefile.firstMatch(of: /UTILITIES := ([^\n]*\\\n[^\n]*)/)).1
        let utilities = block.split(whereSeparator: { $0 == " " || $0 == "\\" || $0 == "\n" || $0 == "\t" }).map(String.init)
        #expect(utilities.count > 20)
        let ls = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "600", "--exec", "ls initfs:///bin"])
        #expect(ls.status == 0, "\(ls.stdout) \(ls.stderr)")
        let names = Set(ls.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" }).map(String.init))
        for u in utilities + ["sh", "coreutils"] { #expect(names.contains(u), "ls initfs:///bin: no \(u) in \(ls.stdout)") }
        let failing = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "600", "--exec", "false"])
        #expect(failing.status == 1, "\(failing.stdout) \(failing.stderr)")
    }
}

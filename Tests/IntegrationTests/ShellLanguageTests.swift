import Foundation
import Testing

/// sh's language in the booted system (no test word: init starts sh on the console): a script through
/// `osh boot --script` (commands on one line and over several) with if/elif/else, while, until, for, `!`, `{ }`, break/continue, `test`/`[`,
/// command substitution, field splitting and globbing over initfs:///bin, and background jobs (`&`,
/// `$!`, `jobs`, `wait`, `kill $!` giving 143, the `[N] Done` report before a prompt); then the
/// interactive shell (ConsoleTests.Guest): Ctrl-C of `yes` gives 130, Ctrl-C of a foreground program
/// leaves a background job running (then `kill %1` gives 143), a `for` typed over three lines
/// with `> ` prompts, and Ctrl-C at a `> ` prompt dropping the command.
@Suite(.serialized) struct ShellLanguageTests {
    /// The names the Makefile links into initfs:///bin, and sh.
    func binaries() throws -> [String] {
        let makefile = try String(contentsOf: Repo.root.appendingPathComponent("Makefile"), encoding: .utf8)
        let block = try #require(makefile.firstMatch(of: /UTILITIES := ([^\n]*\\\n[^\n]*)/)).1
        return block.split(whereSeparator: { $0 == " " || $0 == "\\" || $0 == "\n" || $0 == "\t" }).map(String.init) + ["sh", "coreutils"]
    }

    @Test func aScriptWithControlFlowExpansionsAndJobs() throws {
        let script = """
            for f in initfs:///bin/s*; do echo bin: $f; done
            if ls initfs:///etc | grep -q motd; then echo has motd; elif true; then echo wrong; else echo no motd; fi
            n=$(ls initfs:///etc | wc -l); echo etc entries: $n
            s=; while [ "$s" != xxx ]; do s=x$s; echo s=$s; done; until true; do echo never; done
            for w in $(echo 'a  b' c); do echo word $w; done; echo "quoted: $(echo 'p  q')"
            ! false && echo negated; { echo one; echo two; } | wc -l
            for i in 1 2 3 4; do if [ $i = 2 ]; then continue; elif [ $i -ge 4 ]; then break; fi; echo i=$i; done
            echo nomatch initfs:///bin/zz* '*'
            sleep 2 & echo started $!; jobs
            wait; echo waited $?; sleep 1 &
            sleep 3; echo slept
            sleep 100 & kill $!; wait $!; echo killed $?
            for w in one two
            do
              echo multi $w
            done
            if [ -d initfs:///bin ]
            then echo bin is a directory
            fi
            x=1; while true; do x=x$x; if [ $x = xx1 ]; then break; fi; done; echo x=$x
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sh-language-\(UUID().uuidString).sh")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "900", "--script", file.path])
        let out = r.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        // Globbing: sorted paths, every utility starting with s among them (bin/ also holds test programs).
        let globbed = out.filter { $0.hasPrefix("bin: ") }.map { String($0.dropFirst("bin: initfs:///bin/".count)) }
        #expect(globbed == globbed.sorted() && globbed.allSatisfy { $0.hasPrefix("s") }, "\(r.stdout)")
        for name in try binaries().filter({ $0.hasPrefix("s") }) { #expect(globbed.contains(name), "no \(name) in \(globbed)") }
        let etc = try FileManager.default.contentsOfDirectory(atPath: Repo.root.appendingPathComponent("Sources/initfs/etc").path)
        #expect(out.contains("has motd") && !out.contains("wrong") && !out.contains("no motd"), "\(r.stdout)")
        #expect(out.contains("etc entries: \(etc.count)"), "\(r.stdout)")
        #expect(out.filter { $0.hasPrefix("s=") } == ["s=x", "s=xx", "s=xxx"] && !out.contains("never"), "\(r.stdout)")
        #expect(out.filter { $0.hasPrefix("word ") } == ["word a", "word b", "word c"], "\(r.stdout)")
        #expect(out.contains("quoted: p  q"), "\(r.stdout)")
        #expect(out.contains("negated") && out.contains("2"), "\(r.stdout)")
        #expect(out.filter { $0.hasPrefix("i=") } == ["i=1", "i=3"], "\(r.stdout)")
        #expect(out.contains("nomatch initfs:///bin/zz* *"), "\(r.stdout)")
        // Jobs: `[1] PID` and `$!` name the same process; jobs lists it running; wait returns when it ends.
        let started = try #require(out.first { $0.hasPrefix("started ") }, "\(r.stdout)")
        let pid = String(started.dropFirst("started ".count))
        #expect(out.contains("[1] \(pid)"), "\(r.stdout)")
        #expect(out.contains("[1] Running  sleep 2"), "\(r.stdout)")
        #expect(out.contains("waited 0"), "\(r.stdout)")
        // The job that ended while `sleep 3` ran is reported before the next prompt.
        let slept = try #require(out.firstIndex(of: "slept"), "\(r.stdout)")
        #expect(out[slept...].contains("[1] Done  sleep 1"), "\(r.stdout)")
        // kill's default signal is SIGTERM: 128 + 15.
        #expect(out.contains("killed 143"), "\(r.stdout)")
        // Commands over several lines: osh types each line at sh's `> ` prompt.
        #expect(out.filter { $0.hasPrefix("multi ") } == ["multi one", "multi two"], "\(r.stdout)")
        #expect(out.contains("bin is a directory"), "\(r.stdout)")
        #expect(out.contains("x=xx1"), "\(r.stdout)")
    }

    @Test func ctrlCStatusAndContinuedLinesAtThePrompt() throws {
        let g = try ConsoleTests.Guest(["--timeout", "900"])
        var at = try #require(g.waitFor("/ $ ", seconds: 600), "no prompt: \(g.screen.suffix(4000))")
        // Ctrl-C of yes (sent again until the prompt is back: yes may not hold the terminal yet).
        g.type("yes\r")
        at = try #require(g.waitFor("y\r\ny\r\n", after: at), "yes: \(g.since(at).suffix(500))")
        var back: Int? = nil
        for _ in 0..<24 where back == nil {
            g.type("\u{3}")
            back = g.waitFor("/ $ ", after: at, seconds: 5)
        }
        at = try #require(back, "Ctrl-C of yes: \(g.since(at).suffix(1000))")
        g.type("echo status $?\r")
        at = try #require(g.waitFor("status 130\r\n/ $ ", after: at), "status after Ctrl-C: \(g.since(at))")

        // Ctrl-C ends only the foreground job: the background one keeps running.
        g.type("sleep 100 &\r")
        at = try #require(g.waitFor("[1] ", after: at), "background job: \(g.since(at))")
        at = try #require(g.waitFor("/ $ ", after: at), "prompt after &: \(g.since(at))")
        g.type("sleep 300\r")
        back = nil
        for _ in 0..<24 where back == nil {
            Thread.sleep(forTimeInterval: 1)
            g.type("\u{3}")
            back = g.waitFor("/ $ ", after: at, seconds: 5)
        }
        at = try #require(back, "Ctrl-C of sleep 300: \(g.since(at))")
        g.type("jobs; echo fg $?\r")
        at = try #require(g.waitFor("[1] Running  sleep 100\r\nfg 0\r\n/ $ ", after: at), "jobs after Ctrl-C: \(g.since(at))")
        g.type("kill %1; wait %1; echo bg $?\r")
        at = try #require(g.waitFor("bg 143\r\n/ $ ", after: at), "kill %1: \(g.since(at))")

        // A loop typed over three lines: `> ` asks for the rest.
        g.type("for i in a b\r")
        at = try #require(g.waitFor("> ", after: at), "continuation prompt: \(g.since(at))")
        g.type("do echo got$i\r")
        at = try #require(g.waitFor("> ", after: at), "second continuation: \(g.since(at))")
        g.type("done\r")
        at = try #require(g.waitFor("gota\r\ngotb\r\n/ $ ", after: at), "the loop: \(g.since(at))")

        // Ctrl-C at `> ` drops the command being continued.
        g.type("if true\r")
        at = try #require(g.waitFor("> ", after: at), "if: \(g.since(at))")
        g.type("\u{3}")
        at = try #require(g.waitFor("/ $ ", after: at), "Ctrl-C at > : \(g.since(at))")
        g.type("echo after $?\r")
        at = try #require(g.waitFor("after 130\r\n/ $ ", after: at), "after the dropped if: \(g.since(at))")
    }
}

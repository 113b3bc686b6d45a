import Testing
@testable import OSH

/// `osh boot --exec/--script`'s driver (Sources/osh/Boot/ExecDriver.swift): prompt detection, typing,
/// output lines and the exit status, on serial output as the console and a shell write it.
@Suite struct ExecDriverTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func typesTheCommandAtThePromptAndReportsOutputAndStatus() {
        var d = ExecDriver(commands: ["echo hi"])
        #expect(d.feed(bytes("[info] boot\r\nroot: started\r\n")).isEmpty)
        let typed = d.feed(bytes("tty $ "))
        #expect(typed == [.send(bytes("echo hi; echo OSH_EXIT_STATUS=$?\r"))])
        // The console echoes the line, then the shell prints and the status line comes.
        var actions = d.feed(bytes("echo hi; echo OSH_EXIT_STATUS=$?\r\nhi\r\n[info] a kernel line\r\n"))
        actions += d.feed(bytes("OSH_EXIT_STATUS=3\r\ntty $ "))
        #expect(actions == [.output("hi"), .output("[info] a kernel line"), .finished(3)])
        #expect(d.done)
    }

    @Test func aScriptTypesOneLinePerPromptAndTheLastCarriesTheStatus() {
        var d = ExecDriver(commands: ExecDriver.scriptLines("# a comment\necho one\n\n  false  \n"))
        #expect(d.feed(bytes("/ $ ")) == [.send(bytes("echo one\r"))])
        #expect(d.feed(bytes("echo one\r\none\r\n/ $ ")) == [.output("one"), .send(bytes("false; echo OSH_EXIT_STATUS=$?\r"))])
        #expect(d.feed(bytes("false; echo OSH_EXIT_STATUS=$?\r\nOSH_EXIT_STATUS=1\r\n")) == [.finished(1)])
    }

    @Test func thePromptIsSeenAsATerminalShowsIt() {
        // A prompt the console erased for a kernel line and drew again; colours around it.
        var d = ExecDriver(commands: ["true"])
        #expect(d.feed(bytes("tty $ \r\u{1b}[K[info] x\r\ntty $ ")) == [.send(bytes("true; echo OSH_EXIT_STATUS=$?\r"))])
        var e = ExecDriver(commands: ["true"], prompt: "# ")
        #expect(e.feed(bytes("\u{1b}[1mroot\u{1b}[0m # ")) == [.send(bytes("true; echo OSH_EXIT_STATUS=$?\r"))])
        var f = ExecDriver(commands: ["true"])
        #expect(f.feed(bytes("no prompt yet $x")).isEmpty)
    }

    @Test func visibleTextDropsEscapesCarriageReturnsAndErasures() {
        #expect(ExecDriver.visible(bytes("abc\u{8} \u{8}d")) == "abd")
        #expect(ExecDriver.visible(bytes("old\r\u{1b}[Knew")) == "new")
    }
}

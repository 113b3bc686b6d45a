import Testing
@testable import OSH

/// `osh boot --script`'s driver when a kernel log line lands right after the shell's prompt, in the same
/// piece of serial output: the prompt ends a finished line, and the next command is still typed.
@Suite struct ExecDriverPromptTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func aPromptPushedDownByALogLineStillTakesTheNextCommand() {
        var d = ExecDriver(commands: ["echo one", "echo two"])
        #expect(d.feed(bytes("/ $ ")) == [.send(bytes("echo one\r"))])
        // The output, the prompt, then a log line on its own line: all in one read.
        let actions = d.feed(bytes("echo one\r\none\r\n/ $ \r\nrngd: serving `random`\r\n"))
        #expect(actions == [.output("one"), .output("rngd: serving `random`"), .send(bytes("echo two; echo OSH_EXIT_STATUS=$?\r"))])
        #expect(d.feed(bytes("echo two; echo OSH_EXIT_STATUS=$?\r\ntwo\r\nOSH_EXIT_STATUS=0\r\n")) == [.output("two"), .finished(0)])
    }

    @Test func theFirstPromptPushedDownBeforeAnythingWasTyped() {
        var d = ExecDriver(commands: ["true"])
        #expect(d.feed(bytes("motd\r\n/ $ \r\ntimed: RTC says …\r\n")) == [.send(bytes("true; echo OSH_EXIT_STATUS=$?\r"))])
        // A line that only holds a dollar sign somewhere else is no prompt.
        var e = ExecDriver(commands: ["true"])
        #expect(e.feed(bytes("costs 5 $ each\r\nmore\r\n")).isEmpty)
    }
}

/// A script whose command spans lines: sh's `> ` prompt takes the next line.
@Suite struct ExecDriverContinuationTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func theContinuationPromptTakesTheNextLine() {
        var d = ExecDriver(commands: ExecDriver.scriptLines("for i in a b\ndo echo $i\ndone\n"))
        #expect(d.feed(bytes("/ $ ")) == [.send(bytes("for i in a b\r"))])
        #expect(d.feed(bytes("for i in a b\r\n> ")) == [.send(bytes("do echo $i\r"))])
        #expect(d.feed(bytes("do echo $i\r\n> ")) == [.send(bytes("done; echo OSH_EXIT_STATUS=$?\r"))])
        #expect(d.feed(bytes("done; echo OSH_EXIT_STATUS=$?\r\na\r\nb\r\nOSH_EXIT_STATUS=0\r\n")) == [.output("a"), .output("b"), .finished(0)])
        // Before the first command, `> ` is no prompt; nor is output that only ends in `> `.
        var e = ExecDriver(commands: ["true"])
        #expect(e.feed(bytes("> ")).isEmpty && e.feed(bytes("\r\nx > ")).isEmpty)
    }
}

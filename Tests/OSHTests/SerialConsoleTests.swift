import Testing
@testable import OSH

@Suite("osh boot: console escape keys and serial lines")
struct SerialConsoleTests {
    typealias A = EscapeKeyDecoder.Action

    @Test func plainBytesGoToTheGuest() {
        var d = EscapeKeyDecoder()
        #expect(d.feed(Array("ls\r".utf8)) == [.send(Array("ls\r".utf8))])
    }

    @Test func ctrlAXQuits() {
        var d = EscapeKeyDecoder()
        #expect(d.feed([0x61, 0x01, UInt8(ascii: "x"), 0x62]) == [.send([0x61]), .quit, .send([0x62])])
    }

    @Test func ctrlAHShowsHelp() {
        var d = EscapeKeyDecoder()
        #expect(d.feed([0x01, UInt8(ascii: "h")]) == [.help])
        #expect(d.feed([0x01, UInt8(ascii: "?")]) == [.help])
        #expect(EscapeKeyDecoder.helpText.contains("Ctrl-A x"))
    }

    @Test func ctrlACtrlASendsOneCtrlA() {
        var d = EscapeKeyDecoder()
        #expect(d.feed([0x01, 0x01]) == [.send([0x01])])
        #expect(d.feed([0x01, 0x01, 0x01, 0x01]) == [.send([0x01, 0x01])])
    }

    @Test func escapeSplitAcrossReads() {
        var d = EscapeKeyDecoder()
        #expect(d.feed([0x41, 0x01]) == [.send([0x41])])
        #expect(d.pendingEscape)
        #expect(d.feed([UInt8(ascii: "x")]) == [.quit])
        #expect(!d.pendingEscape)
    }

    @Test func unknownEscapeKeyIsSwallowed() {
        var d = EscapeKeyDecoder()
        #expect(d.feed([0x01, UInt8(ascii: "z"), UInt8(ascii: "k")]) == [.send([UInt8(ascii: "k")])])
    }

    @Test func passthroughFilterKeepsBytes() {
        var f = PassthroughSerialFilter()
        #expect(f.process([1, 2, 3]) == [1, 2, 3])
        #expect(f.finish() == [])
    }

    @Test func lineSplitterHandlesChunksAndCRLF() {
        var s = SerialLineSplitter()
        #expect(s.feed(Array("hel".utf8)) == [])
        #expect(s.feed(Array("lo\r\nwor".utf8)) == ["hello"])
        #expect(s.feed(Array("ld\n\n".utf8)) == ["world", ""])
        #expect(s.feed(Array("tail".utf8)) == [])
        #expect(s.finish() == "tail")
        #expect(s.finish() == nil)
    }

    @Test func testResultLineIsFound() {
        #expect(TestResultLine.parse("12 passed, 0 failed") == .init(passed: 12, failed: 0))
        #expect(TestResultLine.parse("[info] tests: 3 passed, 2 failed") == .init(passed: 3, failed: 2))
        #expect(TestResultLine.parse("passed, failed") == nil)
        #expect(TestResultLine.parse("booting") == nil)
    }
}

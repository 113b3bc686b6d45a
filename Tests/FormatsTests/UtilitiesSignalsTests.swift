// kill's signal names and operands (Sources/Formats/UtilitiesSignals.swift).

import Testing
@testable import Formats

@Suite("kill: signal names")
struct UtilitiesSignalsTests {
    @Test("numbers, names, SIG names")
    func names() {
        #expect(SignalNames.number("9") == 9 && SignalNames.number("0") == 0 && SignalNames.number("64") == 64)
        #expect(SignalNames.number("65") == nil && SignalNames.number("-1") == nil)
        #expect(SignalNames.number("KILL") == 9 && SignalNames.number("SIGTERM") == 15 && SignalNames.number("int") == 2)
        #expect(SignalNames.number("sigint") == 2 && SignalNames.number("HUP") == 1 && SignalNames.number("SYS") == 31)
        #expect(SignalNames.number("NOPE") == nil && SignalNames.number("SIG") == nil)
        #expect(SignalNames.name(15) == "TERM" && SignalNames.name(2) == "INT" && SignalNames.name(40) == "40")
    }

    @Test("kill's operands")
    func operands() {
        func k(_ a: [String]) -> (Int, [String])? { SignalNames.killArguments(a).map { ($0.signal, $0.operands) } }
        #expect(k(["12"])?.0 == 15 && k(["12"])?.1 == ["12"])
        #expect(k(["-9", "12", "13"])?.0 == 9 && k(["-9", "12", "13"])?.1 == ["12", "13"])
        #expect(k(["-KILL", "1"])?.0 == 9 && k(["-SIGINT", "1"])?.0 == 2)
        #expect(k(["-s", "TERM", "1"])?.0 == 15 && k(["-s", "2", "1"])?.1 == ["1"])
        #expect(k(["--", "1"])?.1 == ["1"] && k(["-9", "--", "1"])?.1 == ["1"])
        #expect(k(["-BOGUS", "1"]) == nil)
        #expect(k(["-s"]) == nil)
        #expect(k([])?.1 == [])
    }
}

import Testing
@testable import KernelCore
import ABI

@Suite struct CommandLineTests {
    func line(_ s: String) -> KernelCommandLine { KernelCommandLine(Array(s.utf8)) }
    func text(_ v: ArraySlice<UInt8>?) -> String? { v.map { String(decoding: $0, as: UTF8.self) } }

    @Test func flagsAreWholeWords() {
        let c = line("  test log=debug  panic=halt\tpanic_test ")
        #expect(c.has("test"))
        #expect(c.has("panic_test"))
        #expect(!c.has("panic"))
        #expect(!c.has("log"))
        #expect(!c.has("tes"))
        #expect(!c.has("testx"))
        #expect(c.has("log=debug"))  // a whole word, even with "="
        #expect(!c.has(""))
    }

    @Test func keyValues() {
        let c = line("kernel.elf log=debug panic=halt empty= x=1=2 logx=no")
        #expect(text(c.value(of: "log")) == "debug")
        #expect(text(c.value(of: "panic")) == "halt")
        #expect(text(c.value(of: "empty")) == "")
        #expect(text(c.value(of: "x")) == "1=2")
        #expect(c.value(of: "pan") == nil)
        #expect(c.value(of: "kernel.elf") == nil)
        #expect(c.value(of: "missing") == nil)
        #expect(c.value(of: "log", is: "debug"))
        #expect(!c.value(of: "log", is: "debu"))
        #expect(!c.value(of: "log", is: "debugx"))
        #expect(!c.value(of: "nothing", is: ""))
        #expect(c.value(of: "empty", is: ""))
    }

    @Test func lastSettingWins() {
        #expect(text(line("log=info log=trace").value(of: "log")) == "trace")
    }

    @Test func emptyAndOddInput() {
        let empty = line("")
        #expect(!empty.has("test"))
        #expect(empty.value(of: "log") == nil)
        let blanks = line(" \t\n ")
        #expect(!blanks.has("test"))
        // A NUL-terminated buffer as loaders leave it: the NUL is a separator.
        let terminated = KernelCommandLine(Array("test log=warn".utf8) + [0])
        #expect(terminated.has("test"))
        #expect(text(terminated.value(of: "log")) == "warn")
        #expect(text(line("=x").value(of: "")) == "x")
    }
}

@Suite struct CommandLineLogLevelTests {
    @Test func logLevel() {
        #expect(KernelCommandLine(Array("test log=debug".utf8)).logLevel == .debug)
        #expect(KernelCommandLine(Array("log=trace log=error".utf8)).logLevel == .error)
        #expect(KernelCommandLine(Array("log=loud".utf8)).logLevel == nil)
        #expect(KernelCommandLine(Array("test".utf8)).logLevel == nil)
    }
}

@Suite struct CommandLineWordTests {
    func unknown(_ s: String) -> [String] {
        var out: [String] = []
        KernelCommandLine(Array(s.utf8)).forEachUnknownWord { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    @Test func everyWordOfTheABIListIsKnown() {
        for word in KernelWord.allCases {
            let text = word.name.description + (word.isSetting ? "=x" : "")
            #expect(unknown(text) == [], "\(text)")
        }
        #expect(unknown("test usertest bench panic_test fault_test syscalls panic=halt log=debug") == [])
    }

    @Test func otherWordsAreReported() {
        #expect(unknown("tset log=debug panic usertests logx=1 test=1") == ["tset", "panic", "usertests", "logx=1", "test=1"])
        // The loader's kernel path in front is not a word of the command line.
        #expect(unknown("/boot/kernel.elf test") == [])
        #expect(unknown("build/run/x/kernel.elf log=warn oops") == ["oops"])
        #expect(unknown("kernel.elf x/y") == ["x/y"])
        #expect(KernelCommandLine(Array("usertest log=warn".utf8)).has(.usertest))
        #expect(KernelCommandLine(Array("usertest log=warn".utf8)).value(of: .log).map { Array($0) } == Array("warn".utf8))
    }
}

import Foundation
import Testing
@testable import Symbolizer

// MARK: Markup parsing

@Test func parsesKnownElements() throws {
    let line = "{{{module:0:kernel:elf:0A0b}}}"
    #expect(try Markup.parseLine(line, lineNumber: 1) == [.element(.module(id: 0, name: "kernel", buildID: "0a0b"), raw: line)])
    #expect(try Markup.parseLine("{{{reset}}}", lineNumber: 1) == [.element(.reset, raw: "{{{reset}}}")])
    let mmap = "{{{mmap:0xffffffff80100000:0x5a000:load:0:rwx:0xffffffff80100000}}}"
    #expect(try Markup.parseLine(mmap, lineNumber: 1) == [.element(.mmap(
        start: 0xffff_ffff_8010_0000, size: 0x5a000, moduleID: 0, flags: "rwx", relativeAddress: 0xffff_ffff_8010_0000), raw: mmap)])
    let bt = try Markup.parseLine("  {{{bt:1:0xffffffff80105678:ra}}}", lineNumber: 1)
    #expect(bt == [.text("  "), .element(.backtrace(frame: 1, address: 0xffff_ffff_8010_5678, kind: .returnAddress),
                                         raw: "{{{bt:1:0xffffffff80105678:ra}}}")])
}

@Test func appliesDefaultAddressKinds() throws {
    #expect(try Markup.parseLine("{{{bt:0:0x10}}}", lineNumber: 1).last == .element(.backtrace(frame: 0, address: 0x10, kind: .precise), raw: "{{{bt:0:0x10}}}"))
    #expect(try Markup.parseLine("{{{bt:2:0x10}}}", lineNumber: 1).last == .element(.backtrace(frame: 2, address: 0x10, kind: .returnAddress), raw: "{{{bt:2:0x10}}}"))
    #expect(try Markup.parseLine("{{{pc:0x10}}}", lineNumber: 1).last == .element(.pc(address: 0x10, kind: .precise), raw: "{{{pc:0x10}}}"))
    #expect(try Markup.parseLine("{{{pc:0x10:ra}}}", lineNumber: 1).last == .element(.pc(address: 0x10, kind: .returnAddress), raw: "{{{pc:0x10:ra}}}"))
}

@Test func keepsTextAndToleratesOtherElements() throws {
    #expect(try Markup.parseLine("plain log line", lineNumber: 3) == [.text("plain log line")])
    let segments = try Markup.parseLine("a {{{symbol:_Z3foov}}} b", lineNumber: 1)
    #expect(segments == [.text("a "), .element(.other(tag: "symbol", fields: ["_Z3foov"]), raw: "{{{symbol:_Z3foov}}}"), .text(" b")])
}

@Test func reportsMalformedMarkupWithItsLine() {
    let cases = ["{{{bt:1:0x10", "{{{bt:x:0x10}}}", "{{{bt:1:0xzz}}}", "{{{bt:1:0x10:xx}}}", "{{{module:0:k:elf:xyz}}}",
                 "{{{mmap:0x1000:0x10:load:0:r}}}", "{{{reset:1}}}", "{{{}}}"]
    for text in cases {
        do {
            _ = try Markup.parseLine(text, lineNumber: 42)
            Issue.record("\(text) parsed")
        } catch {
            guard case .malformedMarkup(let line, _) = error else { Issue.record("\(error)"); continue }
            #expect(line == 42)
            #expect(error.description.hasPrefix("line 42: malformed markup"))
        }
    }
}

// MARK: Symbolization against the reference tools

@Test func cFixtureMatchesLLVMSymbolizerAndElfutils() throws {
    let fixtures = try Fixtures.get()
    let report = try compareWithReferenceSymbolizers(elfPath: fixtures.cELF, sampleCount: 300)
    #expect(report.mismatches.isEmpty, "\(report.mismatches.prefix(10).joined(separator: "\n"))")
    #expect(report.comparedWithLLVM > 50)
    #expect(report.comparedWithElfutils > 50)
}

@Test func swiftFixtureMatchesLLVMSymbolizerAndElfutils() throws {
    let fixtures = try Fixtures.get()
    let report = try compareWithReferenceSymbolizers(elfPath: fixtures.swiftELF, sampleCount: 300)
    #expect(report.mismatches.isEmpty, "\(report.mismatches.prefix(10).joined(separator: "\n"))")
    #expect(report.comparedWithLLVM > 20)
    #expect(report.comparedWithElfutils > 20)
}

/// The kernel: KERNEL_ELF, or build/kernel.elf in the package (make test builds it first).
let kernelELF: String? = {
    let candidates = [ProcessInfo.processInfo.environment["KERNEL_ELF"], packageRoot + "/build/kernel.elf"]
    return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
}()

@Test func kernelMatchesLLVMSymbolizerAndElfutils() throws {
    let elf = try #require(kernelELF, "build/kernel.elf is missing: run `make` (or `make test`) first")
    let report = try compareWithReferenceSymbolizers(elfPath: elf, sampleCount: 2000)
    print("kernel symbolization: \(report.addresses) addresses, \(report.comparedWithLLVM) compared with llvm-symbolizer, "
          + "\(report.comparedWithElfutils) with eu-addr2line (\(report.elfutilsSymbolNameDifferences) label names differ), "
          + "\(report.mismatches.count) mismatches")
    #expect(report.mismatches.isEmpty, "\(report.mismatches.prefix(10).joined(separator: "\n"))")
    #expect(report.comparedWithLLVM > 500)
    #expect(report.comparedWithElfutils > 50)
}

@Test func inlinedFramesComeInnermostFirst() throws {
    let fixtures = try Fixtures.get()
    let symbolizer = try ELFSymbolizer(path: fixtures.cELF)
    let ranges = try ELFSymbolizer.executableRanges(fixtures.cELF)
    var found: [SourceFrame]? = nil
    search: for range in ranges {
        for address in range.start..<range.end {
            let frames = symbolizer.frames(at: address)
            if frames.count == 3 { found = frames; break search }
        }
    }
    let frames = try #require(found)
    #expect(frames.map(\.function) == ["leaf", "middle", "outer"])
    #expect(frames.map(\.isInlined) == [true, true, false])
    #expect(frames.allSatisfy { $0.file == fixtures.cSource })
    #expect(frames[1].line == 7 && frames[2].line == 12)  // the call sites of leaf and middle
}

@Test func demanglesSwiftNames() throws {
    let fixtures = try Fixtures.get()
    let symbolizer = try ELFSymbolizer(path: fixtures.swiftELF)
    let ranges = try ELFSymbolizer.executableRanges(fixtures.swiftELF)
    var names = Set<String>()
    for range in ranges {
        for address in stride(from: range.start, to: range.end, by: 2) {
            for frame in symbolizer.frames(at: address) { if let f = frame.function { names.insert(f) } }
        }
    }
    #expect(names.contains("fixture.run(Swift.Int) -> Swift.Int"))
    #expect(names.contains("fixture.Accumulator.add(Swift.Int) -> ()"))
    #expect(!names.contains { $0.hasPrefix("$s") })
    #expect(Symbolizer.demangle("main") == "main")
    #expect(Symbolizer.demangle("_Z3fooi") == "foo(int)")
}

@Test func returnAddressesLookUpThePreviousByte() throws {
    let fixtures = try Fixtures.get()
    let symbolizer = try ELFSymbolizer(path: fixtures.cELF)
    let range = try #require(ELFSymbolizer.executableRanges(fixtures.cELF).first)
    for address in stride(from: range.start + 1, to: range.end, by: 7) {
        #expect(symbolizer.frames(at: address, returnAddress: true) == symbolizer.frames(at: address - 1))
    }
}

@Test func llvmStyleOutput() {
    var out: [UInt8] = []
    Symbolizer.appendLLVMStyle([SourceFrame(function: "f", file: "/a.c", line: 3, column: 4, isInlined: true),
                                SourceFrame(function: nil, file: nil, line: 0, column: 0)], to: &out)
    #expect(String(decoding: out, as: UTF8.self) == "f\n/a.c:3:4\n??\n??:0:0\n\n")
    #expect(Symbolizer.parseAddress(Array("0xFFffffff80100000\r".utf8)) == 0xffff_ffff_8010_0000)
    #expect(Symbolizer.parseAddress(Array("1234".utf8)) == 0x1234)
    #expect(Symbolizer.parseAddress(Array("0x".utf8)) == nil)
    #expect(Symbolizer.parseAddress(Array("0x12345678901234567".utf8)) == nil)
}

// MARK: Errors

@Test func errorCases() throws {
    let fixtures = try Fixtures.get()
    let missing = fixtures.dir + "/does-not-exist"
    #expect(throws: SymbolizerError.missingFile(missing)) { try ELFSymbolizer(path: missing) }
    #expect(throws: SymbolizerError.notELF(fixtures.cSource)) { try ELFSymbolizer(path: fixtures.cSource) }
    #expect(throws: SymbolizerError.noDebugInfo(fixtures.cNoDebug)) { try ELFSymbolizer(path: fixtures.cNoDebug) }
    // Without DWARF, symbol-table names are still there when asked for.
    let bare = try ELFSymbolizer(path: fixtures.cNoDebug, requireDebugInfo: false)
    #expect(!bare.hasDebugInfo)
    let finder = ELFFinder(directories: [fixtures.dir])
    #expect(throws: SymbolizerError.unknownBuildID("00112233")) { try finder.symbolizer(forBuildID: "00112233") }
    let id = try #require(try ELFSymbolizer.readBuildID(fixtures.cELF))
    #expect(try finder.symbolizer(forBuildID: id).path == fixtures.cELF)
    for error in [SymbolizerError.missingFile("x"), .notELF("x"), .noDebugInfo("x"), .unknownBuildID("ab"),
                  .malformedMarkup(line: 3, reason: "r"), .notText("x"), .libdw(path: "x", message: "m")] {
        #expect(!error.description.isEmpty && !error.description.contains("\n"))
    }
}

@Test func findsFilesInBuildIDLayout() throws {
    let fixtures = try Fixtures.get()
    let id = try #require(try ELFSymbolizer.readBuildID(fixtures.cELF))
    let symbols = fixtures.dir + "/symbols-\(UUID().uuidString)"
    let sub = symbols + "/.build-id/" + id.prefix(2)
    try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: fixtures.cELF, toPath: sub + "/" + id.dropFirst(2) + ".debug")
    let finder = ELFFinder(directories: [symbols])
    #expect(finder.path(forBuildID: id) == sub + "/" + id.dropFirst(2) + ".debug")
}

// MARK: Rewriting logs

/// A log for the C fixture mapped at 0x7f0000001000 (module-relative 0x1000), as a process would print it.
func fixtureLog(buildID: String, address: UInt64) -> String {
    let mapped = address - 0x1000 + 0x7f00_0000_1000
    return """
        boot: starting
        PANIC: assertion failed
        {{{reset}}}
        {{{module:0:fixture:elf:\(buildID)}}}
        {{{mmap:0x7f0000001000:0x10000:load:0:rx:0x1000}}}
        {{{bt:0:0x\(String(mapped, radix: 16)):pc}}}
        {{{bt:1:0x\(String(mapped + 1, radix: 16)):ra}}}
        {{{bt:2:0x123:ra}}}
        {{{bt:3:0x7f00000010
        {{{module:1:ghost:elf:deadbeef}}}
        {{{mmap:0x500000:0x1000:load:1:rx:0x0}}}
        {{{bt:4:0x500010:ra}}}
        {{{reset}}}
        {{{bt:5:0x\(String(mapped, radix: 16)):pc}}}
        end of log

        """
}

/// An address of the C fixture with three frames (leaf inlined in middle inlined in outer).
func inlinedAddress(_ fixtures: Fixtures) throws -> UInt64 {
    let symbolizer = try ELFSymbolizer(path: fixtures.cELF)
    for range in try ELFSymbolizer.executableRanges(fixtures.cELF) {
        for address in range.start..<range.end where symbolizer.frames(at: address).count == 3 { return address }
    }
    throw TestFailure("no inlined address in the fixture")
}

@Test func rewritesBacktraces() throws {
    let fixtures = try Fixtures.get()
    let id = try #require(try ELFSymbolizer.readBuildID(fixtures.cELF))
    let address = try inlinedAddress(fixtures)
    let rewriter = MarkupRewriter(finder: ELFFinder(directories: [fixtures.dir]), pathPrefix: fixtures.dir + "/")
    let out = try rewriter.rewrite(log: fixtureLog(buildID: id, address: address)).split(separator: "\n").map(String.init)
    let mapped = "0x" + String(address - 0x1000 + 0x7f00_0000_1000, radix: 16)
    #expect(out[0] == "boot: starting")
    #expect(out[1] == "PANIC: assertion failed")
    #expect(out.contains("#0.1 \(mapped) in leaf fixture.c:4:20"))
    #expect(out.contains { $0.hasPrefix("#0.2 \(mapped) in middle fixture.c:7:") })
    #expect(out.contains { $0.hasPrefix("#0 \(mapped) in outer fixture.c:12:") })
    #expect(out.contains { $0.hasPrefix("#1.1 ") && $0.contains(" in leaf fixture.c:4:") })  // ra: address-1
    #expect(out.contains("#2 0x123 (raw: no module mapped at this address)"))
    #expect(out.contains("{{{bt:3:0x7f00000010"))  // malformed: kept
    #expect(out.contains { $0.hasPrefix("#4 0x500010 ghost+0x10 (raw: build ID deadbeef matches no ELF") })
    #expect(out.contains("#5 \(mapped) (raw: no module mapped at this address)"))  // after reset
    #expect(out.last == "end of log")
    #expect(rewriter.diagnostics.count == 2)
    #expect(rewriter.diagnostics[0].hasPrefix("line 9: malformed markup"))
    #expect(rewriter.diagnostics[1].hasPrefix("line 10: build ID deadbeef"))

    let strict = MarkupRewriter(finder: ELFFinder(directories: [fixtures.dir]))
    strict.strict = true
    #expect(throws: SymbolizerError.self) { try strict.rewrite(log: fixtureLog(buildID: id, address: address)) }
}

@Test func keepsLogsWithoutMarkupUnchanged() throws {
    let rewriter = MarkupRewriter(finder: ELFFinder(directories: []))
    let log = "line one\n\n  indented {not markup} {{ nor this }}\nlast"
    #expect(try rewriter.rewrite(log: log) == log + "\n")
}

// MARK: osh commands

@Test func oshTraceSymbolizesARunDirectory() throws {
    let fixtures = try Fixtures.get()
    let osh = try oshExecutable()
    let id = try #require(try ELFSymbolizer.readBuildID(fixtures.cELF))
    let address = try inlinedAddress(fixtures)
    let build = fixtures.dir + "/build-\(UUID().uuidString)"
    let runDir = build + "/run/20260101-000000"
    try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: fixtures.cELF, toPath: runDir + "/kernel.elf")
    try fixtureLog(buildID: id, address: address).write(toFile: runDir + "/serial.log", atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: build + "/run/latest", withDestinationPath: "20260101-000000")

    // Default log: BUILD/run/latest/serial.log; the ELF is found in the run directory.
    let result = try run(osh, ["trace", "--build", build], in: fixtures.dir)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains(" in leaf fixture.c:4:20\n"))
    #expect(result.stdout.contains(" in outer fixture.c:12:"))
    #expect(result.stdout.contains("boot: starting\nPANIC: assertion failed\n"))
    #expect(result.stderr.contains("osh: warning:") && result.stderr.contains("line 9: malformed markup"))

    // Standard input, ELF found through --symbols.
    let piped = try run(osh, ["trace", "-", "--build", fixtures.dir + "/nowhere", "--symbols", runDir],
                        input: fixtureLog(buildID: id, address: address), in: fixtures.dir)
    #expect(piped.status == 0)
    #expect(piped.stdout.contains(" in leaf fixture.c:4:20\n"))

    // Errors: one line on stderr, non-zero exit.
    let missing = try run(osh, ["trace", fixtures.dir + "/no-such.log"])
    #expect(missing.status != 0)
    #expect(missing.stderr.hasPrefix("osh: error: ") && missing.stderr.filter { $0 == "\n" }.count == 1)
    let garbage = try run(osh, ["trace", fixtures.cELF])
    #expect(garbage.status != 0)
    #expect(garbage.stderr.hasPrefix("osh: error: ") && garbage.stderr.contains("not a text log"))
    let strict = try run(osh, ["trace", "--strict", runDir + "/serial.log"])
    #expect(strict.status != 0 && strict.stderr.contains("line 9: malformed markup"))
}

@Test func oshSymbolizeMatchesTheLibrary() throws {
    let fixtures = try Fixtures.get()
    let osh = try oshExecutable()
    let address = try inlinedAddress(fixtures)
    let hex = "0x" + String(address, radix: 16)
    let args = try run(osh, ["symbolize", "--elf", fixtures.cELF, hex, "0x0"])
    #expect(args.status == 0)
    #expect(args.stdout == "leaf\n\(fixtures.cSource):4:20\nmiddle\n\(fixtures.cSource):7:13\nouter\n\(fixtures.cSource):12:38\n\n??\n??:0:0\n\n"
            || args.stdout.hasPrefix("leaf\n\(fixtures.cSource):4:"))
    let stdin = try run(osh, ["symbolize", "--elf", fixtures.cELF], input: hex + "\n")
    #expect(stdin.stdout == args.stdout.components(separatedBy: "\n\n")[0] + "\n\n")
    let llvm = try run(try Tools.require("llvm-symbolizer"), ["--obj=" + fixtures.cELF, hex])
    #expect(stdin.stdout == llvm.stdout)
    let bad = try run(osh, ["symbolize", "--elf", fixtures.cSource, hex])
    #expect(bad.status != 0 && bad.stderr == "osh: error: \(fixtures.cSource): not an ELF file\n")
}

// MARK: Damaged logs (CRLF line ends, a VM killed mid-trace)

@Test func crlfLogsAreSymbolizedLineByLine() throws {
    let fixtures = try Fixtures.get()
    let id = try #require(try ELFSymbolizer.readBuildID(fixtures.cELF))
    let address = try inlinedAddress(fixtures)
    let lf = fixtureLog(buildID: id, address: address)
    let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
    let fromLF = MarkupRewriter(finder: ELFFinder(directories: [fixtures.dir]), pathPrefix: fixtures.dir + "/")
    let fromCRLF = MarkupRewriter(finder: ELFFinder(directories: [fixtures.dir]), pathPrefix: fixtures.dir + "/")
    let expected = try fromLF.rewrite(log: lf)
    let out = try fromCRLF.rewrite(log: crlf)
    #expect(out == expected)
    #expect(!out.contains("\r"))
    #expect(out.contains("#0.1 0x\(String(address - 0x1000 + 0x7f00_0000_1000, radix: 16)) in leaf fixture.c:4:20"))
    #expect(fromCRLF.diagnostics == fromLF.diagnostics)
    #expect(fromCRLF.diagnostics.filter { $0.contains("malformed") } == [fromLF.diagnostics[0]])
    #expect(fromCRLF.diagnostics[0].hasPrefix("line 9: malformed markup"))
}

@Test func aTruncatedLineIsKeptAndTheRestSymbolized() throws {
    let fixtures = try Fixtures.get()
    let id = try #require(try ELFSymbolizer.readBuildID(fixtures.cELF))
    let address = try inlinedAddress(fixtures)
    let mapped = "0x" + String(address - 0x1000 + 0x7f00_0000_1000, radix: 16)
    // A VM killed mid-trace: the last markup line is cut off, without its line end; then a second boot
    // whose output is fine, all with CRLF line ends.
    let log = [
        "{{{reset}}}", "{{{module:0:fixture:elf:\(id)}}}", "{{{mmap:0x7f0000001000:0x10000:load:0:rx:0x1000}}}",
        "{{{bt:0:\(mapped):pc}}}", "{{{bt:1:0x7f000000", "booted again",
        "{{{reset}}}", "{{{module:0:fixture:elf:\(id)}}}", "{{{mmap:0x7f0000001000:0x10000:load:0:rx:0x1000}}}",
        "{{{bt:0:\(mapped):pc}}}", "{{{bt:1:\(mapped)"].joined(separator: "\r\n")
    let rewriter = MarkupRewriter(finder: ELFFinder(directories: [fixtures.dir]), pathPrefix: fixtures.dir + "/")
    let lines = try rewriter.rewrite(log: log).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines.filter { $0 == "#0.1 \(mapped) in leaf fixture.c:4:20" }.count == 2, "\(lines)")
    #expect(lines.contains("{{{bt:1:0x7f000000"))
    #expect(lines.contains("booted again"))
    #expect(lines.suffix(2) == ["{{{bt:1:\(mapped)", ""], "the cut-off last line is kept and ended")
    #expect(rewriter.diagnostics.count == 2)
    #expect(rewriter.diagnostics[0].hasPrefix("line 5: malformed markup"))
    #expect(rewriter.diagnostics[1].hasPrefix("line 11: malformed markup"))
    #expect(MarkupRewriter.lines(of: "a\r\nb\n\r\nc") == ["a", "b", "", "c"])
    #expect(MarkupRewriter.lines(of: "") == [])
}

@Test func oshTraceFindsUserProgramsInBuildServers() throws {
    let fixtures = try Fixtures.get()
    let osh = try oshExecutable()
    let id = try #require(try ELFSymbolizer.readBuildID(fixtures.cELF))
    let address = try inlinedAddress(fixtures)
    let build = fixtures.dir + "/build-servers-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: build + "/servers", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: fixtures.cELF, toPath: build + "/servers/fixture.elf")
    // A copy of a run's log (`osh boot --log`), away from any run directory.
    let copy = fixtures.dir + "/copied-\(UUID().uuidString).log"
    try fixtureLog(buildID: id, address: address).replacingOccurrences(of: "\n", with: "\r\n")
        .write(toFile: copy, atomically: true, encoding: .utf8)
    let result = try run(osh, ["trace", copy, "--build", build], in: fixtures.dir)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains(" in leaf fixture.c:4:20\n"), "\(result.stdout)")
    #expect(result.stdout.contains("(raw: build ID deadbeef matches no ELF"))
    let warnings = result.stderr.split(separator: "\n")
    #expect(warnings.count == 2 && warnings.allSatisfy { $0.hasPrefix("osh: warning: \(copy): line ") }, "\(warnings)")
    #expect(warnings.first?.contains("line 9: malformed markup") == true)
    // The same through a --symbols directory holding a servers/ subdirectory.
    let viaSymbols = try run(osh, ["trace", copy, "--build", fixtures.dir + "/nowhere", "--symbols", build], in: fixtures.dir)
    #expect(viaSymbols.stdout.contains(" in leaf fixture.c:4:20\n"))
}

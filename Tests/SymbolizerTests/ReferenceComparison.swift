import Foundation
@testable import Symbolizer

/// How an ELF file's symbolization by `ELFSymbolizer` compares with llvm-symbolizer and eu-addr2line.
struct ReferenceComparison {
    var addresses = 0
    /// Addresses where llvm-symbolizer knew the source line (so they were compared).
    var comparedWithLLVM = 0
    /// Addresses where eu-addr2line knew the source line (so they were compared).
    var comparedWithElfutils = 0
    /// Addresses where eu-addr2line named a different symbol-table label while agreeing on file and line, and
    /// llvm-symbolizer agreed with us entirely.
    var elfutilsSymbolNameDifferences = 0
    /// One line per disagreement.
    var mismatches: [String] = []
}

struct ReferenceFrame: Equatable {
    var function: String?
    var file: String?
    var line: Int
}

/// Symbolizes `sampleCount` addresses spread over the executable sections of the ELF file at `elfPath`
/// with `ELFSymbolizer`, llvm-symbolizer and eu-addr2line (both with inlined frames), and lists every
/// address where ours differs from one of them in function (names demangled alike), file or line of any
/// frame, paths compared without "./" components (eu-addr2line misses swiftc's inlined calls: where it reports a single frame, only the innermost
/// location and the outermost function are compared). Addresses a reference tool cannot place in a source line (it prints ??:0) are not compared with
/// that tool. Usable on any ELF with DWARF, e.g. build/kernel.elf.
func compareWithReferenceSymbolizers(elfPath: String, sampleCount: Int = 400) throws -> ReferenceComparison {
    let ranges = try ELFSymbolizer.executableRanges(elfPath)
    let total = ranges.reduce(UInt64(0)) { $0 + ($1.end - $1.start) }
    guard total > 0 else { throw TestFailure("\(elfPath): no executable sections") }
    var addresses: [UInt64] = []
    for i in 0..<UInt64(sampleCount) {
        var offset = i * total / UInt64(sampleCount)
        for range in ranges {
            let size = range.end - range.start
            if offset < size { addresses.append(range.start + offset); break }
            offset -= size
        }
    }
    let input = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"

    let symbolizer = try ELFSymbolizer(path: elfPath)
    let ours = addresses.map { symbolizer.frames(at: $0) }

    let llvm = try run(try Tools.require("llvm-symbolizer"), ["--obj=" + elfPath, "--inlining"], input: input)
    guard llvm.status == 0 else { throw TestFailure("llvm-symbolizer failed: \(llvm.stderr)") }
    let llvmBlocks = parseLLVMSymbolizer(llvm.stdout)
    let eu = try run(try Tools.require("eu-addr2line"), ["-a", "-f", "-i", "-e", elfPath], input: input)
    // eu-addr2line exits with 1 when some address had no symbol; its output is complete all the same.
    guard eu.status == 0 || !eu.stdout.isEmpty else { throw TestFailure("eu-addr2line failed: \(eu.stderr)") }
    let euBlocks = parseElfutils(eu.stdout)
    guard llvmBlocks.count == addresses.count, euBlocks.count == addresses.count else {
        throw TestFailure("reference output has \(llvmBlocks.count) (llvm) / \(euBlocks.count) (eu) entries for \(addresses.count) addresses")
    }

    var report = ReferenceComparison(addresses: addresses.count)
    for (i, address) in addresses.enumerated() {
        let mine = ours[i].map { ReferenceFrame(function: $0.function, file: $0.file, line: $0.line) }
        let hex = "0x" + String(address, radix: 16)
        var agreesWithLLVM = false
        if let theirs = llvmBlocks[i].first, theirs.file != nil, theirs.line != 0 || llvmBlocks[i].count > 1 {
            report.comparedWithLLVM += 1
            if let problem = difference(mine, llvmBlocks[i]) {
                report.mismatches.append("\(hex) llvm-symbolizer: \(problem)")
            } else {
                agreesWithLLVM = true
            }
        }
        if let theirs = euBlocks[i].first, theirs.file != nil, theirs.line != 0 {
            report.comparedWithElfutils += 1
            if let problem = difference(mine, euBlocks[i], allowFewerFrames: true) {
                // Code without a DWARF function (assembly) is named from the symbol table, where eu-addr2line
                // takes the nearest label and llvm-symbolizer the enclosing sized function. When we agree with
                // llvm-symbolizer and with eu-addr2line's file and line, that is not counted as a mismatch.
                let euWithoutNames = euBlocks[i].map { ReferenceFrame(function: nil, file: $0.file, line: $0.line) }
                if agreesWithLLVM && difference(mine, euWithoutNames, allowFewerFrames: true) == nil {
                    report.elfutilsSymbolNameDifferences += 1
                } else {
                    report.mismatches.append("\(hex) eu-addr2line: \(problem)")
                }
            }
        }
    }
    return report
}

/// With `allowFewerFrames` (eu-addr2line, which does not see all of swiftc's inlined calls), a shorter
/// answer must agree on the innermost location and the outermost function, and name its functions in
/// the same order as ours (a subsequence: the inline levels it skips are simply missing).
private func difference(_ mine: [ReferenceFrame], _ theirs: [ReferenceFrame], allowFewerFrames: Bool = false) -> String? {
    func show(_ frames: [ReferenceFrame]) -> String {
        frames.map { "\($0.function ?? "??") \($0.file ?? "??"):\($0.line)" }.joined(separator: " / ")
    }
    if allowFewerFrames, !theirs.isEmpty, theirs.count < mine.count, let a = mine.first, let b = theirs.first,
       let outer = mine.last, let theirOuter = theirs.last {
        let sameOuter = theirOuter.function == nil || outer.function == theirOuter.function
        var remaining = mine[...]
        let subsequence = theirs.allSatisfy { frame in
            guard let f = frame.function else { return true }
            guard let at = remaining.firstIndex(where: { $0.function == f }) else { return false }
            remaining = remaining[(at + 1)...]
            return true
        }
        return sameOuter && subsequence && a.file == b.file && a.line == b.line ? nil : "ours \(show(mine)), theirs \(show(theirs))"
    }
    guard mine.count == theirs.count else { return "\(mine.count) frames vs \(theirs.count): ours \(show(mine)), theirs \(show(theirs))" }
    for (a, b) in zip(mine, theirs) {
        let sameFunction = b.function == nil || a.function == b.function
        if !sameFunction || a.file != b.file || a.line != b.line {
            return "ours \(show(mine)), theirs \(show(theirs))"
        }
    }
    return nil
}

/// "??" → nil; names demangled as ours are.
private func referenceFunction(_ text: Substring) -> String? {
    text == "??" ? nil : Symbolizer.demangle(String(text))
}

/// "file:line[:column]" → (file, line); "??:0[:0]" → (nil, 0).
private func referenceLocation(_ text: Substring) -> (String?, Int) {
    var parts = text.split(separator: ":", omittingEmptySubsequences: false)
    var numbers: [Int] = []
    while let last = parts.last, let n = Int(last), numbers.count < 2 { numbers.insert(n, at: 0); parts.removeLast() }
    let file = parts.joined(separator: ":")
    return (file == "??" || file.isEmpty ? nil : ELFSymbolizer.normalizePath(file), numbers.first ?? 0)
}

/// llvm-symbolizer: per address, function and location lines, then a blank line.
func parseLLVMSymbolizer(_ text: String) -> [[ReferenceFrame]] {
    var blocks: [[ReferenceFrame]] = []
    var current: [ReferenceFrame] = []
    var pendingFunction: Substring? = nil
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.isEmpty {
            if !current.isEmpty { blocks.append(current); current = [] }
            continue
        }
        if let function = pendingFunction {
            let (file, number) = referenceLocation(line)
            current.append(ReferenceFrame(function: referenceFunction(function), file: file, line: number))
            pendingFunction = nil
        } else {
            pendingFunction = line
        }
    }
    if !current.isEmpty { blocks.append(current) }
    return blocks
}

/// eu-addr2line -a -f -i: per address an address line, then function and location lines per frame; the
/// first function reads "NAME inlined at FILE:LINE:COL in OUTER" when inlined.
func parseElfutils(_ text: String) -> [[ReferenceFrame]] {
    var blocks: [[ReferenceFrame]] = []
    var current: [ReferenceFrame]? = nil
    var pendingFunction: Substring? = nil
    for line in text.split(separator: "\n") {
        if pendingFunction == nil, line.hasPrefix("0x"), line.dropFirst(2).allSatisfy(\.isHexDigit) {
            if let current { blocks.append(current) }
            current = []
            continue
        }
        if var function = pendingFunction {
            if let cut = function.range(of: " inlined at ") { function = function[..<cut.lowerBound] }
            let (file, number) = referenceLocation(line)
            current?.append(ReferenceFrame(function: referenceFunction(function), file: file, line: number))
            pendingFunction = nil
        } else {
            pendingFunction = line
        }
    }
    if let current { blocks.append(current) }
    return blocks
}

import Foundation
import Testing
@testable import KernelCore

@Suite struct ELFTests {
    /// Builds a small ELF with clang, linked with a build ID, so the reader meets a real file.
    static func buildSample() throws -> [UInt8] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("elftest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("a.c")
        try "int value = 7; int _start(void) { return value; }\n".write(to: src, atomically: true, encoding: .utf8)
        let obj = dir.appendingPathComponent("a.o")
        let out = dir.appendingPathComponent("a.elf")
        try run("clang", "-target", "x86_64-unknown-none-elf", "-c", "-o", obj.path, src.path)
        try run("ld.lld", "--build-id=0x0123456789abcdef", "-o", out.path, obj.path)
        return Array(try Data(contentsOf: out))
    }

    static func run(_ args: String...) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(args.joined(separator: " ")) failed")
    }

    @Test func readsHeaderSegmentsAndBuildID() throws {
        let bytes = try Self.buildSample()
        try bytes.withUnsafeBytes { raw in
            let elf = try ELFFile(raw)
            #expect(elf.machine == ELFFile.machineX86_64)
            let loads = try elf.programHeaders().filter { $0.type == ELFProgramHeader.load }
            #expect(!loads.isEmpty)
            #expect(loads.contains { $0.vaddr <= elf.entry && elf.entry < $0.vaddr + $0.memorySize })
            #expect(try elf.buildID().map(hexString) == "0123456789abcdef")
            let names = try elf.sectionHeaders().map { try elf.sectionName($0) }
            #expect(names.contains(".text"))
        }
    }

    static func lookup(_ bytes: [UInt8], _ name: String) throws -> ELFSymbol? {
        try bytes.withUnsafeBytes { raw throws -> ELFSymbol? in try ELFFile(raw).symbol(named: Array(name.utf8)) }
    }

    @Test func findsSymbolsByName() throws {
        let bytes = try Self.buildSample()
        let entry = try bytes.withUnsafeBytes { raw throws -> UInt64 in try ELFFile(raw).entry }
        let start = try #require(try Self.lookup(bytes, "_start"))
        #expect(start.value == entry)
        let value = try #require(try Self.lookup(bytes, "value"))
        #expect(value.size == 4)
        #expect(value.value != 0)
        #expect(try Self.lookup(bytes, "valu") == nil, "a prefix is not a match")
        #expect(try Self.lookup(bytes, "value2") == nil)
        #expect(try Self.lookup(bytes, "missing") == nil)
        // Without section headers there is simply no symbol.
        var noSections = bytes
        for i in 60..<62 { noSections[i] = 0 }
        #expect(try Self.lookup(noSections, "_start") == nil)
        // A section table cut off is reported, not trapped on.
        #expect(throws: ELFError.self) { _ = try Self.lookup(Array(bytes.prefix(bytes.count - 8)), "_start") }
    }

    @Test func rejectsGarbageAndTruncation() throws {
        #expect(throws: ELFError.notELF) { try [UInt8](repeating: 0x41, count: 100).withUnsafeBytes { _ = try ELFFile($0) } }
        #expect(throws: ELFError.notELF) { try [UInt8]().withUnsafeBytes { _ = try ELFFile($0) } }
        let bytes = try Self.buildSample()
        #expect(throws: ELFError.truncated) { try Array(bytes.prefix(40)).withUnsafeBytes { _ = try ELFFile($0) } }
        // Headers present but the program header table cut off.
        #expect(throws: ELFError.truncated) {
            try Array(bytes.prefix(70)).withUnsafeBytes { _ = try ELFFile($0).programHeaders() }
        }
        var notLE = bytes
        notLE[5] = 2
        #expect(throws: ELFError.notLittleEndian) { try notLE.withUnsafeBytes { _ = try ELFFile($0) } }
    }

    @Test func hexDigits() {
        #expect(hexString([0x00, 0xab, 0x7f]) == "00ab7f")
        #expect(hexString([]) == "")
    }
}

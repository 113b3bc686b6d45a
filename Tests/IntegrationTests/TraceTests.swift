import Foundation
import Testing
import Symbolizer

/// `osh trace` on a copy of a user fault report as the kernel writes it (CRLF line ends, the faulting
/// program's module and the kernel's), with the real kernel and crashtest ELFs of build/.
@Suite struct TraceTests {
    /// The address of `symbol` in `elf`, from llvm-nm.
    static func address(of symbol: String, in elf: URL) throws -> UInt64 {
        let nm = try run(Repo.tool("llvm-nm"), ["--defined-only", elf.path])
        let line = try #require(nm.stdout.split(separator: "\n").first { $0.hasSuffix(" " + symbol) }, "\(symbol) not in \(elf.path)")
        return try #require(UInt64(line.split(separator: " ")[0], radix: 16))
    }

    @Test func userFaultWithAKernelFirstFrame() throws {
        let crashtest = Repo.build.appendingPathComponent("servers/crashtest.elf")
        let kernelID = try #require(try ELFSymbolizer.readBuildID(Repo.kernel.path))
        let userID = try #require(try ELFSymbolizer.readBuildID(crashtest.path))
        let entry = try Self.address(of: "syscall_entry", in: Repo.kernel)
        let level2 = try Self.address(of: "$e9crashtest11crashLevel2yys6UInt64VF", in: crashtest)
        // A user fault whose rip is the kernel's syscall entry (what a broken KVM produces): frame 0 in
        // the kernel, frame 1 a return address in the program.
        let log = [
            "USER FAULT: process 3 \"crashtest\" thread 4: CPU exception 14 (page fault)",
            "{{{reset}}}",
            "{{{module:0:crashtest:elf:\(userID)}}}",
            "{{{mmap:0x400000:0x100000:load:0:rx:0x400000}}}",
            "{{{module:1:kernel:elf:\(kernelID)}}}",
            "{{{mmap:0xffffffff80100000:0x1000000:load:1:rwx:0xffffffff80100000}}}",
            "{{{bt:0:0x\(String(entry, radix: 16)):pc}}}",
            "{{{bt:1:0x\(String(level2 + 4, radix: 16)):ra}}}",
            "",
        ].joined(separator: "\r\n")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("serial-copy.log")
        try log.write(to: copy, atomically: true, encoding: .utf8)
        let result = try run(Repo.osh.path, ["trace", copy.path, "--build", Repo.build.path], cwd: Repo.root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let frame0 = try #require(lines.first { $0.hasPrefix("#0 ") }, "\(lines)")
        #expect(frame0.contains("in syscall_entry ") && frame0.contains("Sources/Kernel/Arch/syscall.S:"), "\(frame0)")
        #expect(lines.contains { $0.hasPrefix("#1") && $0.contains("crashLevel2") && $0.contains("Sources/Servers/crashtest/Main.swift:") },
                "\(lines)")
    }
}

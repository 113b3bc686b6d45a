import Foundation
import Testing
import KernelCore

/// Checks of build/kernel.elf itself: the instructions it may not contain and the String it may not use.
@Suite struct KernelImageTests {
    static func disassembly() throws -> [Substring] {
        // .text holds all compiled code; .boot holds the multiboot headers (data) and hand-written 32-bit code.
        let result = try run(Repo.tool("llvm-objdump"), ["-d", "--no-show-raw-insn", "--section=.text", Repo.kernel.path])
        #expect(result.status == 0, "llvm-objdump failed: \(result.stderr)")
        return result.stdout.split(separator: "\n")
    }

    /// One instruction line of llvm-objdump: "ffffffff80101234: \tmnemonic\toperands".
    static func instruction(_ line: Substring) -> (mnemonic: String, operands: String)? {
        let parts = line.split(separator: "\t", omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return nil }
        let address = parts[0].trimmingCharacters(in: .whitespaces)
        guard address.hasSuffix(":"), address.dropLast().allSatisfy(\.isHexDigit) else { return nil }
        let mnemonic = parts[1].trimmingCharacters(in: .whitespaces)
        return (mnemonic, parts.count > 2 ? String(parts[2]) : "")
    }

    /// x87, MMX, SSE and AVX by mnemonic or register operand.
    static func isFloatingPointOrVector(_ mnemonic: String, _ operands: String) -> Bool {
        let floatRegister = try! Regex(#"%(x|y|z)mm[0-9]+|%mm[0-7]|%st\b|%st\("#)
        if operands.contains(floatRegister) { return true }
        let x87 = mnemonic.hasPrefix("f") && mnemonic != "fs" // fld, fstp, fadd, fnstcw, fxsave, ...
        let other = ["emms", "ldmxcsr", "stmxcsr", "movnti", "vzeroupper", "vzeroall", "wait"].contains(mnemonic)
        return x87 || other || mnemonic.hasPrefix("cvt") || mnemonic.hasPrefix("pf")
    }

    /// Saving and restoring user threads' x87/SSE state at switches (Scheduler, shim.h fpu_save/restore)
    /// is the kernel's only contact with that state: exactly these two instructions, nothing else.
    static let stateSwitchInstructions: Set<String> = ["fxsave64", "fxrstor64"]

    @Test func noFloatingPointOrVectorInstructions() throws {
        var offenders: [String] = []
        var count = 0
        var stateSwitches = 0
        for line in try Self.disassembly() {
            guard let (mnemonic, operands) = Self.instruction(line) else { continue }
            count += 1
            if Self.stateSwitchInstructions.contains(mnemonic) {
                stateSwitches += 1
                continue
            }
            if Self.isFloatingPointOrVector(mnemonic, operands) { offenders.append(String(line)) }
        }
        #expect(count > 1000, "disassembly parsed too few instructions (\(count))")
        #expect(stateSwitches <= 4, "fxsave64/fxrstor64 used outside the thread switch (\(stateSwitches) sites)")
        #expect(offenders.isEmpty, "x87/MMX/SSE/AVX in the kernel:\n\(offenders.prefix(20).joined(separator: "\n"))")
    }

    @Test func checkerRecognisesForbiddenInstructions() {
        #expect(Self.isFloatingPointOrVector("movaps", "%xmm0, (%rax)"))
        #expect(Self.isFloatingPointOrVector("fldt", "(%rsp)"))
        #expect(Self.isFloatingPointOrVector("vmovdqu", "%ymm1, (%rdi)"))
        #expect(Self.isFloatingPointOrVector("paddd", "%mm1, %mm2"))
        #expect(!Self.isFloatingPointOrVector("movq", "%rsp, %rbp"))
        #expect(!Self.isFloatingPointOrVector("rep", "movsb (%rsi), %es:(%rdi)"))
    }

    /// With no red zone, nothing is stored below the stack pointer.
    @Test func noRedZoneUse() throws {
        let belowStack = try Regex(#"-0x[0-9a-f]+\(%rsp\)"#)
        var offenders: [String] = []
        for line in try Self.disassembly() {
            // lea computes an address without touching memory (`leaq -0x20(%rsp), %rsp` allocates).
            guard let (mnemonic, operands) = Self.instruction(line), !mnemonic.hasPrefix("lea") else { continue }
            if operands.contains(belowStack) { offenders.append(String(line)) }
        }
        #expect(offenders.isEmpty, "accesses below %rsp:\n\(offenders.prefix(20).joined(separator: "\n"))")
    }

    /// Swift keeps flags in bits 60..63 of a String's storage pointer, which every kernel-image address has
    /// set; the kernel must not contain String (see Sources/Kernel/Debug/Console.swift).
    @Test func noSwiftStringInKernel() throws {
        let result = try run(Repo.tool("llvm-nm"), [Repo.kernel.path])
        #expect(result.status == 0)
        let symbols = result.stdout.split(separator: "\n")
        #expect(symbols.count > 100)
        let strings = symbols.filter { $0.contains("$eSS") || $0.contains("_StringGuts") || $0.contains("_StringObject") }
        #expect(strings.isEmpty, "String code linked into the kernel:\n\(strings.prefix(10).joined(separator: "\n"))")
    }

    @Test func kernelHasBuildIDAndDebugInfo() throws {
        let bytes = try Data(contentsOf: Repo.kernel)
        try bytes.withUnsafeBytes { raw in
            let elf = try ELFFile(raw)
            #expect(try elf.buildID()?.count == 20)
            let names = try elf.sectionHeaders().map { try elf.sectionName($0) }
            #expect(names.contains(".debug_info") && names.contains(".debug_line"))
            // Higher half: the image is linked at 0xffffffff80100000 and loaded at 1 MiB.
            let load = try elf.programHeaders().first { $0.type == ELFProgramHeader.load }
            #expect(load?.vaddr == 0xffff_ffff_8010_0000)
            #expect(load?.paddr == 0x10_0000)
        }
    }

    /// W^X starts in the image: text, rodata and data (with bss) are three page-aligned PT_LOAD segments
    /// (read+execute, read, read+write), none writable and executable, whose file bytes mirror memory
    /// (offset - vaddr the same for all), as the multiboot1 loader's single contiguous read needs.
    @Test func loadSegmentsAreWXorXAndContiguous() throws {
        let bytes = try Data(contentsOf: Repo.kernel)
        try bytes.withUnsafeBytes { raw in
            let loads = try ELFFile(raw).programHeaders().filter { $0.type == ELFProgramHeader.load }
            let (r, w, x) = (ELFProgramHeader.read, ELFProgramHeader.write, ELFProgramHeader.exec)
            #expect(loads.map(\.flags) == [r | x, r, r | w])
            #expect(loads.allSatisfy { $0.flags & (w | x) != w | x })
            #expect(loads.allSatisfy { $0.vaddr % 4096 == 0 && $0.paddr % 4096 == 0 })
            #expect(Set(loads.map { $0.vaddr &- $0.offset }).count == 1, "file layout does not mirror memory")
        }
    }
}

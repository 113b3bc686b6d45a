import Foundation
import Testing

/// End-to-end boots of the real kernel through build/osh under TCG, checking what a user sees.
@Suite(.serialized) struct BootTests {
    struct Boot {
        var result: RunResult
        var runDirectory: URL
        var serial: String
    }

    /// Runs `build/osh boot ARGS --accel tcg` and finds the run directory from osh's closing line.
    /// `make test ACCEL=... OSH_ARGS=...` reaches here as OSH_TEST_ACCEL and OSH_TEST_ARGS.
    static func boot(_ arguments: [String], timeout: Int = 240) throws -> Boot {
        let env = ProcessInfo.processInfo.environment
        let accel = env["OSH_TEST_ACCEL"].flatMap { $0.isEmpty ? nil : $0 } ?? "tcg"
        let extra = (env["OSH_TEST_ARGS"] ?? "").split(separator: " ").map(String.init)
        let result = try run(Repo.osh.path, ["boot", "--accel", accel, "--timeout", String(timeout)] + extra + arguments)
        let match = result.stderr.firstMatch(of: /\[run ([^;\]]+)/)
        let dir = URL(fileURLWithPath: String(try #require(match, "no run directory in: \(result.stderr)").1))
        let serial = (try? String(contentsOf: dir.appendingPathComponent("serial.log"), encoding: .utf8)) ?? ""
        return Boot(result: result, runDirectory: dir, serial: serial)
    }

    @Test func inKernelTestsPassDirectBoot() throws {
        let b = try Self.boot(["--test"])
        #expect(b.result.status == 0, "osh boot --test: \(b.result.stderr)")
        #expect(b.result.stdout.contains("Swift microkernel for x86_64, build "))
        #expect(b.result.stdout.contains(" passed, 0 failed"))
        #expect(b.result.stdout.contains("ok   pmm.allocate_write_free"))
        #expect(b.serial.contains(" passed, 0 failed"), "serial.log keeps the whole output")
        let manifest = try String(contentsOf: b.runDirectory.appendingPathComponent("manifest.json"), encoding: .utf8)
        #expect(manifest.contains("kernel.elf"))
    }

    @Test func inKernelTestsPassThroughGRUB() throws {
        let b = try Self.boot(["--boot", "iso", "--test"])
        #expect(b.result.status == 0, "osh boot --boot iso --test: \(b.result.stderr)")
        #expect(b.serial.contains("multiboot2 from \"GRUB"))
        // GRUB hands over SeaBIOS's ACPI 1.0 RSDP in the old multiboot2 ACPI tag.
        #expect(b.serial.contains("acpi: rev 0 (multiboot2 tag 14), RSDT "))
        #expect(b.serial.contains(" passed, 0 failed"))
    }

    @Test func inKernelTestsPassThroughUEFI() throws {
        let b = try Self.boot(["--uefi", "--test"])
        #expect(b.result.status == 0, "osh boot --uefi --test: \(b.result.stderr)")
        #expect(b.serial.contains("multiboot2 from \"GRUB"))
        // OVMF's RSDP is ACPI 2.0: the new tag, and the XSDT.
        #expect(b.serial.contains("acpi: rev 2 (multiboot2 tag 15), XSDT "))
        #expect(b.serial.contains(" passed, 0 failed"))
    }

    @Test func logLevelSwitch() throws {
        let debug = try Self.boot(["--test", "--cmdline", "log=debug"])
        #expect(debug.serial.contains("[debug] memory: 0x"))
        let quiet = try Self.boot(["--test", "--cmdline", "log=warn"])
        #expect(!quiet.serial.contains("[info]"))
        #expect(quiet.serial.contains(" passed, 0 failed"))
        let bad = try Self.boot(["--test", "--cmdline", "log=loud tset panic=halt"])
        #expect(bad.serial.contains("[warn] log=loud is not a level"))
        // Words outside the ABI's list are named, known ones are not.
        #expect(bad.serial.contains("[warn] command line: unknown word \"tset\""))
        #expect(!bad.serial.contains("unknown word \"log") && !bad.serial.contains("unknown word \"panic"))
    }

    /// Puts the kernel ELF where llvm-symbolizer looks for it: DIR/.build-id/xx/rest.debug.
    static func debugDirectory(for elf: URL, buildID: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("debug-\(UUID().uuidString)")
        let sub = dir.appendingPathComponent(".build-id").appendingPathComponent(String(buildID.prefix(2)))
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: elf, to: sub.appendingPathComponent(String(buildID.dropFirst(2)) + ".debug"))
        return dir
    }

    @Test func panicTraceResolvesToKernelSourceLines() throws {
        let b = try Self.boot(["--cmdline", "panic_test"])
        #expect(b.result.status == 2, "a panic ends the run with guest status 2: \(b.result.stderr)")
        #expect(b.serial.contains("KERNEL PANIC: panic_test: deliberate panic"))
        let module = try #require(b.serial.firstMatch(of: /\{\{\{module:0:kernel:elf:([0-9a-f]+)\}\}\}/))
        #expect(b.serial.contains("{{{bt:1:0x"))
        // On the terminal the markup is symbolized inline; serial.log keeps it raw.
        #expect(!b.result.stdout.contains("{{{bt:"))
        #expect(b.result.stdout.contains("PanicTest.third"))
        #expect(b.result.stdout.contains(/PanicTest\.third.*Sources\/Kernel\/Boot\/Main\.swift:\d+/))
        let debug = try Self.debugDirectory(for: b.runDirectory.appendingPathComponent("kernel.elf"),
                                            buildID: String(module.1))
        defer { try? FileManager.default.removeItem(at: debug) }
        let symbolized = try run(Repo.tool("llvm-symbolizer"), ["--filter-markup", "--debug-file-directory", debug.path],
                                 stdin: Data(b.serial.utf8))
        #expect(symbolized.status == 0)
        // The nested call chain, each frame with a Sources/Kernel file and line.
        for function in ["PanicTestO5third", "PanicTestO6second", "PanicTestO5first"] {
            let line = symbolized.stdout.split(separator: "\n").first { $0.contains(function) }
            #expect(line?.contains(/Sources\/Kernel\/Boot\/Main\.swift:\d+/) == true,
                    "\(function) not resolved to Main.swift:LINE in:\n\(symbolized.stdout)" as Comment)
        }
    }

    @Test func oshTraceSymbolizesThePanicLog() throws {
        let b = try Self.boot(["--cmdline", "panic_test", "--raw"])
        #expect(b.result.stdout.contains("{{{bt:1:0x"), "--raw shows the markup as it is")
        let trace = try run(Repo.osh.path, ["trace", b.runDirectory.appendingPathComponent("serial.log").path])
        #expect(trace.status == 0, "\(trace.stderr)")
        #expect(trace.stdout.contains("PanicTest.third"))
        #expect(trace.stdout.contains(/Sources\/Kernel\/Boot\/Main\.swift:\d+/))
    }

    @Test func cpuExceptionReport() throws {
        let b = try Self.boot(["--cmdline", "fault_test"])
        #expect(b.result.status == 2)
        #expect(b.serial.contains("CPU exception 14 (page fault) in kernel mode"))
        #expect(b.serial.contains("page fault at cr2=0x0000100000000000: page not present, read"))
        #expect(b.serial.contains("rip=0xffffffff8"))
        #expect(b.serial.contains("{{{bt:0:0x"))
    }

    @Test func panicHaltKeepsTheVMUntilTimeout() throws {
        let started = Date()
        let result = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "5", "--cmdline", "panic_test panic=halt"])
        #expect(result.status == 124, "panic=halt keeps QEMU alive until osh's timeout")
        #expect(Date().timeIntervalSince(started) >= 4.5)
    }

    /// Under osh's TCG CPU model (-cpu max) every protection is on and logged, and the in-kernel
    /// hardening tests (SMAP, SMEP, W^X, write protection, guard pages) ran and passed.
    @Test func hardeningOnAndTested() throws {
        let b = try Self.boot(["--test"])
        #expect(b.result.status == 0, "osh boot --test: \(b.result.stderr)")
        #expect(b.serial.contains("[info] protections: SMEP on, SMAP on, CR0.WP on, NX on"))
        for name in ["kernel_mappings_are_w_xor_x", "image_parts_have_their_rights", "kernel_text_and_rodata_writes_fault",
                     "smap_user_page_access_faults", "smep_user_page_execution_faults", "stack_guard_pages_unmapped",
                     "thread_stacks_and_tables_returned"] {
            #expect(b.serial.contains("ok   hardening.\(name)"), "hardening.\(name) did not pass")
        }
    }

    /// Endless recursion on a thread kernel stack runs into the guard page below it; the double fault,
    /// on its own IST stack, reports a kernel stack overflow with a trace of the recursion.
    @Test func kernelStackOverflowIsACleanPanic() throws {
        let b = try Self.boot(["--cmdline", "stack_overflow_test"])
        #expect(b.result.status == 2, "a panic ends the run with guest status 2: \(b.result.stderr)")
        #expect(b.serial.contains(/KERNEL PANIC: kernel stack overflow: cr2=0xffffff00[0-9a-f]{8} is in the guard page below a kernel stack/))
        #expect(b.serial.contains("CPU exception 8 (double fault) in kernel mode"))
        #expect(b.serial.contains("{{{bt:8:0x"), "the trace walks the overflowed stack")
        #expect(b.result.stdout.contains("StackOverflowTest.recurse"))
    }
}

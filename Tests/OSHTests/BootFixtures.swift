// Fixture kernels and a runner for end-to-end tests of `osh boot`.
//
// A fixture is a tiny ELF64 whose multiboot1 header uses the a.out kludge (so QEMU's -kernel loads it,
// like the real kernel) and that also carries a multiboot2 header (so GRUB boots it from an ISO). It
// prints a message and the multiboot command line on COM1, then writes a status to isa-debug-exit,
// or halts forever. Its build ID is fixed so the manifest can be checked.

import Foundation

enum BootFixture {
    static let buildID = "0123456789abcdef"

    static func tool(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for dir in dirs where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        return nil
    }

    static var toolsAvailable: Bool {
        tool("clang") != nil && tool("ld.lld") != nil && tool("qemu-system-x86_64") != nil
    }

    static let source = #"""
        .section .multiboot, "ax"
        .align 8
        mb1:
        .long 0x1BADB002
        .long 0x00010000
        .long -(0x1BADB002 + 0x00010000)
        .long mb1
        .long mb1
        .long 0
        .long 0
        .long _start
        .align 8
        mb2:
        .long 0xE85250D6
        .long 0
        .long mb2_end - mb2
        .long -(0xE85250D6 + (mb2_end - mb2))
        .short 0
        .short 0
        .long 8
        mb2_end:
        .code32
        .globl _start
        _start:
            mov %eax, %ebp
            mov %ebx, %edi
            mov $msg, %esi
            call puts
            mov $cmdmsg, %esi
            call puts
            cmp $0x2BADB002, %ebp
            jne 6f
            mov (%edi), %eax
            test $4, %eax
            jz 1f
            mov 16(%edi), %esi
            call puts
            jmp 1f
        6:  cmp $0x36d76289, %ebp
            jne 1f
            lea 8(%edi), %ebx
        7:  mov (%ebx), %eax
            test %eax, %eax
            jz 1f
            cmp $1, %eax
            je 8f
            mov 4(%ebx), %eax
            add $7, %eax
            and $~7, %eax
            add %eax, %ebx
            jmp 7b
        8:  lea 8(%ebx), %esi
            call puts
        1:  mov $nl, %esi
            call puts
        #ifdef LOOP
        2:  hlt
            jmp 2b
        #endif
        #ifdef PVPANIC
            mov $1, %al
            mov $0x505, %dx
            out %al, %dx
        9:  hlt
            jmp 9b
        #endif
            mov $STATUS, %al
            mov $0xf4, %dx
            out %al, %dx
        3:  hlt
            jmp 3b
        puts:
            mov $0x3f8, %dx
        4:  lodsb
            test %al, %al
            jz 5f
            out %al, %dx
            jmp 4b
        5:  ret
        msg: .asciz MSG
        cmdmsg: .asciz "cmdline: "
        nl: .asciz "\n"
        """#

    static let linkerScript = """
        ENTRY(_start)
        SECTIONS {
          . = 0x100000;
          .text : { *(.multiboot) *(.text) *(.rodata*) }
        }
        """

    /// Builds a fixture kernel in a new directory under `parent`; returns its path.
    /// `pvpanic`: after the message, report a crash through QEMU's pvpanic device (port 0x505) and halt.
    static func kernel(in parent: URL, status: UInt8 = 0, message: String = "hello from the fixture\\n",
                       loop: Bool = false, pvpanic: Bool = false) throws -> URL {
        let dir = parent.appendingPathComponent("fixture-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try source.write(to: dir.appendingPathComponent("k.S"), atomically: true, encoding: .utf8)
        try linkerScript.write(to: dir.appendingPathComponent("k.ld"), atomically: true, encoding: .utf8)
        var defines = ["-DSTATUS=\(status)", "-DMSG=\"\(message)\""]
        if loop { defines.append("-DLOOP") }
        if pvpanic { defines.append("-DPVPANIC") }
        try run(tool("clang")!, ["-target", "x86_64-unknown-none-elf", "-x", "assembler-with-cpp", "-c"] + defines
                + [dir.appendingPathComponent("k.S").path, "-o", dir.appendingPathComponent("k.o").path])
        let elf = dir.appendingPathComponent("kernel.elf")
        try run(tool("ld.lld")!, ["-m", "elf_x86_64", "-T", dir.appendingPathComponent("k.ld").path,
                                  "--build-id=0x\(buildID)", dir.appendingPathComponent("k.o").path, "-o", elf.path])
        return elf
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-boot-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw Failure(description: "\(tool) \(args) failed") }
    }
}

/// Runs the built `osh` executable (next to the test bundle) and collects what it printed.
struct OSHRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double

    static var executable: URL {
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                      ?? CommandLine.arguments[0])
        var dir = exe.deletingLastPathComponent()
        // The test bundle may be a directory (…/oshPackageTests.xctest/…) or an executable.
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("osh").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("osh")
    }

    /// Starts `osh boot` of a fixture kernel in the background, its standard streams on /dev/null (for
    /// tests that act on the VM while it runs, then wait for the process).
    static func startBoot(buildDir: URL, kernel: URL, timeout: Int) throws -> Process {
        let p = Process()
        p.executableURL = executable
        p.arguments = ["boot", "--build-dir", buildDir.path, "--kernel", kernel.path, "--accel", "tcg", "--timeout", String(timeout)]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func run(_ args: [String], stdin: Data? = nil, stdinDelay: Double = 0, environment: [String: String] = [:]) throws -> OSHRun {
        let dir = try BootFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        let input = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : input
        let start = Date()
        try p.run()
        if let stdin {
            if stdinDelay > 0 { Thread.sleep(forTimeInterval: stdinDelay) }
            // The pipe stays open until osh exits: input arrives while the guest runs.
            input.fileHandleForWriting.write(stdin)
        }
        p.waitUntilExit()
        try? input.fileHandleForWriting.close()
        return OSHRun(status: p.terminationStatus,
                      stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
                      stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self),
                      seconds: Date().timeIntervalSince(start))
    }
}

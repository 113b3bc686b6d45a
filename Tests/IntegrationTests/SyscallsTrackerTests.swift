import Foundation
import Testing
@testable import OSH

/// `osh syscalls` against the real kernel running a tiny root program that makes known syscalls.
@Suite(.serialized) struct SyscallsTrackerTests {
    /// 7 debug_log calls, 3 frame_create calls, then a spin: a static x86_64 ELF at 0x400000.
    static let program = #"""
            .text
            .globl _start
        _start:
            mov $7, %r12d
        1:  mov $0, %eax
            lea msg(%rip), %rdi
            mov $msglen, %esi
            syscall
            dec %r12d
            jnz 1b
            mov $3, %r12d
        2:  mov $25, %eax
            mov $4096, %edi
            syscall
            dec %r12d
            jnz 2b
        3:  jmp 3b
            .section .rodata
        msg: .ascii "syscall fixture says hello\n"
            .set msglen, . - msg
        """#

    static func buildProgram(in dir: URL) throws -> URL {
        let src = dir.appendingPathComponent("prog.S"), obj = dir.appendingPathComponent("prog.o")
        let elf = dir.appendingPathComponent("prog.elf")
        try program.write(to: src, atomically: true, encoding: .utf8)
        let cc = try run(Repo.tool("clang"), ["-target", "x86_64-unknown-none-elf", "-c", src.path, "-o", obj.path])
        #expect(cc.status == 0, "\(cc.stderr)")
        let ld = try run(Repo.tool("ld.lld"), ["-static", "-e", "_start", "--image-base=0x400000", "-Ttext=0x401000",
                                               "-z", "max-page-size=4096", "--build-id=sha1", obj.path, "-o", elf.path])
        #expect(ld.status == 0, "\(ld.stderr)")
        return elf
    }

    static func counts(_ json: String) throws -> (debugLog: Int64?, frameCreate: Int64?, frame: Int64?) {
        let j = try JSON.parse(json.trimmingCharacters(in: .whitespacesAndNewlines))
        return (j["syscalls"]?["debug_log"]?.int, j["syscalls"]?["frame_create"]?.int, j["objects"]?["frame"]?.int)
    }

    static func startWatch(_ runDir: URL) throws -> (process: Process, output: Pipe, errors: Pipe) {
        let p = Process()
        p.executableURL = Repo.osh
        p.arguments = ["syscalls", "--run", runDir.path, "--watch", "--json", "--interval", "0.3"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, out, err)
    }

    @Test func countsSyscallsOfARootProgramAlsoWithGDBAttached() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-syscalls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try Self.buildProgram(in: dir)
        let build = dir.appendingPathComponent("build")

        // osh boot in the background, with the program as the root module.
        let boot = try startOSH(["boot", "--build-dir", build.path, "--kernel", Repo.kernel.path, "--module", program.path + ":root",
                          "--accel", "tcg", "--timeout", "60"])
        defer { if boot.isRunning { boot.terminate(); boot.waitUntilExit() } }

        // Wait for the program's output, then for its last syscall to be counted.
        let runDir = build.appendingPathComponent("run/latest")
        let deadline = Date().addingTimeInterval(50)
        var serial = ""
        while Date() < deadline {
            serial = (try? String(contentsOf: runDir.appendingPathComponent("serial.log"), encoding: .utf8)) ?? ""
            if serial.components(separatedBy: "syscall fixture says hello").count - 1 >= 7 { break }
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(serial.components(separatedBy: "syscall fixture says hello").count - 1 == 7, "\(serial)")
        var last = try run(Repo.osh.path, ["syscalls", "--run", runDir.path, "--json"])
        while Date() < deadline, last.status == 0, try Self.counts(last.stdout).frameCreate != 3 {
            Thread.sleep(forTimeInterval: 0.3)
            last = try run(Repo.osh.path, ["syscalls", "--run", runDir.path, "--json"])
        }
        #expect(last.status == 0, "\(last.stderr)")
        let c = try Self.counts(last.stdout)
        #expect(c.debugLog == 7)
        #expect(c.frameCreate == 3)
        #expect(c.frame == 3)
        let table = try run(Repo.osh.path, ["syscalls", "--run", runDir.path])
        #expect(table.stdout.contains(/debug_log +7\n/))

        // With a debugger holding the gdbstub (the VM stopped), QMP still reads the table.
        let gdb = try GDBRemoteClient(path: runDir.appendingPathComponent("gdb.sock").path, timeout: 10)
        #expect(try gdb.readRegister("rip") != 0)
        let whileAttached = try run(Repo.osh.path, ["syscalls", "--run", runDir.path, "--json"])
        gdb.close()
        #expect(whileAttached.status == 0, "\(whileAttached.stderr)")
        #expect(try Self.counts(whileAttached.stdout).debugLog == 7)

        // --watch: Ctrl-C ends it with status 0; a second watcher stops with a note when the VM goes away.
        let interrupted = try Self.startWatch(runDir)
        Thread.sleep(forTimeInterval: 1.5)
        kill(interrupted.process.processIdentifier, SIGINT)
        interrupted.process.waitUntilExit()
        #expect(interrupted.process.terminationStatus == 0)
        let lines = String(decoding: interrupted.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n")
        #expect(lines.count >= 2, "\(lines)")
        #expect(lines.dropFirst().allSatisfy { $0.contains("\"rates\"") })
        let orphan = try Self.startWatch(runDir)
        Thread.sleep(forTimeInterval: 0.8)

        // The VM gone: one line, non-zero.
        boot.terminate()
        boot.waitUntilExit()
        orphan.process.waitUntilExit()
        #expect(orphan.process.terminationStatus == 0)
        let note = String(decoding: orphan.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(note.contains("went away"), "\(note)")
        let dead = try run(Repo.osh.path, ["syscalls", "--run", runDir.path])
        #expect(dead.status != 0)
        #expect(dead.stderr.hasPrefix("osh: error: "))
        #expect(dead.stderr.contains("not running"))
        #expect(dead.stderr.split(separator: "\n").count == 1)
    }

    /// ISO boots put --module files into a per-run ISO (module2 lines in grub.cfg).
    @Test func isoBootLoadsTheRootModuleThroughGRUB() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-isomod-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try Self.buildProgram(in: dir)
        let build = dir.appendingPathComponent("build")
        let boot = try startOSH(["boot", "--boot", "iso", "--build-dir", build.path, "--kernel", Repo.kernel.path,
                          "--module", program.path + ":root", "--accel", "tcg", "--timeout", "90"])
        defer { if boot.isRunning { boot.terminate(); boot.waitUntilExit() } }
        let runDir = build.appendingPathComponent("run/latest")
        let deadline = Date().addingTimeInterval(80)
        var serial = ""
        while Date() < deadline, boot.isRunning {
            serial = (try? String(contentsOf: runDir.appendingPathComponent("serial.log"), encoding: .utf8)) ?? ""
            if serial.components(separatedBy: "syscall fixture says hello").count - 1 >= 7 { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(serial.contains("multiboot2 from \"GRUB"), "\(serial)")
        #expect(serial.components(separatedBy: "syscall fixture says hello").count - 1 == 7, "\(serial)")
        let manifest = try VMRunManifest.load(from: runDir.appendingPathComponent("manifest.json"))
        #expect(manifest.servers.map(\.name) == ["root"])
    }
}

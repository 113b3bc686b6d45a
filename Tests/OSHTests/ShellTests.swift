import Foundation
import Testing
@testable import OSH

@Suite struct ShellParsingTests {
    @Test func words() {
        #expect(Shell.words("  screenshot  'a b.png' ") == ["screenshot", "a b.png"])
        #expect(Shell.words(#"trace --filter "x y" z\ w"#) == ["trace", "--filter", "x y", "z w"])
        #expect(Shell.words("") == [])
        #expect(Shell.words("use ''") == ["use", ""])
    }

    @Test func lookupAndCompletion() {
        #expect(Shell.lookup("cont")?.name == "continue")
        #expect(Shell.lookup("exit")?.name == "quit")
        #expect(Shell.lookup("regs")?.name == "registers")
        #expect(Shell.lookup("nope") == nil)
        for n in ["help", "pause", "continue", "reset", "registers", "screenshot", "status", "trace", "syscalls",
                  "attach", "boot", "use", "quit", "exit"] {
            #expect(Shell.completionNames.contains(n))
        }
    }

    @Test func unknownCommandAndNoRun() throws {
        let d = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: d) }
        let sh = Shell(buildDirectory: d)
        var out: [String] = []
        sh.output = { out.append($0) }
        #expect(sh.execute("frobnicate now") == .failed)
        #expect(out == ["unknown command 'frobnicate' (type 'help' for the list)"])
        out = []
        #expect(sh.execute("status") == .failed)
        #expect(out == ["status: no VM run found at \(d.appendingPathComponent("run/latest").path) (start one with `osh boot`, or pass --run DIR)"])
        #expect(sh.execute("# comment") == .ok)
        #expect(sh.execute("quit") == .quit)
        #expect(sh.execute("pause now") == .failed)
    }
}

@Suite(.serialized, .enabled(if: QEMUFixture.available)) struct ShellQEMUTests {
    /// A fixture QEMU (with VGA) exposed as build/run/r1 (= latest) of a temp build dir.
    static func setUp() throws -> (QEMUFixture, URL) {
        let q = try QEMUFixture(vga: true)
        let build = q.dir.appendingPathComponent("build")
        let run = try TestSupport.makeRun(in: build, qemuPid: q.pid, elfs: false)
        try FileManager.default.createSymbolicLink(atPath: run.appendingPathComponent("gdb.sock").path, withDestinationPath: q.gdbPath)
        try FileManager.default.createSymbolicLink(atPath: run.appendingPathComponent("qmp.sock").path, withDestinationPath: q.qmpPath)
        return (q, build)
    }

    @Test func dispatchAgainstAPausedVM() throws {
        let (q, build) = try Self.setUp()
        defer { q.stop() }
        let sh = Shell(buildDirectory: build)
        var out: [String] = []
        sh.output = { out.append(contentsOf: $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)) }
        func run(_ line: String) -> [String] {
            out = []
            _ = sh.execute(line)
            return out
        }
        #expect(run("status").last == "VM paused (prelaunch)")
        let regs = run("registers")
        #expect(regs.contains { $0.contains("rip       0x000000000000fff0") }, "\(regs)")
        #expect(regs.last == "(from the gdbstub)")
        #expect(run("continue") == ["running"])
        #expect(run("status").last == "VM running (running)")
        // Reading registers through the gdbstub pauses the VM; the shell resumes it.
        #expect(run("registers").last == "(from the gdbstub; VM resumed)")
        #expect(run("status").last == "VM running (running)")
        #expect(run("pause") == ["paused"])
        #expect(run("status").last == "VM paused (paused)")
        #expect(run("reset") == ["reset"])
        let png = q.dir.appendingPathComponent("s.png").path
        #expect(run("screenshot \(png)") == ["saved \(png)"])
        #expect(Array((try Data(contentsOf: URL(fileURLWithPath: png))).prefix(4)) == [0x89, 0x50, 0x4e, 0x47])
        // trace, boot and syscalls spawn the osh executable in the foreground: a stand-in records its arguments.
        let fake = q.dir.appendingPathComponent("fake-osh").path
        let argsFile = q.dir.appendingPathComponent("args").path
        try "#!/bin/sh\necho \"$@\" >> \(argsFile)\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        sh.oshPath = fake
        #expect(sh.execute("trace") == .ok)
        #expect(sh.execute("trace - --strict") == .ok)
        #expect(sh.execute("boot --iso x.iso") == .ok)
        #expect(sh.execute("syscalls --json") == .ok)
        let serial = try sh.run().serialLog
        let runPath = try sh.run().url.path
        #expect(try String(contentsOfFile: argsFile, encoding: .utf8)
                == "trace \(serial)\ntrace - --strict\nboot --iso x.iso\nsyscalls --run \(runPath) --json\n")
        #expect(run("use r1").first?.hasPrefix("using r1 (") == true)
        #expect(run("use /nonexistent-run").first?.hasPrefix("use: no VM run found at /nonexistent-run") == true)

        // With a debugger holding the gdbstub, registers come from QMP's HMP.
        let gdb = try GDBRemoteClient(path: q.gdbPath)
        let hmp = run("registers")
        #expect(hmp.contains { $0.hasPrefix("EIP=0000fff0") }, "\(hmp)")
        #expect(hmp.last == "(from QMP human-monitor-command \"info registers\": the gdbstub is in use)")
        #expect(try gdb.readRegister("rip") == 0xfff0)
        gdb.close()

        q.process.terminate()  // the run dir stays, the VM is gone
        let gone = run("status")
        #expect(gone.last?.contains("is not running") == true, "\(gone)")
    }

    @Test(.enabled(if: TestSupport.oshPath != nil))
    func batchModeThroughTheExecutable() throws {
        let (q, build) = try Self.setUp()
        defer { q.stop() }
        let cwd = build.deletingLastPathComponent()  // so ./build is the temp build dir
        let (rc, out) = try TestSupport.run(TestSupport.oshPath!, ["shell", "--batch"],
                                            stdin: "status\npause\nbogus\nregisters\nquit\nstatus\n", cwd: cwd)
        #expect(rc == 1, "\(out)")  // one failed command (bogus)
        #expect(out.contains("VM paused (prelaunch)"), "\(out)")
        #expect(out.contains("unknown command 'bogus' (type 'help' for the list)"), "\(out)")
        #expect(out.contains("rip       0x000000000000fff0"), "\(out)")
        #expect(out.components(separatedBy: "VM paused").count == 2, "quit stops reading: \(out)")
        // `osh` without arguments and without a terminal prints the help.
        let (rc2, help) = try TestSupport.run(TestSupport.oshPath!, [], stdin: "status\n", cwd: cwd)
        #expect(rc2 == 0)
        #expect(help.contains("USAGE: osh"))
    }
}

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
                  "attach", "boot", "use", "quit", "exit", "x", "bt", "qmp", "hmp", "info", "console", "wait"] {
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
        #expect(out == ["osh: error: unknown command 'frobnicate' (type 'help' for the list)"])
        out = []
        #expect(sh.execute("status") == .failed)
        #expect(out == ["osh: error: status: no VM run found at \(d.appendingPathComponent("run/latest").path) (start one with `osh boot`, or pass --run DIR)"])
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
        #expect(sh.execute("syscalls --json") == .ok)
        let serial = try sh.run().serialLog
        let runPath = try sh.run().url.path
        #expect(try String(contentsOfFile: argsFile, encoding: .utf8)
                == "trace \(serial)\ntrace - --strict\nsyscalls --run \(runPath) --json\n")
        #expect(run("use r1").first?.hasPrefix("using r1 (") == true)
        #expect(run("use /nonexistent-run").first?.hasPrefix("osh: error: use: no VM run found at /nonexistent-run") == true)

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
        #expect(out.contains("osh: error: unknown command 'bogus' (type 'help' for the list)"), "\(out)")
        #expect(out.contains("rip       0x000000000000fff0"), "\(out)")
        #expect(out.components(separatedBy: "VM paused").count == 2, "quit stops reading: \(out)")
        // `osh` without arguments and without a terminal prints the help.
        let (rc2, help) = try TestSupport.run(TestSupport.oshPath!, [], stdin: "status\n", cwd: cwd)
        #expect(rc2 == 0)
        #expect(help.contains("USAGE: osh"))
    }
}

@Suite struct ShellInspectTests {
    @Test func completion() throws {
        let d = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: d) }
        for id in ["20260101-000000", "20260102-000000"] {
            let run = d.appendingPathComponent("run/\(id)")
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            try "{}".write(to: run.appendingPathComponent("manifest.json"), atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: d.appendingPathComponent("run/not-a-run"), withIntermediateDirectories: true)
        let sh = Shell(buildDirectory: d)
        #expect(sh.completions(before: "") == Shell.completionNames)
        #expect(sh.completions(before: "use ") == ["latest", "20260102-000000", "20260101-000000"])
        #expect(sh.completions(before: "use x ") == nil)  // one argument only: files after that
        let boot = try #require(sh.completions(before: "boot --accel tcg "))
        for option in ["--accel", "--cmdline", "--module", "--boot", "--uefi", "--timeout", "--test"] {
            #expect(boot.contains(option), "\(option)")
        }
        #expect(sh.completions(before: "screenshot ") == nil)
    }

    @Test func consoleDetachKey() {
        var d = ConsoleDetacher()
        #expect(d.feed(Array("ls\n".utf8)) == (Array("ls\n".utf8), false))
        #expect(d.feed([0x01]) == ([], false))
        #expect(d.feed([0x01]) == ([0x01, 0x01], false))  // Ctrl-A Ctrl-A goes on to osh boot
        #expect(d.feed([0x61, 0x01, 0x68]) == ([0x61, 0x01, 0x68], false))
        #expect(d.feed([0x62, 0x01, 0x78, 0x63]) == ([0x62], true))
    }

    @Test func registersFramesAndWords() throws {
        let hmp = "RAX=0000000000000001 RBX=0000000000000002\r\nRIP=ffffffff80101234 RFL=00000246 [---Z-P-] CPL=0 II=0\r\nRBP=ffffffff80200ff0 RSP=ffffffff80200fe0\r\nCS =0008 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]\r\nCR3=0000000000104000"
        let r = Shell.parseHMPRegisters(hmp)
        #expect(r["RIP"] == 0xffff_ffff_8010_1234 && r["RBP"] == 0xffff_ffff_8020_0ff0 && r["CPL"] == 0 && r["CS"] == 8 && r["CR3"] == 0x104000)
        // A chain of three frames, then a zero rbp.
        let memory: [UInt64: (UInt64, UInt64)] = [0x1000: (0x1100, 0xa1), 0x1100: (0x1200, 0xa2), 0x1200: (0, 0xa3)]
        #expect(Shell.walkFramePointers(rip: 0xa0, rbp: 0x1000) { memory[$0] } == [0xa0, 0xa1, 0xa2, 0xa3])
        // A loop (rbp pointing down the stack) stops; unreadable memory stops.
        #expect(Shell.walkFramePointers(rip: 0xa0, rbp: 0x1100) { $0 == 0x1100 ? (0x1000, 0xa1) : nil } == [0xa0, 0xa1])
        #expect(Shell.walkFramePointers(rip: 0xa0, rbp: 0x2000) { _ in nil } == [0xa0])
        #expect(Shell.walkFramePointers(rip: 0xa0, rbp: 0) { _ in (0, 1) } == [0xa0])
        let bytes: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0x80]
        #expect(Shell.formatWords(bytes, at: 0x100000) == """
            0x0000000000100000: 0x0000000000000001 0x00000000deadbeef
            0x0000000000100010: 0x80000000000000ff
            """)
        #expect(Shell.qmpValue("12") == .int(12))
        #expect(Shell.qmpValue("0x10") == .int(16))
        #expect(Shell.qmpValue("true") == .bool(true))
        #expect(Shell.qmpValue("reset") == .string("reset"))
        #expect(Shell.qmpValue(#"{"a":1}"#) == .object(["a": .int(1)]))
    }

    @Test func noRebootIsReadFromQEMUsCommandLine() throws {
        // Stand-ins for QEMU: a shell whose argv holds (or not) the switch.
        /// Waits until the child has exec'd (before, /proc/PID/cmdline is still this test runner's).
        func started(_ args: [String]) throws -> ChildProcess {
            let child = try ChildProcess("/bin/sh", args, quiet: true)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                let cmdline = FileManager.default.contents(atPath: "/proc/\(child.pid)/cmdline") ?? Data()
                if cmdline.starts(with: Data("/bin/sh".utf8)) { break }
                usleep(10_000)
            }
            return child
        }
        let child = try started(["-c", "sleep 30; true", "-no-reboot"])
        defer { child.terminate(grace: 0.1) }
        #expect(Shell.runsWithNoReboot(pid: child.pid))
        let plain = try started(["-c", "sleep 30; true", "qemu"])
        defer { plain.terminate(grace: 0.1) }
        #expect(!Shell.runsWithNoReboot(pid: plain.pid))
        #expect(Shell.runsWithNoReboot(pid: nil))
    }
}

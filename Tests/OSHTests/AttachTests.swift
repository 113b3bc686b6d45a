import Foundation
import Testing
@testable import OSH

/// Helpers shared by the attach and shell tests.
enum TestSupport {
    /// The `osh` executable built next to the test bundle, if any.
    static var oshPath: String? {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let p = dir.appendingPathComponent("osh").path
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    static var haveCC: Bool { QEMUFixture.which("cc") != nil }
    static var haveGDB: Bool { QEMUFixture.which("gdb") != nil }

    /// Runs a program, returning (exit code, stdout+stderr).
    static func run(_ exe: String, _ args: [String], stdin: String? = nil, cwd: URL? = nil,
                    env: [String: String] = [:]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = cwd }
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let stdin { inPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Compiles a small freestanding ELF with symbols at `text`.
    static func compileELF(_ source: String, text: String, to path: String) throws {
        let c = path + ".c"
        try source.write(toFile: c, atomically: true, encoding: .utf8)
        let (rc, out) = try run(QEMUFixture.which("cc")!, ["-g", "-O0", "-nostdlib", "-static", "-no-pie",
                                                           "-Wl,-Ttext=\(text)", "-o", path, c])
        if rc != 0 { throw TestError.compile(out) }
    }

    enum TestError: Error { case compile(String) }

    /// A run directory with a manifest (kernel + one server) inside `base`.
    static func makeRun(in base: URL, qemuPid: Int32?, elfs: Bool) throws -> URL {
        let run = base.appendingPathComponent("run/r1")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try? FileManager.default.createSymbolicLink(atPath: base.appendingPathComponent("run/latest").path, withDestinationPath: "r1")
        if elfs {
            try compileELF("int kernel_counter = 5;\nvoid kernel_main(void){ for(;;) kernel_counter++; }\nvoid _start(void){ kernel_main(); }\n",
                           text: "0xffffffff80100000", to: run.appendingPathComponent("kernel.elf").path)
            try compileELF("int server_state;\nvoid server_main(void){ server_state++; }\nvoid _start(void){ server_main(); }\n",
                           text: "0x400000", to: run.appendingPathComponent("pm.elf").path)
        }
        let pid = qemuPid.map { ", \"qemuPid\": \($0)" } ?? ""
        let manifest = """
        {"id": "r1"\(pid), "future": {"ignored": true}, "files": [
          {"role": "kernel", "path": "kernel.elf", "source": "build/kernel.elf", "buildID": "ab12"},
          {"role": "server", "name": "pm", "path": "pm.elf", "loadAddress": "0x10400000", "buildID": "cd34"}]}
        """
        try manifest.write(to: run.appendingPathComponent("manifest.json"), atomically: true, encoding: .utf8)
        return run
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("osh-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}

@Suite struct AttachTests {
    @Test func manifestIsReadTolerantly() throws {
        let m = try JSONDecoder().decode(VMRunManifest.self, from: Data(#"{"id": 42, "qemuPid": 7, "x": [1], "files": [{"role": "kernel", "path": "kernel.elf", "new": 1}]}"#.utf8))
        #expect(m.id == "42")
        #expect(m.qemuPid == 7)
        #expect(m.kernel?.path == "kernel.elf")
        #expect(m.servers.isEmpty)
        #expect(parseAddress("0xffff_ffff_8010_0000") == 0xffff_ffff_8010_0000)
        // The spelling `osh boot` writes: runID, qemuPID, socket paths relative to the run dir.
        let b = try JSONDecoder().decode(VMRunManifest.self, from: Data(#"{"runID": "20261124T204344.123Z-4242", "qemuPID": 99, "state": "running", "qmpSocket": "qmp.sock", "gdbSocket": "gdb.sock", "files": [{"role": "kernel", "path": "kernel.elf", "source": "/x/kernel.elf", "buildID": null}]}"#.utf8))
        #expect(b.id == "20261124T204344.123Z-4242")
        #expect(b.qemuPid == 99)
        #expect(b.kernel?.buildID == nil)
        let run = VMRun(url: URL(fileURLWithPath: "/r"), manifest: b)
        #expect(run.gdbSocket == "/r/gdb.sock")
        #expect(run.path(of: b.kernel!) == "/r/kernel.elf")
    }

    @Test func runResolutionErrors() throws {
        let d = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: d) }
        #expect(throws: RunError.noRun(d.appendingPathComponent("run/latest").path)) {
            try VMRun.resolve(nil, buildDirectory: d)
        }
        #expect(throws: RunError.noManifest(d.path)) { try VMRun.resolve(d.path, buildDirectory: d) }
    }

    @Test func printScript() throws {
        let d = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: d) }
        let runURL = try TestSupport.makeRun(in: d, qemuPid: nil, elfs: false)
        // Resolved through build/run/latest and by run id.
        let run = try VMRun.resolve(nil, buildDirectory: d)
        #expect(run.url.lastPathComponent == "r1")
        #expect(try VMRun.resolve("r1", buildDirectory: d).url.path == run.url.path)
        let script = AttachScript.make(for: run, helpers: false)
        let r = runURL.resolvingSymlinksInPath().path
        #expect(script.split(separator: "\n").dropFirst().map(String.init) == [
            "set pagination off",
            "set confirm off",
            "set architecture i386:x86-64",
            "file \(r)/kernel.elf",
            "add-symbol-file \(r)/pm.elf -o 0x10400000",   // ELF unreadable: offset = load address
            "target remote \(r)/gdb.sock",
        ])
        if let osh = TestSupport.oshPath {
            let (rc, out) = try TestSupport.run(osh, ["attach", "--run", r, "--print-script"])
            #expect(rc == 0)
            // The full script: the same lines with the Python helpers before `target remote`.
            let full = AttachScript.make(for: run)
            #expect(full.hasPrefix(script.components(separatedBy: "target remote").first!))
            #expect(full.hasSuffix("end\ntarget remote \(r)/gdb.sock\n"))
            for command in ["osh-bt", "osh-syscalls", "osh-threads", "osh-break", "osh-swift-names"] {
                #expect(full.contains("'\(command)'"), "\(command)")
            }
            #expect(out.components(separatedBy: "\n").filter { !$0.hasPrefix("OSH = ") && !$0.hasPrefix("OSH_DEMANGLER") }
                == full.components(separatedBy: "\n").filter { !$0.hasPrefix("OSH = ") && !$0.hasPrefix("OSH_DEMANGLER") })
            let (rc2, out2) = try TestSupport.run(osh, ["attach", "--run", r])
            #expect(rc2 != 0)
            #expect(out2.contains("is not running"))
            let (rc3, out3) = try TestSupport.run(osh, ["attach", "--run", d.path])
            #expect(rc3 != 0)
            #expect(out3.contains("has no manifest.json"))
        }
    }

    @Test(.enabled(if: QEMUFixture.available && TestSupport.haveCC && TestSupport.haveGDB))
    func gdbAttachesToARealVM() throws {
        let q = try QEMUFixture()
        defer { q.stop() }
        let runURL = try TestSupport.makeRun(in: q.dir, qemuPid: q.pid, elfs: true)
        // The run's sockets are the fixture's.
        try FileManager.default.createSymbolicLink(atPath: runURL.appendingPathComponent("gdb.sock").path, withDestinationPath: q.gdbPath)
        try FileManager.default.createSymbolicLink(atPath: runURL.appendingPathComponent("qmp.sock").path, withDestinationPath: q.qmpPath)
        let run = try VMRun.resolve(runURL.path)
        try AttachScript.checkRunning(run)
        let script = AttachScript.make(for: run)
        #expect(script.contains("pm.elf -o 0x10001000"))  // 0x10400000 - lowest PT_LOAD 0x3ff000
        let path = try AttachScript.writeScript(for: run)
        let (rc, out) = try TestSupport.run(QEMUFixture.which("gdb")!, [
            "-nx", "-batch", "-x", path, "-ex", "info registers rip",
            "-ex", "info address kernel_main", "-ex", "info address server_main"])
        #expect(rc == 0, "\(out)")
        #expect(out.contains("rip            0xfff0"), "\(out)")
        #expect(out.contains("Symbol \"kernel_main\" is a function at address 0xffffffff801"), "\(out)")
        #expect(out.contains("Symbol \"server_main\" is a function at address 0x10401000"), "\(out)")
        q.stop()
        #expect(throws: RunError.notRunning(run.url.path)) { try AttachScript.checkRunning(run) }
    }
}

import Foundation
import Testing

/// A scripted gdb session on the real kernel and root server through `osh attach --print-script`:
/// source breakpoints in both, `bt` with demangled names and a finite depth, `list`, `info line`, the
/// helper commands, no DWARF complaints, and a second `osh attach` refused while gdb holds the stub.
@Suite(.serialized) struct GDBSessionTests {
    static var haveGDB: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") }
    static let root = Repo.build.appendingPathComponent("servers/root.elf")

    /// The 1-based number of the first line of `file` (relative to the repository) containing `text`.
    static func line(of text: String, in file: String) throws -> Int {
        let source = try String(contentsOf: Repo.root.appendingPathComponent(file), encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let index = try #require(lines.firstIndex { $0.contains(text) }, "\(text) not in \(file)")
        return index + 1
    }

    /// The text between the gdb `echo` markers `==NAME==` and the next marker.
    static func section(_ name: String, of output: String) -> String {
        guard let start = output.range(of: "==\(name)==\n") else { return "" }
        let rest = output[start.upperBound...]
        return String(rest[..<(rest.range(of: "\n==")?.lowerBound ?? rest.endIndex)])
    }

    @Test(.enabled(if: haveGDB && FileManager.default.fileExists(atPath: root.path)))
    func sourceLevelSessionOnKernelAndServer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-gdb-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let kernelFile = "Sources/Kernel/Boot/Main.swift", serverFile = "Sources/Servers/root/Main.swift"
        let kernelLine = try Self.line(of: "Scheduler.initialize()", in: kernelFile)
        let serverLine = try Self.line(of: "print(\"root: \\(startup.modules.count) modules", in: serverFile)

        // The VM waits for the debugger (-S), so both breakpoints are set before the kernel runs.
        let boot = try startOSH(["boot", "--build-dir", build.path, "--kernel", Repo.kernel.path, "--module", Self.root.path + ":root",
                          "--accel", "tcg", "--gdb-wait", "--timeout", "280"])
        defer { if boot.isRunning { boot.terminate(); boot.waitUntilExit() } }
        let runDir = build.appendingPathComponent("run/latest")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !FileManager.default.fileExists(atPath: runDir.appendingPathComponent("gdb.sock").path) {
            Thread.sleep(forTimeInterval: 0.2)
        }
        let printed = try run(Repo.osh.path, ["attach", "--run", runDir.path, "--print-script"])
        #expect(printed.status == 0, "\(printed.stderr)")
        let script = dir.appendingPathComponent("attach.gdb")
        try printed.stdout.write(to: script, atomically: true, encoding: .utf8)

        let secondAttach = """
            python
            import subprocess, time
            t = time.time()
            r = subprocess.run([OSH, 'attach', '--run', OSH_RUN], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
            print('status %d after %.1f s: %s' % (r.returncode, time.time() - t, (r.stdout + r.stderr).strip()))
            end
            """
        let commands = dir.appendingPathComponent("session.gdb")
        try """
            break \(kernelFile):\(kernelLine)
            break \(serverFile):\(serverLine)
            continue
            echo ==KBT==\\n
            bt
            echo ==KLINE==\\n
            info line *$pc
            echo ==KLIST==\\n
            list
            echo ==NEXT==\\n
            next
            echo ==STEP==\\n
            step
            echo ==FINISH==\\n
            finish
            echo ==CONTINUE==\\n
            continue
            echo ==SBT==\\n
            bt
            echo ==SLINE==\\n
            info line *$pc
            echo ==SLIST==\\n
            list \(serverLine),\(serverLine)
            echo ==THREADS==\\n
            osh-threads
            echo ==OSHBT==\\n
            osh-bt
            echo ==BREAK==\\n
            break Scheduler.initialize
            echo ==OSHBREAK==\\n
            osh-break programMain
            echo ==SECOND==\\n
            \(secondAttach)
            echo ==END==\\n
            """.write(to: commands, atomically: true, encoding: .utf8)
        let gdb = try run("/usr/bin/timeout", ["240", "/usr/bin/gdb", "-nx", "-batch", "-x", script.path, "-x", commands.path])
        let out = gdb.stdout + gdb.stderr
        #expect(gdb.status == 0, "\(out)")

        // Nothing gdb misreads in the DWARF of the kernel or the server.
        #expect(!out.contains("Dwarf Error"), "\(out)")
        #expect(!out.contains(".debug_aranges"), "\(out)")
        #expect(!out.contains("Cannot find DIE"), "\(out)")

        // Kernel: demangled Swift names with file:line, ending at the entry assembly's outermost frame.
        let kbt = Self.section("KBT", of: out).split(separator: "\n").filter { $0.hasPrefix("#") }
        #expect(kbt.first?.contains("kmain(_:_:)") == true, "\(kbt)")
        #expect(kbt.first?.contains("at \(kernelFile):\(kernelLine)") == true, "\(kbt)")
        #expect(kbt.last?.contains("start64_high") == true, "\(kbt)")
        #expect((2...8).contains(kbt.count), "\(kbt)")
        #expect(Self.section("KLINE", of: out).contains("Line \(kernelLine) of \"\(kernelFile)\" starts at address"), "\(out)")
        #expect(Self.section("KLIST", of: out).contains("\(kernelLine)\t    Scheduler.initialize()"), "\(out)")
        // next stays in kmain on a later line; step enters a callee with source; finish returns from it.
        let next = Self.section("NEXT", of: out)
        let nextLine = try #require(next.firstMatch(of: /^(\d+)\t/.anchorsMatchLineEndings()), "\(next)")
        #expect(Int(nextLine.output.1)! > kernelLine, "\(next)")
        let step = Self.section("STEP", of: out)
        #expect(step.contains(/at Sources\/Kernel\/[A-Za-z\/]+\.swift:\d+\n\d+\t/), "\(step)")
        // (gdb -batch does not echo "Run till exit"; finish shows where it returned to, the caller.)
        let finish = Self.section("FINISH", of: out)
        let function = { (text: String) in String(text.prefix { $0 != " " }) }
        #expect(finish.contains(/at Sources\/Kernel\/[A-Za-z\/]+\.swift:\d+\n\d+\t/), "\(finish)")
        #expect(function(finish) != function(step), "\(step)\(finish)")

        // Server: the same in root's own address space, ending at _start.
        let sbt = Self.section("SBT", of: out).split(separator: "\n").filter { $0.hasPrefix("#") }
        #expect(sbt.first?.contains("programMain(_:)") == true, "\(sbt)")
        #expect(sbt.first?.contains("at \(serverFile):\(serverLine)") == true, "\(sbt)")
        #expect(sbt.contains { $0.contains("runtime_start(_:)") && $0.contains("Sources/Servers/Runtime/Startup.swift:") }, "\(sbt)")
        #expect(sbt.last?.contains("_start ()") == true, "\(sbt)")
        #expect((2...8).contains(sbt.count), "\(sbt)")
        #expect(!sbt.contains { $0.contains("$e") }, "\(sbt)")
        #expect(Self.section("SLINE", of: out).contains("Line \(serverLine) of \"\(serverFile)\" starts at address"), "\(out)")
        #expect(Self.section("SLIST", of: out).contains("print(\"root: "), "\(out)")

        // The helpers: root's thread on the CPU, osh's symbolized chain; breakpoints by Swift name with
        // gdb's own `break` and with osh-break.
        let threads = Self.section("THREADS", of: out)
        #expect(threads.contains(/process 1 \(the kernel\)\n  thread 0 +\w+ +priority 0 +the idle thread/), "\(threads)")
        #expect(threads.contains(/process 2\n  thread 1 +running +priority 16 +on the CPU/), "\(threads)")
        let oshBT = Self.section("OSHBT", of: out)
        let first = oshBT.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("#0  0x0000000000"), "\(oshBT)")
        #expect(first.contains(" in root.programMain(root.Startup) -> Swift.Int32 at \(serverFile):\(serverLine):"), "\(oshBT)")
        // Named through the kernel's process table (CR3 → root's entry → its ELF by build ID).
        #expect(first.contains(/\[root pid \d+\]$/), "\(oshBT)")
        #expect(oshBT.contains("_start at Sources/Servers/Runtime/start.S"), "\(oshBT)")
        #expect(Self.section("OSHBREAK", of: out).contains("file \(serverFile), line \(serverLine)."), "\(out)")
        #expect(Self.section("BREAK", of: out).contains(/Breakpoint 3 at 0xffffffff801[0-9a-f]+: file Sources\/Kernel\/Scheduler\/Scheduler\.swift, line \d+\./), "\(out)")

        // A second attach while this gdb holds the stub: one line, at once (not gdb's 30 s wait).
        let second = Self.section("SECOND", of: out)
        let match = try #require(second.firstMatch(of: /status 1 after ([0-9.]+) s: .*a debugger is already attached/), "\(second)")
        #expect(Double(match.output.1)! < 10, "\(second)")
        #expect(second.split(separator: "\n").count == 1, "\(second)")
    }
}

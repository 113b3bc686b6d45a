import Foundation
import Testing

/// osh beyond the console (issue 18), on the real kernel: a core dump taken at a panic and opened in
/// gdb, the sampling profiler on the IPC benchmark, and a recording replayed byte for byte.
@Suite(.serialized) struct OSHToolsTests {
    static var haveGDB: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") }
    /// qemu-img on PATH (osh looks it up there, as it does QEMU).
    static var haveQEMUImg: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/qemu-img")
        }
    }
    static let root = Repo.build.appendingPathComponent("servers/root.elf")
    static let initfs = Repo.build.appendingPathComponent("initfs.tar.zst")

    /// A scratch build directory (its run/ gets the runs of the test), removed afterwards by the caller.
    static func scratch(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `osh boot` options for the build's kernel and root with runs under `build`.
    static func bootOptions(_ build: URL, modules: [URL] = [root]) -> [String] {
        var args = ["--build-dir", build.path, "--kernel", Repo.kernel.path, "--accel", "tcg"]
        for m in modules { args += ["--module", m.path + ":" + String(m.lastPathComponent.prefix { $0 != "." })] }
        return args
    }

    /// The text between the gdb `echo` markers `==NAME==` and the next marker.
    static func section(_ name: String, of output: String) -> String {
        guard let start = output.range(of: "==\(name)==\n") else { return "" }
        let rest = output[start.upperBound...]
        return String(rest[..<(rest.range(of: "\n==")?.lowerBound ?? rest.endIndex)])
    }

    @Test(.enabled(if: haveGDB && FileManager.default.fileExists(atPath: root.path)))
    func panicCoreDumpOpensInGDB() throws {
        let dir = try Self.scratch("dump")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let boot = try run(Repo.osh.path, ["boot"] + Self.bootOptions(build)
                           + ["--cmdline", "panic_test", "--dump-on-panic", "--memory", "64M", "--timeout", "60"])
        #expect(boot.status == 2, "\(boot.stderr)")
        #expect(boot.stderr.contains("core dump in"), "\(boot.stderr)")
        let runDir = build.appendingPathComponent("run/latest").resolvingSymlinksInPath()
        let core = runDir.appendingPathComponent("core.elf")
        #expect(FileManager.default.fileExists(atPath: core.path))

        let printed = try run(Repo.osh.path, ["attach", "--core", runDir.path, "--print-script"])
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains("core-file \(core.path)"), "\(printed.stdout)")
        #expect(!printed.stdout.contains("target remote"), "\(printed.stdout)")
        let script = dir.appendingPathComponent("core.gdb"), commands = dir.appendingPathComponent("cmds.gdb")
        try printed.stdout.write(to: script, atomically: true, encoding: .utf8)
        try """
            echo ==BT==\\n
            bt
            echo ==VALUE==\\n
            x/2gx &debug_threads
            echo ==OSHBT==\\n
            osh-bt
            echo ==THREADS==\\n
            osh-threads
            echo ==END==\\n
            """.write(to: commands, atomically: true, encoding: .utf8)
        let gdb = try run("/usr/bin/timeout", ["120", "/usr/bin/gdb", "-nx", "-batch", "-x", script.path, "-x", commands.path])
        let out = gdb.stdout + gdb.stderr
        #expect(gdb.status == 0, "\(out)")
        // gdb's own backtrace from the registers in the core, through the panic to kmain.
        let bt = Self.section("BT", of: out)
        #expect(bt.contains("Panic.halt()"), "\(bt)")
        #expect(bt.contains(/PanicTest\.third.* at Sources\/Kernel\/Boot\/Main\.swift:\d+/), "\(bt)")
        #expect(bt.contains("kmain(_:_:)"), "\(bt)")
        // A kernel variable by its symbol: the thread registry's first entry is the idle thread (id 0 + 1,
        // process 1).
        #expect(Self.section("VALUE", of: out).contains(/<debug_threads>:\s+0x0000000000000001\s+0x0000000000000001/), "\(out)")
        // osh's helpers read memory only, so they work on the core.
        #expect(Self.section("OSHBT", of: out).contains("PanicTest.first"), "\(out)")
        #expect(Self.section("THREADS", of: out).contains("process 1 (the kernel)"), "\(out)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: root.path) && FileManager.default.fileExists(atPath: initfs.path)))
    func profileOfTheIPCBenchmarkFindsTheFastPath() throws {
        let dir = try Self.scratch("profile")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let result = try run(Repo.osh.path, ["profile", "--seconds", "20", "--rate", "50", "--top", "20"]
                             + Self.bootOptions(build, modules: [Self.root, Self.initfs])
                             + ["--cmdline", "bench rounds=1000000", "--timeout", "120"])
        #expect(result.status == 0, "\(result.stderr)")
        let runDir = build.appendingPathComponent("run/latest").resolvingSymlinksInPath()
        let folded = try String(contentsOf: runDir.appendingPathComponent("profile.folded"), encoding: .utf8)
        let lines = folded.split(separator: "\n")
        #expect(lines.allSatisfy { $0.contains(/^[^ ].* \d+$/) }, "\(folded.prefix(500))")
        let samples = lines.compactMap { Int($0.split(separator: " ").last!) }.reduce(0, +)
        #expect(samples > 100, "\(result.stderr)")
        // The table: the fast path is among the top functions (self or total share).
        let table = result.stdout.split(separator: "\n").dropFirst()
        #expect(table.contains { $0.contains("Kernel.FastPath.") }, "\(result.stdout)")
        let svg = try String(contentsOf: runDir.appendingPathComponent("profile.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<?xml") && svg.contains("<script>") && svg.contains("FastPath"))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: root.path) && FileManager.default.fileExists(atPath: initfs.path)
                   && haveQEMUImg))
    func deterministicProfilesOfOneRecordingAreIdentical() throws {
        let dir = try Self.scratch("det")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let record = try run(Repo.osh.path, ["record"] + Self.bootOptions(build, modules: [Self.root, Self.initfs])
                             + ["--cmdline", "bench rounds=500", "--timeout", "200"])
        #expect(record.status == 0, "\(record.stderr)")
        let recorded = build.appendingPathComponent("run/latest").resolvingSymlinksInPath()
        var runs: [URL] = []
        for _ in 0..<2 {
            let p = try run(Repo.osh.path, ["profile", "--every", "1000000", "--samples", "50", "--replay", recorded.path,
                                            "--build-dir", build.path, "--timeout", "200"])
            #expect(p.status == 0, "\(p.stderr)")
            #expect(p.stderr.contains("50 samples"), "\(p.stderr)")
            runs.append(build.appendingPathComponent("run/latest").resolvingSymlinksInPath())
        }
        #expect(runs[0] != runs[1])
        let a = try String(contentsOf: runs[0].appendingPathComponent("profile.folded"), encoding: .utf8)
        let b = try String(contentsOf: runs[1].appendingPathComponent("profile.folded"), encoding: .utf8)
        #expect(!a.isEmpty && a == b)
        let diff = try run(Repo.osh.path, ["profile", "--diff", runs[0].path, runs[1].path])
        #expect(diff.stdout == "no function's share changed\n", "\(diff.stdout)\(diff.stderr)")
    }

    @Test(.enabled(if: haveGDB && FileManager.default.fileExists(atPath: root.path)
                   && haveQEMUImg))
    func recordedPanicReplaysByteForByte() throws {
        let dir = try Self.scratch("rr")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let record = try run(Repo.osh.path, ["record"] + Self.bootOptions(build) + ["--cmdline", "panic_test", "--timeout", "120"])
        #expect(record.status == 2, "\(record.stderr)")
        let recorded = build.appendingPathComponent("run/latest").resolvingSymlinksInPath()
        #expect(FileManager.default.fileExists(atPath: recorded.appendingPathComponent("replay.bin").path))

        let replay = try run(Repo.osh.path, ["replay", recorded.path, "--build-dir", build.path, "--timeout", "120"])
        #expect(replay.status == 2, "\(replay.stderr)")
        let replayed = build.appendingPathComponent("run/latest").resolvingSymlinksInPath()
        #expect(replayed != recorded)
        let a = try Data(contentsOf: recorded.appendingPathComponent("serial.log"))
        let b = try Data(contentsOf: replayed.appendingPathComponent("serial.log"))
        #expect(a.count > 500)
        #expect(a == b, "serial logs differ: \(a.count) and \(b.count) bytes")
        #expect(String(decoding: a, as: UTF8.self).contains("deliberate panic"))

        // --until-panic stops the replay at the start of the panic report; from there gdb steps back
        // into the caller's line (reverse debugging needs the recording's init snapshot).
        let log = dir.appendingPathComponent("until-panic.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let debugged = Process()
        debugged.executableURL = Repo.osh
        debugged.arguments = ["replay", recorded.path, "--build-dir", build.path, "--until-panic", "--timeout", "150"]
        debugged.standardInput = FileHandle.nullDevice
        debugged.standardOutput = FileHandle.nullDevice
        debugged.standardError = try FileHandle(forWritingTo: log)
        try debugged.run()
        defer { if debugged.isRunning { debugged.terminate(); debugged.waitUntilExit() } }
        var note = ""
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline, !note.contains("replay paused at the report"), debugged.isRunning {
            Thread.sleep(forTimeInterval: 0.2)
            note = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        }
        #expect(note.contains("replay paused at the report: static Kernel.Panic.panic"), "\(note)")
        let live = build.appendingPathComponent("run/latest").resolvingSymlinksInPath()
        #expect(live != recorded && live != replayed)
        let printed = try run(Repo.osh.path, ["attach", "--run", live.path, "--print-script"])
        let script = dir.appendingPathComponent("attach.gdb"), commands = dir.appendingPathComponent("reverse.gdb")
        try printed.stdout.write(to: script, atomically: true, encoding: .utf8)
        let callLine = try Self.line(of: "Panic.panic(message, file: file, line: line)", in: "Sources/Kernel/Debug/Panic.swift")
        let panicLine = try Self.line(of: "kernelPanic(\"panic_test: deliberate panic", in: "Sources/Kernel/Boot/Main.swift")
        let secondLine = try Self.line(of: "static func second(_ n: Int)", in: "Sources/Kernel/Boot/Main.swift")
        // Every reverse command loads the recording's init snapshot and replays forward; recordings leave
        // out QEMU's kvmvapic, whose reset on that load deadlocked QEMU now and then (RecordReplay.swift).
        try """
            echo ==AT==\\n
            bt 1
            echo ==BACK==\\n
            reverse-stepi
            info line *$pc
            echo ==BACK3==\\n
            reverse-stepi
            reverse-stepi
            info line *$pc
            echo ==FINISH==\\n
            reverse-finish
            echo ==CONTINUE==\\n
            break *'$e6Kernel9PanicTestO6secondyySiFZ'
            reverse-continue
            info line *$pc
            echo ==START==\\n
            delete
            reverse-continue
            printf "rip=0x%x\\n", $pc
            echo ==END==\\n
            """.write(to: commands, atomically: true, encoding: .utf8)
        let gdb = try run("/usr/bin/timeout", ["400", "/usr/bin/gdb", "-nx", "-batch", "-x", script.path, "-x", commands.path])
        let out = gdb.stdout + gdb.stderr
        #expect(Self.section("AT", of: out).contains("Panic.panic(_:file:line:)"), "\(out)")
        #expect(Self.section("BACK", of: out).contains("Line \(callLine) of \"Sources/Kernel/Debug/Panic.swift\""), "\(out)")
        #expect(Self.section("BACK3", of: out).contains("Line \(callLine) of \"Sources/Kernel/Debug/Panic.swift\""), "\(out)")
        // Out of the inlined kernelPanic to its call in PanicTest.third (gdb prints that frame; the
        // address's line-table row is still kernelPanic's inlined line).
        #expect(Self.section("FINISH", of: out).contains("Sources/Kernel/Boot/Main.swift:\(panicLine)"), "\(out)")
        #expect(Self.section("CONTINUE", of: out).contains("Line \(secondLine) of \"Sources/Kernel/Boot/Main.swift\""), "\(out)")
        // With no breakpoint, reverse-continue stops at the recording's start: the reset vector.
        #expect(Self.section("START", of: out).contains("rip=0xfff0"), "\(out)")
    }

    /// The 1-based number of the first line of `file` (relative to the repository) containing `text`.
    static func line(of text: String, in file: String) throws -> Int {
        let source = try String(contentsOf: Repo.root.appendingPathComponent(file), encoding: .utf8)
        let index = try #require(source.components(separatedBy: "\n").firstIndex { $0.contains(text) }, "\(text) not in \(file)")
        return index + 1
    }
}

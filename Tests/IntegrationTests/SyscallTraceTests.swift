import Foundation
import Testing

/// Per-process syscall traces (issue 18's fourth part) and the process table, on the real kernel:
/// tracecat (a cat that prints /etc/init.conf through initfsd) traced from boot with `strace=tracecat`,
/// read live and from a core; tracing switched on at run time through the gdbstub; the profiler naming
/// user frames by the process table's build IDs.
@Suite(.serialized) struct SyscallTraceTests {
    static let root = Repo.build.appendingPathComponent("servers/root.elf")
    static let initfs = Repo.build.appendingPathComponent("initfs.tar.zst")
    static var haveSystem: Bool {
        FileManager.default.fileExists(atPath: root.path) && FileManager.default.fileExists(atPath: initfs.path)
    }

    static func scratch(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("osh-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func bootOptions(_ build: URL, cmdline: String, timeout: Int) -> [String] {
        ["boot", "--build-dir", build.path, "--kernel", Repo.kernel.path, "--accel", "tcg",
         "--module", root.path + ":root", "--module", initfs.path + ":initfs",
         "--cmdline", cmdline, "--timeout", String(timeout)]
    }

    /// Waits until the run's serial log contains `text`; the log.
    @discardableResult
    static func waitForSerial(_ runDir: URL, _ text: String, seconds: Double) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var serial = ""
        while Date() < deadline {
            serial = (try? String(contentsOf: runDir.appendingPathComponent("serial.log"), encoding: .utf8)) ?? ""
            if serial.contains(text) { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        return serial
    }

    /// The index of the first line at or after `from` containing `text`, or nil.
    static func index(of text: String, in lines: [Substring], from: Int) -> Int? {
        guard from < lines.count else { return nil }
        return lines[from...].firstIndex { $0.contains(text) }
    }

    @Test(.enabled(if: haveSystem))
    func tracecatShowsOpenReadWriteCloseInOrderLiveAndFromACore() throws {
        let dir = try Self.scratch("strace")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let boot = try startOSH(Self.bootOptions(build, cmdline: "tracetest strace=tracecat", timeout: 300))
        defer { if boot.isRunning { boot.terminate(); boot.waitUntilExit() } }
        let runDir = build.appendingPathComponent("run/latest")
        // init says "idle" once tracecat started, which can be before tracecat printed a byte: wait for its exit.
        let serial = Self.waitForSerial(runDir, "init: tracecat exited with code", seconds: 240)
        #expect(serial.contains("init: tracecat exited with code 0"), "tracecat exited: \(serial.suffix(2000))")
        #expect(serial.contains("tracecat once when=tracetest"), "tracecat printed init.conf: \(serial.suffix(2000))")

        let live = try run(Repo.osh.path, ["syscalls", "--trace", "--process", "tracecat", "--run", runDir.path])
        #expect(live.status == 0, "\(live.stderr)")
        let lines = live.stdout.split(separator: "\n")
        #expect(lines.allSatisfy { $0.contains("tracecat[") }, "\(live.stdout.prefix(3000))")
        // cat's shape: open, read, write (debug_log: the console), ..., close, in that order.
        let open = Self.index(of: "tag={file.open", in: lines, from: 0)
        #expect(open != nil, "\(live.stdout.prefix(3000))")
        let read = open.flatMap { Self.index(of: "tag={file.read", in: lines, from: $0 + 1) }
        let write = read.flatMap { Self.index(of: "debug_log(ptr=", in: lines, from: $0 + 1) }
        let close = write.flatMap { Self.index(of: "tag={file.close", in: lines, from: $0 + 1) }
        #expect(read != nil && write != nil && close != nil, "\(live.stdout.prefix(4000))")
        if let open, let write, let close {
            // The Sender to initfsd with its type and rights; results and durations.
            #expect(lines[open].contains(/sender\[[a-z|]*signal[a-z|]*\]/), "\(lines[open])")
            #expect(lines[open].contains("= {0 3w}"), "\(lines[open])")
            #expect(lines[write].contains(/len=\d+\) = \d+ <[0-9.]+ us, \d+ ticks>/), "\(lines[write])")
            #expect(lines[close].contains("= {0"), "\(lines[close])")
        }
        // Its last call: process_exit.
        #expect(lines.last?.contains("process_exit(code=0)") == true, "\(lines.suffix(3))")

        // JSON: the same calls.
        let json = try run(Repo.osh.path, ["syscalls", "--trace", "--process", "tracecat", "--json", "--run", runDir.path])
        #expect(json.status == 0, "\(json.stderr)")
        let names = json.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let data = line.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return o["syscall"] as? String
        }
        #expect(names.count == lines.count && names.contains("sender_call") && names.contains("debug_log"), "\(names)")

        // From a core: the same lines.
        let dump = try run(Repo.osh.path, ["dump", runDir.path])
        #expect(dump.status == 0, "\(dump.stderr)")
        let core = try run(Repo.osh.path, ["syscalls", "--trace", "--process", "tracecat", "--run", runDir.path,
                                           "--core", runDir.appendingPathComponent("core.elf").path])
        #expect(core.status == 0, "\(core.stderr)")
        #expect(core.stdout == live.stdout)
    }

    @Test(.enabled(if: haveSystem))
    func tracingSwitchedOnThroughTheGDBStubAndUserFramesNamedByBuildID() throws {
        let dir = try Self.scratch("strace-live")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let boot = try startOSH(Self.bootOptions(build, cmdline: "bench rounds=100000000 only=0w", timeout: 400))
        defer { if boot.isRunning { boot.terminate(); boot.waitUntilExit() } }
        let runDir = build.appendingPathComponent("run/latest")
        let serial = Self.waitForSerial(runDir, "bench mark start", seconds: 300)
        #expect(serial.contains("bench mark start"), "\(serial.suffix(2000))")
        Thread.sleep(forTimeInterval: 2)

        // Nothing traced yet: osh switches ipcbench on through the gdbstub.
        let first = try run(Repo.osh.path, ["syscalls", "--trace", "--process", "ipcbench", "--run", runDir.path])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("switched on for ipcbench"), "\(first.stderr)")
        Thread.sleep(forTimeInterval: 2)
        let second = try run(Repo.osh.path, ["syscalls", "--trace", "--process", "ipcbench", "--run", runDir.path])
        #expect(second.status == 0, "\(second.stderr)")
        let calls = second.stdout.split(separator: "\n").filter { $0.contains("ipcbench[") }
        #expect(calls.count > 100, "\(second.stdout.suffix(2000))")
        #expect(calls.contains { $0.contains("sender_call(handle=") } && calls.contains { $0.contains("receiver_reply_recv(handle=") },
                "\(second.stdout.suffix(2000))")
        // Only ipcbench: root and initfsd are not traced.
        #expect(!second.stdout.contains("initfsd["))

        // Off again: no new records.
        let off = try run(Repo.osh.path, ["syscalls", "--trace", "--off", "--run", runDir.path])
        #expect(off.status == 0, "\(off.stderr)")
        let a = try run(Repo.osh.path, ["syscalls", "--trace", "--status", "--run", runDir.path])
        Thread.sleep(forTimeInterval: 1.5)
        let b = try run(Repo.osh.path, ["syscalls", "--trace", "--status", "--run", runDir.path])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(a.stdout.hasPrefix("control 0 (off)"), "\(a.stdout)")
        #expect(a.stdout == b.stdout && a.stdout.contains("records written"), "\(a.stdout) \(b.stdout)")

        // The profiler names user frames by the process table without --user-elf.
        let profile = try run(Repo.osh.path, ["profile", "--run", runDir.path, "--seconds", "6", "--rate", "50"])
        #expect(profile.status == 0, "\(profile.stderr)")
        let folded = try String(contentsOf: runDir.resolvingSymlinksInPath().appendingPathComponent("profile.folded"), encoding: .utf8)
        #expect(folded.contains("ipcbench`"), "\(folded.prefix(2000))")
        #expect(!folded.contains("[user]"), "\(folded.prefix(2000))")
    }

    /// The shell on the console runs `cat` (coreutils, started by sh through pm) with `strace=cat`: osh's
    /// trace of the cat process has its file.open of /etc/motd, the reads of that file id up to the empty
    /// one, its close, the write of exactly the bytes read to standard output, and process_exit, in that
    /// order (cat gathers its output and writes it once at the end: a file this small is one write).
    @Test(.enabled(if: haveSystem))
    func shellRunningCatIsTracedOpenReadCloseWrite() throws {
        let dir = try Self.scratch("strace-sh")
        defer { try? FileManager.default.removeItem(at: dir) }
        let build = dir.appendingPathComponent("build")
        let boot = Process()
        boot.executableURL = Repo.osh
        boot.arguments = Self.bootOptions(build, cmdline: "strace=cat", timeout: 400)
        let input = Pipe()
        boot.standardInput = input
        boot.standardOutput = FileHandle.nullDevice
        boot.standardError = FileHandle.nullDevice
        try boot.run()
        defer { if boot.isRunning { boot.terminate(); boot.waitUntilExit() } }
        let runDir = build.appendingPathComponent("run/latest")
        let prompt = Self.waitForSerial(runDir, "/ $ ", seconds: 300)
        try #require(prompt.contains("/ $ "), "no prompt: \(prompt.suffix(2000))")
        input.fileHandleForWriting.write(Data("cat initfs:///etc/motd\n".utf8))

        // Until cat's process_exit is in the trace.
        var lines: [Substring] = []
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let trace = try run(Repo.osh.path, ["syscalls", "--trace", "--process", "cat", "--run", runDir.path])
            #expect(trace.status == 0, "\(trace.stderr)")
            lines = trace.stdout.split(separator: "\n")
            if lines.contains(where: { $0.contains("process_exit(") }) { break }
            Thread.sleep(forTimeInterval: 1)
        }
        let text = lines.joined(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.contains(" cat[") }, "\(text.prefix(3000))")
        let motd = try String(contentsOf: Repo.root.appendingPathComponent("Sources/initfs/etc/motd"), encoding: .utf8)
        // file.open → {0 3w} w0=ID; reads of ID until one answers w0=0; close of ID; one write of the sum.
        guard let open = Self.index(of: "tag={file.open", in: lines, from: 0),
              let id = lines[open].firstMatch(of: /= \{0 3w\} w0=(0x[0-9a-f]+)/)?.1 else {
            Issue.record("no file.open answered with a file id in: \(text.prefix(3000))")
            return
        }
        var read = 0, at = open + 1, lastRead = open
        while let r = Self.index(of: "tag={file.read 3w}, w0=\(id),", in: lines, from: at) {
            guard let n = lines[r].firstMatch(of: /\} w0=(0x[0-9a-f]+) </)?.1, let count = Int(n.dropFirst(2), radix: 16) else { break }
            read += count
            lastRead = r
            at = r + 1
            if count == 0 { break }
        }
        #expect(read == motd.utf8.count, "cat read \(read) bytes of a \(motd.utf8.count)-byte motd: \(text.prefix(3000))")
        let close = Self.index(of: "tag={file.close 1w}, w0=\(id),", in: lines, from: lastRead + 1)
        let write = close.flatMap { Self.index(of: "tag={file.write 3w \(read)b}", in: lines, from: $0 + 1) }
        let exit = write.flatMap { Self.index(of: "process_exit(code=0)", in: lines, from: $0 + 1) }
        #expect(close != nil && write != nil && exit != nil, "\(text.prefix(4000))")
        if let write { #expect(lines[write].contains(String(format: "= {0 1w} w0=0x%x", read)), "\(lines[write])") }
    }
}

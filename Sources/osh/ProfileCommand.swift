// `osh profile`: a sampling profiler of the guest. It boots the OS (`osh boot` with the options given,
// in the background) or takes a live run (`--run`), and RATE times a second pauses the VM through QMP,
// reads rip, rbp and CR3 (HMP `info registers`), walks the frame-pointer chain in guest memory (HMP `x`),
// and lets the VM run again. The stacks are symbolized with the run's ELF files (kernel; user frames by
// the program whose page-table root CR3 holds, from the kernel's process table, its ELF found by build
// ID; or all with --user-elf) and written into the run directory as folded stacks (profile.folded) and a flame graph
// (profile.svg); the top functions are printed. `osh profile --diff A B` compares two profiles.

import ArgumentParser
import Foundation
import Symbolizer
#if canImport(Glibc)
import Glibc
#endif

/// Samples of one VM through its QMP socket.
public final class GuestSampler {
    let qmp: QMPClient
    /// The page-table root (CR3 without its PCID bits) of the last stack taken: which process ran.
    public private(set) var lastRoot: UInt64 = 0

    public init(qmpSocket: String) throws { qmp = try QMPClient(path: qmpSocket, timeout: 10) }
    public func close() { qmp.close() }

    /// One stack, leaf first (rip, then return addresses), with the VM paused meanwhile. Throws when
    /// QEMU is gone.
    public func sample() throws -> [UInt64] {
        try qmp.stop()
        defer { try? qmp.cont() }
        return try stack()
    }

    /// The stack of the paused VM's CPU 0.
    public func stack() throws -> [UInt64] {
        let registers = Shell.parseHMPRegisters(try qmp.humanMonitorCommand("info registers", cpu: 0))
        lastRoot = (registers["CR3"] ?? 0) & ~UInt64(0xfff)
        // In the 32-bit boot code HMP shows EIP and no RIP: that sample is one frame.
        guard let rip = registers["RIP"], let rbp = registers["RBP"] else { return registers["EIP"].map { [$0] } ?? [] }
        // Frames lie one above the other on one stack: read a window of it at a time (one HMP `x` for
        // several frames), and a new window only when the chain leaves the one read.
        var window: (base: UInt64, words: [UInt64]) = (0, [])
        return try Shell.walkFramePointers(rip: rip, rbp: rbp) { address in
            let have = { () -> (UInt64, UInt64)? in
                guard address >= window.base else { return nil }
                let i = Int((address - window.base) / 8)
                return i + 1 < window.words.count ? (window.words[i], window.words[i + 1]) : nil
            }
            if let pair = have() { return pair }
            // Not past the end of the page, so one unmapped page above does not fail the whole read.
            let toPageEnd = Int((0x1000 - (address & 0xfff)) / 8)
            let count = max(2, min(GuestSampler.windowWords, toPageEnd))
            let text = try qmp.humanMonitorCommand("x /\(count)gx 0x" + String(address, radix: 16), cpu: 0)
            window = (address, GuestSampler.parseHMPWords(text))
            return have()
        }
    }

    /// Words read at a time from the stack.
    static let windowWords = 64

    /// The words of HMP `x /Ngx` output (`ADDR: 0xWORD 0xWORD` lines); empty when the memory was not
    /// readable ("Cannot access memory").
    static func parseHMPWords(_ text: String) -> [UInt64] {
        var out: [UInt64] = []
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            for word in line[line.index(after: colon)...].split(separator: " ") where word.hasPrefix("0x") {
                if let v = UInt64(word.dropFirst(2), radix: 16) { out.append(v) }
            }
        }
        return out
    }
}

/// Addresses → frame names, with the run's kernel and one user ELF.
public struct FrameNamer {
    var kernel: ELFSymbolizer?
    var user: ELFSymbolizer?
    var userLabel: String

    /// Lowest kernel-half address.
    static let kernelHalf: UInt64 = 0xffff_8000_0000_0000
    /// Where user programs are linked (Sources/Servers/Runtime/user.ld).
    static let userBase: UInt64 = 0x40_0000

    /// Per page-table root: the program that runs in it (from the kernel's process table) and its ELF,
    /// found by build ID.
    var programs: [UInt64: (label: String, elf: ELFSymbolizer?)] = [:]

    public init(kernelELF: String?, userELF: String?) {
        kernel = kernelELF.flatMap { try? ELFSymbolizer(path: $0, requireDebugInfo: false) }
        user = userELF.flatMap { try? ELFSymbolizer(path: $0, requireDebugInfo: false) }
        userLabel = userELF.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "user"
    }

    /// Names user frames by process: each process's page-table root → its program's ELF (by build ID
    /// among `elves`, path → build ID in hex), labelled with the program's name.
    public mutating func addPrograms(_ processes: [TracedProcess], elves: [String: String]) {
        var byID: [String: ELFSymbolizer?] = [:]
        for p in processes where p.pageTableRoot != 0 && !p.name.isEmpty {
            let id = p.buildID.map { String(format: "%02x", $0) }.joined()
            guard !id.isEmpty else { continue }
            if byID[id] == nil {
                let path = elves.first { $0.value.hasPrefix(id) }?.key
                byID[id] = path.flatMap { try? ELFSymbolizer(path: $0, requireDebugInfo: false) }
            }
            programs[p.pageTableRoot] = (p.name, byID[id] ?? nil)
        }
    }

    /// The frame's function name (short: no argument list); a return address is looked up one byte
    /// back, so a call at the end of a function names that function. `root` (the sample's CR3) picks
    /// the program of a user frame; --user-elf wins over it.
    public func name(_ address: UInt64, isReturnAddress: Bool, root: UInt64 = 0) -> String {
        let a = isReturnAddress ? address &- 1 : address
        if a >= FrameNamer.kernelHalf {
            return kernel?.symbolName(a).map(FrameNamer.short) ?? "[kernel]"
        }
        // Below the user programs' link address: the kernel's 32-bit boot code (or firmware).
        if a < FrameNamer.userBase { return kernel?.symbolName(a).map(FrameNamer.short) ?? "[low memory]" }
        if user == nil, let program = programs[root] {
            guard let elf = program.elf, let n = elf.symbolName(a) else { return "[\(program.label)]" }
            return program.label + "`" + FrameNamer.short(n)
        }
        guard let user, let n = user.symbolName(a) else { return "[\(userLabel)]" }
        return userLabel + "`" + FrameNamer.short(n)
    }

    /// ELF files that may be user programs, with their build IDs: the run's copies, then the servers/
    /// directory beside the run directory's build, beside the kernel the run booted, and in osh's own
    /// build directory.
    public static func candidateELFs(run dir: VMRun) -> [String: String] {
        var out: [String: String] = [:]
        var dirs = [dir.url.path]
        let runRoot = dir.url.deletingLastPathComponent()
        if runRoot.lastPathComponent == "run" { dirs.append(runRoot.deletingLastPathComponent().appendingPathComponent("servers").path) }
        if let source = dir.manifest.kernel?.source {
            dirs.append(URL(fileURLWithPath: source).deletingLastPathComponent().appendingPathComponent("servers").path)
        }
        dirs.append(VMRun.defaultBuildDirectory().appendingPathComponent("servers").path)
        for d in dirs {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where f.hasSuffix(".elf") {
                let path = d + "/" + f
                if out[path] == nil, let id = try? ELFSymbolizer.readBuildID(path) { out[path] = id }
            }
        }
        return out
    }

    /// A demangled name without its argument list and result (`Kernel.FastPath.call`); a private
    /// name's `(name in _HASH)` becomes `name`.
    static func short(_ name: String) -> String {
        var out = ""
        var rest = Substring(name)
        while let c = rest.first {
            if c == "(", rest.hasPrefix("(extension in "), let close = rest.firstIndex(of: ")") {
                rest = rest[rest.index(after: close)...]
                if rest.first == ":" { rest = rest.dropFirst() }
                continue
            }
            if c == "(" {
                guard out.last == ".", let close = rest.firstIndex(of: ")") else { break }
                let inner = rest[rest.index(after: rest.startIndex)..<close]
                out += inner.range(of: " in ").map { String(inner[..<$0.lowerBound]) } ?? String(inner)
                rest = rest[rest.index(after: close)...]
                continue
            }
            out.append(c)
            rest = rest.dropFirst()
        }
        return out.isEmpty ? name : out
    }
}

public struct ProfileCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Sample the guest's stacks; write folded stacks and a flame graph into the run directory.",
        discussion: """
            Without --run, boots the OS with the other options given (as `osh boot` takes them, e.g. \
            --cmdline bench --accel tcg) and profiles that run until --seconds have passed or the guest \
            ends. Each sample pauses the VM (QMP stop), reads rip and rbp, walks the frame-pointer chain \
            (kernel and user frames), and resumes it. Output: RUN/profile.folded (`a;b;c N` lines), \
            RUN/profile.svg (an interactive flame graph: click to zoom, Search to highlight), and the top \
            functions by self samples. User frames are named by process: each sample's CR3 picks the \
            process in the kernel's process table (debug_processes: program name, build ID, page-table \
            root), whose ELF osh finds by build ID in the run directory and BUILD/servers. --user-elf \
            names every user frame with one ELF instead.

            `osh profile --diff A B` prints the functions whose share of samples changed most from A to B \
            (each a folded file or a run directory holding profile.folded).
            """)

    @Option(name: .customLong("run"), help: "Profile this live run (directory or id) instead of booting one.")
    var runDirectory: String?

    @Option(name: .long, help: "How long to sample, in seconds of wall time.")
    var seconds: Double = 10

    @Option(name: .long, help: "Samples per second.")
    var rate: Double = 100

    @Option(name: .long, help: ArgumentHelp("Deterministic mode: replay the recording RUN (osh record) and sample every N guest instructions.", valueName: "n"))
    var every: UInt64?

    @Option(name: .long, help: "The recording to replay for --every (directory or id; default: build/run/latest).")
    var replay: String?

    @Option(name: .long, help: "With --every: stop after this many samples (default: the whole recording).")
    var samples: Int?

    @Option(name: .long, help: "ELF file (or a module name of the run) that names user frames.")
    var userElf: String?

    @Option(name: .long, help: "Functions in the table.")
    var top: Int = 20

    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Compare two profiles (folded files or runs).", valueName: "a b"))
    var diff: [String] = []

    @Argument(parsing: .allUnrecognized, help: "Options for `osh boot` (without --run).")
    var bootArguments: [String] = []

    public init() {}

    public func validate() throws {
        guard seconds > 0, seconds.isFinite else { throw ValidationError("--seconds must be positive") }
        guard rate > 0, rate <= 10_000 else { throw ValidationError("--rate must be between 0 and 10000 samples a second") }
        guard top > 0 else { throw ValidationError("--top must be positive") }
        guard diff.isEmpty || diff.count == 2 else { throw ValidationError("--diff takes two profiles") }
        if let every, every == 0 { throw ValidationError("--every must be at least 1 instruction") }
        if every == nil && (replay != nil || samples != nil) { throw ValidationError("--replay and --samples go with --every") }
        if every != nil && runDirectory != nil {
            throw ValidationError("--every replays a recording (--replay RUN), not a live run")
        }
        if runDirectory != nil && !bootArguments.isEmpty { throw ValidationError("--run profiles a live run: boot options make no sense with it") }
    }

    public mutating func run() throws {
        if diff.count == 2 {
            let a = try ProfileCommand.load(diff[0]), b = try ProfileCommand.load(diff[1])
            print(FoldedProfile.diffTable(FoldedProfile.diff(a, b, limit: top)), terminator: "")
            return
        }
        defer { try? FileManager.default.removeItem(at: ProfileCommand.bootLog) }
        var child: Process?
        let dir: VMRun
        if let every {
            let (process, booted) = try ProfileCommand.boot(["--replay", replay ?? "latest", "--gdb-wait"]
                + (bootArguments.isEmpty ? [] : bootArguments))
            defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
            let stacks = try sampleReplay(booted, every: every)
            let profile = symbolize(stacks, run: booted)
            try write(profile, to: booted)
            print(profile.topTable(limit: top), terminator: "")
            return
        } else if let runDirectory {
            do { dir = try VMRun.resolve(runDirectory) } catch let e as RunError { throw ValidationErrorLine(e.description) }
        } else {
            let (process, booted) = try ProfileCommand.boot(bootArguments)
            child = process
            dir = booted
        }
        defer { if let child, child.isRunning { child.terminate(); child.waitUntilExit() } }
        let stacks = try sample(dir, child: child)
        let profile = symbolize(stacks, run: dir)
        try write(profile, to: dir)
        print(profile.topTable(limit: top), terminator: "")
    }

    /// The folded profile at `path`: a file, or a run directory's profile.folded.
    static func load(_ path: String) throws -> FoldedProfile {
        var isDir: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            file = URL(fileURLWithPath: path).appendingPathComponent("profile.folded").path
        } else if !FileManager.default.fileExists(atPath: path), let r = try? VMRun.resolve(path) {
            file = r.url.appendingPathComponent("profile.folded").path
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationErrorLine("cannot read the profile \(file)")
        }
        return FoldedProfile.parse(text)
    }

    /// The background boot's output (read when it fails early; removed when osh profile ends).
    static let bootLog = FileManager.default.temporaryDirectory.appendingPathComponent("osh-profile-\(getpid()).log")

    /// Starts `osh boot ARGS` in the background (output in a temporary log) and waits for its run
    /// directory (the one whose manifest names the child's pid) with QEMU started.
    static func boot(_ arguments: [String]) throws -> (Process, VMRun) {
        var buildOption: String?
        if let i = arguments.firstIndex(of: "--build-dir"), i + 1 < arguments.count { buildOption = arguments[i + 1] }
        let build = BootRunner.buildDirectory(option: buildOption)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: GDBHelpers.oshExecutable)
        p.arguments = ["boot"] + arguments
        p.standardInput = FileHandle.nullDevice
        let log = bootLog
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let root = RunDirectory.runRoot(buildDir: build)
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if !p.isRunning {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                throw ValidationErrorLine("osh boot ended before profiling started: \(text.split(separator: "\n").last ?? "no output")")
            }
            for id in RunDirectory.runIDs(runRoot: root).reversed() {
                let url = root.appendingPathComponent(id)
                guard let data = FileManager.default.contents(atPath: url.appendingPathComponent(RunDirectory.manifestName).path),
                      let m = try? JSONDecoder().decode(RunManifest.self, from: data),
                      m.oshPID == p.processIdentifier, m.qemuPID != nil,
                      FileManager.default.fileExists(atPath: url.appendingPathComponent(RunDirectory.qmpSocketName).path),
                      let r = try? VMRun.resolve(url.path)
                else { continue }
                return (p, r)
            }
            usleep(50_000)
        }
        p.terminate()
        throw ValidationErrorLine("osh boot did not start a VM within 120 s")
    }

    /// The kernel's process table (program names, build IDs, page-table roots), read after sampling
    /// (entries of ended processes stay until reused); empty when it cannot be read.
    static func readProcesses(_ qmp: QMPClient, run: VMRun) -> [TracedProcess] {
        guard let kernel = run.manifest.kernel,
              let source = try? SyscallTraceSource(memory: QMPClientMemory(qmp: qmp), kernelPath: run.path(of: kernel))
        else { return [] }
        return (try? source.readProcesses()) ?? []
    }

    /// Samples until `seconds` passed, QEMU went away or the boot ended.
    func sample(_ dir: VMRun, child: Process?) throws -> Samples {
        var sampler: GuestSampler?
        let connectBy = Date().addingTimeInterval(10)
        while sampler == nil {
            do { sampler = try GuestSampler(qmpSocket: dir.qmpSocket) } catch {
                if Date() > connectBy { throw ValidationErrorLine("cannot connect to \(dir.qmpSocket): \(error)") }
                usleep(50_000)
            }
        }
        defer { sampler?.close() }
        var stacks: [(root: UInt64, stack: [UInt64])] = []
        let start = FD.now(), interval = 1 / rate
        var next = start + interval
        while FD.now() - start < seconds, child?.isRunning ?? true {
            let wait = next - FD.now()
            if wait > 0 { usleep(useconds_t(wait * 1_000_000)) }
            next += interval
            guard let stack = try? sampler!.sample() else { break }
            if !stack.isEmpty { stacks.append((sampler!.lastRoot, stack)) }
        }
        return Samples(stacks: stacks, processes: ProfileCommand.readProcesses(sampler!.qmp, run: dir))
    }

    /// Deterministic sampling of a replay started paused: QMP `replay-break` at every N-th guest
    /// instruction (`query-replay` gives the current count), a sample at each stop, until the replay
    /// ends (QEMU gone or no stop within a minute) or `samples` were taken.
    func sampleReplay(_ dir: VMRun, every: UInt64) throws -> Samples {
        let sampler = try GuestSampler(qmpSocket: dir.qmpSocket)
        defer { sampler.close() }
        var stacks: [(root: UInt64, stack: [UInt64])] = []
        while stacks.count < (samples ?? Int.max) {
            guard let now = try? sampler.qmp.execute("query-replay")["icount"]?.int else { break }
            do {
                try sampler.qmp.execute("replay-break", ["icount": .int(now + Int64(every))])
                _ = sampler.qmp.takeEvents()
                try sampler.qmp.cont()
                _ = try sampler.qmp.waitForEvent("STOP", timeout: 60)
            } catch { break }
            guard let stack = try? sampler.stack() else { break }
            stacks.append((sampler.lastRoot, stack))
        }
        return Samples(stacks: stacks, processes: ProfileCommand.readProcesses(sampler.qmp, run: dir))
    }

    /// Stacks → folded profile, named with the run's kernel ELF and the user ELF chosen.
    /// Stacks with the page-table root each was taken in, and the process table read afterwards.
    struct Samples {
        var stacks: [(root: UInt64, stack: [UInt64])]
        var processes: [TracedProcess]
    }

    func symbolize(_ samples: Samples, run dir: VMRun) -> FoldedProfile {
        var userPath = userElf
        if let u = userElf, !FileManager.default.fileExists(atPath: u),
           let m = dir.manifest.servers.first(where: { $0.name == u }) { userPath = dir.path(of: m) }
        var namer = FrameNamer(kernelELF: dir.manifest.kernel.map(dir.path(of:)), userELF: userPath)
        namer.addPrograms(samples.processes, elves: FrameNamer.candidateELFs(run: dir))
        var profile = FoldedProfile()
        for (root, stack) in samples.stacks {
            profile.add(leafFirst: stack.enumerated().map { namer.name($1, isReturnAddress: $0 > 0, root: root) })
        }
        return profile
    }

    func write(_ profile: FoldedProfile, to dir: VMRun) throws {
        let folded = dir.url.appendingPathComponent("profile.folded"), svg = dir.url.appendingPathComponent("profile.svg")
        try profile.text.write(to: folded, atomically: true, encoding: .utf8)
        let title = "osh profile: run \(dir.manifest.id ?? dir.url.lastPathComponent), \(profile.total) samples"
        try FlameGraph.svg(profile, title: title).write(to: svg, atomically: true, encoding: .utf8)
        FD.writeAll(STDERR_FILENO, "osh: \(profile.total) samples; wrote \(folded.path) and \(svg.path)\n")
    }
}

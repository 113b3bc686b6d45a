// The shell's commands that look into a running VM through QMP: `x` (guest memory), `bt` (the current
// thread's backtrace, walked through frame pointers in guest memory and symbolized with the run's
// ELFs), `qmp`/`hmp` pass-through, `info`, and `reset` that keeps the VM (and the session) alive even
// under `-no-reboot`. Also the completion lists of the line editor.

import Foundation
import Symbolizer
#if canImport(Glibc)
import Glibc
#endif

extension Shell {
    // MARK: x

    /// `x [-p] ADDR [COUNT]`: COUNT (default 8, at most 512) 64-bit words of guest memory at ADDR,
    /// virtual (QMP `memsave`, through CPU 0's page tables) or with -p physical (QMP `pmemsave`).
    func examine(_ args: [String]) throws {
        var rest = args
        let physical = rest.first == "-p" || rest.first == "--physical"
        if physical { rest.removeFirst() }
        let usage = "usage: x [-p] ADDR [COUNT]"
        guard (1...2).contains(rest.count), let address = parseAddress(rest[0]) else { throw UsageError(description: usage) }
        let count = rest.count == 2 ? parseAddress(rest[1]) : 8
        guard let count, (1...512).contains(count) else { throw UsageError(description: "COUNT is 1 to 512 words (\(usage))") }
        let bytes = try withQMPResult { qmp in
            try Shell.readGuestMemory(qmp, address: address, size: Int(count * 8), physical: physical)
        }
        output(Shell.formatWords(bytes, at: address))
    }

    /// Guest memory through `memsave`/`pmemsave` into a temporary file.
    static func readGuestMemory(_ qmp: QMPClient, address: UInt64, size: Int, physical: Bool) throws -> [UInt8] {
        if !physical { return try qmp.readVirtualMemory(address: address, size: size) }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("osh-pmemsave-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try qmp.pmemsave(address: address, size: UInt64(size), to: tmp)
        return Array(FileManager.default.contents(atPath: tmp) ?? Data())
    }

    /// Two little-endian 64-bit words a line, after the line's address (as gdb's `x/2gx`).
    static func formatWords(_ bytes: [UInt8], at address: UInt64) -> String {
        var lines: [String] = []
        var offset = 0
        while offset + 8 <= bytes.count {
            var line = "0x" + String(format: "%016llx", address &+ UInt64(offset)) + ":"
            for _ in 0..<2 where offset + 8 <= bytes.count {
                let word = bytes[offset..<offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                line += " 0x" + String(format: "%016llx", word)
                offset += 8
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    // MARK: bt

    /// `bt [MODULE]`: rip and rbp from HMP `info registers` (the VM paused meanwhile), then the frame
    /// pointer chain in guest memory, symbolized with the run's kernel ELF and, for user addresses, the
    /// server ELF MODULE (default: root).
    func backtrace(_ args: [String]) throws {
        guard args.count <= 1 else { throw UsageError(description: "usage: bt [MODULE]") }
        let r = try run()
        var program: (name: String, buildID: String, directory: String)? = nil
        let addresses: [UInt64] = try withQMPResult { qmp in
            let wasRunning = try qmp.queryStatus().running
            if wasRunning { try qmp.stop() }
            defer { if wasRunning { try? qmp.cont() } }
            let registers = Shell.parseHMPRegisters(try qmp.humanMonitorCommand("info registers"))
            guard let rip = registers["RIP"], let rbp = registers["RBP"] else {
                throw UsageError(description: "no RIP/RBP in QMP's `info registers`")
            }
            if args.isEmpty { program = Shell.runningProgram(qmp, run: r, root: (registers["CR3"] ?? 0) & ~UInt64(0xfff)) }
            return try Shell.walkFramePointers(rip: rip, rbp: rbp) { address in
                let bytes = try Shell.readGuestMemory(qmp, address: address, size: 16, physical: false)
                guard bytes.count == 16 else { return nil }
                func word(_ at: Int) -> UInt64 { bytes[at..<at + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
                return (word(0), word(8))
            }
        }
        let log = try Shell.backtraceMarkup(addresses, run: r, userModule: args.first,
                                            program: program.map { ($0.name, $0.buildID) })
        let cwd = FileManager.default.currentDirectoryPath
        let rewriter = MarkupRewriter(finder: ELFFinder(directories: [r.url.path] + (program.map { [$0.directory] } ?? [])),
                                      pathPrefix: cwd.hasSuffix("/") ? cwd : cwd + "/")
        let text = try rewriter.rewrite(log: log)
        output(text.split(separator: "\n").filter { !$0.hasPrefix("[[[") }.joined(separator: "\n"))
    }

    /// `info registers` text → register name → value (RIP, RBP, RSP, CR3, CPL, …).
    static func parseHMPRegisters(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for match in text.matches(of: /([A-Z][A-Z0-9]*) ?=([0-9a-fA-F]+)/) where out[String(match.1)] == nil {
            out[String(match.1)] = UInt64(match.2, radix: 16)
        }
        return out
    }

    /// rip, then each return address up the rbp chain: `read(rbp)` gives (saved rbp, return address), nil
    /// when the memory cannot be read. Stops at a zero rbp or return address, a chain that does not go
    /// up the stack, or 64 frames.
    static func walkFramePointers(rip: UInt64, rbp: UInt64, read: (UInt64) throws -> (UInt64, UInt64)?) rethrows -> [UInt64] {
        var frames = [rip]
        var frame = rbp
        while frames.count < 64, frame != 0, frame % 8 == 0, let (saved, returnAddress) = try read(frame) {
            if returnAddress == 0 { break }
            frames.append(returnAddress)
            if saved <= frame { break }
            frame = saved
        }
        return frames
    }

    /// Symbolizer markup for a backtrace: the kernel ELF of the run over the kernel half, the server
    /// `userModule` (default root, else the first) over the user half, then one `bt` line per frame.
    /// The program of the process whose page-table root is `root` (the kernel's process table), with
    /// its ELF's full build ID and directory, found by build ID as `osh profile` does; nil when unknown.
    static func runningProgram(_ qmp: QMPClient, run r: VMRun, root: UInt64) -> (name: String, buildID: String, directory: String)? {
        guard root != 0, let kernel = r.manifest.kernel,
              let source = try? SyscallTraceSource(memory: QMPClientMemory(qmp: qmp), kernelPath: r.path(of: kernel)),
              let process = (try? source.readProcesses())?.first(where: { $0.pageTableRoot == root && !$0.buildID.isEmpty })
        else { return nil }
        let id = process.buildID.map { String(format: "%02x", $0) }.joined()
        guard let (path, full) = FrameNamer.candidateELFs(run: r).first(where: { $0.value.hasPrefix(id) }) else { return nil }
        return (process.name, full, URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    static func backtraceMarkup(_ addresses: [UInt64], run r: VMRun, userModule: String?,
                                program: (name: String, buildID: String)? = nil) throws -> String {
        var lines = ["{{{reset}}}"]
        func buildID(_ f: VMRunManifest.File) -> String? {
            f.buildID ?? (try? ELFSymbolizer.readBuildID(r.path(of: f)))
        }
        if let k = r.manifest.kernel, let id = buildID(k) {
            lines += ["{{{module:0:kernel:elf:\(id)}}}", "{{{mmap:0xffff800000000000:0x7fffffffffff:load:0:rwx:0xffff800000000000}}}"]
        }
        let servers = r.manifest.servers
        if let wanted = userModule, !servers.contains(where: { $0.name == wanted }) {
            throw UsageError(description: "no module \(wanted) in the run (modules: \(servers.compactMap(\.name).joined(separator: ", ")))")
        }
        let user = servers.first { $0.name == (userModule ?? "root") } ?? servers.first
        if let program {
            // The running process's program, from the kernel's process table (no MODULE given).
            lines += ["{{{module:1:\(program.name):elf:\(program.buildID)}}}", "{{{mmap:0x1000:0x7fffffffefff:load:1:rwx:0x1000}}}"]
        } else if let user, let id = buildID(user) {
            lines += ["{{{module:1:\(user.name ?? "user"):elf:\(id)}}}", "{{{mmap:0x1000:0x7fffffffefff:load:1:rwx:0x1000}}}"]
        }
        for (i, a) in addresses.enumerated() {
            lines.append("{{{bt:\(i):0x\(String(a, radix: 16)):\(i == 0 ? "pc" : "ra")}}}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: qmp, hmp

    /// `qmp CMD [key=value…]`: a value is JSON when it parses as JSON (numbers, true/false, objects,
    /// arrays, quoted strings), a 0x number as an integer, anything else a string. Prints the reply.
    func qmpPassThrough(_ args: [String]) throws {
        guard let command = args.first else { throw UsageError(description: "usage: qmp CMD [key=value…]") }
        var arguments: [String: JSON] = [:]
        for pair in args.dropFirst() {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw UsageError(description: "'\(pair)' is not key=value (usage: qmp CMD [key=value…])")
            }
            arguments[String(pair[..<eq])] = Shell.qmpValue(String(pair[pair.index(after: eq)...]))
        }
        let result = try withQMPResult { try $0.execute(command, arguments.isEmpty ? nil : .object(arguments)) }
        output(result.serialized())
    }

    static func qmpValue(_ text: String) -> JSON {
        if text.lowercased().hasPrefix("0x"), let v = UInt64(text.dropFirst(2), radix: 16) { return .int(Int64(bitPattern: v)) }
        if let json = try? JSON.parse(text) { return json }
        return .string(text)
    }

    /// `hmp CMD…`: an HMP command line through QMP `human-monitor-command`; prints its text.
    func hmpPassThrough(_ args: [String]) throws {
        guard !args.isEmpty else { throw UsageError(description: "usage: hmp CMD…") }
        let text = try withQMPResult { try $0.humanMonitorCommand(args.joined(separator: " ")) }
        output(text.replacingOccurrences(of: "\r\n", with: "\n").trimmingCharacters(in: .newlines))
    }

    // MARK: info

    /// `info`: the run, QEMU (pid, version, state), the accelerator in use, the command line, and the
    /// modules with their build IDs.
    func info() throws {
        let r = try run()
        let raw = (try? JSON.parse(Array(Data(contentsOf: r.url.appendingPathComponent("manifest.json"))))) ?? .null
        output("run      \(r.manifest.id ?? r.url.lastPathComponent) (\(r.url.path))")
        let pid = r.manifest.qemuPid.map { "pid \($0)\(r.qemuAlive ? "" : " (exited)")" } ?? "pid unknown"
        let qmp = try qmpClient(r)
        defer { qmp.close() }
        let status = try qmp.queryStatus()
        output("qemu     \(pid), QEMU \(qmp.version ?? "?"), VM \(status.running ? "running" : "paused") (\(status.status))")
        let kvm = try qmp.execute("query-kvm")
        let accel = kvm["enabled"]?.bool == true ? "kvm" : "tcg"
        output("accel    \(accel) (QMP query-kvm: enabled \(kvm["enabled"]?.bool ?? false), present \(kvm["present"]?.bool ?? false))")
        if let cmdline = raw["cmdline"]?.string { output("cmdline  \(cmdline.isEmpty ? "(empty)" : cmdline)") }
        output("modules")
        for f in r.manifest.files where f.role == "kernel" || f.role == "server" {
            let id = f.buildID ?? (try? ELFSymbolizer.readBuildID(r.path(of: f))) ?? "?"
            output("  \((f.name ?? f.role).padding(toLength: 10, withPad: " ", startingAt: 0)) build ID \(id)  \(r.path(of: f))")
        }
    }

    // MARK: reset

    /// `reset`: QMP `system_reset`. osh boots QEMU with `-no-reboot`, under which any reset ends QEMU:
    /// the shell's own, and the one the firmware makes on a warm boot (SeaBIOS resets again to get a
    /// clean machine). So the reboot action is set to `reset` first (QMP `set-action`, QEMU ≥ 6.0), and
    /// back to `shutdown` once the kernel's banner shows the guest booted again, so that a triple fault
    /// later still ends the run. Returns what happened, for the user.
    func resetVM() throws -> String {
        let r = try run()
        guard Shell.runsWithNoReboot(pid: r.manifest.qemuPid) else {
            try withQMPResult { try $0.systemReset() }
            return "reset"
        }
        let serialSize = (try? FileManager.default.attributesOfItem(atPath: r.serialLog)[.size] as? Int) ?? 0
        try withQMPResult { qmp in
            try qmp.execute("set-action", ["reboot": "reset"])
            try qmp.systemReset()
        }
        let deadline = Date().addingTimeInterval(resetBootTimeout)
        let banner = Data(Shell.kernelBanner.utf8)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: r.serialLog), data.count > serialSize,
               data.range(of: banner, in: serialSize..<data.count) != nil {
                try withQMPResult { try $0.execute("set-action", ["reboot": "shutdown"]) }
                return "reset (the kernel booted again; -no-reboot is back in force)"
            }
            usleep(50_000)
        }
        return "reset (no kernel banner within \(Int(resetBootTimeout)) s: QEMU's reboot action stays 'reset')"
    }

    /// The start of the kernel's first line on the serial port.
    static let kernelBanner = "Swift microkernel for x86_64, build "

    /// True when QEMU `pid` was started with `-no-reboot` (or `reboot=shutdown`), or when that cannot be read.
    static func runsWithNoReboot(pid: Int32?) -> Bool {
        guard let pid, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return true }
        let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return args.contains("-no-reboot") || args.contains { $0.contains("reboot=shutdown") }
    }

    // MARK: completion

    /// Completion candidates for the word after `before` (the line up to that word), or nil for file names.
    public func completions(before: String) -> [String]? {
        let words = Shell.words(before)
        let completingFirst = words.isEmpty
        if completingFirst { return Shell.completionNames }
        switch Shell.lookup(words[0])?.name {
        case "use" where words.count == 1:
            return ["latest"] + runIDs()
        case "boot":
            return Shell.bootOptions
        default:
            return nil
        }
    }

    /// The run ids under BUILD/run, newest first.
    func runIDs() -> [String] {
        let root = (buildDirectory ?? VMRun.defaultBuildDirectory()).appendingPathComponent("run")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { name in
            name != "latest" && FileManager.default.fileExists(atPath: root.appendingPathComponent(name).appendingPathComponent("manifest.json").path)
        }.sorted(by: >)
    }

    /// `osh boot`'s options, read from its help text.
    static let bootOptions: [String] = {
        let help = Boot.helpMessage(columns: 400)
        var seen = Set<String>()
        return help.matches(of: /--[a-z][a-z0-9-]*/).map { String($0.0) }.filter { seen.insert($0).inserted }
    }()
}

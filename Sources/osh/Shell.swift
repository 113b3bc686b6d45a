import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// osh's interactive shell: one line, one command, acting on a VM run (build/run/latest unless
/// `use RUN` picked another). Every command opens its own QMP/gdbstub connection and closes it,
/// so the shell never keeps QEMU's single-client sockets busy for `osh boot`, `osh syscalls` or gdb.
public final class Shell {
    public struct Command: Sendable {
        public var name: String
        public var aliases: [String] = []
        public var usage: String
        public var help: String
    }

    public static let commands: [Command] = [
        .init(name: "help", aliases: ["?"], usage: "help", help: "list the commands"),
        .init(name: "status", usage: "status", help: "the run in use and whether its VM is running or paused"),
        .init(name: "pause", aliases: ["stop"], usage: "pause", help: "pause the VM (QMP stop)"),
        .init(name: "continue", aliases: ["cont", "c"], usage: "continue", help: "resume the VM (QMP cont)"),
        .init(name: "reset", usage: "reset", help: "reset the VM (QMP system_reset)"),
        .init(name: "registers", aliases: ["regs"], usage: "registers",
              help: "CPU registers, from the gdbstub if no debugger holds it, else from QMP's HMP `info registers`"),
        .init(name: "screenshot", usage: "screenshot FILE", help: "save the screen as PNG (QMP screendump)"),
        .init(name: "trace", usage: "trace [ARGS…]", help: "run `osh trace ARGS` (default: the serial log of the run in use)"),
        .init(name: "syscalls", usage: "syscalls [--watch] [--json] [--interval S]",
              help: "the kernel's syscall and method-call counts (`osh syscalls` on the run in use)"),
        .init(name: "attach", usage: "attach", help: "gdb on the VM with all symbols; quit gdb to come back"),
        .init(name: "boot", usage: "boot [ARGS…]", help: "run `osh boot ARGS` in the foreground"),
        .init(name: "use", usage: "use [RUN|latest]", help: "act on another run (a run directory or id); no argument shows it"),
        .init(name: "quit", aliases: ["exit"], usage: "quit", help: "leave the shell"),
    ]

    /// Names the completer offers.
    public static var completionNames: [String] { commands.map(\.name) + ["exit"] }

    public var runSpec: String?
    public var buildDirectory: URL?
    public var timeout: Double = 3
    /// Where output goes (stdout by default; tests capture it).
    public var output: (String) -> Void = { print($0) }
    /// The osh executable for `boot` and `trace`.
    public var oshPath: String = oshExecutablePath()
    public var gdbPath: String = "gdb"

    public init(runSpec: String? = nil, buildDirectory: URL? = nil) {
        self.runSpec = runSpec
        self.buildDirectory = buildDirectory
    }

    public enum Outcome: Equatable { case ok, failed, quit }

    /// Splits a line into words; double or single quotes group, backslash escapes.
    public static func words(_ line: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var have = false
        var quote: Character?
        var escape = false
        for ch in line {
            if escape { cur.append(ch); escape = false; continue }
            if ch == "\\" && quote != "'" { escape = true; have = true; continue }
            if let q = quote {
                if ch == q { quote = nil } else { cur.append(ch) }
                continue
            }
            if ch == "\"" || ch == "'" { quote = ch; have = true; continue }
            if ch == " " || ch == "\t" {
                if have { out.append(cur); cur = ""; have = false }
                continue
            }
            cur.append(ch)
            have = true
        }
        if have { out.append(cur) }
        return out
    }

    public static func lookup(_ word: String) -> Command? {
        commands.first { $0.name == word || $0.aliases.contains(word) }
    }

    /// Runs one line; errors are printed as one line.
    @discardableResult
    public func execute(_ line: String) -> Outcome {
        let w = Shell.words(line)
        guard let first = w.first, !first.hasPrefix("#") else { return .ok }
        guard let cmd = Shell.lookup(first) else {
            output("unknown command '\(first)' (type 'help' for the list)")
            return .failed
        }
        let args = Array(w.dropFirst())
        do {
            return try dispatch(cmd.name, args)
        } catch {
            output("\(cmd.name): \(error)")
            return .failed
        }
    }

    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    private func dispatch(_ name: String, _ args: [String]) throws -> Outcome {
        func noArgs() throws {
            if !args.isEmpty { throw UsageError(description: "takes no arguments (usage: \(Shell.lookup(name)!.usage))") }
        }
        switch name {
        case "help":
            let width = Shell.commands.map(\.usage.count).max() ?? 0
            for c in Shell.commands {
                let alias = c.aliases.isEmpty ? "" : " (also: \(c.aliases.joined(separator: ", ")))"
                output("  \(c.usage.padding(toLength: width, withPad: " ", startingAt: 0))  \(c.help)\(alias)")
            }
        case "quit":
            return .quit
        case "use":
            if args.isEmpty {
                output("using \(runSpec ?? "latest"): \(try run().url.path)")
            } else {
                guard args.count == 1 else { throw UsageError(description: "usage: use [RUN|latest]") }
                let spec = args[0] == "latest" ? nil : args[0]
                let r = try VMRun.resolve(spec.map(absolute), buildDirectory: buildDirectory)
                runSpec = spec.map(absolute)
                output("using \(r.manifest.id ?? r.url.lastPathComponent) (\(r.url.path))")
            }
        case "status":
            try noArgs()
            let r = try run()
            output("run \(r.manifest.id ?? r.url.lastPathComponent) at \(r.url.path)\(runSpec == nil ? " (latest)" : "")")
            if let pid = r.manifest.qemuPid { output("qemu pid \(pid)\(r.qemuAlive ? "" : " (exited)")") }
            let qmp = try qmpClient(r)
            defer { qmp.close() }
            let s = try qmp.queryStatus()
            output("VM \(s.running ? "running" : "paused") (\(s.status))")
        case "pause":
            try noArgs()
            try withQMP { try $0.stop() }
            output("paused")
        case "continue":
            try noArgs()
            try withQMP { try $0.cont() }
            output("running")
        case "reset":
            try noArgs()
            try withQMP { try $0.systemReset() }
            output("reset")
        case "registers":
            try noArgs()
            try registers()
        case "screenshot":
            guard args.count == 1 else { throw UsageError(description: "usage: screenshot FILE") }
            let path = absolute(args[0])
            try withQMP { try $0.screendump(to: path) }
            output("saved \(path)")
        case "syscalls":
            // `osh syscalls` on the run in use, in the foreground (Ctrl-C ends --watch, not the shell).
            return try foreground(oshPath, ["syscalls", "--run", try run().url.path] + args)
        case "trace":
            // No arguments: the serial log of the run in use; otherwise `osh trace` takes them as they are.
            let a = args.isEmpty ? [try run().serialLog] : args
            return try foreground(oshPath, ["trace"] + a)
        case "boot":
            return try foreground(oshPath, ["boot"] + args)
        case "attach":
            try noArgs()
            let r = try run()
            try AttachScript.checkRunning(r)
            let script = try AttachScript.writeScript(for: r)
            return try foreground(gdbPath, ["-q", "-x", script])
        default:
            output("\(name): not implemented")
            return .failed
        }
        return .ok
    }

    private func absolute(_ p: String) -> String {
        if p.hasPrefix("/") { return p }
        if p.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] { return home + p.dropFirst(1) }
        // A bare run id stays an id (VMRun.resolve looks it up under build/run).
        if !p.contains("/") && !FileManager.default.fileExists(atPath: p) { return p }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(p).standardizedFileURL.path
    }

    private func foreground(_ exe: String, _ args: [String]) throws -> Outcome {
        let rc = try runForeground(exe, args)
        if rc != 0 { output("(\((exe as NSString).lastPathComponent) \(args.first ?? "") exited with status \(rc))") }
        return rc == 0 ? .ok : .failed
    }

    func run() throws -> VMRun { try VMRun.resolve(runSpec, buildDirectory: buildDirectory) }

    private func qmpClient(_ r: VMRun) throws -> QMPClient {
        do { return try QMPClient(path: r.qmpSocket, timeout: timeout) } catch QMPError.socket(.notListening) {
            throw RunError.notRunning(r.url.path)
        }
    }

    private func withQMP(_ body: (QMPClient) throws -> Void) throws {
        let qmp = try qmpClient(try run())
        defer { qmp.close() }
        try body(qmp)
    }

    /// Registers from the gdbstub when no debugger holds it (connecting pauses the VM; it is
    /// resumed if it was running), else QMP `human-monitor-command info registers`.
    private func registers() throws {
        let r = try run()
        let qmp = try qmpClient(r)
        defer { qmp.close() }
        let wasRunning = try qmp.queryStatus().running
        let chardevs = try qmp.queryChardevs()
        let gdbChardev = chardevs.first { $0.value.contains(r.gdbSocket) || $0.value.contains("gdb.sock") || $0.key == "gdb0" }
        let gdbFree = gdbChardev.map { $0.value.hasPrefix("disconnected") } ?? true
        if gdbFree, let gdb = try? GDBRemoteClient(path: r.gdbSocket, timeout: 2) {
            let values: [String: UInt64]
            do {
                values = try gdb.readRegisters()
            } catch {
                gdb.close()
                if wasRunning { try qmp.cont() }
                throw error
            }
            // Close without `D` (which would resume even a paused VM); QEMU keeps the VM stopped.
            gdb.close()
            if wasRunning { try qmp.cont() }
            output(Shell.formatRegisters(values, order: gdb.layout.registers.map(\.name)))
            output("(from the gdbstub\(wasRunning ? "; VM resumed" : ""))")
        } else {
            output(try qmp.humanMonitorCommand("info registers").replacingOccurrences(of: "\r\n", with: "\n")
                .trimmingCharacters(in: .whitespacesAndNewlines))
            output("(from QMP human-monitor-command \"info registers\": the gdbstub is in use)")
        }
    }

    /// Four registers a line, in layout order; only those of 64 bits or less that were sent.
    public static func formatRegisters(_ values: [String: UInt64], order: [String]) -> String {
        let wanted = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
                      "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base",
                      "k_gs_base", "cr0", "cr2", "cr3", "cr4", "cr8", "efer"]
        let names = wanted.filter { values[$0] != nil && (order.isEmpty || order.contains($0)) }
        var lines: [String] = []
        var cur: [String] = []
        for n in names {
            let v = values[n]!
            cur.append("\(n.padding(toLength: 9, withPad: " ", startingAt: 0)) 0x\(String(format: "%016llx", v))")
            if cur.count == 3 { lines.append(cur.joined(separator: "  ")); cur = [] }
        }
        if !cur.isEmpty { lines.append(cur.joined(separator: "  ")) }
        return lines.joined(separator: "\n")
    }

    // MARK: loops

    /// Reads commands from stdin without prompts (piped input); returns the number of failed commands.
    public func runBatch() -> Int {
        var failures = 0
        while let line = readLine() {
            switch execute(line) {
            case .quit: return failures
            case .failed: failures += 1
            case .ok: break
            }
        }
        return failures
    }

    /// History file: $OSH_HISTORY, else ~/.osh_history.
    public static var historyPath: String {
        let env = ProcessInfo.processInfo.environment
        if let h = env["OSH_HISTORY"], !h.isEmpty { return h }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.osh_history"
    }

    /// The readline loop (see ShellReadline.swift).
    public func runInteractive() {
        ShellLineEditor.run(prompt: "osh> ", historyPath: Shell.historyPath) { self.execute($0) != .quit }
    }
}

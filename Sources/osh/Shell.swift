import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// osh's interactive shell: one line, one command, acting on a VM run (build/run/latest unless
/// `use RUN` picked another, or `boot` started one in the background). Every command opens its own
/// QMP/gdbstub connection and closes it, so the shell never keeps QEMU's single-client sockets busy
/// for `osh boot`, `osh syscalls` or gdb. Errors are one line, `osh: error: COMMAND: …`.
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
        .init(name: "info", usage: "info", help: "the run, QEMU, the accelerator, the command line, the modules with build IDs"),
        .init(name: "pause", aliases: ["stop"], usage: "pause", help: "pause the VM (QMP stop)"),
        .init(name: "continue", aliases: ["cont", "c"], usage: "continue", help: "resume the VM (QMP cont)"),
        .init(name: "reset", usage: "reset", help: "reset the guest (QMP system_reset; the VM and the session go on, -no-reboot or not)"),
        .init(name: "registers", aliases: ["regs"], usage: "registers",
              help: "CPU registers, from the gdbstub if no debugger holds it, else from QMP's HMP `info registers`"),
        .init(name: "x", usage: "x [-p] ADDR [COUNT]", help: "COUNT 64-bit words (default 8) of guest memory, virtual or -p physical"),
        .init(name: "bt", usage: "bt [MODULE]", help: "the current thread's backtrace through frame pointers, symbolized (user frames by the running process's program, found by build ID, or with MODULE)"),
        .init(name: "screenshot", usage: "screenshot FILE", help: "save the screen as PNG (QMP screendump)"),
        .init(name: "trace", usage: "trace [ARGS…]", help: "run `osh trace ARGS` (default: the serial log of the run in use)"),
        .init(name: "syscalls", usage: "syscalls [--watch] [--json] [--interval S]",
              help: "the kernel's syscall and method-call counts (`osh syscalls` on the run in use)"),
        .init(name: "type", usage: "type TEXT…", help: "type TEXT on the guest's keyboard (QMP send-key per character, US layout; \\n is Enter; the focused keyboard: usb-kbd under --usb, else PS/2)"),
        .init(name: "qmp", usage: "qmp CMD [key=value…]", help: "a QMP command, its reply as JSON"),
        .init(name: "hmp", usage: "hmp CMD…", help: "a QEMU monitor (HMP) command, e.g. `hmp info mem`"),
        .init(name: "attach", usage: "attach", help: "gdb on the VM with all symbols; quit gdb to come back"),
        .init(name: "boot", usage: "boot [ARGS…]", help: "start `osh boot ARGS` in the background (a tmux pane, else logged) and use its run"),
        .init(name: "console", usage: "console", help: "the terminal on the VM's serial port (of `boot`) until Ctrl-A x"),
        .init(name: "wait", usage: "wait TEXT [SECONDS]", help: "wait until the run's serial.log holds TEXT (default 60 s; for scripts)"),
        .init(name: "use", usage: "use [RUN|latest]", help: "act on another run (a run directory or id); no argument shows it"),
        .init(name: "quit", aliases: ["exit"], usage: "quit", help: "leave the shell (stopping a VM its `boot` started)"),
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
    /// Seconds `boot` waits for the new VM to answer on QMP.
    public var bootTimeout: Double = 120
    /// Seconds `reset` waits for the kernel's banner before restoring `-no-reboot`.
    public var resetBootTimeout: Double = 60
    /// The VM started by `boot`, if any.
    var background: BackgroundBoot?
    /// Per serial.log, where the last `wait` matched.
    private var waitOffsets: [String: Int] = [:]

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
            output("osh: error: unknown command '\(first)' (type 'help' for the list)")
            return .failed
        }
        let args = Array(w.dropFirst())
        do {
            return try dispatch(cmd.name, args)
        } catch {
            output("osh: error: \(cmd.name): \(error)")
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
            stopBackgroundBoot()
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
            output(try resetVM())
        case "info":
            try noArgs()
            try info()
        case "x":
            try examine(args)
        case "bt":
            try backtrace(args)
        case "type":
            guard !args.isEmpty else { throw UsageError(description: "usage: type TEXT…") }
            let chords = try KeyTyping.chords(args.joined(separator: " "))
            try withQMP { qmp in
                for chord in chords {
                    _ = try qmp.execute("send-key", KeyTyping.sendKeyArguments(chord))
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
            output("typed \(chords.count) key\(chords.count == 1 ? "" : "s")")
        case "qmp":
            try qmpPassThrough(args)
        case "hmp":
            try hmpPassThrough(args)
        case "wait":
            guard (1...2).contains(args.count), let seconds = Double(args.count == 2 ? args[1] : "60") else {
                throw UsageError(description: "usage: wait TEXT [SECONDS]")
            }
            try waitForSerial(args[0], seconds: seconds)
        case "console":
            try noArgs()
            guard let background, background.isRunning else {
                throw UsageError(description: "no VM started by this shell's `boot` is running")
            }
            try background.attachConsole(output: output)
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
            try bootInBackground(args)
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
        fflush(nil)  // our lines first: piped, stdout is block-buffered and the child writes directly
        let rc = try runForeground(exe, args)
        if rc != 0 { output("(\((exe as NSString).lastPathComponent) \(args.first ?? "") exited with status \(rc))") }
        return rc == 0 ? .ok : .failed
    }

    func run() throws -> VMRun { try VMRun.resolve(runSpec, buildDirectory: buildDirectory) }

    func qmpClient(_ r: VMRun) throws -> QMPClient {
        do { return try QMPClient(path: r.qmpSocket, timeout: timeout) } catch QMPError.socket(.notListening) {
            throw RunError.notRunning(r.url.path)
        }
    }

    private func withQMP(_ body: (QMPClient) throws -> Void) throws {
        try withQMPResult(body)
    }

    /// Runs `body` on a QMP connection to the run in use, closed afterwards.
    func withQMPResult<T>(_ body: (QMPClient) throws -> T) throws -> T {
        let qmp = try qmpClient(try run())
        defer { qmp.close() }
        return try body(qmp)
    }

    /// `boot ARGS`: `osh boot ARGS` in the background; waits until its VM answers on QMP and uses its run.
    private func bootInBackground(_ args: [String]) throws {
        if let background, background.isRunning {
            throw UsageError(description: "the VM of this shell's last `boot` still runs (end it with `qmp quit`, or quit the shell)")
        }
        let build = buildDirectory ?? VMRun.defaultBuildDirectory()
        let runRoot = build.appendingPathComponent("run")
        try? FileManager.default.createDirectory(at: runRoot, withIntermediateDirectories: true)
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: runRoot.path)) ?? [])
        var arguments = ["boot"] + args
        if buildDirectory != nil && !args.contains(where: { $0.hasPrefix("--build-dir") }) {
            arguments += ["--build-dir", build.path]
        }
        let boot = try BackgroundBoot.start(osh: oshPath, arguments: arguments,
                                            logPath: build.appendingPathComponent("shell-boot.log").path)
        background = boot
        let r = try boot.waitForRun(buildDirectory: build, before: before, timeout: bootTimeout)
        runSpec = r.url.path
        let console: String
        switch boot.place {
        case .pane(let id): console = "console in tmux pane \(id)"
        case .logged: console = "console output in \(boot.logPath ?? "?"); `console` attaches"
        }
        output("booted run \(r.manifest.id ?? r.url.lastPathComponent) in the background (\(console)); using it")
    }

    /// Polls the run's serial.log until it contains `text` after the end of the previous `wait`'s match
    /// (so after a `reset`, waiting for a boot message waits for the new boot's).
    private func waitForSerial(_ text: String, seconds: Double) throws {
        let log = try run().serialLog
        let deadline = Date().addingTimeInterval(seconds)
        let needle = Data(text.utf8)
        while true {
            let from = waitOffsets[log] ?? 0
            if let data = FileManager.default.contents(atPath: log), data.count >= from,
               let match = data.range(of: needle, in: from..<data.count) {
                waitOffsets[log] = match.upperBound
                output("seen: \(text)")
                return
            }
            guard Date() < deadline else { throw UsageError(description: "'\(text)' not in \(log) after \(seconds) s") }
            usleep(100_000)
        }
    }

    /// Ends the VM this shell's `boot` started, if it still runs.
    func stopBackgroundBoot() {
        guard let background else { return }
        if background.isRunning {
            background.stop()
            output("stopped the VM of this shell's `boot`")
        } else {
            background.stop()
        }
        self.background = nil
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
        defer { stopBackgroundBoot() }
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
        ShellLineEditor.shell = self
        ShellLineEditor.run(prompt: "osh> ", historyPath: Shell.historyPath) { self.execute($0) != .quit }
        stopBackgroundBoot()
    }
}

// The shell's `boot`: `osh boot ARGS` started in the background, so the prompt stays free for
// `pause`, `registers`, `x`, `bt`… on the new VM. Inside tmux the boot gets its own pane (its console
// there); otherwise its output goes to a log file through a relay thread, which also copies it to
// the terminal while `console` is attached. The new run is found as the run directory that was not
// there before and whose QMP socket answers.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A VM the shell started with `boot`.
final class BackgroundBoot {
    /// Where the boot's console is.
    enum Place {
        /// A tmux pane (`tmux split-window`), by pane id.
        case pane(String)
        /// A child of the shell with pipes: input to its stdin, output relayed to `log`.
        case logged(pid: pid_t, toBoot: Int32, relay: OutputRelay)
    }

    let place: Place
    /// The run directory of the VM.
    private(set) var run: VMRun?
    /// Where the console output goes when not in a pane.
    let logPath: String?

    private init(place: Place, logPath: String?) {
        self.place = place
        self.logPath = logPath
    }

    /// Starts `osh ARGS` (ARGS begins with "boot") in a tmux pane when `TMUX` is set and tmux is found,
    /// else as a child whose output goes to `logPath`.
    static func start(osh: String, arguments: [String], logPath: String) throws -> BackgroundBoot {
        if ProcessInfo.processInfo.environment["TMUX"] != nil, let tmux = findExecutable("tmux") {
            let pane = try captureOutput(tmux, ["split-window", "-d", "-v", "-l", "15", "-P", "-F", "#{pane_id}",
                                                osh] + arguments)
            return BackgroundBoot(place: .pane(pane.trimmingCharacters(in: .whitespacesAndNewlines)), logPath: nil)
        }
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw Shell.UsageError(description: "cannot open \(logPath): \(String(cString: strerror(errno)))") }
        // Its own process group: Ctrl-C at the shell's prompt or in a foreground command does not reach it.
        let child: SpawnedQEMU
        switch QEMUSpawner.spawnPiped(argv: [osh] + arguments, stderrFD: nil) {
        case .success(let c): child = c
        case .failure(let error):
            close(logFD)
            throw Shell.UsageError(description: error.message)
        }
        let pid = child.pid
        let relay = OutputRelay(from: child.fromGuest, log: logFD)
        relay.start()
        return BackgroundBoot(place: .logged(pid: pid, toBoot: child.toGuest, relay: relay), logPath: logPath)
    }

    /// Exit status of the boot child once it has ended (nil while it runs, or for a tmux pane).
    private(set) var exitStatus: Int32?

    /// True while `osh boot` runs (for a pane: while the pane exists).
    var isRunning: Bool {
        switch place {
        case .pane(let id):
            guard let tmux = findExecutable("tmux"),
                  let panes = try? captureOutput(tmux, ["list-panes", "-a", "-F", "#{pane_id}"]) else { return false }
            return panes.split(separator: "\n").contains { $0 == id }
        case .logged(let pid, _, _):
            if exitStatus != nil { return false }
            var st: Int32 = 0
            if waitpid(pid, &st, WNOHANG) == pid {
                exitStatus = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
                return false
            }
            return true
        }
    }

    /// Waits (up to `timeout` seconds) for a run directory not in `before` whose QMP socket answers.
    func waitForRun(buildDirectory: URL, before: Set<String>, timeout: Double) throws -> VMRun {
        let runRoot = buildDirectory.appendingPathComponent("run")
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: runRoot.path)) ?? []
            for name in names.sorted().reversed() where name != "latest" && !before.contains(name) {
                guard let r = try? VMRun.resolve(runRoot.appendingPathComponent(name).path), isOurs(r),
                      let qmp = try? QMPClient(path: r.qmpSocket, timeout: 2) else { continue }
                qmp.close()
                run = r
                return r
            }
            guard isRunning else {
                throw Shell.UsageError(description: "osh boot ended (status \(exitStatus.map(String.init) ?? "?")) before its VM answered on QMP\(logPath.map { "; its output is in \($0)" } ?? "")")
            }
            usleep(100_000)
        }
        throw Shell.UsageError(description: "no new VM answered on QMP within \(Int(timeout)) s\(logPath.map { "; osh boot's output is in \($0)" } ?? "")")
    }

    /// True when the run's QEMU is a child of this boot's `osh boot` (other boots may start at the same
    /// time, tests in parallel say); for a tmux pane, whose pid is not known, any new run.
    private func isOurs(_ r: VMRun) -> Bool {
        guard case .logged(let pid, _, _) = place else { return true }
        guard let qemu = r.manifest.qemuPid,
              let stat = try? String(contentsOfFile: "/proc/\(qemu)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        // "PID (COMM) STATE PPID …": the parent pid is the second field after the command name.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && Int32(fields[1]) == pid
    }

    /// Ends the boot (SIGTERM to `osh boot`, which stops QEMU; for a pane, kills the pane).
    func stop() {
        switch place {
        case .pane(let id):
            if let tmux = findExecutable("tmux") { _ = try? captureOutput(tmux, ["kill-pane", "-t", id]) }
        case .logged(let pid, let toBoot, let relay):
            if isRunning {
                kill(pid, SIGTERM)
                let deadline = Date().addingTimeInterval(10)
                while isRunning && Date() < deadline { usleep(20_000) }
                if isRunning { kill(pid, SIGKILL); while isRunning { usleep(20_000) } }
            }
            close(toBoot)
            relay.finish()
        }
    }

    /// `console`: the terminal talks to the VM's serial port until Ctrl-A x. In a tmux pane this selects
    /// the pane instead.
    func attachConsole(output: (String) -> Void) throws {
        switch place {
        case .pane(let id):
            guard let tmux = findExecutable("tmux") else { throw Shell.UsageError(description: "tmux not found") }
            _ = try captureOutput(tmux, ["select-pane", "-t", id])
            output("console: tmux pane \(id) (Ctrl-A x there ends the VM)")
        case .logged(_, let toBoot, let relay):
            guard isatty(STDIN_FILENO) == 1 else {
                throw Shell.UsageError(description: "console needs a terminal on standard input")
            }
            output("console attached (Ctrl-A x detaches; the VM goes on)")
            var original = termios()
            tcgetattr(STDIN_FILENO, &original)
            var raw = original
            cfmakeraw(&raw)
            raw.c_oflag |= tcflag_t(OPOST | ONLCR)
            tcsetattr(STDIN_FILENO, TCSANOW, &raw)  // keeps typed-ahead keys
            relay.attached = true
            defer {
                relay.attached = false
                tcsetattr(STDIN_FILENO, TCSANOW, &original)
            }
            var detacher = ConsoleDetacher()
            var buffer = [UInt8](repeating: 0, count: 1)
            while isRunning {
                var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)]
                guard poll(&fds, 1, 200) > 0 else { continue }
                // One byte at a time: what follows Ctrl-A x stays unread, for the shell's prompt.
                let n = read(STDIN_FILENO, &buffer, 1)
                if n <= 0 { break }
                let (send, detach) = detacher.feed(buffer[0..<n])
                if !send.isEmpty { _ = send.withUnsafeBytes { write(toBoot, $0.baseAddress, $0.count) } }
                if detach { break }
            }
            FileHandle.standardOutput.write(Data("\r\n".utf8))
            output(isRunning ? "console detached" : "osh boot ended")
        }
    }
}

/// Finds Ctrl-A x in the keyboard stream of `console`; every other byte (a Ctrl-A followed by another
/// key included) goes to `osh boot`, which decodes its own Ctrl-A keys.
struct ConsoleDetacher {
    private var pendingEscape = false

    /// The bytes to send, and whether Ctrl-A x was seen (bytes after it are dropped).
    mutating func feed<S: Sequence>(_ bytes: S) -> (send: [UInt8], detach: Bool) where S.Element == UInt8 {
        var out: [UInt8] = []
        for byte in bytes {
            if pendingEscape {
                pendingEscape = false
                if byte == UInt8(ascii: "x") || byte == UInt8(ascii: "X") { return (out, true) }
                out += [0x01, byte]
            } else if byte == 0x01 {
                pendingEscape = true
            } else {
                out.append(byte)
            }
        }
        return (out, false)
    }
}

/// Copies a child's output to a log file, and to standard output while `attached`, on its own thread.
final class OutputRelay: @unchecked Sendable {
    private let from: Int32
    private let log: Int32
    private let lock = NSLock()
    private var _attached = false
    private let done = DispatchSemaphore(value: 0)

    init(from: Int32, log: Int32) {
        self.from = from
        self.log = log
    }

    /// True while the terminal shows the output (`console`).
    var attached: Bool {
        get { lock.withLock { _attached } }
        set { lock.withLock { _attached = newValue } }
    }

    func start() {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(from, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                _ = buffer.withUnsafeBytes { write(log, $0.baseAddress, n) }
                if attached { _ = buffer.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, n) } }
            }
            done.signal()
        }
        thread.start()
    }

    /// Waits for the end of the output (the child has exited) and closes the files.
    func finish() {
        _ = done.wait(timeout: .now() + 5)
        close(from)
        close(log)
    }
}

/// The standard output of a program run to completion; throws when it fails.
func captureOutput(_ executable: String, _ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw Shell.UsageError(description: "\(executable) \(arguments.first ?? "") failed (status \(p.terminationStatus))")
    }
    return String(decoding: data, as: UTF8.self)
}

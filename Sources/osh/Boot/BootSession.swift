// The impure part of `osh boot`: spawning QEMU, the terminal, signals, and the poll() loop that moves
// bytes between the serial port, serial.log and the terminal.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Terminal

/// The terminal state saved before raw mode, restored on every exit path (also from atexit).
nonisolated(unsafe) private var savedTerminal: termios? = nil
nonisolated(unsafe) private var atexitInstalled = false

public enum ConsoleTerminal {
    /// Puts stdin's terminal in raw mode (output post-processing kept, so `\n` still starts a new
    /// line). Returns false when stdin is not a terminal.
    @discardableResult
    public static func enterRawMode() -> Bool {
        guard isatty(STDIN_FILENO) == 1 else { return false }
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return false }
        var raw = original
        cfmakeraw(&raw)
        raw.c_oflag = original.c_oflag
        savedTerminal = original
        if !atexitInstalled {
            atexitInstalled = true
            atexit { ConsoleTerminal.restore() }
        }
        return tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0
    }

    /// Restores the saved terminal state, if any. Idempotent.
    public static func restore() {
        guard var original = savedTerminal else { return }
        savedTerminal = nil
        _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
    }
}

// MARK: - Signals

/// Write end of the self-pipe that turns SIGINT/SIGTERM/SIGHUP into a readable byte for poll().
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

enum SignalPipe {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Installs the handlers and returns the read end (non-blocking).
    static func install() -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard FD.makePipe(&fds) else { return -1 }
        FD.setNonBlocking(fds[0])
        FD.setNonBlocking(fds[1])
        signalPipeWrite = fds[1]
        for sig in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signo in
                var byte = UInt8(truncatingIfNeeded: signo)
                _ = write(signalPipeWrite, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        // A parent may have started osh with these signals blocked (libdispatch worker threads block
        // them, and the mask is inherited): unblock them, or SIGTERM would never reach the handler.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for sig in signals { sigaddset(&unblock, sig) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        // Writes to a closed pipe (QEMU gone, stdout closed) must fail with EPIPE, not kill osh.
        signal(SIGPIPE, SIG_IGN)
        return fds[0]
    }

    static func uninstall(readEnd: Int32) {
        for sig in signals { signal(sig, SIG_DFL) }
        if readEnd >= 0 { close(readEnd) }
        if signalPipeWrite >= 0 { close(signalPipeWrite); signalPipeWrite = -1 }
    }
}

// MARK: - Low-level I/O

enum FD {
    /// Writes all bytes (retrying on EINTR and partial writes). False on error (EPIPE, EAGAIN...).
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    static func writeAll(_ fd: Int32, _ text: String) { writeAll(fd, Array(text.utf8)) }

    /// pipe() with both ends close-on-exec (pipe2 is not visible from Swift's Glibc module).
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Finds an executable: a path with a slash is taken as is, a bare name is looked up in PATH.
public func findExecutable(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        var st = stat()
        if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
            return candidate
        }
    }
    return nil
}

// MARK: - Spawning QEMU

struct SpawnError: Error {
    var message: String
}

struct SpawnedQEMU {
    var pid: pid_t
    /// osh's end of QEMU's stdin (serial input).
    var toGuest: Int32
    /// osh's end of QEMU's stdout (serial output).
    var fromGuest: Int32
}

enum QEMUSpawner {
    /// A command prefix that makes the kernel send QEMU SIGTERM when osh dies, even by SIGKILL
    /// (util-linux `setpriv --pdeathsig`; it execs QEMU, so QEMU keeps its pid). Empty when setpriv
    /// is missing or too old; then a SIGKILLed osh leaves QEMU running.
    static let deathSignalLauncher: [String] = {
        guard let setpriv = findExecutable("setpriv") else { return [] }
        let prefix = [setpriv, "--pdeathsig", "TERM", "--"]
        let check = Process()
        check.executableURL = URL(fileURLWithPath: setpriv)
        check.arguments = Array(prefix.dropFirst()) + ["true"]
        check.standardInput = FileHandle.nullDevice
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return [] }
        check.waitUntilExit()
        return check.terminationStatus == 0 ? prefix : []
    }()

    /// Starts `argv` with stdin/stdout as pipes and stderr appended to `stderrPath`, in its own process
    /// group (so terminal signals reach only osh, which then terminates QEMU).
    static func spawn(argv: [String], stderrPath: String) -> Result<SpawnedQEMU, SpawnError> {
        let logFD = open(stderrPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else {
            return .failure(SpawnError(message: "cannot open \(stderrPath): \(String(cString: strerror(errno)))"))
        }
        defer { close(logFD) }
        let spawned = spawnPiped(argv: argv, stderrFD: logFD)
        if case .success(let child) = spawned { FD.setNonBlocking(child.toGuest) }
        return spawned
    }

    /// Starts `argv` in its own process group with default signal dispositions and an empty signal mask,
    /// its stdin and stdout on pipes whose other ends (close-on-exec) are returned, its stderr on
    /// `stderrFD`, or on the stdout pipe when nil. QEMU under `osh boot`, and `osh boot` under the shell.
    static func spawnPiped(argv: [String], stderrFD: Int32?) -> Result<SpawnedQEMU, SpawnError> {
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        guard FD.makePipe(&input), FD.makePipe(&output) else {
            return .failure(SpawnError(message: "cannot create pipes: \(String(cString: strerror(errno)))"))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrFD ?? output[1], 2)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, environ)
        close(input[0])
        close(output[1])
        guard rc == 0 else {
            close(input[1])
            close(output[0])
            return .failure(SpawnError(message: "cannot start \(argv[0]): \(String(cString: strerror(rc)))"))
        }
        return .success(SpawnedQEMU(pid: pid, toGuest: input[1], fromGuest: output[0]))
    }
}

// MARK: - The session

/// One QEMU process from spawn to exit, with the console loop.
final class BootSession {
    struct Settings {
        var argv: [String]
        /// Prepended to argv when spawning (QEMUSpawner.deathSignalLauncher).
        var launcher: [String] = []
        var qemuLogPath: String
        /// serial.log, opened by the caller (kept across a KVM→TCG restart).
        var serialLogFD: Int32
        /// `--log FILE`, or -1.
        var logCopyFD: Int32 = -1
        /// Seconds from the start of this session, nil for none.
        var timeout: Double?
        /// osh's own QMP socket (VMWatcher), nil for no watching.
        var watchSocket: String?
        /// Where the full `info registers` text goes when the VM stops (nil: not kept).
        var registersPath: String?
        /// A note printed once when the guest printed nothing for this long (the VM keeps running).
        var silenceNote: (seconds: Double, text: String)?
        /// Forward stdin to the guest (escape keys decoded).
        var forwardInput = true
        var stdinFD: Int32 = STDIN_FILENO
        var stdoutFD: Int32 = STDOUT_FILENO
        var stderrFD: Int32 = STDERR_FILENO
        /// `--dump-on-panic`: when the kernel prints its `panic=halt` line, dump the guest's memory to
        /// this path through the QMP socket `dumpQMPSocket`, then end QEMU.
        var panicDumpPath: String?
        var dumpQMPSocket: String?
        /// `--exec`/`--script`: types commands into the guest's shell; only their output is shown.
        var exec: ExecDriver?
    }


    var settings: Settings
    var filter: any SerialConsoleFilter
    var lines = SerialLineSplitter()
    var escape = EscapeKeyDecoder()
    private(set) var sawSerialByte = false
    private(set) var testResult: String?
    /// The kernel printed that it halted after a panic (`panic=halt`).
    private(set) var sawPanicHalt = false
    /// CPU 0's registers (one-line summary) read when the timeout ended the run, if QMP answered.
    private(set) var registersAtTimeout: String?
    /// Called with QEMU's pid right after it started.
    var onStarted: (pid_t) -> Void = { _ in }
    /// The read end of the signal self-pipe, -1 for none.
    var signalFD: Int32 = -1
    private var logOffset = 0
    /// Warnings already given about serial.log (ENOSPC, deleted run directory): each once.
    private var serialLogWarned = false
    private var logCopyWarned = false
    /// osh's QMP watcher of the running VM, if any.
    private var watcher: VMWatcher?
    private var lastHealthCheck = 0.0
    /// QEMU's serial input (for --exec), -1 before it starts.
    private var toGuest: Int32 = -1
    /// The status the --exec command ended with.
    private(set) var execStatus: Int32?

    init(settings: Settings, filter: any SerialConsoleFilter) {
        self.settings = settings
        self.filter = filter
    }

    func run() -> RunOutcome {
        // Only this session's part of qemu.log explains this session's end (a KVM attempt came before).
        var st = stat()
        logOffset = stat(settings.qemuLogPath, &st) == 0 ? Int(st.st_size) : 0
        let qemu: SpawnedQEMU
        switch QEMUSpawner.spawn(argv: settings.launcher + settings.argv, stderrPath: settings.qemuLogPath) {
        case let .failure(error): return .spawnFailed(message: error.message)
        case let .success(spawned): qemu = spawned
        }
        onStarted(qemu.pid)
        toGuest = qemu.toGuest
        let watcher = settings.watchSocket.map {
            VMWatcher(socketPath: $0, qemuLogPath: settings.qemuLogPath, logOffset: logOffset)
        }
        self.watcher = watcher
        defer {
            watcher?.close()
            close(qemu.toGuest)
            close(qemu.fromGuest)
        }
        let start = FD.now()
        var stdinOpen = settings.forwardInput
        var guestOpen = true
        var buffer = [UInt8](repeating: 0, count: 65536)

        while true {
            if let status = reap(qemu.pid, blocking: !guestOpen) {
                drain(qemu.fromGuest, &buffer)
                return exitOutcome(status)
            }
            if let watcher {
                watcher.connectIfReady()
                if let cause = watcher.check() {
                    drain(qemu.fromGuest, &buffer)
                    let registers = watcher.registers()
                    // QEMU 9 and later end an isa-debug-exit write as a guest shutdown, which
                    // shutdown=pause holds (QEMU 7.2 exits at once), and keep the guest's status for
                    // QEMU's own exit: a QMP quit ends QEMU with it. A real power-off or reset
                    // exits with 0. (A guest that wrote its status before osh's QMP connection was up
                    // is seen through query-status, as a shutdown without a reason: a reset.) Other
                    // stops end QEMU by signal, as before.
                    let shutdown = cause == .guestPoweredOff || cause == .guestReset
                    if shutdown, let status = quit(qemu, watcher), BootSession.isGuestStatus(status) {
                        drain(qemu.fromGuest, &buffer)
                        return exitOutcome(status)
                    }
                    if !shutdown { terminate(qemu) }
                    if let registers, let path = settings.registersPath {
                        try? registers.write(toFile: path, atomically: false, encoding: .utf8)
                    }
                    return .vmStopped(cause: cause, registers: registers.map(VMStopClassifier.summary))
                }
            }
            if let status = execStatus {
                terminate(qemu)
                return .execFinished(status: status)
            }
            if sawPanicHalt, let core = settings.panicDumpPath, let socket = settings.dumpQMPSocket {
                return dumpAfterPanic(qemu, core: core, qmpSocket: socket)
            }
            let now = FD.now()
            if let timeout = settings.timeout, now - start >= timeout {
                registersAtTimeout = watcher?.registers().map(VMStopClassifier.summary)
                terminate(qemu)
                return .timedOut(seconds: timeout)
            }
            if now - lastHealthCheck >= 0.5 {
                lastHealthCheck = now
                checkSerialLog()
                if let note = settings.silenceNote, !sawSerialByte, now - start >= note.seconds {
                    settings.silenceNote = nil
                    FD.writeAll(settings.stderrFD, "osh: \(note.text)\r\n")
                }
            }
            var waitMs = 250.0
            if let timeout = settings.timeout { waitMs = min(waitMs, (start + timeout - now) * 1000) }

            var fds: [pollfd] = []
            if guestOpen { fds.append(pollfd(fd: qemu.fromGuest, events: Int16(POLLIN), revents: 0)) }
            if stdinOpen { fds.append(pollfd(fd: settings.stdinFD, events: Int16(POLLIN), revents: 0)) }
            if signalFD >= 0 { fds.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
            if let fd = watcher?.fileDescriptor, fd >= 0 { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(max(0, waitMs.rounded(.up))))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }

            for entry in fds where entry.revents != 0 {
                if entry.fd == qemu.fromGuest {
                    let n = read(qemu.fromGuest, &buffer, buffer.count)
                    if n > 0 {
                        handleSerial(Array(buffer[0..<n]))
                    } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                        guestOpen = false  // QEMU is exiting; reap it (blocking) next round
                    }
                } else if entry.fd == settings.stdinFD {
                    let n = read(settings.stdinFD, &buffer, buffer.count)
                    if n > 0 {
                        for action in escape.feed(buffer[0..<n]) {
                            switch action {
                            case let .send(bytes):
                                FD.writeAll(qemu.toGuest, bytes)
                            case .help:
                                FD.writeAll(settings.stderrFD, EscapeKeyDecoder.helpText)
                            case .quit:
                                terminate(qemu)
                                drain(qemu.fromGuest, &buffer)
                                return .userQuit
                            }
                        }
                    } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                        // End of input (CI, </dev/null): keep running, stop reading.
                        stdinOpen = false
                    }
                } else if entry.fd == signalFD {
                    var byte: UInt8 = 0
                    if read(signalFD, &byte, 1) == 1 {
                        terminate(qemu)
                        drain(qemu.fromGuest, &buffer)
                        return .interrupted(signal: Int32(byte))
                    }
                }
            }
        }
        terminate(qemu)
        return .spawnFailed(message: "poll failed: \(String(cString: strerror(errno)))")
    }

    /// `--dump-on-panic`: the kernel halted after its panic report; dump the guest, then end QEMU.
    private func dumpAfterPanic(_ qemu: SpawnedQEMU, core: String, qmpSocket: String) -> RunOutcome {
        FD.writeAll(settings.stderrFD, "\r\nosh: kernel panic: dumping the guest's memory to \(core)\r\n")
        var failure: String?
        do { try CoreDump.dump(qmpSocket: qmpSocket, to: core) } catch { failure = "\(error)" }
        terminate(qemu)
        return failure == nil ? .panicDumped(core: core, error: nil) : .panicDumped(core: nil, error: failure)
    }

    /// Raw bytes to serial.log (and --log) first, then through the filter to the terminal.
    func handleSerial(_ chunk: [UInt8]) {
        sawSerialByte = true
        watcher?.guestPrinted()
        if !FD.writeAll(settings.serialLogFD, chunk) {
            warnSerialLog("cannot write serial.log: \(String(cString: strerror(errno)))")
        }
        if settings.logCopyFD >= 0, !FD.writeAll(settings.logCopyFD, chunk), !logCopyWarned {
            logCopyWarned = true
            FD.writeAll(settings.stderrFD, "\r\nosh: warning: cannot write the --log copy: \(String(cString: strerror(errno))); serial output goes on to the terminal and serial.log\r\n")
        }
        for line in lines.feed(chunk) {
            if TestResultLine.parse(line) != nil { testResult = line.trimmingCharacters(in: .whitespaces) }
            if line.contains(CoreDump.haltedLine) { sawPanicHalt = true }
        }
        if settings.exec != nil {
            for action in settings.exec!.feed(chunk) {
                switch action {
                case let .send(bytes): if toGuest >= 0 { FD.writeAll(toGuest, bytes) }
                case let .output(line): FD.writeAll(settings.stdoutFD, line + "\n")
                case let .finished(status): execStatus = status
                }
            }
            return
        }
        let shown = filter.process(chunk)
        if !shown.isEmpty { FD.writeAll(settings.stdoutFD, shown) }
    }

    /// A deleted run directory leaves serial.log without a name: say so once (output goes on to the
    /// terminal and to --log).
    private func checkSerialLog() {
        var st = stat()
        if fstat(settings.serialLogFD, &st) == 0, st.st_nlink == 0 {
            warnSerialLog("the run directory was deleted while the VM runs (serial.log is gone)")
        }
    }

    private func warnSerialLog(_ problem: String) {
        guard !serialLogWarned else { return }
        serialLogWarned = true
        let copy = settings.logCopyFD >= 0 ? " and to --log" : ""
        FD.writeAll(settings.stderrFD, "\r\nosh: warning: \(problem); serial output goes on to the terminal\(copy)\r\n")
    }

    /// Flushes what the filter held back and the last unterminated line.
    func finishOutput() {
        if let line = lines.finish(), TestResultLine.parse(line) != nil { testResult = line }
        guard settings.exec == nil else { return }
        let rest = filter.finish()
        if !rest.isEmpty { FD.writeAll(settings.stdoutFD, rest) }
    }

    /// Reads what QEMU wrote before it went away.
    private func drain(_ fd: Int32, _ buffer: inout [UInt8]) {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&pfd, 1, 50) > 0 {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            handleSerial(Array(buffer[0..<n]))
        }
    }

    private func reap(_ pid: pid_t, blocking: Bool) -> Int32? {
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if rc == pid { return status }
            if rc < 0 && errno == EINTR { continue }
            return nil
        }
    }

    private func exitOutcome(_ status: Int32) -> RunOutcome {
        // WIFEXITED / WEXITSTATUS / WTERMSIG by hand (macros are not imported).
        let termSignal = status & 0x7f
        if termSignal == 0 {
            let code = (status >> 8) & 0xff
            let data = (try? Data(contentsOf: URL(fileURLWithPath: settings.qemuLogPath))) ?? Data()
            let log = String(decoding: data.dropFirst(logOffset), as: UTF8.self)
            return .qemuExited(status: code, errorLine: BootStatusMapping.qemuErrorLine(stderr: log))
        }
        return .qemuSignaled(signal: termSignal)
    }

    /// Whether a wait status is QEMU's exit with an isa-debug-exit status, (V << 1) | 1.
    static func isGuestStatus(_ status: Int32) -> Bool {
        status & 0x7f == 0 && (status >> 8) & 1 == 1
    }

    /// Ends a stopped VM through QMP `quit` (QEMU 10 holds a guest shutdown under shutdown=pause and
    /// ignores SIGTERM then) and returns its wait status; if QEMU is not gone within 10 s, `terminate`
    /// ends it and the result is nil.
    private func quit(_ qemu: SpawnedQEMU, _ watcher: VMWatcher) -> Int32? {
        // QEMU may close the socket before it answers: the exit is what counts.
        // Under a heavy host load (and in a replay) QEMU can take seconds to get there: 10 s, then a line
        // that says so, so that a status lost this way is told from a guest that gave none.
        let asked = (try? watcher.client?.execute("quit")) != nil
        let deadline = FD.now() + 10
        var status: Int32 = 0
        while FD.now() < deadline {
            let rc = waitpid(qemu.pid, &status, WNOHANG)
            if rc == qemu.pid { return status }
            if rc < 0 && errno != EINTR { return nil }
            usleep(20_000)
        }
        FD.writeAll(settings.stderrFD, "osh: QEMU did not exit within 10 s of QMP quit\(asked ? "" : " (the quit got no answer)"); ending it\r\n")
        terminate(qemu)
        return nil
    }

    /// SIGTERM, then SIGKILL after 3 s; waits for QEMU to be gone.
    private func terminate(_ qemu: SpawnedQEMU) {
        kill(qemu.pid, SIGTERM)
        let deadline = FD.now() + 3
        var status: Int32 = 0
        while FD.now() < deadline {
            let rc = waitpid(qemu.pid, &status, WNOHANG)
            if rc == qemu.pid || (rc < 0 && errno == ECHILD) { return }
            usleep(20_000)
        }
        kill(qemu.pid, SIGKILL)
        while waitpid(qemu.pid, &status, 0) < 0 && errno == EINTR {}
    }
}

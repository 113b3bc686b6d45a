import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, sharing our terminal (stdin/out/err inherited unless
/// redirected to /dev/null). Used for QEMU in tests and for foreground commands of the shell.
public final class ChildProcess {
    public let pid: pid_t
    public private(set) var exitStatus: Int32?

    /// Spawns `executable` (a path, or a name looked up in PATH) with `arguments` (without argv[0]).
    public init(_ executable: String, _ arguments: [String], quiet: Bool = false, defaultSignals: Bool = true) throws {
        let argv = [executable] + arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        if quiet {
            posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        if defaultSignals {
            // The shell ignores SIGINT while a foreground child runs; the child must not inherit that.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGQUIT)
            sigaddset(&set, SIGPIPE)
            posix_spawnattr_setsigdefault(&attr, &set)
            // Threads of a test runner or of Dispatch may block signals; do not pass that on
            // (QEMU would then ignore SIGTERM).
            var empty = sigset_t()
            sigemptyset(&empty)
            posix_spawnattr_setsigmask(&attr, &empty)
            posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        }
        var p: pid_t = 0
        let rc = executable.contains("/")
            ? posix_spawn(&p, executable, &fa, &attr, cargs, environ)
            : posix_spawnp(&p, executable, &fa, &attr, cargs, environ)
        guard rc == 0 else { throw SocketError.system(call: "spawn \(executable)", errno: rc) }
        pid = p
    }

    /// True until the child has exited (reaps it when it has).
    public var isRunning: Bool {
        if exitStatus != nil { return false }
        var st: Int32 = 0
        let r = waitpid(pid, &st, WNOHANG)
        if r == pid { exitStatus = ChildProcess.decode(st); return false }
        return r == 0
    }

    /// Waits for exit; returns the exit code (128+signal if killed).
    @discardableResult
    public func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 {
            if errno != EINTR { exitStatus = -1; return -1 }
        }
        exitStatus = ChildProcess.decode(st)
        return exitStatus!
    }

    /// Waits in the foreground: SIGINT/SIGQUIT are ignored by us meanwhile (the child gets them).
    @discardableResult
    public func waitForeground() -> Int32 {
        let oldInt = signal(SIGINT, SIG_IGN)
        let oldQuit = signal(SIGQUIT, SIG_IGN)
        defer { signal(SIGINT, oldInt); signal(SIGQUIT, oldQuit) }
        return wait()
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; reaps the child.
    public func terminate(grace: Double = 5) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(10_000) }
        if isRunning { kill(pid, SIGKILL) }
        wait()
    }

    static func decode(_ st: Int32) -> Int32 {
        let sig = st & 0x7f
        return sig == 0 ? (st >> 8) & 0xff : 128 + sig
    }

    deinit { if exitStatus == nil { terminate(grace: 1) } }
}

/// Runs a program to completion in the foreground, returning its exit code.
@discardableResult
public func runForeground(_ executable: String, _ arguments: [String]) throws -> Int32 {
    try ChildProcess(executable, arguments).waitForeground()
}

/// The running osh executable (for spawning `osh boot` / `osh trace` from the shell).
public func oshExecutablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

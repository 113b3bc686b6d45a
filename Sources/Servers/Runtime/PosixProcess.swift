// POSIX processes, time and the environment: posix_spawn/posix_spawnp (through pm, with file actions for
// redirections), waitpid, exit, getpid/getppid, kill, clock_gettime, nanosleep, getenv/setenv/unsetenv,
// the arguments (argv), and Swift conveniences: readLine from descriptor 0, printing to stderr.
//
// A child gets descriptors 0, 1 and 2 of its parent (each handed over with the file protocol's `share`,
// so the child holds the same open file), changed by the file actions; other descriptors are not
// inherited (as if close-on-exec). A server that cannot `share` (initfsd) gets the file opened afresh
// through a new connection at the same position instead. The child's environment is the given one (the
// parent's by default) with PWD set to the parent's working directory.

public let WNOHANG: Int32 = 1
public let SIGHUP: Int32 = 1, SIGINT: Int32 = 2, SIGQUIT: Int32 = 3, SIGKILL: Int32 = 9, SIGSEGV: Int32 = 11
public let SIGPIPE: Int32 = 13, SIGALRM: Int32 = 14, SIGTERM: Int32 = 15
public let SIGILL: Int32 = 4, SIGTRAP: Int32 = 5, SIGABRT: Int32 = 6, SIGFPE: Int32 = 8, SIGUSR1: Int32 = 10, SIGUSR2: Int32 = 12
public let CLOCK_REALTIME: Int32 = 0, CLOCK_MONOTONIC: Int32 = 1

public func WIFEXITED(_ status: Int32) -> Bool { status & 0x7f == 0 }
public func WEXITSTATUS(_ status: Int32) -> Int32 { (status >> 8) & 0xff }
public func WIFSIGNALED(_ status: Int32) -> Bool { status & 0x7f != 0 }
public func WTERMSIG(_ status: Int32) -> Int32 { status & 0x7f }

/// A wait status (Linux's layout) from pm's exit status: a code, a fault (a signal named after the
/// vector) or a kill (the signal pm recorded for it, `signal`: w3 of its wait reply; SIGKILL without one).
public func waitStatus(_ code: UInt64, signal: UInt64 = 0) -> Int32 {
    if code == ExitCode.stopped {
        return signal >= 1 && signal <= ProcessProtocol.maxSignal ? Int32(signal) : SIGKILL
    }
    if ExitCode.isFault(code) {
        switch code & 0xff {
        case 0, 16, 19: return SIGFPE
        case 6: return SIGILL
        case 1, 3: return SIGTRAP
        default: return SIGSEGV
        }
    }
    return Int32(truncatingIfNeeded: code & 0xff) << 8
}

/// The shell's view of a wait status: the exit code, or 128 + the signal.
public func exitStatus(_ status: Int32) -> Int32 { WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status) }

/// What posix_spawn does to the child's descriptors before it starts, in order.
public struct PosixSpawnFileActions {
    enum Action {
        case dup2(Int32, Int32)
        case close(Int32)
        case open(Int32, String, Int32, UInt32)
    }
    var actions: [Action] = []
    public init() {}
    /// The child's `new` is the parent's `old`.
    public mutating func addDup2(_ old: Int32, _ new: Int32) { actions.append(.dup2(old, new)) }
    public mutating func addClose(_ fd: Int32) { actions.append(.close(fd)) }
    /// The child's `fd` is `path` opened with `flags` (relative to the parent's working directory).
    public mutating func addOpen(_ fd: Int32, _ path: String, _ flags: Int32, _ mode: UInt32 = 0o644) {
        actions.append(.open(fd, path, flags, mode))
    }
}

/// Starts the program at `path` (a URI or a path; relative to the working directory) with `argv`
/// (argv[0] is its name) through pm; 0 and the child's id in `pid`, or an errno value.
public func posix_spawn(_ pid: inout Int32, _ path: String, _ fileActions: PosixSpawnFileActions? = nil,
                        _ argv: [String], _ envp: [String]? = nil) -> Int32 {
    guard Posix.pm != .invalid else { return ENOSYS }
    let abs = Posix.absolute(path)
    let uri = abs.hasPrefix("/") ? "fs://" + abs : abs
    // The child's descriptors: parent descriptions (kept) and files opened for it (closed after).
    var child: [Int32: PosixOpenFile] = [:]
    var opened: [Int32] = []
    defer { for fd in opened { _ = close(fd) } }
    for fd: Int32 in 0...2 { if let d = Posix.table.count > Int(fd) ? Posix.table[Int(fd)] : nil { child[fd] = d } }
    for action in fileActions?.actions ?? [] {
        switch action {
        case .dup2(let old, let new):
            guard let d = child[old] ?? (Posix.isOpen(old) ? Posix.table[Int(old)] : nil) else { return EBADF }
            child[new] = d
        case .close(let fd): child[fd] = nil
        case .open(let fd, let file, let flags, let mode):
            let tmp = open(file, flags, mode)
            guard tmp >= 0 else { return errno }
            opened.append(tmp)
            child[fd] = Posix.table[Int(tmp)]
        }
    }
    guard child.count <= ProcessProtocol.maxSpawnHandles else { return E2BIG }
    var handles: [Handle] = []
    var names: [(name: [UInt8], value: UInt64)] = []
    for fd in child.keys.sorted() {
        do throws(FileError) {
            let (sender, file) = try shareDescription(child[fd]!)
            handles.append(sender)
            names.append((Array("fd:\(fd)".utf8), file))
        } catch {
            for h in handles { _ = try? handleClose(h) }
            return Posix.fail(error) < 0 ? errno : EIO
        }
    }
    var environment = envp ?? Posix.environment
    environment.removeAll { $0.hasPrefix("PWD=") || $0.hasPrefix("_=") }
    environment.append("PWD=" + Posix.cwd)
    // The program's path as `_` (as bash passes it): the child's argv[0] is its last component, so a
    // program with several names (coreutils' links) knows which one it was started by.
    environment.append("_=" + uri)
    let p = Array(uri.utf8)
    var a: [UInt8] = [], e: [UInt8] = []
    for s in argv.dropFirst() { a += Array(SpawnArguments.escape(s).utf8) + [0] }
    for s in environment { e += Array(s.utf8) + [0] }
    let table = SpawnNames.encode(names)
    let bytes = p + a + e + table
    guard bytes.count <= IPCBuffer.maxBytes else {
        for h in handles { _ = try? handleClose(h) }
        return E2BIG
    }
    let tag = IPCTag(words: 4, bytes: bytes.count, handles: handles.count, label: ProcessOp.spawn.rawValue)
    let message = IPCMessage(tag: tag, words: (UInt64(p.count), UInt64(a.count), UInt64(e.count), UInt64(table.count)))
    do throws(ServiceError) {
        let reply = try Posix.pmCall(message, bytes: bytes, handles: handles)
        pid = Int32(truncatingIfNeeded: reply.words.1)
        return 0
    } catch {
        // pm closes what it was sent; a failed send leaves them here.
        if error == .io || error == .notSupported { for h in handles { _ = try? handleClose(h) } }
        return Int32(truncatingIfNeeded: error.rawValue)
    }
}

/// posix_spawn with `file` looked up in PATH (default `initfs:///bin`) when it has no `/`.
public func posix_spawnp(_ pid: inout Int32, _ file: String, _ fileActions: PosixSpawnFileActions? = nil,
                         _ argv: [String], _ envp: [String]? = nil) -> Int32 {
    guard let path = findInPath(file) else { return ENOENT }
    return posix_spawn(&pid, path, fileActions, argv, envp)
}

/// Where PATH finds `name` (a name with a `/` is returned as it is), or nil.
public func findInPath(_ name: String) -> String? {
    if name.contains("/") { return name }
    guard !name.isEmpty else { return nil }
    for dir in searchPath(getenv("PATH") ?? "initfs:///bin") where !dir.isEmpty {
        let candidate = dir.hasSuffix("/") ? String(dir) + name : String(dir) + "/" + name
        var st = Stat()
        if stat(candidate, &st) == 0 && !st.isDirectory { return candidate }
    }
    return nil
}

/// PATH's directories: separated by `:`, except the `:` of a URI's scheme (`scheme://`), so
/// `initfs:///bin:/bin` is initfs:///bin and /bin.
public func searchPath(_ path: String) -> [String] {
    var out: [String] = []
    var current: [UInt8] = []
    let b = Array(path.utf8)
    var i = 0
    while i < b.count {
        if b[i] == UInt8(ascii: ":") && !(i + 2 < b.count && b[i + 1] == UInt8(ascii: "/") && b[i + 2] == UInt8(ascii: "/")) {
            out.append(String(decoding: current, as: UTF8.self))
            current = []
        } else {
            current.append(b[i])
        }
        i += 1
    }
    out.append(String(decoding: current, as: UTF8.self))
    return out
}

/// A Sender holding `d`'s open file for another process, and the file's id there.
func shareDescription(_ d: PosixOpenFile) throws(FileError) -> (Handle, UInt64) {
    do throws(FileError) {
        var sender = Handle.invalid
        let reply = try Posix.call(d.sender, .share, [d.file]) { reply, page in
            if reply.tag.handles >= 1 { sender = page.handle(0) }
            page.closeReceived(0)
        }
        guard sender != .invalid else { throw FileError.io }
        return (sender, reply.words.0)
    } catch {
        guard error == .notSupported, let uri = d.uri else { throw error }
        // The same file opened afresh on a connection of the child's own, at the same position.
        var connection = Handle.invalid
        _ = try Posix.call(d.sender, .connect, []) { reply, page in if reply.tag.handles >= 1 { connection = page.handle(0) } }
        guard connection != .invalid else { throw FileError.io }
        do throws(FileError) {
            let flags = d.flags.subtracting([.create, .truncate, .exclusive])
            let id = try Posix.call(connection, .open, [flags.rawValue, 0], bytes: Array(uri.utf8)).words.0
            if let position = try? Posix.call(d.sender, .seek, [d.file, 0, SeekOrigin.current.rawValue]).words.0, position > 0 {
                _ = try Posix.call(connection, .seek, [id, position, SeekOrigin.start.rawValue])
            }
            return (connection, id)
        } catch {
            _ = try? handleClose(connection)
            throw error
        }
    }
}

/// Waits for child `pid` (-1 or 0: any); its id, with its wait status in `status`. WNOHANG: 0 when it
/// is still running.
public func waitpid(_ pid: Int32, _ status: inout Int32, _ options: Int32 = 0) -> Int32 {
    let id: UInt32 = pid > 0 ? UInt32(pid) : 0
    if options & WNOHANG != 0 {
        do throws(ServiceError) {
            let mine = try ProcessList.all().filter { (id == 0 || $0.id == id) && $0.parent == UInt32(bitPattern: getpid()) }
            guard !mine.isEmpty else { errno = ECHILD; return -1 }
            if !mine.contains(where: { $0.state == .exited }) { return 0 }
        } catch { return Posix.fail(error) }
    }
    do throws(ServiceError) {
        let reply = try Posix.pmCall(IPCMessage(label: ProcessOp.wait.rawValue, UInt64(id)))
        status = waitStatus(reply.words.2, signal: reply.words.3)
        return Int32(truncatingIfNeeded: reply.words.1)
    } catch { return Posix.fail(error) }
}

/// Ends the process: output flushed, descriptors closed.
public func exit(_ code: Int32) -> Never {
    Output.flush()
    for fd in 0..<Posix.table.count where Posix.table[fd] != nil { _ = close(Int32(fd)) }
    processExit(UInt64(UInt32(bitPattern: code)))
}

/// This process's id as pm numbers it (0 when pm did not start it).
public func getpid() -> Int32 {
    if Posix.pid < 0, let reply = try? Posix.pmCall(IPCMessage(label: ProcessOp.identify.rawValue)) {
        Posix.pid = Int32(truncatingIfNeeded: reply.words.1)
    }
    return max(Posix.pid, 0)
}

/// The parent's id (0: root or an administrator such as init).
public func getppid() -> Int32 {
    guard let reply = try? Posix.pmCall(IPCMessage(label: ProcessOp.identify.rawValue)) else { return 0 }
    return Int32(truncatingIfNeeded: reply.words.2)
}

/// Sends `signal` to process `pid`: processes cannot catch signals, so every signal but 0 ends it (its
/// parent's waitpid then reports that signal); 0 only checks it exists.
public func kill(_ pid: Int32, _ signal: Int32) -> Int32 {
    guard pid > 0 else { errno = EINVAL; return -1 }
    guard signal >= 0, UInt64(signal) <= ProcessProtocol.maxSignal else { errno = EINVAL; return -1 }
    do throws(ServiceError) {
        if signal == 0 {
            guard try ProcessList.all().contains(where: { $0.id == UInt32(pid) }) else { throw .noSuchProcess }
            return 0
        }
        _ = try Posix.pmCall(IPCMessage(label: ProcessOp.kill.rawValue, UInt64(pid), UInt64(signal)))
        return 0
    } catch { return Posix.fail(error) }
}

/// pm's process list.
public enum ProcessList {
    public static func all() throws(ServiceError) -> [ProcessRecord] {
        var out: [ProcessRecord] = []
        while true {
            var records: [ProcessRecord] = []
            var bad = false
            let reply = try Posix.pmCall(IPCMessage(label: ProcessOp.list.rawValue, UInt64(out.count))) { reply, page in
                let count = Int(min(reply.words.1, UInt64(IPCBuffer.maxBytes / ProcessRecord.size)))
                let bytes = page.received(count * ProcessRecord.size)
                for i in 0..<count {
                    if let r = ProcessRecord(bytes[(i * ProcessRecord.size)...]) { records.append(r) } else { bad = true }
                }
            }
            guard !bad else { throw .badMessage }
            out += records
            if out.count >= Int(reply.words.2) || records.isEmpty { return out }
        }
    }
}

public struct timespec: Equatable {
    public var tv_sec: Int64
    public var tv_nsec: Int64
    public init(tv_sec: Int64 = 0, tv_nsec: Int64 = 0) { self.tv_sec = tv_sec; self.tv_nsec = tv_nsec }
    var nanoseconds: UInt64 { UInt64(max(tv_sec, 0)) * 1_000_000_000 + UInt64(max(tv_nsec, 0)) }
    init(nanoseconds n: UInt64) { self.init(tv_sec: Int64(n / 1_000_000_000), tv_nsec: Int64(n % 1_000_000_000)) }
}

/// CLOCK_MONOTONIC: time since boot (the time page); CLOCK_REALTIME: wall time from timed (`import:time`,
/// asked once; EINVAL without it).
public func clock_gettime(_ clock: Int32, _ ts: inout timespec) -> Int32 {
    switch clock {
    case CLOCK_MONOTONIC:
        ts = timespec(nanoseconds: Clock.now())
        return 0
    case CLOCK_REALTIME:
        if Posix.wallOffset == nil, let time = Posix.time {
            if let t = try? TimeClient(time).now() { Posix.wallOffset = t.wall &- t.monotonic }
        }
        guard let offset = Posix.wallOffset else { errno = EINVAL; return -1 }
        ts = timespec(nanoseconds: Clock.now() &+ offset)
        return 0
    default:
        errno = EINVAL
        return -1
    }
}

/// Sleeps (thread_sleep); EINVAL for a negative or out-of-range request.
public func nanosleep(_ request: timespec) -> Int32 {
    guard request.tv_sec >= 0, request.tv_nsec >= 0, request.tv_nsec < 1_000_000_000 else { errno = EINVAL; return -1 }
    threadSleep(nanoseconds: request.nanoseconds)
    return 0
}

public func getenv(_ name: String) -> String? {
    let prefix = name + "="
    return Posix.environment.last { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
}

/// Sets `name` (no `=` in it) to `value`; with overwrite 0 an existing value stays.
public func setenv(_ name: String, _ value: String, _ overwrite: Int32 = 1) -> Int32 {
    guard !name.isEmpty, !name.contains("=") else { errno = EINVAL; return -1 }
    if getenv(name) != nil && overwrite == 0 { return 0 }
    let prefix = name + "="
    Posix.environment.removeAll { $0.hasPrefix(prefix) }
    Posix.environment.append(prefix + value)
    return 0
}

public func unsetenv(_ name: String) -> Int32 {
    guard !name.isEmpty, !name.contains("=") else { errno = EINVAL; return -1 }
    Posix.environment.removeAll { $0.hasPrefix(name + "=") }
    return 0
}

/// Every `NAME=VALUE` of the environment.
public var environ: [String] { Posix.environment }

/// The program's arguments: argv[0] is its name (the last component of the path posix_spawn started,
/// passed as `_` in its startup environment; else the program's own name), then what its parent passed (posix_spawn's
/// argv, each argument whole, spaces and all).
public var argv: [String] {
    let path = Posix.programPath.flatMap { $0.split(separator: "/").last.map(String.init) }
    return [path ?? staticText(programName)] + Posix.arguments
}

/// One line from descriptor 0 without its newline (with it when `strippingNewline` is false); nil at
/// the end of input or on an error.
public func readLine(strippingNewline: Bool = true) -> String? {
    while true {
        if let nl = Posix.stdinBuffer.firstIndex(of: 10) {
            let line = Array(Posix.stdinBuffer[0..<(strippingNewline ? nl : nl + 1)])
            Posix.stdinBuffer.removeFirst(nl + 1)
            return String(decoding: line, as: UTF8.self)
        }
        guard let more = read(STDIN_FILENO, count: IPCBuffer.maxBytes), !more.isEmpty else {
            if Posix.stdinBuffer.isEmpty { return nil }
            let rest = Posix.stdinBuffer
            Posix.stdinBuffer = []
            return String(decoding: rest, as: UTF8.self)
        }
        Posix.stdinBuffer += more
    }
}

/// Writes `text` and a newline to descriptor 2 (the kernel log when there is none).
public func eprint(_ text: String) {
    if Posix.isOpen(STDERR_FILENO) && Posix.onMainThread {
        Output.flush()
        write(STDERR_FILENO, text + "\n")
    } else {
        print(text)
    }
}

extension Posix {
    /// Bytes read from descriptor 0 past the last line readLine returned.
    static var stdinBuffer: [UInt8] = []
    /// `import:time` (timed), for CLOCK_REALTIME.
    static var time: Handle? = nil
    /// Wall-clock ns minus monotonic ns, once timed said it.
    static var wallOffset: UInt64? = nil
    /// The command line's arguments, unescaped (SpawnArguments).
    static var arguments: [String] = []
}

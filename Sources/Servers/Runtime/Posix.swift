// The POSIX layer's core: errno, the descriptor table, the working directory, path resolution and the
// one wire helper every POSIX call uses. Descriptors are open files of the file protocol
// (Sources/ABI/FileProtocol.swift): a Sender to a file server and a file id there. Descriptors 0, 1 and 2
// (and any other N) come from the startup entries `fd:N` (Startup.descriptor(N)); files this process opens
// go through its `import:vfs` Sender (every scheme; a bare path means fs://), or, when it has no vfs,
// initfs:// paths through `import:initfs`. Processes are pm's (`import:pm`, Sources/ABI/ProcessProtocol.swift).
//
// The layer is for a process's main thread (the one programMain runs on): its calls use one IPC buffer
// page of their own, installed on that thread when a call needs it (and the thread's previous buffer put
// back afterwards, so a FileService or MessagePage the program also uses keeps working). A POSIX call
// from any other thread fails with EOPNOTSUPP, and `print` there goes to the kernel log.
//
// Function names and numbers follow POSIX (errno values are Linux's, as FileError's and ServiceError's
// are); results are C-shaped (-1 and `errno` on failure) with Swift types for buffers and strings.

/// The error of the last failed POSIX call (Linux numbering: ENOENT = 2, …).
public var errno: Int32 = 0

public let EPERM: Int32 = 1, ENOENT: Int32 = 2, ESRCH: Int32 = 3, EINTR: Int32 = 4, EIO: Int32 = 5
public let ENXIO: Int32 = 6, E2BIG: Int32 = 7, ENOEXEC: Int32 = 8, EBADF: Int32 = 9, ECHILD: Int32 = 10
public let ENOMEM: Int32 = 12, EACCES: Int32 = 13, EBUSY: Int32 = 16, EEXIST: Int32 = 17, EXDEV: Int32 = 18
public let ENOTDIR: Int32 = 20, EISDIR: Int32 = 21, EINVAL: Int32 = 22, EMFILE: Int32 = 24, ENOTTY: Int32 = 25
public let EFBIG: Int32 = 27, ENOSPC: Int32 = 28, ESPIPE: Int32 = 29, EROFS: Int32 = 30, EPIPE: Int32 = 32
public let ENAMETOOLONG: Int32 = 36, ENOSYS: Int32 = 38, ENOTEMPTY: Int32 = 39, EBADMSG: Int32 = 74
public let EOPNOTSUPP: Int32 = 95

public let STDIN_FILENO: Int32 = 0, STDOUT_FILENO: Int32 = 1, STDERR_FILENO: Int32 = 2

/// The text of an errno value.
public func strerror(_ code: Int32) -> String {
    switch code {
    case 0: return "success"
    case EPERM: return "operation not permitted"
    case ESRCH: return "no such process"
    case EINTR: return "interrupted"
    case E2BIG: return "argument list too long"
    case ECHILD: return "no child processes"
    case ENOTTY: return "not a terminal"
    case ESPIPE: return "illegal seek"
    case EPIPE: return "broken pipe"
    case ENOSYS: return "function not implemented"
    case ENOEXEC: return "exec format error"
    default:
        if let e = FileError(rawValue: UInt32(bitPattern: code)) { return staticText(e.name) }
        return "error \(code)"
    }
}

/// One open file, shared by the descriptors dup made of it.
final class PosixOpenFile {
    let sender: Handle
    let file: UInt64
    /// The Sender is this description's own (a descriptor passed in, a pipe end, a share): closed with it.
    let ownsSender: Bool
    /// The URI it was opened by (nil for passed-in descriptors and pipes): a child gets a fresh open of
    /// it when the server cannot `share`.
    let uri: String?
    let flags: OpenFlags
    var references = 1

    init(sender: Handle, file: UInt64, ownsSender: Bool, uri: String?, flags: OpenFlags) {
        self.sender = sender
        self.file = file
        self.ownsSender = ownsSender
        self.uri = uri
        self.flags = flags
    }
}

/// The process's POSIX state.
public enum Posix {
    /// Descriptor → open file; nil slots are free.
    static var table: [PosixOpenFile?] = []
    /// `KEY=VALUE` entries (getenv/setenv; children get them).
    static var environment: [String] = []
    /// The working directory as shown (`/dir` for fs://, or `scheme:///dir`).
    static var cwd = "/"
    static var vfs: Handle = .invalid
    static var initfs: Handle = .invalid
    static var pm: Handle = .invalid
    static var page: MessagePage? = nil
    static var pid: Int32 = -1
    public static let maxDescriptors = 256
    /// The path this program was started by through posix_spawn (`_` in the startup environment), or nil.
    static var programPath: String? = nil

    /// Called by runtime_start before programMain.
    static func start(_ startup: Startup) {
        environment = startup.environment
        // `_`: the path posix_spawn started (argv[0]); kept apart, not part of the environment.
        if let entry = environment.last(where: { $0.hasPrefix("_=") }) { programPath = String(entry.dropFirst(2)) }
        environment.removeAll { $0.hasPrefix("_=") }
        vfs = startup.imported("vfs") ?? .invalid
        initfs = startup.imported("initfs") ?? .invalid
        pm = startup.imported("pm") ?? .invalid
        time = startup.imported("time")
        arguments = startup.arguments.map { SpawnArguments.unescape($0) }
        for m in startup.modules where m.name.hasPrefix(staticText(StartupBlock.descriptorPrefix)) {
            guard let n = Int(m.name.dropFirst(3)), n >= 0, n < maxDescriptors else { continue }
            while table.count <= n { table.append(nil) }
            table[n] = PosixOpenFile(sender: m.frame, file: m.size, ownsSender: true, uri: nil, flags: [.read, .write])
        }
        if let pwd = getenv("PWD"), !pwd.isEmpty { cwd = normalize(pwd) }
    }

    /// The description behind `fd`, or nil (errno EBADF).
    static func description(_ fd: Int32) -> PosixOpenFile? {
        guard fd >= 0, Int(fd) < table.count, let d = table[Int(fd)] else { errno = EBADF; return nil }
        return d
    }

    /// Whether descriptor `fd` is open.
    public static func isOpen(_ fd: Int32) -> Bool { fd >= 0 && Int(fd) < table.count && table[Int(fd)] != nil }

    /// The lowest free descriptor at or above `from`; -1 (EMFILE) when none.
    static func freeSlot(from: Int = 0) -> Int32 {
        var i = from
        while i < table.count, table[i] != nil { i += 1 }
        guard i < maxDescriptors else { errno = EMFILE; return -1 }
        while table.count <= i { table.append(nil) }
        return Int32(i)
    }

    /// Drops one reference to `d`; the last closes the file on its server (and its own Sender).
    static func release(_ d: PosixOpenFile) {
        d.references -= 1
        guard d.references == 0 else { return }
        _ = try? call(d.sender, .close, [d.file])
        if d.ownsSender { _ = try? handleClose(d.sender) }
    }

    // MARK: The main thread and its IPC buffer

    /// True on the thread programMain runs on (its stack is the one Spawn maps below Spawn.stackTop).
    static var onMainThread: Bool {
        var probe: UInt8 = 0
        let here = withUnsafePointer(to: &probe) { UInt64(UInt(bitPattern: $0)) }
        return here < Spawn.stackTop && here >= Spawn.stackTop - Spawn.stackSize
    }

    /// Runs `body` with this layer's IPC buffer installed on the main thread (the thread's previous
    /// buffer put back afterwards).
    static func withPage<T>(_ body: (MessagePage) throws(FileError) -> T) throws(FileError) -> T {
        guard onMainThread else { throw .notSupported }
        let previous = IPCBufferTracker.mainThread
        if page == nil {
            guard let p = try? MessagePage() else { throw .noMemory }
            page = p
        }
        let mine = page!
        let address = UInt64(UInt(bitPattern: mine.base))
        if IPCBufferTracker.mainThread != address {
            do throws(SysError) { try mine.install() } catch { throw .noMemory }
        }
        defer { if previous != 0 && previous != address { IPCBufferTracker.install(previous) } }
        return try body(mine)
    }

    /// One file-protocol request through `sender`; the successful reply (its bytes and handles still in
    /// the page), or the FileError the server answered (.noServer when the call failed).
    static func call(_ sender: Handle, _ label: FileLabel, _ words: [UInt64], bytes: [UInt8] = [],
                     handles: [Handle] = [], received: ((IPCMessage, MessagePage) -> Void)? = nil) throws(FileError) -> IPCMessage {
        try withPage { (page) throws(FileError) -> IPCMessage in
            guard bytes.count <= IPCBuffer.maxBytes else { throw .nameTooLong }
            guard page.put(bytes) else { throw .nameTooLong }
            for (i, h) in handles.enumerated() { page.setHandle(i, h) }
            var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            if words.count > 0 { w.0 = words[0] }
            if words.count > 1 { w.1 = words[1] }
            if words.count > 2 { w.2 = words[2] }
            if words.count > 3 { w.3 = words[3] }
            let tag = IPCTag(words: min(words.count, 4), bytes: bytes.count, handles: handles.count, label: label.rawValue)
            let reply: IPCMessage
            do throws(SysError) { reply = try senderCall(sender, IPCMessage(tag: tag, words: w)) } catch { throw .noServer }
            if reply.tag.label != 0 {
                page.closeReceived(reply.tag.handles)
                throw FileError(rawValue: reply.tag.label) ?? .io
            }
            received?(reply, page)
            return reply
        }
    }

    /// A request to pm (ProcessProtocol): the reply, or the ServiceError pm answered.
    static func pmCall(_ message: IPCMessage, bytes: [UInt8] = [], handles: [Handle] = [],
                       received: ((IPCMessage, MessagePage) -> Void)? = nil) throws(ServiceError) -> IPCMessage {
        guard pm != .invalid else { throw .notSupported }
        let result = Result { () throws(FileError) -> IPCMessage in
            try withPage { (page) throws(FileError) -> IPCMessage in
                guard page.put(bytes) else { throw .nameTooLong }
                for (i, h) in handles.enumerated() { page.setHandle(i, h) }
                do throws(SysError) {
                    let reply = try senderCall(pm, message)
                    if reply.words.0 == 0 { received?(reply, page) } else { page.closeReceived(reply.tag.handles) }
                    return reply
                } catch { throw .noServer }
            }
        }
        switch result {
        case .failure(let e): throw e == .nameTooLong ? .nameTooLong : e == .notSupported ? .notSupported : .io
        case .success(let reply):
            guard reply.words.0 == 0 else { throw ServiceError(rawValue: reply.words.0) ?? .badMessage }
            return reply
        }
    }

    // MARK: Paths

    /// `path` made absolute against the working directory, `.` and `..` resolved: `/a/b` (fs://) or
    /// `scheme:///a/b`.
    public static func absolute(_ path: String) -> String {
        if schemeSplit(path) != nil { return normalize(path) }
        if path.hasPrefix("/") { return normalize(path) }
        let base = cwd.hasSuffix("/") ? cwd : cwd + "/"
        return normalize(base + path)
    }

    /// `scheme://` kept, components cleaned; a bare path stays bare (fs://) and `fs:///x` becomes `/x`.
    static func normalize(_ path: String) -> String {
        var scheme = ""
        var rest = Substring(path)
        if let (s, r) = schemeSplit(path) { scheme = s; rest = r }
        var parts: [Substring] = []
        for c in rest.split(separator: "/") {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        let joined = "/" + parts.joined(separator: "/")
        return scheme.isEmpty || scheme == "fs" ? joined : scheme + "://" + joined
    }

    /// A URI's scheme and what follows `://`, nil for a path without one.
    static func schemeSplit(_ path: String) -> (String, Substring)? {
        let b = Array(path.utf8)
        guard b.count >= 3 else { return nil }
        for i in 0...(b.count - 3) where b[i] == 58 && b[i + 1] == 47 && b[i + 2] == 47 {
            guard i > 0, b[0..<i].allSatisfy({ $0 != 47 }) else { return nil }
            return (String(decoding: b[0..<i], as: UTF8.self), Substring(String(decoding: b[(i + 3)...], as: UTF8.self)))
        }
        return nil
    }

    /// write(2) for callers with a `write` of their own in scope.
    static func writeBytes(_ fd: Int32, _ bytes: [UInt8]) -> Int { write(fd, bytes) }

    /// The URI a server is sent for `path`, and the Sender to send it to (errno ENXIO when none serves it).
    static func route(_ path: String) -> (uri: String, sender: Handle)? {
        let abs = absolute(path)
        let uri = abs.hasPrefix("/") ? "fs://" + abs : abs
        if vfs != .invalid { return (uri, vfs) }
        if initfs != .invalid && uri.hasPrefix("initfs://") { return (uri, initfs) }
        errno = ENXIO
        return nil
    }

    /// Maps a file-protocol error to errno; -1 for the caller to return.
    static func fail(_ e: FileError) -> Int32 {
        errno = e == .badMessage ? EIO : Int32(bitPattern: e.rawValue)
        return -1
    }

    static func fail(_ e: ServiceError) -> Int32 {
        errno = Int32(truncatingIfNeeded: e.rawValue)
        return -1
    }
}

// POSIX files and directories over the file protocol: open/read/write/close/lseek, stat/fstat,
// opendir/readdir/closedir, mkdir/unlink/rmdir/rename, statfs, mount, getcwd/chdir, dup/dup2, pipe, isatty and the
// terminal controls (the console's `control` request). Data moves through the IPC buffer's bytes (no
// data windows): a read or write moves at most IPCBuffer.maxBytes per request (read/write return what
// one request moved; writeAll loops).

public let O_RDONLY: Int32 = 0, O_WRONLY: Int32 = 1, O_RDWR: Int32 = 2, O_ACCMODE: Int32 = 3
public let O_CREAT: Int32 = 0o100, O_EXCL: Int32 = 0o200, O_TRUNC: Int32 = 0o1000, O_APPEND: Int32 = 0o2000
public let O_DIRECTORY: Int32 = 0o200000
public let SEEK_SET: Int32 = 0, SEEK_CUR: Int32 = 1, SEEK_END: Int32 = 2
public let S_IFMT: UInt32 = 0o170000, S_IFREG: UInt32 = 0o100000, S_IFDIR: UInt32 = 0o040000

/// What stat and fstat report.
public struct Stat: Equatable {
    public var size: Int64 = 0
    /// S_IFREG or S_IFDIR | permission bits.
    public var mode: UInt32 = 0
    /// Seconds since 1970 (0 when the server does not know).
    public var mtime: Int64 = 0
    public init() {}
    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
}

/// An open directory (opendir).
public final class Dir {
    let fd: Int32
    var next: UInt64 = 0
    var pending: [DirectoryEntry] = []
    var done = false
    init(fd: Int32) { self.fd = fd }
}

/// One directory entry (readdir).
public struct Dirent: Equatable {
    public let name: String
    public let isDirectory: Bool
    public let size: UInt64
}

func openFlags(_ flags: Int32) -> OpenFlags? {
    var f: OpenFlags = []
    switch flags & O_ACCMODE {
    case O_RDONLY: f = .read
    case O_WRONLY: f = .write
    case O_RDWR: f = [.read, .write]
    default: return nil
    }
    if flags & O_CREAT != 0 { f.insert(.create) }
    if flags & O_EXCL != 0 { f.insert(.exclusive) }
    if flags & O_TRUNC != 0 { f.insert(.truncate) }
    if flags & O_APPEND != 0 { f.insert(.append) }
    if flags & O_DIRECTORY != 0 { f.insert(.directory) }
    return f
}

/// Opens `path` (relative to the working directory; a bare path is fs://); the lowest free descriptor.
public func open(_ path: String, _ flags: Int32, _ mode: UInt32 = 0o644) -> Int32 {
    guard let f = openFlags(flags) else { errno = EINVAL; return -1 }
    guard let (uri, sender) = Posix.route(path) else { return -1 }
    let fd = Posix.freeSlot()
    guard fd >= 0 else { return -1 }
    do throws(FileError) {
        let reply = try Posix.call(sender, .open, [f.rawValue, UInt64(mode)], bytes: Array(uri.utf8))
        Posix.table[Int(fd)] = PosixOpenFile(sender: sender, file: reply.words.0, ownsSender: false, uri: uri, flags: f)
        return fd
    } catch { return Posix.fail(error) }
}

/// creat(2): open for writing, created or truncated.
public func creat(_ path: String, _ mode: UInt32 = 0o644) -> Int32 { open(path, O_WRONLY | O_CREAT | O_TRUNC, mode) }

/// Reads up to `buffer.count` bytes (at most one request's worth); the count, 0 at the end, -1 on error.
public func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
    guard let d = Posix.description(fd) else { return -1 }
    guard d.flags.contains(.read) else { errno = EBADF; return -1 }
    let n = min(buffer.count, IPCBuffer.maxBytes)
    do throws(FileError) {
        var got = 0
        _ = try Posix.call(d.sender, .read, [d.file, UInt64(n), 0]) { reply, page in
            got = min(Int(min(reply.words.0, UInt64(n))), reply.tag.bytes)
            if got > 0 { buffer.baseAddress!.copyMemory(from: page.bytes.baseAddress!, byteCount: got) }
        }
        return got
    } catch { return Int(Posix.fail(error)) }
}

/// Up to `count` bytes as an array; nil on error (errno), empty at the end of the file.
public func read(_ fd: Int32, count: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: max(0, min(count, IPCBuffer.maxBytes)))
    let n = out.withUnsafeMutableBytes { read(fd, $0) }
    guard n >= 0 else { return nil }
    out.removeLast(out.count - n)
    return out
}

/// Writes up to one request's worth of `bytes`; the count written, -1 on error.
public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    guard let d = Posix.description(fd) else { return -1 }
    guard d.flags.contains(.write) else { errno = EBADF; return -1 }
    let n = min(bytes.count, IPCBuffer.maxBytes)
    do throws(FileError) {
        let reply = try Posix.call(d.sender, .write, [d.file, UInt64(n), 0], bytes: Array(bytes[0..<n]))
        return Int(min(reply.words.0, UInt64(n)))
    } catch { return Int(Posix.fail(error)) }
}

/// Writes all of `bytes` (several requests when needed); the count, -1 on error before any was written.
@discardableResult
public func write(_ fd: Int32, _ bytes: [UInt8]) -> Int {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, UnsafeRawBufferPointer(rebasing: $0[done...])) }
        if n < 0 { return done == 0 ? -1 : done }
        if n == 0 { break }
        done += n
    }
    return done
}

/// Writes a string's UTF-8 bytes.
@discardableResult
public func write(_ fd: Int32, _ text: String) -> Int { write(fd, Array(text.utf8)) }

/// Closes a descriptor; the file on its server once no other descriptor (dup) refers to it.
public func close(_ fd: Int32) -> Int32 {
    guard let d = Posix.description(fd) else { return -1 }
    Posix.table[Int(fd)] = nil
    Posix.release(d)
    return 0
}

/// Moves the position; the new one, -1 on error (ESPIPE for a pipe).
public func lseek(_ fd: Int32, _ offset: Int64, _ whence: Int32) -> Int64 {
    guard let d = Posix.description(fd) else { return -1 }
    guard let origin = SeekOrigin(rawValue: UInt64(UInt32(bitPattern: whence))) else { errno = EINVAL; return -1 }
    do throws(FileError) {
        return Int64(bitPattern: try Posix.call(d.sender, .seek, [d.file, UInt64(bitPattern: offset), origin.rawValue]).words.0)
    } catch {
        if d.uri == nil && error == .invalid { errno = ESPIPE; return -1 }
        return Int64(Posix.fail(error))
    }
}

func statFrom(_ reply: IPCMessage) -> Stat {
    var st = Stat()
    st.size = Int64(bitPattern: reply.words.0)
    let kind = FileKind(rawValue: UInt8(truncatingIfNeeded: reply.words.1)) ?? .file
    st.mode = (kind == .directory ? S_IFDIR : S_IFREG) | UInt32(truncatingIfNeeded: reply.words.2 & 0o7777)
    st.mtime = Int64(bitPattern: reply.words.3)
    return st
}

public func stat(_ path: String, _ st: inout Stat) -> Int32 {
    guard let (uri, sender) = Posix.route(path) else { return -1 }
    do throws(FileError) {
        st = statFrom(try Posix.call(sender, .stat, [], bytes: Array(uri.utf8)))
        return 0
    } catch { return Posix.fail(error) }
}

public func fstat(_ fd: Int32, _ st: inout Stat) -> Int32 {
    guard let d = Posix.description(fd) else { return -1 }
    do throws(FileError) {
        st = statFrom(try Posix.call(d.sender, .stat, [d.file]))
        return 0
    } catch { return Posix.fail(error) }
}

public func opendir(_ path: String) -> Dir? {
    let fd = open(path, O_RDONLY | O_DIRECTORY)
    return fd < 0 ? nil : Dir(fd: fd)
}

/// The next entry; nil at the end (errno unchanged) or on an error (errno set).
public func readdir(_ dir: Dir) -> Dirent? {
    if dir.pending.isEmpty && !dir.done {
        guard let d = Posix.description(dir.fd) else { return nil }
        do throws(FileError) {
            var entries: [DirectoryEntry] = []
            var next: UInt64 = 0
            _ = try Posix.call(d.sender, .readdir, [d.file, dir.next]) { reply, page in
                next = reply.words.1
                entries = decodeDirectoryEntries(page.received(reply.tag.bytes), count: Int(min(reply.words.0, 4096)))
            }
            if entries.isEmpty { dir.done = true } else { dir.pending = entries.reversed(); dir.next = next }
        } catch {
            _ = Posix.fail(error)
            return nil
        }
    }
    guard let e = dir.pending.popLast() else { return nil }
    return Dirent(name: e.name, isDirectory: e.kind == .directory, size: e.size)
}

/// readdir entries from a reply's bytes (whole entries only).
func decodeDirectoryEntries(_ bytes: [UInt8], count: Int) -> [DirectoryEntry] {
    var out: [DirectoryEntry] = []
    var at = 0
    while out.count < count, at + FileProtocol.direntHeader <= bytes.count {
        let length = Int(bytes[at + 1])
        var size: UInt64 = 0
        for k in 0..<8 { size |= UInt64(bytes[at + 2 + k]) << (8 * k) }
        let start = at + FileProtocol.direntHeader
        guard start + length <= bytes.count else { break }
        out.append(DirectoryEntry(name: String(decoding: bytes[start..<(start + length)], as: UTF8.self),
                                  kind: FileKind(rawValue: bytes[at]) ?? .file, size: size))
        at = start + length
    }
    return out
}

@discardableResult
public func closedir(_ dir: Dir) -> Int32 { close(dir.fd) }

func pathRequest(_ path: String, _ label: FileLabel, _ word: UInt64) -> Int32 {
    guard let (uri, sender) = Posix.route(path) else { return -1 }
    do throws(FileError) {
        _ = try Posix.call(sender, label, [word], bytes: Array(uri.utf8))
        return 0
    } catch { return Posix.fail(error) }
}

public func mkdir(_ path: String, _ mode: UInt32 = 0o755) -> Int32 { pathRequest(path, .mkdir, UInt64(mode)) }
public func unlink(_ path: String) -> Int32 { pathRequest(path, .unlink, 0) }
public func rmdir(_ path: String) -> Int32 { pathRequest(path, .unlink, UnlinkFlags.directory.rawValue) }

public func rename(_ old: String, _ new: String) -> Int32 {
    guard let (from, sender) = Posix.route(old), let (to, other) = Posix.route(new) else { return -1 }
    guard sender == other else { errno = EXDEV; return -1 }
    do throws(FileError) {
        _ = try Posix.call(sender, .rename, [UInt64(from.utf8.count)], bytes: Array(from.utf8) + Array(to.utf8))
        return 0
    } catch { return Posix.fail(error) }
}

/// What statfs tells of a file system.
public struct StatFS: Equatable {
    /// Bytes in all, bytes free, the block size.
    public var size: UInt64 = 0
    public var free: UInt64 = 0
    public var blockSize: UInt64 = 0
    public init() {}
}

/// The file system `path` lies on (the file protocol's `statfs`).
public func statfs(_ path: String, _ out: inout StatFS) -> Int32 {
    guard let (uri, sender) = Posix.route(path) else { return -1 }
    do throws(FileError) {
        let r = try Posix.call(sender, .statfs, [], bytes: Array(uri.utf8))
        out = StatFS()
        (out.size, out.free, out.blockSize) = (r.words.0, r.words.1, r.words.2)
        return 0
    } catch { return Posix.fail(error) }
}

/// Mounts the file server behind `server` (a Sender; moved when the request reaches vfs, closed here
/// when it does not) at `point` (the file protocol's `mount`; vfs takes it only from its administrative
/// Sender).
public func mount(_ point: String, server: Handle, readOnly: Bool) -> Int32 {
    guard let (uri, sender) = Posix.route(point) else {
        _ = try? handleClose(server)
        return -1
    }
    do throws(FileError) {
        _ = try Posix.call(sender, .mount, [readOnly ? MountFlags.readOnly.rawValue : 0], bytes: Array(uri.utf8), handles: [server])
        return 0
    } catch {
        if error == .noServer || error == .nameTooLong || error == .notSupported { _ = try? handleClose(server) }
        return Posix.fail(error)
    }
}

/// Unmounts what is mounted at `point` (the file protocol's `unmount`; vfs takes it only from an
/// administrative Sender or connection).
public func umount(_ point: String) -> Int32 {
    guard let (uri, sender) = Posix.route(point) else { return -1 }
    do throws(FileError) {
        _ = try Posix.call(sender, .unmount, [], bytes: Array(uri.utf8))
        return 0
    } catch { return Posix.fail(error) }
}

/// The raw `mounts` listing of vfs: (entry count, bytes) per reply, in order; -1 and errno on an error.
public func listMounts(_ out: inout [(count: Int, bytes: [UInt8])]) -> Int32 {
    guard let (_, sender) = Posix.route("/") else { return -1 }
    out = []
    var index: UInt64 = 0
    do throws(FileError) {
        while out.count < 1024 {
            var bytes: [UInt8] = []
            let r = try Posix.call(sender, .mounts, [index]) { reply, page in bytes = page.received(reply.tag.bytes) }
            if r.words.0 == 0 && r.words.1 <= index { break }
            if r.words.0 > 0 { out.append((Int(r.words.0), bytes)) }
            index = r.words.1
        }
        return 0
    } catch { return Posix.fail(error) }
}

/// The working directory (`/dir` for fs://, else `scheme:///dir`).
public func getcwd() -> String { Posix.cwd }

/// Changes the working directory (it must be a directory); PWD follows it.
public func chdir(_ path: String) -> Int32 {
    var st = Stat()
    guard stat(path, &st) == 0 else { return -1 }
    guard st.isDirectory else { errno = ENOTDIR; return -1 }
    Posix.cwd = Posix.absolute(path)
    _ = setenv("PWD", Posix.cwd, 1)
    return 0
}

/// A second descriptor (the lowest free) for the same open file.
public func dup(_ fd: Int32) -> Int32 {
    guard let d = Posix.description(fd) else { return -1 }
    let new = Posix.freeSlot()
    guard new >= 0 else { return -1 }
    d.references += 1
    Posix.table[Int(new)] = d
    return new
}

/// Makes `new` refer to `old`'s open file (closing what `new` was first).
public func dup2(_ old: Int32, _ new: Int32) -> Int32 {
    guard let d = Posix.description(old) else { return -1 }
    guard new >= 0, Int(new) < Posix.maxDescriptors else { errno = EBADF; return -1 }
    if old == new { return new }
    while Posix.table.count <= Int(new) { Posix.table.append(nil) }
    if let previous = Posix.table[Int(new)] { Posix.release(previous) }
    d.references += 1
    Posix.table[Int(new)] = d
    return new
}

/// A pipe from pm: fds.0 reads what fds.1 writes.
public func pipe(_ fds: inout (Int32, Int32)) -> Int32 {
    do throws(ServiceError) {
        var ends: [Handle] = []
        let reply = try Posix.pmCall(IPCMessage(label: ProcessOp.pipe.rawValue)) { reply, page in
            ends = (0..<min(reply.tag.handles, IPCBuffer.maxHandles)).map { page.handle($0) }
        }
        guard ends.count == 2 else {
            for h in ends { _ = try? handleClose(h) }
            errno = EIO
            return -1
        }
        let r = Posix.freeSlot()
        if r >= 0 { Posix.table[Int(r)] = PosixOpenFile(sender: ends[0], file: reply.words.1, ownsSender: true, uri: nil, flags: .read) }
        let w = r >= 0 ? Posix.freeSlot() : -1
        guard r >= 0, w >= 0 else {
            if r >= 0 { _ = close(r) } else { _ = try? handleClose(ends[0]) }
            _ = try? handleClose(ends[1])
            errno = EMFILE
            return -1
        }
        Posix.table[Int(w)] = PosixOpenFile(sender: ends[1], file: reply.words.2, ownsSender: true, uri: nil, flags: .write)
        fds = (r, w)
        return 0
    } catch { return Posix.fail(error) }
}

/// One `control` request on a terminal descriptor; the previous value, or -1 (ENOTTY for a file).
func terminalControl(_ fd: Int32, _ what: TerminalControl, _ value: UInt64) -> Int64 {
    guard let d = Posix.description(fd) else { return -1 }
    do throws(FileError) {
        return Int64(bitPattern: try Posix.call(d.sender, .control, [d.file, what.rawValue, value]).words.0)
    } catch {
        if error == .notSupported || error == .badMessage { errno = ENOTTY; return -1 }
        return Int64(Posix.fail(error))
    }
}

/// Whether `fd` is a terminal (its server answers `control`).
public func isatty(_ fd: Int32) -> Bool { terminalControl(fd, .getMode, 0) >= 0 }

/// The terminal's mode (TerminalMode bits), -1 on error.
public func tcgetmode(_ fd: Int32) -> Int64 { terminalControl(fd, .getMode, 0) }

/// Sets the terminal's mode; the previous one, -1 on error.
@discardableResult
public func tcsetmode(_ fd: Int32, _ mode: TerminalMode) -> Int64 { terminalControl(fd, .setMode, mode.rawValue) }

/// Makes `pid` the terminal's foreground process (Ctrl-C ends it); -1 on error.
@discardableResult
public func tcsetpgrp(_ fd: Int32, _ pid: Int32) -> Int32 {
    terminalControl(fd, .setForeground, UInt64(UInt32(bitPattern: pid))) < 0 ? -1 : 0
}

/// The terminal's size (columns, rows), nil on error.
public func terminalSize(_ fd: Int32) -> (columns: Int, rows: Int)? {
    let v = terminalControl(fd, .getSize, 0)
    guard v >= 0 else { return nil }
    return (Int(v >> 32), Int(v & 0xffff_ffff))
}

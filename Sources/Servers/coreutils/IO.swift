// coreutils' connection to the world, all through the Runtime's POSIX layer (Runtime/Posix*.swift):
// standard input, output and error are descriptors 0, 1 and 2 (without descriptor 1 or 2 output goes to
// the kernel log, as every program's print does), files and directories are open/read/write/close,
// stat, opendir/readdir, mkdir, unlink/rmdir, rename, statfs and mount (paths relative to PWD, through
// `import:vfs`, or `import:initfs` for initfs:// paths). `Files` turns the layer's -1/errno into
// FileError (its raw values are the errno numbers), so the utilities keep typed errors and their
// messages (`NAME: PATH: no such file or directory`).

enum IO {
    static var startup: Startup! = nil
    static var name = "coreutils"
    /// Standard output and error, gathered and written in pieces of up to 2 KiB.
    static var outBuffer: [UInt8] = []
    static var errBuffer: [UInt8] = []
    /// A write to standard output failed (a reader gone, a full file system): `yes` stops.
    static var outputBroken = false

    static func setUp(_ s: Startup) { startup = s }

    static func out(_ text: String) { out(Array(text.utf8)) }
    static func line(_ text: String) { out(Array((text + "\n").utf8)) }
    static func out(_ bytes: [UInt8]) {
        outBuffer += bytes
        if outBuffer.count >= 2048 { flush(STDOUT_FILENO, &outBuffer) }
    }

    /// `NAME: message` on standard error.
    static func error(_ message: String) {
        errBuffer += Array((name + ": " + message + "\n").utf8)
        if errBuffer.count >= 2048 { flush(STDERR_FILENO, &errBuffer) }
    }

    /// `NAME: PATH: what went wrong` on standard error.
    static func error(_ path: String, _ e: FileError) { error(path + ": " + staticText(e.name)) }

    /// An operand made absolute against the working directory (`.` and `..` resolved).
    static func path(_ operand: String) -> String { UtilityPath.resolve(operand, cwd: getcwd()) }

    static func flush() {
        flush(STDOUT_FILENO, &outBuffer)
        flush(STDERR_FILENO, &errBuffer)
    }

    /// Writes `buffer` to descriptor `fd` (the kernel log when it is not open) and empties it; a failed
    /// write of standard output sets `outputBroken`.
    static func flush(_ fd: Int32, _ buffer: inout [UInt8]) {
        defer { buffer = [] }
        guard !buffer.isEmpty else { return }
        guard Posix.isOpen(fd) else {
            for b in buffer { Output.write(b) }
            Output.flush()
            return
        }
        if write(fd, buffer) < buffer.count && fd == STDOUT_FILENO { outputBroken = true }
    }
}

/// The POSIX layer's file calls with errors as FileError.
enum Files {
    /// errno as a FileError.
    static var failure: FileError { FileError(rawValue: UInt32(bitPattern: errno)) ?? .io }

    static func check(_ result: Int32) throws(FileError) { if result < 0 { throw failure } }

    static func stat(_ path: String) throws(FileError) -> FileStat {
        var st = Stat()
        try check(coreutils.stat(path, &st))
        return FileStat(size: UInt64(max(st.size, 0)), kind: st.isDirectory ? .directory : .file,
                        mode: UInt64(st.mode & 0o7777), modified: UInt64(max(st.mtime, 0)))
    }

    /// A directory's entry names (without `.` and `..`), in the server's order.
    static func list(_ path: String) throws(FileError) -> [String] {
        guard let dir = opendir(path) else { throw failure }
        defer { _ = closedir(dir) }
        var names: [String] = []
        errno = 0
        while let entry = readdir(dir) { names.append(entry.name) }
        if errno != 0 { throw failure }
        return names.filter { $0 != "." && $0 != ".." }
    }

    static func mkdir(_ path: String) throws(FileError) { try check(coreutils.mkdir(path)) }
    static func unlink(_ path: String) throws(FileError) { try check(coreutils.unlink(path)) }
    static func rmdir(_ path: String) throws(FileError) { try check(coreutils.rmdir(path)) }
    static func rename(_ from: String, to: String) throws(FileError) { try check(coreutils.rename(from, to)) }

    /// A descriptor for `path`.
    static func open(_ path: String, _ flags: Int32, mode: UInt32 = 0o644) throws(FileError) -> Int32 {
        let fd = coreutils.open(path, flags, mode)
        guard fd >= 0 else { throw failure }
        return fd
    }

    /// Up to one request's worth from `fd`; empty at the end.
    static func read(_ fd: Int32) throws(FileError) -> [UInt8] {
        guard let bytes = coreutils.read(fd, count: IPCBuffer.maxBytes) else { throw failure }
        return bytes
    }

    /// All of `bytes` to `fd`.
    static func write(_ fd: Int32, _ bytes: [UInt8]) throws(FileError) {
        let n = coreutils.write(fd, bytes)
        guard n == bytes.count else { throw n < 0 ? failure : .noSpace }
    }
}

/// Reads a whole operand (or standard input for `-` or nil) piece by piece into `body`; false after an
/// error (reported as `NAME: PATH: message`).
/// `done` ends the reading early (head: once it has its lines, so a writer such as `yes` sees its reader go).
func eachPiece(of operand: String?, until done: () -> Bool = { false }, _ body: ([UInt8]) -> Void) -> Bool {
    guard let operand, operand != "-" else {
        guard Posix.isOpen(STDIN_FILENO) else { return true }
        while !done(), let piece = read(STDIN_FILENO, count: IPCBuffer.maxBytes), !piece.isEmpty { body(piece) }
        return true
    }
    do throws(FileError) {
        let fd = try Files.open(operand, O_RDONLY)
        defer { _ = close(fd) }
        while !done() {
            let piece = try Files.read(fd)
            if piece.isEmpty { break }
            body(piece)
        }
        return true
    } catch {
        IO.error(operand, error)
        return false
    }
}

// coreutils' connection to the world: standard input, output and error (the POSIX descriptors 0, 1, 2
// its parent gave as `fd:N` startup entries; without descriptor 1 or 2 output goes to the kernel log, as
// every program's print does), the file service paths go to (vfs when imported, else initfs), the
// working directory (PWD in the environment) and the exit status.

/// One of the descriptors 0, 1, 2: a Sender holding one open file and its id there.
final class Stream {
    let service: FileService?
    let id: UInt64
    var buffer: [UInt8] = []

    init(_ descriptor: (sender: Handle, file: UInt64)?) {
        if let descriptor, let s = try? FileService(descriptor.sender) {
            service = s
            id = descriptor.file
        } else {
            service = nil
            id = 0
        }
    }

    /// Queues bytes; writes them out once 2 KiB are waiting.
    func write(_ bytes: [UInt8]) {
        buffer += bytes
        if buffer.count >= 2048 { flush() }
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    /// Hands the queued bytes to the file (in pieces the IPC buffer takes) or to the kernel log.
    func flush() {
        defer { buffer = [] }
        guard let service else {
            for b in buffer { Output.write(b) }
            Output.flush()
            return
        }
        try? service.adopt()
        var at = 0
        while at < buffer.count {
            let n = min(buffer.count - at, IPCBuffer.maxBytes)
            let piece = Array(buffer[at..<(at + n)])
            guard piece.withUnsafeBytes({ service.page.put($0) }),
                  let reply = try? service.call(.write, [id, UInt64(n), 0], bytes: n), reply.words.0 > 0 else {
                IO.outputBroken = true
                return
            }
            at += Int(min(reply.words.0, UInt64(n)))
        }
    }

    /// Up to `count` bytes from the file's position; [] at its end (or without a descriptor).
    func read(_ count: Int = IPCBuffer.maxBytes) -> [UInt8]? {
        guard let service else { return [] }
        try? service.adopt()
        let n = min(count, IPCBuffer.maxBytes)
        guard let reply = try? service.call(.read, [id, UInt64(n), 0]) else { return nil }
        return service.page.take(min(Int(min(reply.words.0, UInt64(n))), reply.tag.bytes))
    }
}

enum IO {
    static var startup: Startup! = nil
    static var name = "coreutils"
    static var stdin = Stream(nil)
    static var stdout = Stream(nil)
    static var stderr = Stream(nil)
    static var files: FileService? = nil
    static var cwd = "/"
    /// A write to standard output failed (a reader gone): `yes` stops.
    static var outputBroken = false

    static func setUp(_ s: Startup) {
        startup = s
        stdin = Stream(s.descriptor(0))
        stdout = Stream(s.descriptor(1))
        stderr = Stream(s.descriptor(2))
        if let vfs = s.imported("vfs") { files = try? FileService(vfs) }
        else if let initfs = s.imported("initfs") { files = try? FileService(initfs) }
        for entry in s.environment where entry.hasPrefix("PWD=") { cwd = String(entry.dropFirst(4)) }
    }

    static func out(_ text: String) { stdout.write(text) }
    static func line(_ text: String) { stdout.write(text + "\n") }
    static func out(_ bytes: [UInt8]) { stdout.write(bytes) }

    /// `NAME: message` on standard error.
    static func error(_ message: String) { stderr.write(name + ": " + message + "\n") }

    /// `NAME: PATH: what went wrong` on standard error.
    static func error(_ path: String, _ e: FileError) { error(path + ": " + staticText(e.name)) }

    /// The file service, adopted on this thread (every FileService has its own IPC buffer page).
    static func service() throws(FileError) -> FileService {
        guard let files else { throw .noServer }
        do throws(SysError) { try files.adopt() } catch { throw .noMemory }
        return files
    }

    /// An operand made absolute against the working directory.
    static func path(_ operand: String) -> String { UtilityPath.resolve(operand, cwd: cwd) }

    static func flush() {
        stdout.flush()
        stderr.flush()
    }
}

extension FileService {
    /// statfs: the file system's size, free bytes and block size for `path`.
    func statfs(_ path: String) throws(FileError) -> (size: UInt64, free: UInt64, block: UInt64) {
        let length = try putPath(path)
        let r = try call(.statfs, [], bytes: length)
        return (r.words.0, r.words.1, r.words.2)
    }

    /// mount: `server` (a Sender to a file server; moved) serves what lies under `point`.
    func mount(_ point: String, server: Handle, readOnly: Bool) throws(FileError) {
        let length = try putPath(point)
        _ = try call(.mount, [readOnly ? MountFlags.readOnly.rawValue : 0], bytes: length, handles: [server])
    }
}

/// Reads a whole operand (or standard input for `-` or nil) piece by piece into `body`; false after an
/// error (reported as `NAME: PATH: message`).
/// `done` ends the reading early (head: once it has its lines, so a writer such as `yes` sees its reader go).
func eachPiece(of operand: String?, until done: () -> Bool = { false }, _ body: ([UInt8]) -> Void) -> Bool {
    guard let operand, operand != "-" else {
        while !done(), let piece = IO.stdin.read(), !piece.isEmpty { body(piece) }
        return true
    }
    let path = IO.path(operand)
    do throws(FileError) {
        let file = try IO.service().open(path, .read)
        while !done() {
            _ = try IO.service()   // re-installs its IPC buffer: output may have used the thread's
            let piece = try file.read(count: IPCBuffer.maxBytes)
            if piece.isEmpty { break }
            body(piece)
        }
        try? file.close()
        return true
    } catch {
        IO.error(operand, error)
        return false
    }
}


// Typed client of the file-service protocol (Sources/ABI/FileProtocol.swift): initfsd, vfs and the
// filesystems behind it all answer these calls.
//
// A FileService owns an IPC buffer page and installs it on the thread that makes it; use it from that
// thread (or call `adopt()` on the thread that uses it next). A newer FileService made on the same thread
// takes that thread's IPC buffer over: call `adopt()` before using the older one there again. Errors come back as FileError; an IPC failure
// (the server gone, a bad Sender) is `.noServer`.

/// What stat says.
public struct FileStat: Equatable {
    public let size: UInt64
    public let kind: FileKind
    public let mode: UInt64
    public let modified: UInt64
}

/// One readdir entry.
public struct DirectoryEntry: Equatable {
    public let name: String
    public let kind: FileKind
    public let size: UInt64
}

public final class FileService {
    /// The Sender to the server.
    public let sender: Handle
    let page: IPCBufferPage

    /// A client of the server behind `sender` (not owned: closing it stays the caller's business).
    public init(_ sender: Handle) throws(SysError) {
        self.sender = sender
        page = try IPCBufferPage.make()
        do throws(SysError) { try page.install() } catch {
            page.release()
            throw error
        }
    }

    deinit { page.release() }

    /// Installs this client's IPC buffer on the calling thread.
    public func adopt() throws(SysError) { try page.install() }

    /// One request: the label, words, message bytes (already in the page) and handles; the reply's words
    /// and its tag, or the FileError the server answered with.
    public func call(_ label: FileLabel, _ words: [UInt64], bytes: Int = 0, handles: [Handle] = []) throws(FileError) -> IPCMessage {
        for (i, h) in handles.enumerated() { page.setHandle(i, h) }
        var message = IPCMessage(tag: IPCTag(words: words.count, bytes: bytes, handles: handles.count, label: label.rawValue))
        if words.count > 0 { message.words.0 = words[0] }
        if words.count > 1 { message.words.1 = words[1] }
        if words.count > 2 { message.words.2 = words[2] }
        if words.count > 3 { message.words.3 = words[3] }
        let reply: IPCMessage
        do throws(SysError) { reply = try senderCall(sender, message) } catch { throw .noServer }
        if reply.tag.label != 0 { throw FileError(rawValue: reply.tag.label) ?? .io }
        return reply
    }

    /// Puts a path into the message bytes; its length.
    func putPath(_ path: String, at offset: Int = 0) throws(FileError) -> Int {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty else { throw .invalid }
        guard bytes.count <= FileProtocol.maxPath else { throw .nameTooLong }
        guard bytes.withUnsafeBytes({ page.put($0, at: offset) }) else { throw .nameTooLong }
        return bytes.count
    }

    /// Opens `path`. With `window` > 0 a Frame of that many bytes (rounded up to pages) becomes the file's
    /// data window (shared with the server); 0 moves data through IPC bytes.
    public func open(_ path: String, _ flags: OpenFlags = .read, mode: UInt64 = 0,
                     window: UInt64 = 0) throws(FileError) -> OpenFile {
        let length = try putPath(path)
        guard window <= FileProtocol.maxWindow else { throw .invalid }
        let windowSize = (window + pageSize - 1) / pageSize * pageSize
        var frame: Handle? = nil, address: UInt64 = 0
        if windowSize > 0 {
            do throws(SysError) {
                let f = try frameCreate(size: windowSize)
                frame = f
                address = try MappingSpace.map(f, length: windowSize)
            } catch {
                if let frame { _ = try? handleClose(frame) }
                throw .noMemory
            }
        }
        // The server gets a duplicate (the transfer moves it); this process keeps its own handle.
        var given: [Handle] = []
        if let frame {
            guard let copy = try? handleDuplicate(frame, rights: [.read, .write, .map, .transfer]) else {
                MappingSpace.unmap(address, length: windowSize)
                _ = try? handleClose(frame)
                throw .noMemory
            }
            given = [copy]
        }
        do throws(FileError) {
            let reply = try call(.open, [flags.rawValue, mode], bytes: length, handles: given)
            return OpenFile(service: self, id: reply.words.0, size: reply.words.1,
                            kind: FileKind(rawValue: UInt8(truncatingIfNeeded: reply.words.2)) ?? .file,
                            window: frame, windowAddress: address, windowSize: windowSize)
        } catch {
            // A failed send leaves the duplicate here; a server that refused it closed it.
            for h in given { _ = try? handleClose(h) }
            if let frame {
                MappingSpace.unmap(address, length: windowSize)
                _ = try? handleClose(frame)
            }
            throw error
        }
    }

    public func stat(_ path: String) throws(FileError) -> FileStat {
        let length = try putPath(path)
        return FileService.stat(try call(.stat, [], bytes: length))
    }

    static func stat(_ reply: IPCMessage) -> FileStat {
        FileStat(size: reply.words.0, kind: FileKind(rawValue: UInt8(truncatingIfNeeded: reply.words.1)) ?? .file,
                 mode: reply.words.2, modified: reply.words.3)
    }

    /// The file at `path` as a read-only pager-backed Frame (`map`): its pages are read from the server
    /// when first touched. The handle is the caller's to close; `size` is the file's size in bytes.
    public func map(_ path: String) throws(FileError) -> (frame: Handle, size: UInt64) {
        let length = try putPath(path)
        let reply = try call(.map, [], bytes: length)
        guard reply.tag.handles == 1 else {
            for i in 0..<min(reply.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
            throw .io
        }
        return (page.handle(0), reply.words.0)
    }

    public func mkdir(_ path: String, mode: UInt64 = 0) throws(FileError) {
        let length = try putPath(path)
        _ = try call(.mkdir, [mode], bytes: length)
    }

    public func unlink(_ path: String, _ flags: UnlinkFlags = []) throws(FileError) {
        let length = try putPath(path)
        _ = try call(.unlink, [flags.rawValue], bytes: length)
    }

    public func rename(_ old: String, to new: String) throws(FileError) {
        let first = try putPath(old)
        let second = try putPath(new, at: first)
        _ = try call(.rename, [UInt64(first)], bytes: first + second)
    }

    /// connect: a new Sender to the same server with a badge of its own (owned by the caller), to hand to
    /// a program this one starts: it then shares no file ids with this client, and the server drops its
    /// files once that Sender is gone.
    public func connect(_ flags: ConnectFlags = []) throws(FileError) -> Handle {
        let reply = try call(.connect, flags.isEmpty ? [] : [flags.rawValue])
        guard reply.tag.handles == 1 else {
            for k in 0..<min(reply.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(k)) }
            throw .io
        }
        return page.handle(0)
    }

    /// The whole file at `path` (through a window of up to 1 MiB).
    public func readFile(_ path: String) throws(FileError) -> [UInt8] {
        let info = try stat(path)
        let file = try open(path, .read, window: min(max(info.size, 1), 1 << 20))
        defer { try? file.close() }
        var result: [UInt8] = []
        while true {
            let chunk = try file.read(count: Int(min(file.windowSize, 1 << 20)))
            if chunk.isEmpty { break }
            result.append(contentsOf: chunk)
        }
        return result
    }

    /// Every entry of the directory at `path`.
    public func list(_ path: String) throws(FileError) -> [DirectoryEntry] {
        let dir = try open(path, [.read, .directory])
        defer { try? dir.close() }
        var all: [DirectoryEntry] = []
        var index: UInt64 = 0
        while true {
            let (entries, next) = try dir.readdir(from: index)
            if entries.isEmpty { break }
            all.append(contentsOf: entries)
            index = next
        }
        return all
    }
}

/// A file opened through a FileService.
public final class OpenFile {
    public let service: FileService
    public let id: UInt64
    /// The size when it was opened.
    public let size: UInt64
    public let kind: FileKind
    let window: Handle?
    let windowAddress: UInt64
    public let windowSize: UInt64
    var closed = false

    init(service: FileService, id: UInt64, size: UInt64, kind: FileKind, window: Handle?, windowAddress: UInt64,
         windowSize: UInt64) {
        self.service = service
        self.id = id
        self.size = size
        self.kind = kind
        self.window = window
        self.windowAddress = windowAddress
        self.windowSize = windowSize
    }

    deinit { try? close() }

    /// Reads up to `count` bytes at the file's position (fewer at its end; none past it).
    public func read(count: Int) throws(FileError) -> [UInt8] {
        guard count >= 0 else { throw .invalid }
        if window != nil {
            let n = min(UInt64(count), windowSize)
            let reply = try service.call(.read, [id, n, 0])
            let got = Int(min(reply.words.0, n))
            return Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(windowAddress)), count: got))
        }
        let n = min(count, IPCBuffer.maxBytes)
        let reply = try service.call(.read, [id, UInt64(n), 0])
        return service.page.take(min(Int(min(reply.words.0, UInt64(n))), reply.tag.bytes))
    }

    /// Writes `bytes` at the file's position (at its end with `.append`); how many were written.
    public func write(_ bytes: [UInt8]) throws(FileError) -> Int {
        if window != nil {
            let n = min(bytes.count, Int(windowSize))
            bytes.withUnsafeBytes { b in
                if n > 0 { UnsafeMutableRawPointer(bitPattern: UInt(windowAddress))!.copyMemory(from: b.baseAddress!, byteCount: n) }
            }
            return Int(try service.call(.write, [id, UInt64(n), 0]).words.0)
        }
        let n = min(bytes.count, IPCBuffer.maxBytes)
        bytes.withUnsafeBytes { b in _ = service.page.put(UnsafeRawBufferPointer(rebasing: b[0..<n])) }
        return Int(try service.call(.write, [id, UInt64(n), 0], bytes: n).words.0)
    }

    /// Moves the position; the new one.
    @discardableResult
    public func seek(_ offset: Int64, from origin: SeekOrigin = .start) throws(FileError) -> UInt64 {
        try service.call(.seek, [id, UInt64(bitPattern: offset), origin.rawValue]).words.0
    }

    public func stat() throws(FileError) -> FileStat { FileService.stat(try service.call(.stat, [id])) }

    /// Entries from `index` on (as many as one reply holds) and the index to ask for next.
    public func readdir(from index: UInt64) throws(FileError) -> ([DirectoryEntry], next: UInt64) {
        let reply = try service.call(.readdir, [id, index])
        let bytes = service.page.take(reply.tag.bytes)
        var entries: [DirectoryEntry] = []
        var at = 0
        for _ in 0..<Int(min(reply.words.0, UInt64(IPCBuffer.maxBytes))) {
            guard at + FileProtocol.direntHeader <= bytes.count else { throw .io }
            let kind = FileKind(rawValue: bytes[at]) ?? .file
            let nameLength = Int(bytes[at + 1])
            var size: UInt64 = 0
            for k in 0..<8 { size |= UInt64(bytes[at + 2 + k]) << (8 * k) }
            let start = at + FileProtocol.direntHeader
            guard start + nameLength <= bytes.count else { throw .io }
            entries.append(DirectoryEntry(name: String(decoding: bytes[start..<(start + nameLength)], as: UTF8.self),
                                          kind: kind, size: size))
            at = start + nameLength
        }
        return (entries, reply.words.1)
    }

    /// Closes the file on the server and lets go of the window.
    public func close() throws(FileError) {
        guard !closed else { return }
        closed = true
        defer {
            if let window {
                MappingSpace.unmap(windowAddress, length: windowSize)
                _ = try? handleClose(window)
            }
        }
        _ = try service.call(.close, [id])
    }
}

/// Encodes readdir entries (for servers): appends one entry to `out` if it fits in `limit` bytes.
public func appendDirectoryEntry(_ out: inout [UInt8], name: ArraySlice<UInt8>, kind: FileKind, size: UInt64,
                                 limit: Int = IPCBuffer.maxBytes) -> Bool {
    let n = min(name.count, FileProtocol.maxName)
    guard out.count + FileProtocol.direntHeader + n <= limit else { return false }
    out.append(kind.rawValue)
    out.append(UInt8(n))
    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: size >> (8 * k))) }
    out.append(contentsOf: name.prefix(n))
    return true
}

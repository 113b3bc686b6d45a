// The typed client of vfs's file protocol (Sources/ABI/VFSProtocol.swift): connect with a shared Frame,
// then open, read, write, seek, close, stat, readdir, mkdir, unlink and rename by URI. A client is used
// by the thread that made it (its MessagePage is that thread's IPC buffer).

/// One connection to vfs (or to any server of the file protocol).
public struct VFSClient {
    /// The connection's Sender (its badge names the connection at the server).
    public let sender: Handle
    /// The shared data Frame (vfs holds the other handle) and its size.
    public let frame: Handle
    public let frameSize: Int
    let page: MessagePage

    /// Connects through the admin Sender `server` with a fresh shared Frame of `frameSize` bytes.
    public init(connectingTo server: Handle, frameSize: Int = 64 * 1024, page: MessagePage? = nil) throws(ServiceError) {
        let page = try VFSClient.pageOrNew(page)
        let frame = try VFSClient.sys { () throws(SysError) in try frameCreate(size: UInt64(frameSize)) }
        do throws(ServiceError) {
            let theirs = try VFSClient.sys { () throws(SysError) in try handleDuplicate(frame, rights: [.read, .write, .transfer]) }
            page.setHandle(0, theirs)
            let answer = try VFSClient.request(server, IPCMessage(tag: IPCTag(handles: 1, label: VFSOp.connect.rawValue)))
            guard answer.tag.handles == 1 else { throw .badMessage }
            self.sender = page.handle(0)
        } catch {
            _ = try? handleClose(frame)
            throw error
        }
        self.frame = frame
        self.frameSize = frameSize
        self.page = page
    }

    /// Tells vfs that `server` (a Sender to a server of the file protocol; it moves) serves `scheme`.
    public static func mount(_ vfs: Handle, scheme: String, server: Handle, page: MessagePage) throws(ServiceError) {
        guard let w = SchemeWords.pack(Array(scheme.utf8)) else { throw .nameTooLong }
        page.setHandle(0, server)
        _ = try request(vfs, IPCMessage(tag: IPCTag(words: 2, handles: 1, label: VFSOp.mount.rawValue), words: (w.0, w.1, 0, 0)))
    }

    /// Closes this side's handles; vfs drops the connection's state (files, Frame) once its Sender is gone.
    public func close() {
        _ = try? handleClose(sender)
        _ = try? handleClose(frame)
    }

    // MARK: Operations

    public func open(_ path: String, _ flags: VFSOpenFlags) throws(ServiceError) -> UInt64 {
        try call(.open, try putPath(path), flags.rawValue).words.1
    }

    /// Up to `count` bytes (fewer at the end; empty past it).
    public func read(_ fd: UInt64, count: Int) throws(ServiceError) -> [UInt8] {
        let n = Int(try call(.read, fd, UInt64(min(count, frameSize))).words.1)
        guard n <= frameSize else { throw .badMessage }
        return try VFSClient.readFrame(frame, offset: 0, count: n)
    }

    /// Writes all of `bytes` (in Frame-sized pieces); the count written.
    @discardableResult
    public func write(_ fd: UInt64, _ bytes: [UInt8]) throws(ServiceError) -> Int {
        var done = 0
        repeat {
            let piece = Array(bytes[done..<min(bytes.count, done + frameSize)])
            try put(piece, at: 0)
            let n = Int(try call(.write, fd, UInt64(piece.count)).words.1)
            done += n
            if n < piece.count { break }
        } while done < bytes.count
        return done
    }

    public func seek(_ fd: UInt64, _ offset: Int64, _ whence: VFSWhence) throws(ServiceError) -> UInt64 {
        try call(.seek, fd, UInt64(bitPattern: offset), whence.rawValue).words.1
    }

    public func close(_ fd: UInt64) throws(ServiceError) { _ = try call(.close, fd) }

    public func stat(_ path: String) throws(ServiceError) -> (kind: VFSFileKind, size: UInt64) {
        try kindAndSize(try call(.stat, try putPath(path)))
    }

    public func fstat(_ fd: UInt64) throws(ServiceError) -> (kind: VFSFileKind, size: UInt64) {
        try kindAndSize(try call(.fstat, fd))
    }

    /// Every entry of a directory, in name order.
    public func readdir(_ path: String) throws(ServiceError) -> [(name: String, kind: VFSFileKind)] {
        var out: [(name: String, kind: VFSFileKind)] = []
        while true {
            let answer = try call(.readdir, try putPath(path), UInt64(out.count))
            let count = Int(answer.words.1), total = Int(answer.words.2)
            let bytes = try VFSClient.readFrame(frame, offset: 0, count: min(frameSize, count * 257))
            var at = 0
            for _ in 0..<count {
                guard at + 2 <= bytes.count, let kind = VFSFileKind(rawValue: bytes[at]) else { throw .badMessage }
                let length = Int(bytes[at + 1])
                guard at + 2 + length <= bytes.count else { throw .badMessage }
                out.append((String(decoding: bytes[(at + 2)..<(at + 2 + length)], as: UTF8.self), kind))
                at += 2 + length
            }
            if out.count >= total || count == 0 { return out }
        }
    }

    public func mkdir(_ path: String) throws(ServiceError) { _ = try call(.mkdir, try putPath(path)) }
    public func unlink(_ path: String) throws(ServiceError) { _ = try call(.unlink, try putPath(path)) }

    public func rename(_ from: String, to: String) throws(ServiceError) {
        let a = Array(from.utf8), b = Array(to.utf8)
        try put(a + b, at: 0)
        _ = try call(.rename, UInt64(a.count), UInt64(b.count))
    }

    /// A whole file's bytes (at most `limit`).
    public func readFile(_ path: String, limit: Int = 64 << 20) throws(ServiceError) -> [UInt8] {
        let fd = try open(path, .read)
        defer { _ = try? close(fd) }
        var out: [UInt8] = []
        while true {
            let piece = try read(fd, count: frameSize)
            if piece.isEmpty { return out }
            out += piece
            guard out.count <= limit else { throw .fileTooLarge }
        }
    }

    /// Makes (or replaces the contents of) a file.
    public func writeFile(_ path: String, _ bytes: [UInt8]) throws(ServiceError) {
        let fd = try open(path, [.write, .create, .truncate])
        defer { _ = try? close(fd) }
        guard try write(fd, bytes) == bytes.count else { throw .noSpace }
    }

    // MARK: Wire

    /// Sends a request of `op` with `words` (raw: the fuzz tests send any), returns the successful answer.
    public func call(_ op: VFSOp, _ words: UInt64...) throws(ServiceError) -> IPCMessage {
        var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        if words.count > 0 { w.0 = words[0] }
        if words.count > 1 { w.1 = words[1] }
        if words.count > 2 { w.2 = words[2] }
        return try VFSClient.request(sender, IPCMessage(tag: IPCTag(words: min(words.count, 4), label: op.rawValue), words: w))
    }

    /// One call; a failed call or an error word becomes a ServiceError.
    static func request(_ to: Handle, _ message: IPCMessage) throws(ServiceError) -> IPCMessage {
        let answer = try sys { () throws(SysError) in try senderCall(to, message) }
        guard answer.words.0 == 0 else { throw ServiceError(rawValue: answer.words.0) ?? .badMessage }
        return answer
    }

    /// `count` bytes of a Frame from `offset` (frameReadAll: in pieces the kernel copies at once).
    public static func readFrame(_ frame: Handle, offset: UInt64, count: Int) throws(ServiceError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let r = out.withUnsafeMutableBytes { b in
            Result { () throws(SysError) in try frameReadAll(frame, offset: offset, into: b) }
        }
        if case .failure(let e) = r { throw ServiceError(e) }
        return out
    }

    /// Writes `bytes` into a Frame at `offset` (frameWriteAll: in pieces the kernel copies at once).
    public static func writeFrame(_ frame: Handle, offset: UInt64, _ bytes: [UInt8]) throws(ServiceError) {
        let r = bytes.withUnsafeBytes { b in
            Result { () throws(SysError) in try frameWriteAll(frame, offset: offset, from: b) }
        }
        if case .failure(let e) = r { throw ServiceError(e) }
    }

    /// `page`, or a new MessagePage for the calling thread.
    static func pageOrNew(_ page: MessagePage?) throws(ServiceError) -> MessagePage {
        if let page { return page }
        return try sys { () throws(SysError) in try MessagePage() }
    }

    public static func sys<T>(_ body: () throws(SysError) -> T) throws(ServiceError) -> T {
        do { return try body() } catch { throw ServiceError(error) }
    }

    func put(_ bytes: [UInt8], at offset: Int) throws(ServiceError) {
        guard offset + bytes.count <= frameSize else { throw .nameTooLong }
        try VFSClient.writeFrame(frame, offset: UInt64(offset), bytes)
    }

    /// Writes a path at the Frame's start; its length.
    func putPath(_ path: String) throws(ServiceError) -> UInt64 {
        let bytes = Array(path.utf8)
        try put(bytes, at: 0)
        return UInt64(bytes.count)
    }

    func kindAndSize(_ m: IPCMessage) throws(ServiceError) -> (kind: VFSFileKind, size: UInt64) {
        guard let kind = VFSFileKind(rawValue: UInt8(truncatingIfNeeded: m.words.1)) else { throw .badMessage }
        return (kind, m.words.2)
    }
}

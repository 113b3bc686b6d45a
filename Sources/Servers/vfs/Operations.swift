// The file operations of one connection: paths and data through its shared Frame, routed by the mount
// table to a tmpfs or forwarded to the server of a mounted scheme.

/// What a mount serves from.
enum FileSystem {
    case tmpfs(TmpMount)
    case remote(RemoteFS)
}

/// A tmpfs in a class, so open files can refer to it.
final class TmpMount {
    var fs = TmpFS()
}

extension VFSServer {
    func perform(_ op: VFSOp, _ m: IPCMessage, _ c: Connection) throws(ServiceError) -> Answer {
        switch op {
        case .open: return try open(c, path: try path(c, m.words.0), flags: VFSOpenFlags(rawValue: m.words.1))
        case .read: return try read(c, try file(c, m.words.0), count: try count(c, m.words.1))
        case .write: return try write(c, try file(c, m.words.0), count: try count(c, m.words.1))
        case .seek: return try seek(try file(c, m.words.0), Int64(bitPattern: m.words.1), m.words.2)
        case .close: return try close(c, m.words.0)
        case .stat: return try stat(try path(c, m.words.0))
        case .fstat: return try fstat(try file(c, m.words.0))
        case .readdir: return try readdir(c, try path(c, m.words.0), from: m.words.1)
        case .mkdir, .unlink: return try change(op, try path(c, m.words.0))
        case .rename: return try rename(c, m.words.0, m.words.1)
        case .connect, .mount: throw .notPermitted
        }
    }

    // MARK: Arguments

    /// The URI of `length` bytes at the start of the connection's Frame.
    func path(_ c: Connection, _ length: UInt64, at offset: Int = 0) throws(ServiceError) -> FileURI {
        guard length <= UInt64(FileURI.maxLength) else { throw .nameTooLong }
        guard offset + Int(length) <= c.size else { throw .invalid }
        return try FileURI(parsing: try VFSClient.readFrame(c.frame, offset: UInt64(offset), count: Int(length)))
    }

    func file(_ c: Connection, _ fd: UInt64) throws(ServiceError) -> VFSOpenFile {
        guard let f = c.files[fd] else { throw .badDescriptor }
        return f
    }

    /// A byte count that fits the connection's Frame.
    func count(_ c: Connection, _ n: UInt64) throws(ServiceError) -> Int {
        guard n <= UInt64(c.size) else { throw .invalid }
        return Int(n)
    }

    // MARK: Operations

    func open(_ c: Connection, path uri: FileURI, flags: VFSOpenFlags) throws(ServiceError) -> Answer {
        guard c.files.count < VFSServer.maxOpenFiles else { throw .tooManyOpen }
        let (index, rest) = try mounts.resolve(uri)
        let place: VFSOpenFile.Place
        switch mounts.mounts[index].target {
        case .tmpfs(let t): place = .local(t, node: try t.fs.open(rest, flags))
        case .remote(let r): place = .remote(r, fd: try r.open(rest, flags))
        }
        let fd = c.nextFD
        c.nextFD += 1
        c.files[fd] = VFSOpenFile(place, flags: flags)
        return .ok(fd)
    }

    func read(_ c: Connection, _ f: VFSOpenFile, count: Int) throws(ServiceError) -> Answer {
        guard f.flags.contains(.read) else { throw .badDescriptor }
        let bytes: [UInt8]
        switch f.place {
        case .local(let t, let node):
            bytes = Array(try t.fs.read(node: node, offset: f.offset, count: count))
            f.offset += bytes.count
        case .remote(let r, let fd): bytes = try r.read(fd, count: count)
        }
        try copyOut(bytes, to: c)
        return .ok(UInt64(bytes.count))
    }

    func write(_ c: Connection, _ f: VFSOpenFile, count: Int) throws(ServiceError) -> Answer {
        guard f.flags.contains(.write) else { throw .badDescriptor }
        let bytes = try VFSClient.readFrame(c.frame, offset: 0, count: count)
        switch f.place {
        case .local(let t, let node):
            if f.flags.contains(.append) { f.offset = t.fs.stat(node: node).size }
            try t.fs.write(node: node, offset: f.offset, bytes[...])
            f.offset += count
            return .ok(UInt64(count))
        case .remote(let r, let fd): return .ok(UInt64(try r.write(fd, bytes)))
        }
    }

    func seek(_ f: VFSOpenFile, _ offset: Int64, _ whence: UInt64) throws(ServiceError) -> Answer {
        guard let whence = VFSWhence(rawValue: whence) else { throw .invalid }
        switch f.place {
        case .local(let t, let node):
            let base = switch whence { case .set: 0; case .current: f.offset; case .end: t.fs.stat(node: node).size }
            let (target, overflow) = Int64(base).addingReportingOverflow(offset)
            guard !overflow, target >= 0, target <= Int64(Int32.max) else { throw .invalid }
            f.offset = Int(target)
            return .ok(UInt64(target))
        case .remote(let r, let fd): return .ok(try r.seek(fd, offset, whence))
        }
    }

    func close(_ c: Connection, _ fd: UInt64) throws(ServiceError) -> Answer {
        guard let f = c.files.removeValue(forKey: fd) else { throw .badDescriptor }
        switch f.place {
        case .local(let t, let node): t.fs.close(node)
        case .remote(let r, let fd): try? r.close(fd)
        }
        return .ok()
    }

    func stat(_ uri: FileURI) throws(ServiceError) -> Answer {
        let (index, rest) = try mounts.resolve(uri)
        switch mounts.mounts[index].target {
        case .tmpfs(let t):
            let s = t.fs.stat(node: try t.fs.lookup(rest))
            return .ok(UInt64(s.kind.rawValue), UInt64(s.size))
        case .remote(let r):
            let s = try r.stat(rest)
            return .ok(UInt64(s.kind.rawValue), s.size)
        }
    }

    func fstat(_ f: VFSOpenFile) throws(ServiceError) -> Answer {
        switch f.place {
        case .local(let t, let node):
            let s = t.fs.stat(node: node)
            return .ok(UInt64(s.kind.rawValue), UInt64(s.size))
        case .remote(let r, let fd):
            let s = try r.fstat(fd)
            return .ok(UInt64(s.kind.rawValue), s.size)
        }
    }

    /// Records from entry `first` on, as many as fit the Frame.
    func readdir(_ c: Connection, _ uri: FileURI, from first: UInt64) throws(ServiceError) -> Answer {
        let (index, rest) = try mounts.resolve(uri)
        let entries: [(name: String, kind: VFSFileKind)]
        switch mounts.mounts[index].target {
        case .tmpfs(let t): entries = try t.fs.list(rest)
        case .remote(let r): entries = try r.list(rest)
        }
        var bytes: [UInt8] = []
        var written: UInt64 = 0
        var i = first
        while i < UInt64(entries.count) {
            let name = Array(entries[Int(i)].name.utf8.prefix(255))
            guard bytes.count + 2 + name.count <= c.size else { break }
            bytes += [entries[Int(i)].kind.rawValue, UInt8(name.count)] + name
            written += 1
            i += 1
        }
        try copyOut(bytes, to: c)
        return .ok(written, UInt64(entries.count))
    }

    func change(_ op: VFSOp, _ uri: FileURI) throws(ServiceError) -> Answer {
        guard !mounts.isMountPoint(uri) else { throw .busy }
        let (index, rest) = try mounts.resolve(uri)
        switch mounts.mounts[index].target {
        case .tmpfs(let t): if op == .mkdir { try t.fs.mkdir(rest) } else { try t.fs.unlink(rest) }
        case .remote(let r): try r.change(op, rest)
        }
        return .ok()
    }

    func rename(_ c: Connection, _ fromLength: UInt64, _ toLength: UInt64) throws(ServiceError) -> Answer {
        guard fromLength <= UInt64(FileURI.maxLength) else { throw .nameTooLong }
        let from = try path(c, fromLength)
        let to = try path(c, toLength, at: Int(fromLength))
        guard !mounts.isMountPoint(from), !mounts.isMountPoint(to) else { throw .busy }
        let (a, restA) = try mounts.resolve(from)
        let (b, restB) = try mounts.resolve(to)
        guard a == b else { throw .crossDevice }
        switch mounts.mounts[a].target {
        case .tmpfs(let t): try t.fs.rename(restA, restB)
        case .remote(let r): try r.rename(restA, restB)
        }
        return .ok()
    }

    func copyOut(_ bytes: [UInt8], to c: Connection) throws(ServiceError) {
        guard !bytes.isEmpty else { return }
        try VFSClient.writeFrame(c.frame, offset: 0, bytes)
    }
}

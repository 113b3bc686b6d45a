// utilstest's file server: the file protocol (Sources/ABI/FileProtocol.swift) over a TmpFS (Sources/Formats
// /TmpFS.swift), served on a thread of this program. Each utility it starts gets a Sender to it as
// `import:vfs` and its descriptors 0, 1, 2 as open files on it (/in, /out, /err of its own directory), so
// the test reads what a utility wrote straight from the TmpFS. Requests it does not serve (map, connect,
// share, control, mount, unmount) are `.notSupported`; a malformed one is `.badMessage`.

/// One open file: its node, position and flags.
struct OpenEntry {
    var node: Int
    var position: Int
    var flags: OpenFlags
    var directory: Bool
}

enum TestFS {
    static var fs = TmpFS(capacity: 4 << 20)
    static var open: [UInt64: OpenEntry] = [:]
    static var nextID: UInt64 = 1
    static var page: IPCBufferPage! = nil
    static var receiver: Handle = .invalid

    /// A path's components: `fs:///a/b` or `/a/b`; other schemes are `.noServer`.
    static func components(_ bytes: [UInt8]) throws(FileError) -> [String] {
        guard !bytes.isEmpty, bytes.count <= FileProtocol.maxPath else { throw .invalid }
        var path = String(decoding: bytes, as: UTF8.self)
        if path.hasPrefix("fs://") { path = String(path.dropFirst(5)) }
        else if !UtilityPath.scheme(path).isEmpty { throw .noServer }
        guard path.hasPrefix("/") else { throw .invalid }
        let parts = path.split(separator: "/").map(String.init)
        if parts.contains(".") || parts.contains("..") { throw .invalid }
        return parts
    }

    /// Opens a file here for the test itself (a utility's descriptor); its id.
    static func openForTest(_ path: [String], _ flags: OpenFlags) throws(FileError) -> UInt64 {
        let node: Int
        do throws(FileError) { node = try fs.open(path, flags) } catch { throw error }
        let id = nextID
        nextID += 1
        open[id] = OpenEntry(node: node, position: 0, flags: flags, directory: fs.stat(node: node).kind == .directory)
        return id
    }

    /// A file's bytes (for checks); [] when missing.
    static func contents(_ path: [String]) -> [UInt8] {
        guard let n = try? fs.lookup(path), fs.stat(node: n).kind == .file else { return [] }
        return Array((try? fs.read(node: n, offset: 0, count: fs.stat(node: n).size)) ?? [])
    }

    static func write(_ path: [String], _ bytes: [UInt8]) {
        guard let id = try? openForTest(path, [.write, .create, .truncate]), let e = open[id] else { return }
        try? fs.write(node: e.node, offset: 0, bytes[...])
        fs.close(e.node)
        open[id] = nil
    }

    /// The server thread: answers requests until the Receiver goes.
    static func serve() -> UInt64 {
        guard let p = try? IPCBufferPage.make(), (try? p.install()) != nil else { return 1 }
        page = p
        return UInt64(serveRequests(receiver, name: "utilstest.fs") { request in
            do throws(FileError) { return try answer(request) } catch {
                return IPCMessage(tag: IPCTag(label: error.rawValue))
            }
        })
    }

    static func path(_ request: IPCMessage, count: Int? = nil) throws(FileError) -> [String] {
        try components(page.take(count ?? request.tag.bytes))
    }

    static func answer(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard let label = FileLabel(rawValue: m.tag.label), m.tag.words >= label.minimumWords else { throw .badMessage }
        if m.tag.handles > 0 {
            for i in 0..<m.tag.handles { _ = try? handleClose(page.handle(i)) }
            throw .badMessage
        }
        switch label {
        case .open:
            let flags = OpenFlags(rawValue: m.words.0)
            guard flags.subtracting(.all).isEmpty, flags.contains(.read) || flags.contains(.write) else { throw .invalid }
            let id = try openForTest(try path(m), flags)
            let e = open[id]!
            if flags.contains(.directory) != e.directory {
                fs.close(e.node)
                open[id] = nil
                throw e.directory ? .isDirectory : .notDirectory
            }
            return .ok(id, UInt64(fs.stat(node: e.node).size), e.directory ? 2 : 1)
        case .read:
            guard var e = open[m.words.0] else { throw .badFile }
            guard !e.directory else { throw .isDirectory }
            guard e.flags.contains(.read) else { throw .accessDenied }
            guard m.words.1 <= UInt64(IPCBuffer.maxBytes) else { throw .invalid }
            let data: ArraySlice<UInt8>
            do throws(FileError) { data = try fs.read(node: e.node, offset: e.position, count: Int(m.words.1)) } catch { throw error }
            let bytes = Array(data)
            _ = bytes.withUnsafeBytes { page.put($0) }
            e.position += bytes.count
            open[m.words.0] = e
            return .ok(UInt64(bytes.count), bytes: bytes.count)
        case .write:
            guard var e = open[m.words.0] else { throw .badFile }
            guard e.flags.contains(.write) else { throw .accessDenied }
            guard m.words.1 == UInt64(m.tag.bytes) else { throw .invalid }
            let bytes = page.take(m.tag.bytes)
            if e.flags.contains(.append) { e.position = fs.stat(node: e.node).size }
            do throws(FileError) { try fs.write(node: e.node, offset: e.position, bytes[...]) } catch { throw error }
            e.position += bytes.count
            open[m.words.0] = e
            return .ok(UInt64(bytes.count))
        case .seek:
            guard var e = open[m.words.0] else { throw .badFile }
            let base: Int
            switch SeekOrigin(rawValue: m.words.2) {
            case .start: base = 0
            case .current: base = e.position
            case .end: base = fs.stat(node: e.node).size
            case nil: throw .invalid
            }
            let target = base + Int(truncatingIfNeeded: Int64(bitPattern: m.words.1))
            guard target >= 0 else { throw .invalid }
            e.position = target
            open[m.words.0] = e
            return .ok(UInt64(target))
        case .close:
            guard let e = open[m.words.0] else { throw .badFile }
            fs.close(e.node)
            open[m.words.0] = nil
            return .ok()
        case .stat:
            let node: Int
            if m.tag.bytes > 0 {
                let p = try path(m)
                do throws(FileError) { node = try fs.lookup(p) } catch { throw error }
            } else {
                guard let e = open[m.words.0] else { throw .badFile }
                node = e.node
            }
            let s = fs.stat(node: node)
            return .ok(UInt64(s.size), s.kind == .directory ? 2 : 1, s.kind == .directory ? 0o755 : 0o644, 0)
        case .readdir:
            guard let e = open[m.words.0] else { throw .badFile }
            guard e.directory else { throw .notDirectory }
            return try readdir(e, from: Int(min(m.words.1, 1 << 20)))
        case .mkdir:
            let p = try path(m)
            do throws(FileError) { try fs.mkdir(p) } catch { throw error }
            return .ok()
        case .unlink:
            let p = try path(m)
            let node: Int
            do throws(FileError) { node = try fs.lookup(p) } catch { throw error }
            let isDirectory = fs.stat(node: node).kind == .directory
            if isDirectory && !UnlinkFlags(rawValue: m.words.0).contains(.directory) { throw .isDirectory }
            if !isDirectory && UnlinkFlags(rawValue: m.words.0).contains(.directory) { throw .notDirectory }
            do throws(FileError) { try fs.unlink(p) } catch { throw error }
            return .ok()
        case .rename:
            let first = Int(m.words.0)
            guard first > 0, first < m.tag.bytes else { throw .invalid }
            let all = page.take(m.tag.bytes)
            let from = try components(Array(all[..<first])), to = try components(Array(all[first...]))
            do throws(FileError) { try fs.rename(from, to) } catch { throw error }
            return .ok()
        case .statfs:
            return .ok(UInt64(fs.capacity), UInt64(fs.capacity - fs.used), 4096)
        case .map, .connect, .share, .control, .mount, .unmount, .mounts:
            throw .notSupported
        }
    }

    static func readdir(_ e: OpenEntry, from index: Int) throws(FileError) -> IPCMessage {
        var path: [String] = []
        // The TmpFS lists by path: find the directory's path from the root (test trees are small).
        guard let p = find(e.node, under: TmpFS.rootNode, path: []) else { throw .io }
        path = p
        let entries: [(name: String, kind: FileKind)]
        do throws(FileError) { entries = try fs.list(path) } catch { throw error }
        var out: [UInt8] = []
        var i = index, count = 0
        while i < entries.count {
            let n = (try? fs.lookup(path + [entries[i].name])) ?? 0
            guard appendDirectoryEntry(&out, name: Array(entries[i].name.utf8)[...], kind: entries[i].kind == .directory ? .directory : .file,
                                       size: UInt64(fs.stat(node: n).size)) else { break }
            i += 1
            count += 1
        }
        _ = out.withUnsafeBytes { page.put($0) }
        return .ok(UInt64(count), UInt64(i), bytes: out.count)
    }

    static func find(_ node: Int, under dir: Int, path: [String]) -> [String]? {
        if node == dir { return path }
        guard let entries = try? fs.list(path) else { return nil }
        for entry in entries where entry.kind == .directory {
            guard let child = try? fs.lookup(path + [entry.name]) else { continue }
            if let found = find(node, under: child, path: path + [entry.name]) { return found }
        }
        return nil
    }
}

// initfsd's request loop: one thread receives, checks and answers each request.

struct OpenFileState {
    let badge: UInt64
    let node: Int
    var position: UInt64
    /// The data window (mapped here), if the client gave one.
    let window: Handle?
    let windowAddress: UInt64
    let windowSize: UInt64
}

final class Server {
    let archive: [UInt8]
    let tree: Tree
    /// Open files by id (a linear list: at most totalLimit; the embedded runtime has no Dictionary here).
    var open: [(id: UInt64, state: OpenFileState)] = []
    var nextID: UInt64 = 1
    let page: IPCBufferPage
    /// Serves `map` (Pager.swift); nil when it could not be set up (map is then `.notSupported`).
    var pager: FilePager? = nil
    /// Open files one badge may hold, and all clients together.
    static let perBadgeLimit = 64
    static let totalLimit = 1024

    init(archive: [UInt8], tree: Tree) {
        self.archive = archive
        self.tree = tree
        guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
            fatal("initfsd: no IPC buffer page")
        }
        self.page = page
    }

    /// Connections made by `connect` whose Sender is not gone yet, and the most there may be.
    var connections = 0
    static let connectionLimit = 1024
    /// Badges of connections: above every badge root gives importers (a number per importer).
    static let connectionBadgeBase: UInt64 = 1 << 48
    var nextConnection: UInt64 = 0
    /// The Receiver requests arrive on (connect mints Senders to it).
    var receiver: Handle = .invalid

    /// Receives and answers requests until the Receiver goes away. Closed-client notices are on: the
    /// open files of a badge whose Sender is gone are dropped.
    func run(_ receiver: Handle) -> Int32 {
        self.receiver = receiver
        return serveClients(receiver, name: "initfsd", gone: { dropClient($0) }) { answer($0, moving: &$1) }
    }

    /// A client's Sender is gone: its open files and their windows go too.
    func dropClient(_ badge: UInt64) {
        for entry in open where entry.state.badge == badge { release(entry.state) }
        open.removeAll { $0.state.badge == badge }
        if badge >= Server.connectionBadgeBase && connections > 0 { connections -= 1 }
    }

    /// Unmaps and closes an open file's window.
    func release(_ s: OpenFileState) {
        guard let w = s.window else { return }
        MappingSpace.unmap(s.windowAddress, length: s.windowSize)
        _ = try? handleClose(w)
    }

    /// connect: a new Sender with a badge of its own, moved to the caller in the reply.
    func connect(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        guard connections < Server.connectionLimit else { throw .tooManyOpen }
        let badge = Server.connectionBadgeBase + nextConnection
        let sender: Handle
        do throws(SysError) { sender = try senderCreate(receiver, badge: badge) } catch { throw .noMemory }
        nextConnection += 1
        connections += 1
        page.setHandle(0, sender)
        moving = sender
        var reply = IPCMessage.ok(badge)
        reply.tag = IPCTag(words: 1, handles: 1, label: 0)
        return reply
    }

    /// The reply to one request (never throws, never traps on what the client sent).
    func answer(_ m: IPCMessage, moving: inout Handle?) -> IPCMessage {
        // Handles only come with open (one at most); any others are closed at once.
        let label = FileLabel(rawValue: m.tag.label)
        var window: Handle? = nil
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) {
            let h = page.handle(i)
            if label == .open && m.tag.handles == 1 { window = h } else { _ = try? handleClose(h) }
        }
        do throws(FileError) {
            guard let label else { throw .badMessage }
            guard m.tag.words >= label.minimumWords else { throw .badMessage }
            if label != .open && m.tag.handles > 0 { throw .badMessage }
            if m.tag.handles > 1 { throw .badMessage }
            switch label {
            case .open: return try openFile(m, window: &window)
            case .read: return try read(m)
            case .write:
                _ = try state(m.words.0, m.badge)
                throw .accessDenied
            case .seek: return try seek(m)
            case .close: return try close(m)
            case .stat: return try stat(m)
            case .readdir: return try readdir(m)
            case .mkdir, .unlink, .rename: throw .readOnly
            case .map: return try map(m, moving: &moving)
            case .connect: return try connect(m, moving: &moving)
            // Open files are not shared between connections here yet; initfs files are no terminals.
            case .share, .control, .mount, .unmount, .mounts: throw .notSupported
            case .statfs: return try statfs(m)
            }
        } catch {
            if let window { _ = try? handleClose(window) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    /// The path in the request's bytes, looked up.
    func lookup(_ m: IPCMessage) throws(FileError) -> Int {
        guard m.tag.bytes > 0 else { throw .badMessage }
        let path = try normalize(page.take(m.tag.bytes))
        if let i = tree.find(path) { return i }
        // A missing file under a component that is a file: ENOTDIR, as POSIX says.
        var prefix: [UInt8] = []
        for part in path.split(separator: UInt8(ascii: "/")) {
            if !prefix.isEmpty { prefix.append(UInt8(ascii: "/")) }
            prefix.append(contentsOf: part)
            if prefix.count < path.count, let i = tree.find(prefix), tree.nodes[i].kind == .file { throw .notDirectory }
        }
        throw .notFound
    }

    func state(_ id: UInt64, _ badge: UInt64) throws(FileError) -> OpenFileState {
        guard let i = open.firstIndex(where: { $0.id == id }), open[i].state.badge == badge else { throw .badFile }
        return open[i].state
    }

    func update(_ id: UInt64, _ s: OpenFileState) {
        if let i = open.firstIndex(where: { $0.id == id }) { open[i].state = s }
    }

    func openFile(_ m: IPCMessage, window: inout Handle?) throws(FileError) -> IPCMessage {
        let flags = OpenFlags(rawValue: m.words.0)
        guard flags.rawValue & ~OpenFlags.all.rawValue == 0, flags.contains(.read) || flags.contains(.write) else {
            throw .invalid
        }
        if !flags.intersection([.write, .create, .truncate, .append]).isEmpty {
            // Read-only: an exclusive create of a file that is there is `.exists`, any other change `.readOnly`.
            guard m.tag.bytes > 0 else { throw .badMessage }
            let exists = tree.find(try normalize(page.take(m.tag.bytes))) != nil
            throw exists && flags.contains(.exclusive) && flags.contains(.create) ? .exists : .readOnly
        }
        let node = try lookup(m)
        let kind = tree.nodes[node].kind
        if flags.contains(.directory) && kind != .directory { throw .notDirectory }
        if !flags.contains(.directory) && kind == .directory { throw .isDirectory }
        guard open.count < Server.totalLimit,
              open.filter({ $0.state.badge == m.badge }).count < Server.perBadgeLimit else { throw .tooManyOpen }
        var address: UInt64 = 0, size: UInt64 = 0
        if let w = window {
            guard let (type, rights) = try? handleIdentify(w), type == .frame,
                  rights.isSuperset(of: FileProtocol.windowRights),
                  let s = try? frameGetSize(w), s > 0, s <= FileProtocol.maxWindow,
                  let a = try? MappingSpace.map(w, length: s) else { throw .invalid }
            address = a
            size = s
        }
        let id = nextID
        nextID += 1
        open.append((id, OpenFileState(badge: m.badge, node: node, position: 0, window: window, windowAddress: address,
                                       windowSize: size)))
        window = nil   // kept
        return IPCMessage.ok(id, UInt64(tree.nodes[node].size), UInt64(kind.rawValue))
    }

    func read(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        var s = try state(m.words.0, m.badge)
        guard m.tag.bytes == 0 else { throw .badMessage }
        let node = tree.nodes[s.node]
        guard node.kind == .file else { throw .isDirectory }
        let length = m.words.1, offset = m.words.2
        if s.window != nil {
            guard offset <= s.windowSize, length <= s.windowSize - offset else { throw .invalid }
        } else {
            guard length <= UInt64(IPCBuffer.maxBytes) else { throw .invalid }
        }
        let available = s.position >= UInt64(node.size) ? 0 : UInt64(node.size) - s.position
        let n = Int(min(length, available))
        let start = node.dataOffset + Int(s.position)
        if n > 0 {
            archive.withUnsafeBytes { all in
                let source = UnsafeRawBufferPointer(rebasing: all[start..<(start + n)])
                if s.window != nil {
                    UnsafeMutableRawPointer(bitPattern: UInt(s.windowAddress + offset))!
                        .copyMemory(from: source.baseAddress!, byteCount: n)
                } else {
                    page.put(source)
                }
            }
        }
        s.position += UInt64(n)
        update(m.words.0, s)
        return IPCMessage.ok(UInt64(n), bytes: s.window == nil ? n : 0)
    }

    /// map: the file's pager-backed Frame (Pager.swift), its handle moved with the reply.
    func map(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        guard let pager else { throw .notSupported }
        let node = try lookup(m)
        guard tree.nodes[node].kind == .file else { throw .isDirectory }
        let frame: Handle
        do throws(SysError) { frame = try pager.map(node) } catch { throw .noMemory }
        let size = UInt64(tree.nodes[node].size)
        page.setHandle(0, frame)
        moving = frame
        var reply = IPCMessage(tag: IPCTag(words: 2, bytes: 0, handles: 1, label: 0))
        reply.words.0 = size
        reply.words.1 = max(1, (size + pageSize - 1) / pageSize) * pageSize
        return reply
    }

    func seek(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        var s = try state(m.words.0, m.badge)
        guard m.tag.bytes == 0, let origin = SeekOrigin(rawValue: m.words.2) else { throw .invalid }
        let base: Int64
        switch origin {
        case .start: base = 0
        case .current: base = Int64(bitPattern: s.position)
        case .end: base = Int64(tree.nodes[s.node].size)
        }
        let (target, overflow) = base.addingReportingOverflow(Int64(bitPattern: m.words.1))
        guard !overflow, target >= 0 else { throw .invalid }
        s.position = UInt64(target)
        update(m.words.0, s)
        return IPCMessage.ok(s.position)
    }

    func close(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let s = try state(m.words.0, m.badge)
        guard m.tag.bytes == 0 else { throw .badMessage }
        open.removeAll { $0.id == m.words.0 }
        release(s)
        return IPCMessage.ok()
    }

    func stat(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let node: Int
        if m.tag.bytes > 0 {
            node = try lookup(m)
        } else {
            guard m.tag.words >= 1 else { throw .badMessage }
            node = try state(m.words.0, m.badge).node
        }
        let n = tree.nodes[node]
        return IPCMessage.ok(UInt64(n.size), UInt64(n.kind.rawValue), n.mode, n.modified)
    }

    /// statfs (a path or a file id): the archive's size, nothing free (initfs is read-only), 512-byte
    /// blocks (tar's).
    func statfs(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        if m.tag.bytes > 0 {
            _ = try lookup(m)
        } else {
            guard m.tag.words >= 1 else { throw .badMessage }
            _ = try state(m.words.0, m.badge)
        }
        return IPCMessage.ok(UInt64(archive.count), 0, 512)
    }

    func readdir(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let s = try state(m.words.0, m.badge)
        guard m.tag.bytes == 0 else { throw .badMessage }
        guard tree.nodes[s.node].kind == .directory else { throw .notDirectory }
        let children = tree.children(of: s.node)
        var index = m.words.1
        guard index <= UInt64(children.count) else { throw .invalid }
        var out: [UInt8] = []
        var count: UInt64 = 0
        while index < UInt64(children.count) {
            let c = children[Int(index)]
            guard appendDirectoryEntry(&out, name: tree.name(c), kind: tree.nodes[c].kind,
                                       size: UInt64(tree.nodes[c].size)) else { break }
            index += 1
            count += 1
        }
        out.withUnsafeBytes { page.put($0) }
        return IPCMessage.ok(count, index, bytes: out.count)
    }
}

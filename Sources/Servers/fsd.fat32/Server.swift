// fsd.fat32's request loop: one thread receives, checks and answers each request (the same checks as
// initfsd: label, word count, bytes, handles, file id and badge, offsets and lengths). Every request that
// changes the volume ends with a sync (FATs, directory clusters, FSInfo, then the device's flush), so
// what a client was told is written is on the disk.
//
// The volume is mounted at the first request that needs it (Volume.swift), so a boot with no disk or a
// damaged one costs nothing until someone asks; until then, and after a failed mount, such requests are
// answered with the mount's error.
//
// Clients: each Sender root gave an importer has its badge; `connect` mints a Sender with a badge of its
// own, and `share` one that holds exactly one open file (the same open file: one position, one set of
// flags). Closed-client notices are on: when a badge's Sender is gone, its open files and windows go.
//
// Open files are known by their directory entry (the directory's cluster and the entry's slot); a
// write, truncate or rename through one open file is seen by the others on the same entry. A file that
// is unlinked while open is gone for its open ids too: they answer `.notFound` (FAT has no inodes to
// keep it alive).

/// An open file (shared by the ids `share` hands out for it).
final class OpenDescription {
    var node: FATNode
    var position: UInt64
    let flags: OpenFlags
    /// False once the file was unlinked.
    var present = true

    init(node: FATNode, flags: OpenFlags) {
        self.node = node
        self.position = 0
        self.flags = flags
    }
}

/// One file id: a badge's reference to an open file, with that id's data window.
struct OpenState {
    let id: UInt64
    let badge: UInt64
    let file: OpenDescription
    let window: Handle?
    let windowAddress: UInt64
    let windowSize: UInt64
}

final class FATServer {
    let mount: VolumeMount
    /// The mounted volume; set by `mounted()` before any request that reads it.
    var volume: FAT32Volume<BlockRange<BlockClient>>! = nil
    var readOnly = false
    let scheme: [UInt8]
    var open: [OpenState] = []
    var nextID: UInt64 = 1
    let page: IPCBufferPage
    static let perBadgeLimit = 64
    static let totalLimit = 1024
    /// Connections made by `connect` and `share` whose Sender is not gone yet, and the most there may be.
    var connections = 0
    static let connectionLimit = 1024
    /// Badges of connections: above every badge root gives importers (a number per importer).
    static let connectionBadgeBase: UInt64 = 1 << 48
    var nextConnection: UInt64 = 0
    var receiver: Handle = .invalid

    init(mount: VolumeMount, scheme: [UInt8]) {
        self.mount = mount
        self.scheme = scheme
        guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else { fatal("fsd.fat32: no IPC buffer page") }
        self.page = page
    }

    /// The volume, mounted now if this is the first request that needs it.
    func mounted() throws(FileError) {
        if volume != nil { return }
        // The block client installs its own page for its attach (and releases it when a failed mount
        // lets it go): this thread's page comes back either way.
        defer { _ = try? page.install() }
        let v = try mount.volume()
        volume = v.volume
        readOnly = v.readOnly
    }

    /// Receives and answers requests until the Receiver goes away. A reply that moves a handle
    /// (connect, share) closes it when the caller is gone before it is delivered.
    func run(_ receiver: Handle) -> Int32 {
        self.receiver = receiver
        return serveClients(receiver, name: "fsd.fat32", gone: { dropClient($0) }) { answer($0, moving: &$1) }
    }

    /// A client's Sender is gone: its file ids and their windows go too.
    func dropClient(_ badge: UInt64) {
        for s in open where s.badge == badge { release(s) }
        open.removeAll { $0.badge == badge }
        if badge >= FATServer.connectionBadgeBase && connections > 0 { connections -= 1 }
    }

    func release(_ s: OpenState) {
        guard let w = s.window else { return }
        MappingSpace.unmap(s.windowAddress, length: s.windowSize)
        _ = try? handleClose(w)
    }

    /// The reply to one request (never throws, never traps on what the client sent).
    func answer(_ m: IPCMessage, moving: inout Handle?) -> IPCMessage {
        let label = FileLabel(rawValue: m.tag.label)
        var window: Handle? = nil
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) {
            let h = page.handle(i)
            if label == .open && m.tag.handles == 1 { window = h } else { _ = try? handleClose(h) }
        }
        do throws(FileError) {
            guard let label, m.tag.isValid else { throw .badMessage }
            guard m.tag.words >= label.minimumWords else { throw .badMessage }
            if label != .open && m.tag.handles > 0 { throw .badMessage }
            if m.tag.handles > 1 { throw .badMessage }
            switch label {
            case .connect: return try connect(m, moving: &moving)
            case .close: return try close(m)
            case .share: return try share(m, moving: &moving)
            // No pager (map), no terminals, no mount table here.
            case .map, .control, .mount, .unmount, .mounts: throw .notSupported
            default: break
            }
            try mounted()
            switch label {
            case .open: return try openFile(m, window: &window)
            case .read: return try read(m)
            case .write: return try write(m)
            case .seek: return try seek(m)
            case .stat: return try stat(m)
            case .readdir: return try readdir(m)
            case .mkdir: return try mkdir(m)
            case .unlink: return try unlink(m)
            case .rename: return try rename(m)
            case .statfs: return try statfs(m)
            case .connect, .close, .share, .map, .control, .mount, .unmount, .mounts: throw .notSupported
            }
        } catch {
            if let window { _ = try? handleClose(window) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    /// A new Sender with a badge of its own (not yet counted).
    func newConnection() throws(FileError) -> (badge: UInt64, sender: Handle) {
        guard connections < FATServer.connectionLimit else { throw .tooManyOpen }
        let badge = FATServer.connectionBadgeBase + nextConnection
        do throws(SysError) { return (badge, try senderCreate(receiver, badge: badge)) } catch { throw .noMemory }
    }

    /// connect: a new Sender with a badge of its own, moved to the caller in the reply.
    func connect(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        let (badge, sender) = try newConnection()
        nextConnection += 1
        connections += 1
        page.setHandle(0, sender)
        moving = sender
        return IPCMessage(tag: IPCTag(words: 1, handles: 1, label: 0), words: (badge, 0, 0, 0))
    }

    /// share: a new connection holding the caller's open file `w0` under a new id (no window).
    func share(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        let i = try index(m.words.0, m.badge)
        guard open.count < FATServer.totalLimit else { throw .tooManyOpen }
        let (badge, sender) = try newConnection()
        nextConnection += 1
        connections += 1
        let id = nextID
        nextID += 1
        open.append(OpenState(id: id, badge: badge, file: open[i].file, window: nil, windowAddress: 0, windowSize: 0))
        page.setHandle(0, sender)
        moving = sender
        return IPCMessage(tag: IPCTag(words: 1, handles: 1, label: 0), words: (id, 0, 0, 0))
    }

    /// statfs: the volume's size, free bytes and cluster size (for a path or an open file).
    func statfs(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        if m.tag.bytes > 0 {
            _ = try lookup(try path(m))
        } else {
            guard m.tag.words >= 1 else { throw .badMessage }
            _ = try index(m.words.0, m.badge)
        }
        return IPCMessage.ok(volume.totalBytes, volume.freeBytes, UInt64(volume.clusterBytes))
    }

    // MARK: Paths and errors

    /// A request path as components: `SCHEME://` dropped, then absolute; `.`/`..` are `.invalid`.
    func components(_ bytes: [UInt8]) throws(FileError) -> [[UInt8]] {
        guard !bytes.isEmpty else { throw .invalid }
        guard bytes.count <= FileProtocol.maxPath else { throw .nameTooLong }
        if bytes.contains(0) { throw .invalid }
        var rest = bytes[...]
        let prefix = scheme + Array("://".utf8)
        if rest.starts(with: prefix) { rest = rest.dropFirst(prefix.count) }
        else if let colon = rest.firstIndex(of: UInt8(ascii: ":")), colon < (rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex) {
            throw .noServer
        }
        guard rest.first == UInt8(ascii: "/") else { throw .invalid }
        var out: [[UInt8]] = []
        for part in rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([0x2E]) || part.elementsEqual([0x2E, 0x2E]) { throw .invalid }
            guard part.count <= FileProtocol.maxName else { throw .nameTooLong }
            out.append(Array(part))
        }
        return out
    }

    func path(_ m: IPCMessage) throws(FileError) -> [[UInt8]] {
        guard m.tag.bytes > 0 else { throw .badMessage }
        return try components(page.take(m.tag.bytes))
    }

    func fileError(_ e: DiskError) -> FileError {
        switch e {
        case .io, .corrupt: return .io
        case .notFound: return .notFound
        case .exists: return .exists
        case .notDirectory: return .notDirectory
        case .isDirectory: return .isDirectory
        case .notEmpty: return .notEmpty
        case .noSpace: return .noSpace
        case .invalidName, .invalid: return .invalid
        case .nameTooLong: return .nameTooLong
        case .tooLarge: return .tooLarge
        }
    }

    /// Runs a volume operation, its DiskError as a FileError.
    func disk<T>(_ body: () throws(DiskError) -> T) throws(FileError) -> T {
        do throws(DiskError) { return try body() } catch { throw fileError(error) }
    }

    /// Writes everything out after a change (an error here is the request's `.io`).
    func sync() throws(FileError) { try disk { () throws(DiskError) in try volume.sync() } }

    func lookup(_ p: [[UInt8]]) throws(FileError) -> FATNode {
        try disk { () throws(DiskError) in try volume.lookup(p) }
    }

    // MARK: Open files

    func index(_ id: UInt64, _ badge: UInt64) throws(FileError) -> Int {
        guard let i = open.firstIndex(where: { $0.id == id }), open[i].badge == badge else { throw .badFile }
        guard open[i].file.present else { throw .notFound }
        return i
    }

    /// Tells every open file on the same entry about its new state.
    func propagate(_ node: FATNode, from old: FATNode) {
        for s in open where s.file.present && s.file.node.parent == old.parent && s.file.node.slot == old.slot {
            s.file.node = node
        }
    }

    func forget(_ node: FATNode) {
        for s in open where s.file.node.parent == node.parent && s.file.node.slot == node.slot {
            s.file.present = false
        }
    }

    func openFile(_ m: IPCMessage, window: inout Handle?) throws(FileError) -> IPCMessage {
        let flags = OpenFlags(rawValue: m.words.0)
        guard flags.rawValue & ~OpenFlags.all.rawValue == 0, flags.contains(.read) || flags.contains(.write) else {
            throw .invalid
        }
        let p = try path(m)
        let changes = !flags.intersection([.write, .create, .truncate, .append]).isEmpty
        if changes && readOnly {
            let exists = (try? lookup(p)) != nil
            throw exists && flags.contains(.exclusive) && flags.contains(.create) ? .exists : .readOnly
        }
        if flags.contains(.truncate) && !flags.contains(.write) { throw .invalid }
        guard open.count < FATServer.totalLimit,
              open.filter({ $0.badge == m.badge && $0.file.present }).count < FATServer.perBadgeLimit else { throw .tooManyOpen }
        var address: UInt64 = 0, size: UInt64 = 0
        if let w = window {
            guard let (type, rights) = try? handleIdentify(w), type == .frame,
                  rights.isSuperset(of: FileProtocol.windowRights),
                  let s = try? frameGetSize(w), s > 0, s <= FileProtocol.maxWindow else { throw .invalid }
            size = s
        }
        var node: FATNode
        var changed = false
        do throws(FileError) {
            node = try lookup(p)
            if flags.contains(.create) && flags.contains(.exclusive) { throw .exists }
        } catch {
            guard error == .notFound, flags.contains(.create), !flags.contains(.directory), !p.isEmpty else { throw error }
            let (dir, name) = try disk { () throws(DiskError) in try volume.parent(of: p) }
            node = try disk { () throws(DiskError) in try volume.createFile(name, in: dir) }
            changed = true
        }
        if flags.contains(.directory) && !node.isDirectory { throw .notDirectory }
        if !flags.contains(.directory) && node.isDirectory { throw .isDirectory }
        if flags.contains(.truncate) && node.size > 0 {
            let old = node
            try disk { () throws(DiskError) in try volume.truncate(&node, to: 0) }
            propagate(node, from: old)
            changed = true
        }
        if changed { try sync() }
        if let w = window {
            guard let a = try? MappingSpace.map(w, length: size) else { throw .noMemory }
            address = a
        }
        let id = nextID
        nextID += 1
        open.append(OpenState(id: id, badge: m.badge, file: OpenDescription(node: node, flags: flags),
                              window: window, windowAddress: address, windowSize: size))
        window = nil   // kept
        return IPCMessage.ok(id, UInt64(node.size), UInt64((node.isDirectory ? FileKind.directory : .file).rawValue))
    }

    /// The window range or the IPC byte count of a read or write; .invalid when it does not fit.
    func checkRange(_ s: OpenState, length: UInt64, offset: UInt64) throws(FileError) {
        if s.window != nil {
            guard offset <= s.windowSize, length <= s.windowSize - offset else { throw .invalid }
        } else {
            guard length <= UInt64(IPCBuffer.maxBytes) else { throw .invalid }
        }
    }

    func read(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let i = try index(m.words.0, m.badge)
        guard m.tag.bytes == 0 else { throw .badMessage }
        let s = open[i]
        let f = s.file
        guard !f.node.isDirectory else { throw .isDirectory }
        guard f.flags.contains(.read) else { throw .accessDenied }
        let length = m.words.1, offset = m.words.2
        try checkRange(s, length: length, offset: offset)
        var n = 0
        if length > 0 {
            if s.window != nil {
                let target = UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: UInt(s.windowAddress + offset)),
                                                           count: Int(length))
                n = try disk { () throws(DiskError) in try volume.read(f.node, at: f.position, into: target) }
            } else {
                let target = UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: UInt(page.address + UInt64(IPCBuffer.bytesOffset))),
                                                           count: Int(length))
                n = try disk { () throws(DiskError) in try volume.read(f.node, at: f.position, into: target) }
            }
        }
        f.position += UInt64(n)
        return IPCMessage.ok(UInt64(n), bytes: s.window == nil ? n : 0)
    }

    func write(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let i = try index(m.words.0, m.badge)
        let s = open[i]
        let f = s.file
        guard !f.node.isDirectory else { throw .isDirectory }
        guard f.flags.contains(.write) else { throw .accessDenied }
        let length = m.words.1, offset = m.words.2
        if s.window != nil { guard m.tag.bytes == 0 else { throw .badMessage } }
        else { guard UInt64(m.tag.bytes) == length else { throw .invalid } }
        try checkRange(s, length: length, offset: offset)
        guard length > 0 else { return IPCMessage.ok(0) }
        let source = s.window != nil ? s.windowAddress + offset : page.address + UInt64(IPCBuffer.bytesOffset)
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(source)), count: Int(length))
        var node = f.node
        let position = f.flags.contains(.append) ? UInt64(node.size) : f.position
        let n = try disk { () throws(DiskError) in try volume.write(&node, at: position, from: bytes) }
        propagate(node, from: f.node)
        f.position = position + UInt64(n)
        try sync()
        return IPCMessage.ok(UInt64(n))
    }

    func seek(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let i = try index(m.words.0, m.badge)
        guard m.tag.bytes == 0, let origin = SeekOrigin(rawValue: m.words.2) else { throw .invalid }
        let base: Int64
        switch origin {
        case .start: base = 0
        case .current: base = Int64(bitPattern: open[i].file.position)
        case .end: base = Int64(open[i].file.node.size)
        }
        let (target, overflow) = base.addingReportingOverflow(Int64(bitPattern: m.words.1))
        guard !overflow, target >= 0 else { throw .invalid }
        open[i].file.position = UInt64(target)
        return IPCMessage.ok(open[i].file.position)
    }

    func close(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard let i = open.firstIndex(where: { $0.id == m.words.0 }), open[i].badge == m.badge else { throw .badFile }
        guard m.tag.bytes == 0 else { throw .badMessage }
        release(open.remove(at: i))
        return IPCMessage.ok()
    }

    func stat(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let node: FATNode
        if m.tag.bytes > 0 {
            node = try lookup(try path(m))
        } else {
            guard m.tag.words >= 1 else { throw .badMessage }
            node = open[try index(m.words.0, m.badge)].file.node
        }
        let mode: UInt64 = node.isDirectory ? 0o755 : (node.attributes & FATAttribute.readOnly != 0 ? 0o444 : 0o644)
        return IPCMessage.ok(UInt64(node.size), UInt64((node.isDirectory ? FileKind.directory : .file).rawValue), mode, node.modified)
    }

    func readdir(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let i = try index(m.words.0, m.badge)
        guard m.tag.bytes == 0 else { throw .badMessage }
        let dir = open[i].file.node
        guard dir.isDirectory else { throw .notDirectory }
        let entries = try disk { () throws(DiskError) in try volume.list(dir) }
        var index = m.words.1
        guard index <= UInt64(entries.count) else { throw .invalid }
        var out: [UInt8] = []
        var count: UInt64 = 0
        while index < UInt64(entries.count) {
            let e = entries[Int(index)]
            guard appendDirectoryEntry(&out, name: e.name[...], kind: e.isDirectory ? .directory : .file,
                                       size: UInt64(e.size)) else { break }
            index += 1
            count += 1
        }
        out.withUnsafeBytes { _ = page.put($0) }
        return IPCMessage.ok(count, index, bytes: out.count)
    }

    func mkdir(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let p = try path(m)
        if readOnly { throw .readOnly }
        guard !p.isEmpty else { throw .exists }
        let (dir, name) = try disk { () throws(DiskError) in try volume.parent(of: p) }
        _ = try disk { () throws(DiskError) in try volume.makeDirectory(name, in: dir) }
        try sync()
        return IPCMessage.ok()
    }

    func unlink(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let flags = UnlinkFlags(rawValue: m.words.0)
        guard flags.rawValue & ~UnlinkFlags.directory.rawValue == 0 else { throw .invalid }
        let p = try path(m)
        if readOnly { throw .readOnly }
        guard !p.isEmpty else { throw .invalid }
        let node = try lookup(p)
        if node.isDirectory && !flags.contains(.directory) { throw .isDirectory }
        if !node.isDirectory && flags.contains(.directory) { throw .notDirectory }
        try disk { () throws(DiskError) in try volume.remove(node) }
        forget(node)
        try sync()
        return IPCMessage.ok()
    }

    func rename(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let first = Int(min(m.words.0, UInt64(Int.max)))
        guard first > 0, first < m.tag.bytes else { throw .badMessage }
        let bytes = page.take(m.tag.bytes)
        let from = try components(Array(bytes[0..<first])), to = try components(Array(bytes[first...]))
        if readOnly { throw .readOnly }
        guard !from.isEmpty, !to.isEmpty else { throw .invalid }
        let node = try lookup(from)
        let (dir, name) = try disk { () throws(DiskError) in try volume.parent(of: to) }
        // A file the rename replaces is gone for its open ids.
        if let target = try disk({ () throws(DiskError) in try volume.find(name, in: dir) }),
           !(target.parent == node.parent && target.slot == node.slot) {
            let moved = try disk { () throws(DiskError) in try volume.rename(node, to: name, in: dir) }
            forget(target)   // before the update: the moved entry may take the target's old slots
            propagate(moved, from: node)
        } else {
            let moved = try disk { () throws(DiskError) in try volume.rename(node, to: name, in: dir) }
            propagate(moved, from: node)
        }
        try sync()
        return IPCMessage.ok()
    }
}

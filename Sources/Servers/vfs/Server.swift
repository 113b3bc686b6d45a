// vfs's state and request loop. One thread receives, checks and answers every request; requests for a
// mounted server are forwarded to it through the same IPC buffer page (the path rewritten relative to the
// mount point, bytes and moved handles passed along), so file data in a window never passes through vfs.
//
// Open files are vfs-side descriptions (Description: where the file is, its flags and position, a
// reference count); a client's file id names one of them. `share` hands the same description to a new
// connection, so a file stays open until every connection holding it has closed it or is gone. Clients
// are told apart by badge: root's importers (small badges), init's administrative Sender (badge 0) and
// the connections `connect` and `share` make (badges from connectionBadgeBase up).

/// What a mount point serves from.
enum FileSystem {
    case tmpfs(TmpMount)
    case remote(Backend)
}

/// A tmpfs in a class, so descriptions can refer to it.
final class TmpMount {
    var fs = TmpFS()
}

/// A file server mounted at some point: vfs's Sender to it (it speaks the file protocol). A server vfs
/// starts itself on first access (an fstab line on a disk other than the first) is `pending` until then.
final class Backend {
    var sender: Handle
    var pending: PendingServer?
    /// Whether vfs starts this server itself on first access (its mount started as pending).
    let startsOnAccess: Bool
    /// pm's id of the server vfs started (nil before, and for servers vfs did not start).
    var process: UInt32? = nil
    init(sender: Handle) {
        self.sender = sender
        startsOnAccess = false
    }
    init(pending: PendingServer) {
        sender = .invalid
        self.pending = pending
        startsOnAccess = true
    }
}

/// What vfs starts through pm on the first request under a mount point: fsd.fat32 on disk `disk` (its
/// driver registered as `block<disk>` in root's service directory) for the fstab source `source`.
struct PendingServer {
    let disk: Int
    let source: String
}

/// One mount: its file system, its place and flags.
final class Mounted {
    let fs: FileSystem
    let point: FileURI
    let readOnly: Bool
    /// What the `mounts` listing shows: fstab's source, type and options, or what mounted it.
    let source: String
    let type: String
    let options: String
    init(_ fs: FileSystem, at point: FileURI, readOnly: Bool, source: String = "none", type: String = "tmpfs",
         options: String = "defaults") {
        self.fs = fs
        self.point = point
        self.readOnly = readOnly
        self.source = source
        self.type = type
        self.options = options
    }
}

/// An open file as vfs keeps it, shared by every connection it was handed to.
final class Description {
    enum Place {
        case local(TmpMount, node: Int)
        /// The server's file id; whether the opener's window went with it to the server.
        case remote(Backend, id: UInt64, windowed: Bool)
    }
    let place: Place
    let mount: Mounted
    let flags: OpenFlags
    var position: UInt64 = 0
    /// Client files naming it.
    var references = 1

    init(_ place: Place, mount: Mounted, flags: OpenFlags) {
        self.place = place
        self.mount = mount
        self.flags = flags
    }
}

/// A tmpfs file's data window, mapped in vfs.
struct Window {
    let frame: Handle
    let address: UInt64
    let size: UInt64
}

/// One client's view of an open file.
struct ClientFile {
    let description: Description
    /// The window of a tmpfs file (mapped here); nil without one.
    let window: Window?
    /// Whether this client opened it with a window (for a server's file the window is the server's).
    let hasWindow: Bool
}

/// One client (a badge): its open files by id.
final class Client {
    var files: [UInt64: ClientFile] = [:]
}

final class VFSServer {
    static let filesPerClient = 64
    static let connectionLimit = 1024
    /// Badges of connections made by connect and share: above every badge root gives importers.
    static let connectionBadgeBase: UInt64 = 1 << 48
    /// The administrative badge (the Sender init holds): mount and unmount.
    static let adminBadge: UInt64 = 0
    /// Connections made with ConnectFlags.administrative (through an administrative badge): they may
    /// mount and unmount too, and make more such connections.
    var adminConnections: Set<UInt64> = []

    func isAdmin(_ badge: UInt64) -> Bool { badge == VFSServer.adminBadge || adminConnections.contains(badge) }

    let receiver: Handle
    let page: IPCBufferPage
    var mounts = MountTable<Mounted>()
    var clients: [UInt64: Client] = [:]
    var connections = 0
    var nextConnection: UInt64 = 0
    var nextID: UInt64 = 1
    /// Root's service directory (`import:services`): pm and the disk drivers started after boot.
    var directory: Handle? = nil
    /// pm, asked from the directory when vfs first starts a server.
    var pm: Handle? = nil
    /// The IPC buffer of vfs's calls to the directory and pm (its own page keeps the request being served).
    var startPage: MessagePage? = nil

    init(receiver: Handle) throws(SysError) {
        self.receiver = receiver
        page = try IPCBufferPage.make()
        try page.install()
        let root = FileURI(scheme: FileURI.defaultScheme, components: [])
        try? mounts.mount(scheme: root.scheme, at: [], Mounted(.tmpfs(TmpMount()), at: root, readOnly: false))
    }

    /// Receives and answers requests until the Receiver goes; closed-client notices drop a badge's files.
    func run() -> Int32 {
        serveClients(receiver, name: "vfs", gone: { dropClient($0) }) { answer($0, moving: &$1) }
    }

    /// The reply to one request (never throws, never traps on what the client sent).
    func answer(_ m: IPCMessage, moving: inout Handle?) -> IPCMessage {
        let label = FileLabel(rawValue: m.tag.label)
        // Only open (a window) and mount (the server's Sender) take one handle; any other is closed.
        var handle: Handle? = nil
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) {
            let h = page.handle(i)
            if (label == .open || label == .mount) && m.tag.handles == 1 { handle = h } else { _ = try? handleClose(h) }
        }
        do throws(FileError) {
            guard let label, m.tag.words >= label.minimumWords, m.tag.handles <= 1,
                  m.tag.handles == 0 || handle != nil else { throw .badMessage }
            switch label {
            case .open: return try open(m, window: &handle)
            case .read: return try read(m)
            case .write: return try write(m)
            case .seek: return try seek(m)
            case .close: return try close(m)
            case .stat: return try stat(m)
            case .readdir: return try readdir(m)
            case .mkdir: return try mkdir(m)
            case .unlink: return try unlink(m)
            case .rename: return try rename(m)
            case .map: return try map(m, moving: &moving)
            case .connect: return try connect(m, moving: &moving)
            case .share: return try share(m, moving: &moving)
            case .control: return try control(m)
            case .mount: return try mount(m, server: &handle)
            case .unmount: return try unmount(m)
            case .statfs: return try statfs(m)
            case .mounts: return try listMounts(m)
            }
        } catch {
            if let handle { _ = try? handleClose(handle) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    // MARK: Clients

    /// The client file `id` of the request's badge.
    func file(_ id: UInt64, _ badge: UInt64) throws(FileError) -> ClientFile {
        guard let f = clients[badge]?.files[id] else { throw .badFile }
        return f
    }

    /// Adds a file to a badge's client; its new id.
    func add(_ f: ClientFile, to badge: UInt64) -> UInt64 {
        let client = clients[badge] ?? Client()
        clients[badge] = client
        let id = nextID
        nextID += 1
        client.files[id] = f
        return id
    }

    /// Removes a client's file: its window goes, and the description is closed with its last reference.
    func remove(_ id: UInt64, of badge: UInt64) {
        guard let client = clients[badge], let f = client.files.removeValue(forKey: id) else { return }
        if let w = f.window {
            MappingSpace.unmap(w.address, length: w.size)
            _ = try? handleClose(w.frame)
        }
        let d = f.description
        d.references -= 1
        guard d.references == 0 else { return }
        switch d.place {
        case .local(let t, let node): t.fs.close(node)
        case .remote(let b, let serverID, _): _ = try? forward(b, .close, [serverID])
        }
    }

    /// A client's Sender is gone: its files are closed.
    func dropClient(_ badge: UInt64) {
        if let client = clients[badge] {
            for id in Array(client.files.keys) { remove(id, of: badge) }
            clients[badge] = nil
        }
        if badge >= VFSServer.connectionBadgeBase && connections > 0 { connections -= 1 }
        adminConnections.remove(badge)
    }

    /// A new Sender to vfs with a badge of its own.
    func newConnection() throws(FileError) -> (badge: UInt64, sender: Handle) {
        guard connections < VFSServer.connectionLimit else { throw .tooManyOpen }
        let badge = VFSServer.connectionBadgeBase + nextConnection
        let sender: Handle
        do throws(SysError) { sender = try senderCreate(receiver, badge: badge) } catch { throw .noMemory }
        nextConnection += 1
        connections += 1
        return (badge, sender)
    }

    // MARK: Forwarding

    /// One request to a mounted server (message bytes and handles already in the page); its reply.
    func forward(_ b: Backend, _ label: FileLabel, _ words: [UInt64], bytes: Int = 0,
                 handles: Int = 0) throws(FileError) -> IPCMessage {
        var message = IPCMessage(tag: IPCTag(words: words.count, bytes: bytes, handles: handles, label: label.rawValue))
        if words.count > 0 { message.words.0 = words[0] }
        if words.count > 1 { message.words.1 = words[1] }
        if words.count > 2 { message.words.2 = words[2] }
        let reply: IPCMessage
        do throws(SysError) { reply = try senderCall(b.sender, message) } catch { throw .io }
        guard reply.tag.label == 0 else {
            for i in 0..<min(reply.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
            throw FileError(rawValue: reply.tag.label) ?? .io
        }
        return reply
    }

    /// Puts `/rest` into the message bytes at `offset`; its length.
    func putPath(_ rest: [String], at offset: Int = 0) throws(FileError) -> Int {
        let bytes = Array(("/" + rest.joined(separator: "/")).utf8)
        guard bytes.count <= FileProtocol.maxPath,
              bytes.withUnsafeBytes({ page.put($0, at: offset) }) else { throw .nameTooLong }
        return bytes.count
    }

    /// The request's path (`count` bytes at `offset`), parsed.
    func uri(_ count: Int, at offset: Int = 0) throws(FileError) -> FileURI {
        guard count > 0 else { throw .badMessage }
        guard count <= FileProtocol.maxPath else { throw .nameTooLong }
        return try FileURI(parsing: page.take(count, from: offset))
    }

    /// The mount serving `uri` and the path below it.
    func resolve(_ uri: FileURI) throws(FileError) -> (mount: Mounted, rest: [String]) {
        let (index, rest) = try mounts.resolve(uri)
        let mount = mounts.mounts[index].target
        if case .remote(let b) = mount.fs, b.pending != nil { try startServer(b, at: mount.point) }
        return (mount, rest)
    }

    /// The mounts in one line, for the log.
    func mountList() -> String {
        mounts.mounts.map { m in
            let kind: String
            switch m.target.fs {
            case .tmpfs: kind = "tmpfs"
            case .remote(let b): kind = b.pending == nil ? "server" : "server started on first access"
            }
            return m.target.point.text + " (" + kind + (m.target.readOnly ? ", read-only)" : ")")
        }.joined(separator: ", ")
    }
}

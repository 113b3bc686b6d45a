// vfs's message loop: checks every request (label, word count, handles, descriptors, lengths) and
// answers each with a reply, an error word for anything malformed. One thread serves all connections.

/// An open file: its file system and where it is.
final class VFSOpenFile {
    enum Place {
        case local(TmpMount, node: Int)
        case remote(RemoteFS, fd: UInt64)
    }
    let place: Place
    let flags: VFSOpenFlags
    var offset = 0

    init(_ place: Place, flags: VFSOpenFlags) {
        self.place = place
        self.flags = flags
    }
}

/// A client's connection: its shared Frame and its descriptors.
final class Connection {
    let frame: Handle
    let size: Int
    var files: [UInt64: VFSOpenFile] = [:]
    var nextFD: UInt64 = 3

    init(frame: Handle, size: Int) {
        self.frame = frame
        self.size = size
    }
}

/// A reply: the error word and results, and a handle to move (connect's Sender).
struct Answer {
    var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
    var handle: Handle? = nil

    static func error(_ e: ServiceError) -> Answer { Answer(words: (e.rawValue, 0, 0)) }
    static func ok(_ w1: UInt64 = 0, _ w2: UInt64 = 0) -> Answer { Answer(words: (0, w1, w2)) }
}

final class VFSServer {
    static let maxConnections = 256
    static let maxOpenFiles = 256
    static let minFrame = Int(pageSize)
    static let maxFrame = 1 << 20

    let receiver: Handle
    let page: MessagePage
    var mounts = MountTable<FileSystem>()
    var connections: [UInt64: Connection] = [:]
    var nextBadge: UInt64 = 1

    init(receiver: Handle) throws(SysError) {
        self.receiver = receiver
        page = try MessagePage()
        try? mounts.mount(scheme: FileURI.defaultScheme, at: [], .tmpfs(TmpMount()))
    }

    /// Serves forever: receive, check and act, reply.
    func run() {
        do throws(SysError) { try receiverSetNotices(receiver, true) } catch {
            print("vfs: no closed-client notices (\(error.name)); connection state stays")
        }
        var message: IPCMessage
        do throws(SysError) { message = try receiverRecv(receiver) } catch {
            print("vfs: receive failed: \(error.name)")
            return
        }
        while true {
            if message.isSenderGone {
                dropConnection(message.badge)
                do throws(SysError) { message = try receiverRecv(receiver) } catch {
                    print("vfs: receive failed: \(error.name)")
                    return
                }
                continue
            }
            let answer = handle(message)
            var tag = IPCTag(words: 3)
            if let h = answer.handle {
                page.setHandle(0, h)
                tag = IPCTag(words: 3, handles: 1)
            }
            let reply = IPCMessage(tag: tag, words: (answer.words.0, answer.words.1, answer.words.2, 0))
            do throws(SysError) {
                if let h = answer.handle {
                    // A reply that moves a handle: reply_recv would drop a failed answer silently and
                    // leave the handle here, so answer first and close it if the answer failed.
                    do throws(SysError) { try receiverReply(reply) } catch { _ = try? handleClose(h) }
                    message = try receiverRecv(receiver)
                } else {
                    message = try receiverReplyRecv(receiver, reply)
                }
            } catch {
                // The receive failed: wait for the next caller.
                do throws(SysError) { message = try receiverRecv(receiver) } catch {
                    print("vfs: receive failed: \(error.name)")
                    return
                }
            }
        }
    }

    /// The checks every message passes, then the operation.
    func handle(_ m: IPCMessage) -> Answer {
        guard let op = VFSOp(rawValue: m.tag.label), m.tag.words >= op.words, m.tag.handles == op.handles else {
            page.closeReceived(m.tag.handles)
            return .error(.badMessage)
        }
        if m.badge == 0 {
            switch op {
            case .connect: return connect(page.handle(0))
            case .mount: return mount(m, page.handle(0))
            default: return .error(.notPermitted)
            }
        }
        guard let c = connections[m.badge] else {
            page.closeReceived(m.tag.handles)
            return .error(.notPermitted)
        }
        guard op != .connect, op != .mount else {
            page.closeReceived(m.tag.handles)
            return .error(.notPermitted)
        }
        do throws(ServiceError) {
            return try perform(op, m, c)
        } catch {
            return .error(error)
        }
    }

    // MARK: Admin

    /// A connection's Sender is gone (closed-client notice): its files are closed, its Frame let go.
    func dropConnection(_ badge: UInt64) {
        guard let c = connections.removeValue(forKey: badge) else { return }
        for fd in Array(c.files.keys) { _ = try? close(c, fd) }
        _ = try? handleClose(c.frame)
    }

    /// A new connection over `frame` (read/write, 4 KiB to 1 MiB): its Sender.
    func connect(_ frame: Handle) -> Answer {
        let size: Int
        do throws(SysError) {
            let id = try handleIdentify(frame)
            guard id.type == .frame, id.rights.contains([.read, .write]) else { throw .wrongType }
            size = Int(try frameGetSize(frame))
        } catch {
            _ = try? handleClose(frame)
            return .error(.invalid)
        }
        guard size >= VFSServer.minFrame, size <= VFSServer.maxFrame, connections.count < VFSServer.maxConnections else {
            _ = try? handleClose(frame)
            return .error(size >= VFSServer.minFrame && size <= VFSServer.maxFrame ? .tooManyOpen : .invalid)
        }
        let sender: Handle
        do throws(SysError) { sender = try senderCreate(receiver, badge: nextBadge) } catch {
            _ = try? handleClose(frame)
            return .error(ServiceError(error))
        }
        connections[nextBadge] = Connection(frame: frame, size: size)
        nextBadge += 1
        return Answer(words: (0, 0, 0), handle: sender)
    }

    /// `server` serves the scheme packed in w0, w1: vfs connects to it and routes the scheme there.
    func mount(_ m: IPCMessage, _ server: Handle) -> Answer {
        let name = SchemeWords.unpack(m.words.0, m.words.1)
        guard FileURI.isScheme(name[...]), (try? handleIdentify(server).type) == .sender else {
            _ = try? handleClose(server)
            return .error(.invalid)
        }
        let scheme = String(decoding: name, as: UTF8.self)
        guard scheme != FileURI.defaultScheme, !mounts.mounts.contains(where: { $0.scheme == scheme }) else {
            _ = try? handleClose(server)
            return .error(.exists)
        }
        let remote: RemoteFS
        do throws(ServiceError) { remote = try RemoteFS(server: server, page: page) } catch {
            _ = try? handleClose(server)
            return .error(error)
        }
        try? mounts.mount(scheme: scheme, at: [], .remote(remote))
        print("vfs: mounted \(scheme):/// (forwarded to its server)")
        if scheme == "initfs" { applyFstab() }
        return .ok()
    }

    /// Reads initfs:///etc/fstab when there is one and mounts its tmpfs lines.
    func applyFstab() {
        guard let fs = try? mounts.resolve(FileURI(scheme: "initfs", components: [])),
              case .remote(let remote) = mounts.mounts[fs.index].target,
              let text = try? remote.readWhole(["etc", "fstab"]) else { return }
        let (entries, problems) = parseFstab(text)
        for p in problems { print("vfs: fstab line \(p.line): \(p.reason)") }
        for e in entries {
            guard e.type == "tmpfs" else {
                print("vfs: fstab line \(e.line): \(e.type) at \(e.mountPoint.text): disk file systems are not mounted yet")
                continue
            }
            do throws(ServiceError) {
                try mounts.mount(scheme: e.mountPoint.scheme, at: e.mountPoint.components, .tmpfs(TmpMount()))
                print("vfs: fstab line \(e.line): tmpfs at \(e.mountPoint.text)")
            } catch {
                print("vfs: fstab line \(e.line): \(e.mountPoint.text): \(error.name)")
            }
        }
    }
}

// pm's pipes (ProcessProtocol `pipe`): a thread of pm serving the file protocol on a Receiver of its own.
// Each pipe end lives in connections (badges): `pipe` makes two, each holding one end, and `share`
// makes more (how an end reaches a child as its descriptor). A pipe holds ProcessProtocol.pipeCapacity
// bytes; a read with nothing buffered waits (its caller kept on a Reply object) until a write or the last
// write end's close (then 0 bytes: end of file); a write with no room waits until a read makes room, and
// takes as much as fits (the client loops for the rest); with no read end left it fails `.brokenPipe`.
// An end is closed by `close` or when its connection's Sender is gone (closed-client notices), so a
// process that ends without closing still ends its pipes. All state belongs to the pipe thread; pm's
// loop asks it for a new pipe through the administrative Sender (badge PipeServer.adminBadge).

/// One pipe's buffer, ends and waiting callers.
final class Pipe {
    var data: [UInt8] = []
    var head = 0
    var readers = 0
    var writers = 0
    /// Reads waiting for data: the caller's Reply, its badge and how many bytes it asked for.
    var waitingReads: [(reply: Handle, badge: UInt64, count: Int)] = []
    /// Writes waiting for room: the caller's Reply, its badge and its bytes.
    var waitingWrites: [(reply: Handle, badge: UInt64, bytes: [UInt8])] = []

    var buffered: Int { data.count - head }
    var room: Int { ProcessProtocol.pipeCapacity - buffered }

    func take(_ count: Int) -> [UInt8] {
        let n = min(count, buffered)
        let out = Array(data[head..<(head + n)])
        head += n
        if head > 16 * 1024 || head == data.count {
            data.removeFirst(head)
            head = 0
        }
        return out
    }
}

/// One open end in a connection.
struct PipeEnd {
    let pipe: Pipe
    let writes: Bool
}

final class PipeServer {
    static let adminBadge: UInt64 = 1
    static let createLabel: UInt32 = 0x200
    /// Open ends over all connections at most.
    static let maxEnds = 4096

    let receiver: Handle
    /// pm's Sender to this server (badge adminBadge): only it may create pipes.
    let admin: Handle
    var connections: [UInt64: [UInt64: PipeEnd]] = [:]
    var endCount = 0
    var nextBadge: UInt64 = 2
    var nextFile: UInt64 = 1
    var page: MessagePage? = nil

    init(receiver: Handle, admin: Handle) {
        self.receiver = receiver
        self.admin = admin
    }

    /// A Receiver, pm's Sender to it and the serving thread; nil when any of them cannot be made.
    static func start() -> PipeServer? {
        guard let receiver = try? receiverCreate() else { return nil }
        guard let admin = try? senderCreate(receiver, badge: adminBadge), (try? receiverSetNotices(receiver, true)) != nil else {
            _ = try? handleClose(receiver)
            return nil
        }
        let server = PipeServer(receiver: receiver, admin: admin)
        guard (try? spawnThread(stackSize: 64 * 1024) { server.run() }) != nil else {
            _ = try? handleClose(admin)
            _ = try? handleClose(receiver)
            return nil
        }
        return server
    }

    /// Serves forever; a request that must wait keeps its Reply object.
    func run() -> UInt64 {
        guard let p = try? MessagePage(), var reply = try? replyCreate() else {
            print("pm: the pipe server has no IPC buffer or Reply object")
            return 1
        }
        page = p
        while true {
            let m: IPCMessage
            do throws(SysError) { m = try receiverRecv(receiver, reply: reply) } catch {
                print("pm: the pipe server's receive failed: \(error.name)")
                return 1
            }
            if m.isSenderGone {
                dropConnection(m.badge)
                continue
            }
            if let answer = handle(m, reply: reply) {
                _ = try? replyReply(reply, answer)
            } else if let next = try? replyCreate() {
                reply = next          // the old one waits in a pipe's queue
            } else {
                forget(reply)
                _ = try? replyReply(reply, error(.noMemory))
            }
        }
    }

    func error(_ e: FileError) -> IPCMessage { IPCMessage(tag: IPCTag(label: e.rawValue)) }

    /// nil when the caller waits (bound to `reply`).
    func handle(_ m: IPCMessage, reply: Handle) -> IPCMessage? {
        guard let page else { return error(.noMemory) }
        if m.tag.label == PipeServer.createLabel && m.badge == PipeServer.adminBadge { return create() }
        guard let label = FileLabel(rawValue: m.tag.label), m.tag.words >= label.minimumWords else {
            page.closeReceived(m.tag.handles)
            return error(.badMessage)
        }
        guard m.tag.handles == 0 else {
            page.closeReceived(m.tag.handles)
            return error(.badMessage)
        }
        switch label {
        case .read, .write, .close, .share, .seek, .control:
            break
        case .stat:
            guard m.tag.bytes == 0, m.tag.words >= 1 else { return error(m.tag.bytes == 0 ? .badMessage : .notSupported) }
        default:
            return error(.notSupported)
        }
        guard let end = connections[m.badge]?[m.words.0] else { return error(.badFile) }
        switch label {
        case .read: return read(end, count: m.words.1, badge: m.badge, reply: reply)
        case .write: return write(end, m, reply: reply)
        case .close:
            close(badge: m.badge, file: m.words.0)
            return .ok()
        case .stat: return .ok(UInt64(end.pipe.buffered), UInt64(FileKind.file.rawValue), 0o600, 0)
        case .share: return share(end)
        case .seek: return error(.invalid)
        default: return error(.notSupported)
        }
    }

    /// A new pipe: handles (read end's Sender, write end's Sender), w0/w1 their file ids.
    func create() -> IPCMessage {
        guard endCount + 2 <= PipeServer.maxEnds, let page else { return error(.tooManyOpen) }
        let pipe = Pipe()
        guard let r = open(PipeEnd(pipe: pipe, writes: false)) else { return error(.noMemory) }
        guard let w = open(PipeEnd(pipe: pipe, writes: true)) else {
            close(badge: r.badge, file: r.file)
            connections[r.badge] = nil
            _ = try? handleClose(r.sender)
            return error(.noMemory)
        }
        page.setHandle(0, r.sender)
        page.setHandle(1, w.sender)
        return IPCMessage(tag: IPCTag(words: 2, handles: 2), words: (r.file, w.file, 0, 0))
    }

    /// A new connection holding `end`: its Sender (to be sent), badge and file id.
    func open(_ end: PipeEnd) -> (sender: Handle, badge: UInt64, file: UInt64)? {
        let badge = nextBadge
        guard let sender = try? senderCreate(receiver, badge: badge) else { return nil }
        nextBadge += 1
        let file = nextFile
        nextFile += 1
        connections[badge] = [file: end]
        endCount += 1
        if end.writes { end.pipe.writers += 1 } else { end.pipe.readers += 1 }
        return (sender, badge, file)
    }

    func share(_ end: PipeEnd) -> IPCMessage {
        guard endCount < PipeServer.maxEnds, let page else { return error(.tooManyOpen) }
        guard let new = open(end) else { return error(.noMemory) }
        page.setHandle(0, new.sender)
        return IPCMessage(tag: IPCTag(words: 1, handles: 1), words: (new.file, 0, 0, 0))
    }

    func read(_ end: PipeEnd, count: UInt64, badge: UInt64, reply: Handle) -> IPCMessage? {
        guard !end.writes else { return error(.accessDenied) }
        guard count <= UInt64(IPCBuffer.maxBytes) else { return error(.invalid) }
        let pipe = end.pipe
        if pipe.buffered == 0 && pipe.writers > 0 && count > 0 {
            pipe.waitingReads.append((reply, badge, Int(count)))
            return nil
        }
        let bytes = pipe.take(Int(count))
        wakeWriters(pipe)            // may answer other readers through the page: this reply's bytes go in last
        return dataReply(bytes)
    }

    func write(_ end: PipeEnd, _ m: IPCMessage, reply: Handle) -> IPCMessage? {
        guard end.writes else { return error(.accessDenied) }
        guard m.words.1 == UInt64(m.tag.bytes), let page else { return error(.invalid) }
        let pipe = end.pipe
        guard pipe.readers > 0 else { return error(.brokenPipe) }
        let bytes = page.received(m.tag.bytes)
        if pipe.room == 0 && !bytes.isEmpty {
            pipe.waitingWrites.append((reply, m.badge, bytes))
            return nil
        }
        let n = min(bytes.count, pipe.room)
        pipe.data += bytes[0..<n]
        wakeReaders(pipe)
        return .ok(UInt64(n))
    }

    /// A read's reply: the bytes in the message bytes, their count in w0.
    func dataReply(_ bytes: [UInt8]) -> IPCMessage {
        _ = page?.put(bytes)
        return IPCMessage.ok(UInt64(bytes.count), bytes: bytes.count)
    }

    /// Answers waiting reads while there is data (or no writer: end of file).
    func wakeReaders(_ pipe: Pipe) {
        while !pipe.waitingReads.isEmpty && (pipe.buffered > 0 || pipe.writers == 0) {
            let w = pipe.waitingReads.removeFirst()
            let answer = dataReply(pipe.take(w.count))
            _ = try? replyReply(w.reply, answer)
            _ = try? handleClose(w.reply)
        }
    }

    /// Answers waiting writes while there is room (or with `.brokenPipe` when no reader is left).
    func wakeWriters(_ pipe: Pipe) {
        while !pipe.waitingWrites.isEmpty && (pipe.room > 0 || pipe.readers == 0) {
            let w = pipe.waitingWrites.removeFirst()
            if pipe.readers == 0 {
                _ = try? replyReply(w.reply, error(.brokenPipe))
            } else {
                let n = min(w.bytes.count, pipe.room)
                pipe.data += w.bytes[0..<n]
                _ = try? replyReply(w.reply, .ok(UInt64(n)))
            }
            _ = try? handleClose(w.reply)
        }
        wakeReaders(pipe)
    }

    func close(badge: UInt64, file: UInt64) {
        guard let end = connections[badge]?[file] else { return }
        connections[badge]?[file] = nil
        endCount -= 1
        if end.writes { end.pipe.writers -= 1 } else { end.pipe.readers -= 1 }
        wakeReaders(end.pipe)
        wakeWriters(end.pipe)
    }

    /// A connection's Sender is gone: its ends close and its waiting callers are dropped.
    func dropConnection(_ badge: UInt64) {
        guard let files = connections[badge] else { return }
        for (_, end) in files {
            for w in end.pipe.waitingReads where w.badge == badge { _ = try? handleClose(w.reply) }
            for w in end.pipe.waitingWrites where w.badge == badge { _ = try? handleClose(w.reply) }
            end.pipe.waitingReads.removeAll { $0.badge == badge }
            end.pipe.waitingWrites.removeAll { $0.badge == badge }
        }
        for file in files.keys { close(badge: badge, file: file) }
        connections[badge] = nil
    }

    /// Removes a Reply that is answered at once after all (no new Reply object could be made).
    func forget(_ reply: Handle) {
        for files in connections.values {
            for end in files.values {
                end.pipe.waitingReads.removeAll { $0.reply == reply }
                end.pipe.waitingWrites.removeAll { $0.reply == reply }
            }
        }
    }
}

extension ProcessServer {
    /// `pipe`: a new pipe from the pipe thread; its two Senders go to the caller.
    func makePipe() -> Answer {
        guard let pipes else { return .error(.noMemory) }
        let answer: IPCMessage
        do throws(SysError) { answer = try senderCall(pipes.admin, IPCMessage(tag: IPCTag(label: PipeServer.createLabel))) } catch {
            return .error(.io)
        }
        guard answer.tag.label == 0, answer.tag.handles == 2 else {
            page.closeReceived(answer.tag.handles)
            return .error(answer.tag.label == FileError.tooManyOpen.rawValue ? .tooManyOpen : .noMemory)
        }
        // The two Senders sit in handle slots 0 and 1 of pm's IPC buffer, where the reply takes them from.
        var a = Answer.ok(answer.words.0, answer.words.1)
        a.handles = 2
        return a
    }
}

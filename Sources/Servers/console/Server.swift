// The console's request loop: the terminal over the file protocol (Sources/ABI/FileProtocol.swift).
//
// `open` of "/", "/tty", "console://" or "console:///tty" (read and/or write; no window: the console
// takes none, `.notSupported`) gives a file id; `read` answers with a line (cooked) or the bytes typed
// so far (raw), or waits for them (the caller is held on a Reply object); 0 bytes is the end of input
// (Ctrl-D); `write` is output; `stat` says a file of size 0; `control` gets and sets the mode, the
// foreground process (which Ctrl-C asks pm to kill) and the size (80x24: a serial line has none);
// `share` and `connect` mint Senders with badges of their own; `close`. Closed-client notices are on:
// a gone badge's files and waiting reads are dropped. Every request is checked; a bad one gets its
// FileError; handles a request does not take are closed.

final class ConsoleServer {
    /// The badge of the interrupt thread's messages (DriverLoop) and of the redraw thread's.
    static let redrawBadge: UInt64 = 0xffff_ffff_ffff_ff01
    static let redrawLabel: UInt32 = 2
    /// The log watch's label (same badge): the kernel log grew (Screen.swift).
    static let logLabel: UInt32 = 3
    /// Badges of `connect` and `share` connections (above root's importer numbers).
    static let connectionBadgeBase: UInt64 = 1 << 48
    static let connectionLimit = 256
    static let fileLimit = 1024

    struct OpenTerminal {
        let id: UInt64
        let badge: UInt64
        let flags: OpenFlags
    }
    struct Reader {
        let reply: Handle
        let badge: UInt64
        let limit: Int
    }

    let receiver: Handle
    let page: IPCBufferPage
    let pm: Handle?
    /// The last byte of program output (output(_:)'s newline translation).
    var lastOutputByte: UInt8 = 0
    /// Keyboards (kbd's `input`, usbd's `usbinput`) and their names: keys typed in the QEMU window or on
    /// a USB keyboard, read once a program opened the terminal.
    var keyboards: [(Handle, String)] = []
    /// outputd's screen, when the console mirrors itself there (Screen.swift).
    var display: Screen?
    var discipline = LineDiscipline()
    var files: [OpenTerminal] = []
    var readers: [Reader] = []
    var nextID: UInt64 = 1
    var nextConnection: UInt64 = 0
    var connections = 0
    var foreground: UInt64 = 0

    init(receiver: Handle, page: IPCBufferPage, pm: Handle?) {
        self.receiver = receiver
        self.page = page
        self.pm = pm
    }

    /// Serves forever. Each caller is bound to a Reply object; a read that waits keeps its Reply.
    func run() -> Int32 {
        _ = try? receiverSetNotices(receiver, true)
        guard var reply = try? replyCreate() else { print("console: no Reply object"); return 1 }
        while true {
            let m: IPCMessage
            do throws(SysError) { m = try receiverRecv(receiver, reply: reply) } catch {
                if error == .peerClosed { return 0 }
                print("console: receive failed: \(error.name)")
                return 1
            }
            if m.isSenderGone { dropClient(m.badge); continue }
            var moving: Handle? = nil
            guard let answer = handle(m, reply: reply, moving: &moving) else {
                // The caller waits on `reply`: the next one gets a new Reply object.
                if let next = try? replyCreate() { reply = next; continue }
                readers.removeAll { $0.reply == reply }
                _ = try? replyReply(reply, IPCMessage(tag: IPCTag(label: FileError.noMemory.rawValue)))
                continue
            }
            do throws(SysError) { try replyReply(reply, answer) } catch { if let moving { _ = try? handleClose(moving) } }
        }
    }

    /// The answer to one message, or nil when the caller waits (a read with no input yet).
    func handle(_ m: IPCMessage, reply: Handle, moving: inout Handle?) -> IPCMessage? {
        if let bytes = DriverLoop.bytes(m) {
            typed(bytes)
            return IPCMessage.ok()
        }
        if m.badge == ConsoleServer.redrawBadge && m.tag.label == ConsoleServer.redrawLabel {
            show([], redraw: true)
            return IPCMessage.ok()
        }
        if m.badge == ConsoleServer.redrawBadge && m.tag.label == ConsoleServer.logLabel {
            if let d = display {
                d.write(d.kernelLines())
                if d.broken { display = nil }
            }
            return IPCMessage.ok()
        }
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
        do throws(FileError) {
            guard let label = FileLabel(rawValue: m.tag.label), m.tag.words >= label.minimumWords else { throw .badMessage }
            if label == .open && m.tag.handles == 1 { throw .notSupported }      // no data windows here
            guard m.tag.handles == 0 else { throw .badMessage }
            switch label {
            case .open: return try open(m)
            case .read: return try read(m, reply: reply)
            case .write: return try write(m)
            case .close:
                _ = try file(m)
                guard m.tag.bytes == 0 else { throw .badMessage }
                files.removeAll { $0.id == m.words.0 }
                return IPCMessage.ok()
            case .stat:
                if m.tag.bytes > 0 { try checkPath(m) } else { _ = try file(m) }
                return IPCMessage.ok(0, UInt64(FileKind.file.rawValue), 0o620, 0)
            case .control: return try control(m)
            case .share: return try share(m, moving: &moving)
            case .connect:
                guard m.tag.bytes == 0 else { throw .badMessage }
                let (badge, sender) = try newConnection()
                return handOver(sender, badge, moving: &moving)
            case .seek: _ = try file(m); throw .invalid
            case .readdir: _ = try file(m); throw .notDirectory
            case .mkdir, .unlink, .rename, .map, .mount, .unmount, .statfs, .mounts: throw .notSupported
            }
        } catch {
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    // MARK: files

    func checkPath(_ m: IPCMessage) throws(FileError) {
        guard m.tag.bytes > 0 else { throw .badMessage }
        guard m.tag.bytes <= FileProtocol.maxPath else { throw .nameTooLong }
        let path = page.take(m.tag.bytes)
        let names: [[UInt8]] = ["/", "/tty", "console://", "console:///", "console:///tty"].map { Array($0.utf8) }
        guard names.contains(path) else { throw .notFound }
    }

    func open(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let flags = OpenFlags(rawValue: m.words.0)
        guard flags.rawValue & ~OpenFlags.all.rawValue == 0, flags.contains(.read) || flags.contains(.write) else {
            throw .invalid
        }
        try checkPath(m)
        if flags.contains(.directory) { throw .notDirectory }
        if flags.contains(.exclusive) && flags.contains(.create) { throw .exists }
        guard files.count < ConsoleServer.fileLimit else { throw .tooManyOpen }
        let id = nextID
        nextID += 1
        files.append(OpenTerminal(id: id, badge: m.badge, flags: flags.intersection([.read, .write])))
        for (k, name) in keyboards { startKeyboardThread(k, name: name, receiver: receiver) }
        keyboards = []
        return IPCMessage.ok(id, 0, UInt64(FileKind.file.rawValue))
    }

    func file(_ m: IPCMessage) throws(FileError) -> OpenTerminal {
        guard let f = files.first(where: { $0.id == m.words.0 && $0.badge == m.badge }) else { throw .badFile }
        return f
    }

    func read(_ m: IPCMessage, reply: Handle) throws(FileError) -> IPCMessage? {
        let f = try file(m)
        guard f.flags.contains(.read) else { throw .accessDenied }
        guard m.tag.bytes == 0 else { throw .badMessage }
        guard m.words.1 <= UInt64(IPCBuffer.maxBytes) else { throw .invalid }
        let limit = Int(m.words.1)
        if limit == 0 { return IPCMessage.ok(0) }
        if readers.isEmpty, let bytes = discipline.read(limit) { return answer(bytes) }
        readers.append(Reader(reply: reply, badge: m.badge, limit: limit))
        discipline.readerWaiting = true
        show([])
        return nil
    }

    /// A read's answer: the bytes in the reply's bytes.
    func answer(_ bytes: [UInt8]) -> IPCMessage {
        _ = bytes.withUnsafeBytes { page.put($0) }
        return IPCMessage.ok(UInt64(bytes.count), bytes: bytes.count)
    }

    func write(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let f = try file(m)
        guard f.flags.contains(.write) else { throw .accessDenied }
        guard m.words.1 == UInt64(m.tag.bytes) else { throw .invalid }
        let bytes = page.take(m.tag.bytes)
        output(bytes)
        return IPCMessage.ok(UInt64(bytes.count))
    }

    func control(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        _ = try file(m)
        guard m.tag.bytes == 0 else { throw .badMessage }
        guard let what = TerminalControl(rawValue: m.words.1) else { throw .invalid }
        switch what {
        case .getMode: return IPCMessage.ok(discipline.mode.rawValue)
        case .setMode:
            let all: TerminalMode = [.raw, .echo]
            guard m.words.2 & ~all.rawValue == 0 else { throw .invalid }
            let old = discipline.mode
            discipline.mode = TerminalMode(rawValue: m.words.2)
            show([])
            return IPCMessage.ok(old.rawValue)
        case .setForeground:
            let old = foreground
            foreground = m.words.2
            return IPCMessage.ok(old)
        case .getSize: return IPCMessage.ok(80 << 32 | 24)
        }
    }

    func share(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        let f = try file(m)
        guard m.tag.bytes == 0 else { throw .badMessage }
        guard files.count < ConsoleServer.fileLimit else { throw .tooManyOpen }
        let (badge, sender) = try newConnection()
        let id = nextID
        nextID += 1
        files.append(OpenTerminal(id: id, badge: badge, flags: f.flags))
        var reply = handOver(sender, badge, moving: &moving)
        reply.words.0 = id
        return reply
    }

    func newConnection() throws(FileError) -> (UInt64, Handle) {
        guard connections < ConsoleServer.connectionLimit else { throw .tooManyOpen }
        let badge = ConsoleServer.connectionBadgeBase + nextConnection
        let sender: Handle
        do throws(SysError) { sender = try senderCreate(receiver, badge: badge) } catch { throw .noMemory }
        nextConnection += 1
        connections += 1
        return (badge, sender)
    }

    /// A reply moving `sender` to the caller (w0 the badge).
    func handOver(_ sender: Handle, _ badge: UInt64, moving: inout Handle?) -> IPCMessage {
        page.setHandle(0, sender)
        moving = sender
        var reply = IPCMessage.ok(badge)
        reply.tag = IPCTag(words: 1, handles: 1, label: 0)
        return reply
    }

    /// A client's Sender is gone: its files and waiting reads go too.
    func dropClient(_ badge: UInt64) {
        files.removeAll { $0.badge == badge }
        for r in readers where r.badge == badge { _ = try? handleClose(r.reply) }
        readers.removeAll { $0.badge == badge }
        discipline.readerWaiting = !readers.isEmpty
        if badge >= ConsoleServer.connectionBadgeBase && connections > 0 { connections -= 1 }
    }

    // MARK: the terminal

    /// Typed bytes: through the line discipline, echoed; waiting readers answered.
    func typed(_ bytes: [UInt8]) {
        var echo: [UInt8] = []
        for b in bytes {
            let e = discipline.type(b)
            echo += e.echo
            if e.interrupt { interrupt() }
        }
        serveReaders()
        show(echo)
    }

    /// Ctrl-C in cooked mode: pm ends the foreground process with SIGINT (its parent sees 128+2).
    func interrupt() {
        guard foreground != 0 else { return }
        guard let pm else { return }
        let m = IPCMessage(label: ProcessOp.kill.rawValue, foreground, ProcessProtocol.interruptSignal)
        guard let r = try? senderCall(pm, m, timeout: 1_000_000_000), r.words.0 == 0 else {
            print("console: pm did not end process \(foreground)")
            return
        }
    }

    /// Answers waiting readers, oldest first, while there is input.
    func serveReaders() {
        while let r = readers.first, let bytes = discipline.read(r.limit) {
            readers.removeFirst()
            _ = try? replyReply(r.reply, answer(bytes))
            _ = try? handleClose(r.reply)
        }
        discipline.readerWaiting = !readers.isEmpty
    }

    /// Program output. While the user has typed part of a line, that line is taken off the screen,
    /// the output written, and the line drawn again after it.
    /// A newline not after a carriage return gets one (as a terminal's ONLCR output processing), so a
    /// program's `\n` starts the next line at its first column; `\r\n` passes unchanged.
    func output(_ raw: [UInt8]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count + raw.count / 16)
        for b in raw {
            if b == 10 && lastOutputByte != 13 { bytes.append(13) }
            bytes.append(b)
            lastOutputByte = b
        }
        let editing = discipline.screen == .editing && !discipline.line.isEmpty
        var out: [UInt8] = editing ? [13, 27, 91, 75] : []
        out += bytes
        discipline.output(bytes)
        if editing { out += discipline.line }
        show(out)
    }

    /// Writes terminal bytes and the screen's state; `redraw` first draws the prompt and line again
    /// (the kernel erased them for a log line).
    func show(_ bytes: [UInt8], redraw: Bool = false) {
        var out = bytes
        if redraw && discipline.screen == .editing { out = discipline.redraw + out }
        // Kernel lines logged before this write go to the screen before it, as on the serial line.
        let kernel = display?.kernelLines() ?? []
        _ = try? consoleWrite(out, state: discipline.screen)
        if let d = display {
            d.write(kernel + d.mirror.terminal(out, state: discipline.screen))
            if d.broken { display = nil }
        }
    }
}

/// A thread that subscribes to a keyboard driver's key events (kbd's `input`, usbd's `usbinput`: the same
/// input protocol) and hands the characters of pressed keys (UTF-8) to the loop as typed bytes, as the
/// serial line's interrupt thread does. It reads at least once a second, so it notices a driver that
/// root restarted (the new instance refuses the old subscription) and subscribes again through the same
/// Sender; it stops when the driver is gone for good (.peerClosed) or refuses 10 subscriptions in a row.
func startKeyboardThread(_ input: Handle, name: String, receiver: Handle) {
    let started = try? spawnThread {
        guard let sender = try? senderCreate(receiver, badge: DriverLoop.interruptBadge),
              let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
            print("console: no keys from \(name) (no Sender or IPC buffer)")
            return 1
        }
        var refusals = 0
        var subscriptions = 0
        while true {
            let client: InputClient
            do throws(SysError) { client = try InputClient(input, page: page) } catch {
                refusals += 1
                if error == .peerClosed || refusals == 10 {
                    print("console: no keys from \(name) (its input subscription failed: \(error.name))")
                    return 1
                }
                threadSleep(nanoseconds: 500_000_000)
                continue
            }
            refusals = 0
            subscriptions += 1
            if subscriptions > 1 { print("console: keys from \(name) again (subscription \(subscriptions))") }
            while true {
                let events: [InputEvent]
                do throws(SysError) { events = try client.next(timeout: 1_000_000_000) } catch {
                    if error == .timedOut { continue }
                    break       // the driver ended or restarted: subscribe again
                }
                var bytes: [UInt8] = []
                for e in events where e.kind == .key && e.flags & 1 != 0 && e.a > 0 {
                    bytes += utf8(UInt32(e.a))
                }
                DriverLoop.send(bytes, through: sender)
            }
            _ = try? handleClose(client.notify)
        }
    }
    if started == nil { print("console: no keyboard thread for \(name)") }
}

/// A Unicode scalar's UTF-8 bytes (none for a surrogate or a value past U+10FFFF).
func utf8(_ scalar: UInt32) -> [UInt8] {
    guard let s = Unicode.Scalar(scalar) else { return [] }
    return Array(String(Character(s)).utf8)
}

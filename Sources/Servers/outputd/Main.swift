// outputd: a text console on the framebuffer (the service `output`). Root starts it as a boot server
// with a Sender to fbd (import:framebuffer) and its Receiver (export:output). It takes a drawing surface
// from fbd, keeps a TextTerminal of 8x16 cells over the whole screen (Sources/Formats/TextTerminal.swift:
// ANSI colours, cursor movement, erasing, scrolling) and serves the FILE PROTOCOL for writing
// (Sources/ABI/FileProtocol.swift): open "/" (or `output:///`) with `.write`, and every write is terminal
// output. After each write it draws the rows that changed into the surface (TerminalRenderer) and asks
// fbd to `present` them, before it answers, so a write that was answered is on the screen.
//
// Requests: open (`.write` needed; `.read` is `.accessDenied`, `.directory` `.notDirectory`, a window
// `.notSupported`, another path `.notFound`), write (the message bytes; w1 must be their count), close,
// stat (size 0, a file), control getSize (columns << 32 | rows); the rest `.notSupported` (read and seek
// on an open id `.accessDenied` and `.notSupported`). Without a framebuffer (fbd answers `.noDevice`)
// outputd says so in one line and answers open with `.noServer` (ENXIO, no such device).

let programName: StaticString = "outputd"

/// Open files each client (badge) may hold.
let maxOpenPerClient = 16

/// The screen: fbd's surface and the terminal drawn on it.
final class Display {
    let framebuffer: Handle
    let pixels: UnsafeMutablePointer<UInt32>
    let width: Int
    var terminal: TextTerminal

    init(framebuffer: Handle, pixels: UnsafeMutablePointer<UInt32>, width: Int, height: Int) {
        self.framebuffer = framebuffer
        self.pixels = pixels
        self.width = width
        terminal = TextTerminal(columns: width / TerminalRenderer.cellWidth, rows: height / TerminalRenderer.cellHeight)
    }

    /// Asks fbd for the screen and a surface; nil (with the reason) without one.
    static func open(_ framebuffer: Handle, page: IPCBufferPage) -> (Display?, String) {
        do throws(SysError) {
            let info = try senderCall(framebuffer, IPCMessage(label: FramebufferLabel.info.rawValue))
            if info.tag.label == FramebufferError.noDevice.rawValue { return (nil, "no framebuffer (fbd has none)") }
            guard info.tag.label == 0 else { return (nil, "fbd refused info (label \(info.tag.label))") }
            let (width, height) = (Int(info.words.0), Int(info.words.1))
            let reply = try senderCall(framebuffer, IPCMessage(label: FramebufferLabel.surface.rawValue))
            guard reply.tag.label == 0, reply.tag.handles == 1, reply.words.1 == UInt64(width * 4),
                  reply.words.0 >= UInt64(width * height * 4) else { return (nil, "fbd gave no surface (label \(reply.tag.label))") }
            let surface = page.handle(0)
            let address: UInt64
            do throws(SysError) { address = try MappingSpace.map(surface, length: reply.words.0) } catch {
                _ = try? handleClose(surface)
                throw error
            }
            let pixels = UnsafeMutablePointer<UInt32>(bitPattern: UInt(address))!
            let display = Display(framebuffer: framebuffer, pixels: pixels, width: width, height: height)
            display.update()
            return (display, "\(display.terminal.columns)x\(display.terminal.rows) text console on fbd's \(width)x\(height) screen")
        } catch {
            return (nil, "cannot reach fbd: \(error.name)")
        }
    }

    /// Feeds output to the terminal, draws what changed and presents it.
    func write(_ bytes: [UInt8]) {
        terminal.write(bytes)
        update()
    }

    func update() {
        let damage = terminal.takeDamage()
        let changed = TerminalRenderer.render(terminal, damage, into: pixels, pitch: width)
        guard changed.height > 0 else { return }
        _ = try? senderCall(framebuffer, IPCMessage(label: FramebufferLabel.present.rawValue, 0, UInt64(changed.y),
                                                    UInt64(width), UInt64(changed.height)))
    }
}

/// One open file: its id and the badge it belongs to.
struct OpenOutput {
    let id: UInt64
    let badge: UInt64
}

final class OutputServer {
    let page: IPCBufferPage
    let display: Display?
    var open: [OpenOutput] = []
    var nextID: UInt64 = 1

    init(page: IPCBufferPage, display: Display?) {
        self.page = page
        self.display = display
    }

    func answer(_ m: IPCMessage) -> IPCMessage {
        do throws(FileError) {
            guard let label = FileLabel(rawValue: m.tag.label), m.tag.words >= label.minimumWords else { throw .badMessage }
            if label != .open {
                // Only open takes a handle (a window, refused); the rest none.
                for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
                guard m.tag.handles == 0 else { throw .badMessage }
            }
            switch label {
            case .open: return try openFile(m)
            case .write: return try write(m)
            case .close:
                guard m.tag.bytes == 0 else { throw .badMessage }
                try check(m.words.0, m.badge)
                open.removeAll { $0.id == m.words.0 }
                return IPCMessage.ok()
            case .read:
                guard m.tag.bytes == 0 else { throw .badMessage }
                try check(m.words.0, m.badge)
                throw .accessDenied
            case .stat:
                if m.tag.bytes == 0 { try check(m.words.0, m.badge) } else { try path(m) }
                return IPCMessage.ok(0, UInt64(FileKind.file.rawValue), 0o222, 0)
            case .control:
                guard m.tag.bytes == 0 else { throw .badMessage }
                try check(m.words.0, m.badge)
                guard m.words.1 == TerminalControl.getSize.rawValue, let display else { throw .notSupported }
                return IPCMessage.ok(UInt64(display.terminal.columns) << 32 | UInt64(display.terminal.rows))
            case .seek:
                try check(m.words.0, m.badge)
                throw .notSupported
            case .readdir, .mkdir, .unlink, .rename, .map, .connect, .share, .mount, .unmount, .statfs, .mounts:
                throw .notSupported
            }
        } catch {
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    /// The request's path must be this server's root: `/` or `output:///`.
    func path(_ m: IPCMessage) throws(FileError) {
        guard m.tag.bytes >= 1 && m.tag.bytes <= FileProtocol.maxPath else { throw .badMessage }
        let p = page.take(m.tag.bytes)
        guard !p.contains(0) else { throw .invalid }
        guard p == Array("/".utf8) || p == Array("output:///".utf8) || p == Array("output://".utf8) else { throw .notFound }
    }

    func check(_ id: UInt64, _ badge: UInt64) throws(FileError) {
        guard open.contains(where: { $0.id == id && $0.badge == badge }) else { throw .badFile }
    }

    func openFile(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let window = m.tag.handles > 0
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
        guard m.tag.handles <= 1 else { throw .badMessage }
        try path(m)
        let flags = OpenFlags(rawValue: m.words.0)
        guard OpenFlags.all.contains(flags), !flags.intersection([.read, .write]).isEmpty else { throw .invalid }
        guard !flags.contains(.directory) else { throw .notDirectory }
        guard !flags.contains(.exclusive) else { throw .exists }
        guard !flags.contains(.read) else { throw .accessDenied }
        guard !window else { throw .notSupported }
        guard display != nil else { throw .noServer }
        guard open.filter({ $0.badge == m.badge }).count < maxOpenPerClient else { throw .tooManyOpen }
        let id = nextID
        nextID += 1
        open.append(OpenOutput(id: id, badge: m.badge))
        return IPCMessage.ok(id, 0, UInt64(FileKind.file.rawValue))
    }

    func write(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        try check(m.words.0, m.badge)
        guard m.words.1 == UInt64(m.tag.bytes) else { throw .invalid }
        let bytes = page.take(m.tag.bytes)
        display?.write(bytes)
        return IPCMessage.ok(UInt64(bytes.count))
    }

    func run(_ receiver: Handle) -> Int32 {
        _ = try? receiverSetNotices(receiver, true)
        var request: IPCMessage
        do throws(SysError) { request = try receiverRecv(receiver) } catch {
            print("outputd: receive failed: \(error.name)")
            return 1
        }
        while true {
            do throws(SysError) {
                if request.isSenderGone {
                    // A client's Sender is gone: so are its open files.
                    open.removeAll { $0.badge == request.badge }
                    request = try receiverRecv(receiver)
                } else {
                    request = try receiverReplyRecv(receiver, answer(request))
                }
            } catch {
                if error == .peerClosed { return 0 }
                // A caller that went away before the reply: wait for the next one.
                do throws(SysError) { request = try receiverRecv(receiver) } catch {
                    print("outputd: receive failed: \(error.name)")
                    return 1
                }
            }
        }
    }
}

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("output") else {
        print("outputd: no Receiver for `output`; exiting")
        return 1
    }
    guard let framebuffer = startup.imported("framebuffer") else {
        print("outputd: no Sender for `framebuffer`; exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("outputd: no IPC buffer page; exiting")
        return 1
    }
    let (display, description) = Display.open(framebuffer, page: page)
    if display != nil {
        print("outputd: \(description); serving `output`")
    } else {
        print("outputd: \(description); serving `output` (opens answer noServer)")
    }
    return OutputServer(page: page, display: display).run(receiver)
}

// fbd: the boot framebuffer as a service (`framebuffer`, Sources/ABI/FramebufferProtocol.swift). Root
// starts it as a boot server with its Receiver and, when the boot loader set up a framebuffer, the grant
// `framebuffer`: a Resource narrowed to the framebuffer's physical range (initfs:///etc/devices.conf's
// `fbd framebuffer framebuffer` line). fbd makes a physical Frame over it from the mode system_info
// reports, maps it write-combining, and gives each client a drawing surface (a Frame of ordinary memory
// the client maps) whose rectangles `present` copies to the screen. Without a framebuffer (a direct
// `-kernel` boot) it says so in one line and answers `info`, `surface` and `present` with `.noDevice`.

let programName: StaticString = "fbd"

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// The framebuffer as fbd maps it.
struct Screen {
    let pixels: UnsafeMutableRawPointer
    let width: UInt64
    let height: UInt64
    let pitch: UInt64
    let format: UInt64

    /// Maps the boot framebuffer through `resource`; nil (with the reason) when there is none to drive.
    static func open(_ resource: Handle?) -> (Screen?, String) {
        let address = (try? systemInfo(.framebufferAddress)) ?? 0
        let pitch = (try? systemInfo(.framebufferPitch)) ?? 0, width = (try? systemInfo(.framebufferWidth)) ?? 0
        let height = (try? systemInfo(.framebufferHeight)) ?? 0, format = (try? systemInfo(.framebufferFormat)) ?? 0
        guard address != 0 && width > 0 && height > 0 else {
            return (nil, "no framebuffer (the boot loader set up none; a direct -kernel boot has none)")
        }
        guard format == FramebufferProtocol.rgb32Format && pitch >= width * 4 else {
            return (nil, "framebuffer \(width)x\(height) format \(hex(format)) is not 32-bit RGB")
        }
        guard let resource else { return (nil, "no grant:framebuffer from root") }
        let base = address & ~(pageSize - 1)
        let size = (address + pitch * height - base + pageSize - 1) & ~(pageSize - 1)
        do throws(SysError) {
            let frame = try frameCreatePhysical(resource, address: base, size: size)
            guard let at = MappingSpace.take(pages: size / pageSize) else { return (nil, "no address space for the framebuffer") }
            try vmemMap(Runtime.vmem, frame: frame, address: at, length: size, flags: [.read, .write], cache: .writeCombining)
            let pixels = UnsafeMutableRawPointer(bitPattern: UInt(at + (address - base)))!
            return (Screen(pixels: pixels, width: width, height: height, pitch: pitch, format: format),
                    "\(width)x\(height) 32-bit RGB at \(hex(address)), pitch \(pitch)")
        } catch {
            return (nil, "cannot map the framebuffer at \(hex(address)): \(error.name)")
        }
    }
}

/// A client's drawing surface.
struct Surface {
    let badge: UInt64
    let frame: Handle
    let pixels: UnsafeMutableRawPointer
}

final class FramebufferServer {
    let page: IPCBufferPage
    let screen: Screen?
    var surfaces: [Surface] = []

    init(page: IPCBufferPage, screen: Screen?) {
        self.page = page
        self.screen = screen
    }

    /// Answers one request; a handle the reply moves to the caller is put in `moving`.
    func answer(_ m: IPCMessage, moving: inout Handle?) -> IPCMessage {
        do throws(FramebufferError) {
            guard let label = FramebufferLabel(rawValue: m.tag.label), m.tag.words >= label.minimumWords,
                  m.tag.bytes == 0, m.tag.handles == 0 else { throw .badMessage }
            guard let screen else { throw .noDevice }
            switch label {
            case .info: return IPCMessage.ok(screen.width, screen.height, screen.format, screen.pitch)
            case .surface: return try surface(m.badge, screen, moving: &moving)
            case .present: return try present(m, screen)
            }
        } catch {
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    /// surface: the caller's surface (made at its first request), a new handle to it moved in the reply.
    func surface(_ badge: UInt64, _ screen: Screen, moving: inout Handle?) throws(FramebufferError) -> IPCMessage {
        let size = (screen.width * screen.height * 4 + pageSize - 1) & ~(pageSize - 1)
        if !surfaces.contains(where: { $0.badge == badge }) {
            guard surfaces.count < FramebufferProtocol.maxClients else { throw .tooMany }
            do throws(SysError) {
                let frame = try frameCreate(size: size)
                let address: UInt64
                do throws(SysError) { address = try MappingSpace.map(frame, length: size) } catch {
                    _ = try? handleClose(frame)
                    throw error
                }
                surfaces.append(Surface(badge: badge, frame: frame, pixels: UnsafeMutableRawPointer(bitPattern: UInt(address))!))
            } catch {
                throw .noMemory
            }
        }
        let s = surfaces.first { $0.badge == badge }!
        guard let copy = try? handleDuplicate(s.frame, rights: FramebufferProtocol.surfaceRights) else { throw .noMemory }
        page.setHandle(0, copy)
        moving = copy
        var reply = IPCMessage.ok(size, screen.width * 4)
        reply.tag = IPCTag(words: 2, handles: 1, label: 0)
        return reply
    }

    /// present: copies the rectangle from the caller's surface to the screen, line by line.
    func present(_ m: IPCMessage, _ screen: Screen) throws(FramebufferError) -> IPCMessage {
        let (x, y, w, h) = m.words
        guard w > 0 && h > 0 && x < screen.width && y < screen.height && w <= screen.width - x && h <= screen.height - y
        else { throw .invalid }
        guard let s = surfaces.first(where: { $0.badge == m.badge }) else { throw .noSurface }
        let surfacePitch = Int(screen.width * 4), pitch = Int(screen.pitch)
        var from = s.pixels + Int(y) * surfacePitch + Int(x) * 4
        var to = screen.pixels + Int(y) * pitch + Int(x) * 4
        for _ in 0..<h {
            to.copyMemory(from: from, byteCount: Int(w) * 4)
            from += surfacePitch
            to += pitch
        }
        return IPCMessage.ok()
    }

    /// A client's Sender is gone: its surface goes.
    func dropClient(_ badge: UInt64) {
        guard let s = surfaces.first(where: { $0.badge == badge }), let screen else { return }
        let size = (screen.width * screen.height * 4 + pageSize - 1) & ~(pageSize - 1)
        MappingSpace.unmap(UInt64(UInt(bitPattern: s.pixels)), length: size)
        _ = try? handleClose(s.frame)
        surfaces.removeAll { $0.badge == badge }
    }

    func run(_ receiver: Handle) -> Int32 {
        serveClients(receiver, name: "fbd", gone: { dropClient($0) }) { request, moving in
            for i in 0..<min(request.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
            return answer(request, moving: &moving)
        }
    }
}

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("framebuffer") else {
        print("fbd: no Receiver for `framebuffer`; exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("fbd: no IPC buffer page; exiting")
        return 1
    }
    let (screen, description) = Screen.open(startup.granted("framebuffer"))
    if screen != nil {
        print("fbd: \(description); serving `framebuffer`")
    } else {
        print("fbd: \(description); serving `framebuffer` with noDevice answers")
    }
    return FramebufferServer(page: page, screen: screen).run(receiver)
}

// virtio-blk's request loop: the block-device protocol (Sources/ABI/BlockProtocol.swift) on the
// Receiver root (or init, for a second disk) gave it (`export:block`). One thread owns every piece of
// state: it receives, checks and answers each request, and answers reads, writes and flushes later:
// such a request gets a bounce slot (Disk.swift), its data copied in for a write, its chains put on the
// ring, and the caller stays bound to a Reply object while the loop receives the next request; when
// its chains come back the loop copies a read's data into the client's window and answers through
// that Reply. A request that finds every slot busy waits in a queue. A second thread waits on the
// IRQ's Notify (20 ms at most) and tells the loop through a Sender of the driver's own (`wakeBadge`):
// after an interrupt, and after a quiet 20 ms while requests are in flight (a lost or shared
// interrupt costs a poll, not a hang); 10 s without progress fail what is in flight with `.io`.

struct Window {
    let badge: UInt64
    let frame: Handle
    let address: UInt64
    let size: UInt64
}

/// A read, write or flush, checked, with the caller's Reply object.
struct Transfer {
    let reply: Handle
    let badge: UInt64
    let type: UInt32
    let first: UInt64
    let count: UInt64
    let offset: UInt64
}

/// Requests in flight (slots busy), written by the loop and read by the waking thread to decide
/// whether a quiet 20 ms is worth a poll (a stale read costs one poll message, or delays one by 20 ms).
var outstanding = 0

final class BlockServer {
    let disk: Disk
    let receiver: Handle
    let page: IPCBufferPage
    var windows: [Window] = []
    static let windowLimit = 64
    static let wakeBadge: UInt64 = 0xffff_ffff_ffff_fe00
    static let wakeLabel: UInt32 = 0x57414B45
    /// What each slot serves, and the requests waiting for a slot.
    var inFlight: [Transfer?]
    /// (At most one per client thread: each waits in its call.)
    var queue: [Transfer] = []
    /// Wakes without progress while something was in flight.
    var idle = 0
    var broken = false

    init(disk: Disk, receiver: Handle, page: IPCBufferPage) {
        self.disk = disk
        self.receiver = receiver
        self.page = page
        inFlight = [Transfer?](repeating: nil, count: disk.slots)
    }

    var maxBlocks: UInt64 { Disk.bounceBytes / disk.blockSize }

    func run() -> Int32 {
        guard var reply = try? replyCreate(), let wake = try? senderCreate(receiver, badge: BlockServer.wakeBadge) else {
            print("virtio-blk: no Reply object or Sender; exiting")
            return 1
        }
        let notify = disk.notify
        let waker = try? spawnThread(stackSize: 16 * 1024) {
            while true {
                var interrupt = true
                do throws(SysError) { _ = try notifyWait(notify, timeout: 20_000_000) } catch {
                    if error != .timedOut { return 1 }
                    interrupt = false
                }
                if interrupt || outstanding > 0 {
                    _ = try? senderCall(wake, IPCMessage(label: BlockServer.wakeLabel, interrupt ? 1 : 0))
                }
            }
        }
        if waker == nil { print("virtio-blk: no thread to wait for interrupts; exiting"); return 1 }
        while true {
            let m: IPCMessage
            do throws(SysError) { m = try receiverRecv(receiver, reply: reply) } catch {
                if error == .peerClosed { return 0 }
                print("virtio-blk: receive failed: \(error.name)")
                return 1
            }
            if m.badge == BlockServer.wakeBadge && m.tag.label == BlockServer.wakeLabel {
                _ = try? replyReply(reply, IPCMessage.ok())
                woke(interrupt: m.words.0 == 1)
                continue
            }
            if let answer = answer(m, reply: reply) {
                _ = try? replyReply(reply, answer)
            } else if let next = try? replyCreate() {
                reply = next        // the old one is kept by the transfer
            } else {
                // No Reply object for the next caller: finish everything in flight first.
                while disk.inFlight > 0 { threadSleep(nanoseconds: 20_000_000); woke(interrupt: false) }
                reply = (try? replyCreate()) ?? reply
            }
        }
    }

    /// Without a disk: every request gets `.noDevice` (a malformed one `.badMessage`); handles are closed.
    static func serveWithoutDevice(_ receiver: Handle, page: IPCBufferPage) -> Int32 {
        return serveRequests(receiver, name: "virtio-blk") { m in
            for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
            guard let label = BlockLabel(rawValue: m.tag.label), m.tag.words >= label.minimumWords, m.tag.bytes == 0 else {
                return IPCMessage(tag: IPCTag(label: BlockError.badMessage.rawValue))
            }
            return IPCMessage(tag: IPCTag(label: BlockError.noDevice.rawValue))
        }
    }

    /// The reply to one request, or nil when it is answered later through `reply` (never throws, never
    /// traps on what the client sent).
    func answer(_ m: IPCMessage, reply: Handle) -> IPCMessage? {
        let label = BlockLabel(rawValue: m.tag.label)
        var handle: Handle? = nil
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) {
            let h = page.handle(i)
            if label == .attach && m.tag.handles == 1 { handle = h } else { _ = try? handleClose(h) }
        }
        do throws(BlockError) {
            guard let label else { throw .badMessage }
            guard m.tag.words >= label.minimumWords, m.tag.bytes == 0 else { throw .badMessage }
            guard label == .attach ? m.tag.handles == 1 : m.tag.handles == 0 else { throw .badMessage }
            switch label {
            case .info:
                var flags: BlockFlags = []
                if disk.readOnly { flags.insert(.readOnly) }
                if disk.canFlush { flags.insert(.writeCache) }
                return IPCMessage.ok(disk.capacityBlocks, disk.blockSize, flags.rawValue, maxBlocks)
            case .attach:
                let h = handle!
                handle = nil
                return try attach(h, badge: m.badge)
            case .read, .write:
                let write = label == .write
                let (first, count, offset) = (m.words.0, m.words.1, m.words.2)
                guard windows.contains(where: { $0.badge == m.badge }) else { throw .noWindow }
                if write && disk.readOnly { throw .readOnly }
                guard count > 0, count <= maxBlocks else { throw .invalid }
                guard first <= disk.capacityBlocks, count <= disk.capacityBlocks - first else { throw .outOfRange }
                _ = try window(m.badge, offset: offset, bytes: count * disk.blockSize)
                try enqueue(Transfer(reply: reply, badge: m.badge, type: write ? BlkRequest.typeOut : BlkRequest.typeIn,
                                     first: first, count: count, offset: offset))
                return nil
            case .flush:
                guard disk.canFlush else { return IPCMessage.ok() }
                try enqueue(Transfer(reply: reply, badge: m.badge, type: BlkRequest.typeFlush, first: 0, count: 0, offset: 0))
                return nil
            case .detach:
                guard let i = windows.firstIndex(where: { $0.badge == m.badge }) else { throw .noWindow }
                drop(i)
                print("virtio-blk: \(disk.requests) requests, \(disk.interrupts) interrupts, \(disk.polls) polls, "
                      + "at most \(disk.mostInFlight) in flight")
                return IPCMessage.ok()
            }
        } catch {
            if let handle { _ = try? handleClose(handle) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    /// The client's window at `offset` for `bytes`: checked against the window the badge has now.
    func window(_ badge: UInt64, offset: UInt64, bytes: UInt64) throws(BlockError) -> UnsafeMutableRawPointer {
        guard let w = windows.first(where: { $0.badge == badge }) else { throw .noWindow }
        guard offset % disk.blockSize == 0, offset <= w.size, bytes <= w.size - offset else { throw .invalid }
        return UnsafeMutableRawPointer(bitPattern: UInt(w.address + offset))!
    }

    /// Starts `t` in a free slot, or queues it.
    func enqueue(_ t: Transfer) throws(BlockError) {
        if broken { throw .io }
        guard let s = inFlight.indices.first(where: { inFlight[$0] == nil && disk.chainsLeft[$0] == 0 }) else {
            queue.append(t)
            return
        }
        try start(t, in: s)
    }

    /// Puts `t` on the ring in slot `s` (a write's data copied into the slot's bounce buffer first).
    func start(_ t: Transfer, in s: Int) throws(BlockError) {
        let bytes = t.count * disk.blockSize
        if t.type == BlkRequest.typeOut {
            let w = try window(t.badge, offset: t.offset, bytes: bytes)
            disk.bounce(s).copyMemory(from: w, byteCount: Int(bytes))
        }
        try disk.submit(s, t.type, sector: t.first * (disk.blockSize / 512), bytes: bytes)
        inFlight[s] = t
        outstanding = disk.inFlight
    }

    /// A wake from the waiting thread: the interrupt handled, finished slots answered, queued requests
    /// started; 500 wakes (10 s of polls) without progress while requests are in flight fail them.
    func woke(interrupt: Bool) {
        disk.acknowledge(interrupt: interrupt)
        let done = disk.reap()
        for (s, ok) in done { finish(s, ok: ok) }
        if !done.isEmpty { idle = 0 } else if disk.inFlight > 0 { idle += 1 }
        if idle >= 500 {
            print("virtio-blk: no progress for 10 s; \(disk.inFlight) requests fail with EIO and the device is not used again")
            broken = true
            for s in inFlight.indices where inFlight[s] != nil {
                answer(inFlight[s]!, IPCMessage(tag: IPCTag(label: BlockError.io.rawValue)))
                inFlight[s] = nil
                disk.abandon(s)
            }
            for t in queue { answer(t, IPCMessage(tag: IPCTag(label: BlockError.io.rawValue))) }
            queue = []
            idle = 0
        }
        startQueued()
        outstanding = disk.inFlight
    }

    func startQueued() {
        while !queue.isEmpty, let s = inFlight.indices.first(where: { inFlight[$0] == nil && disk.chainsLeft[$0] == 0 }) {
            let t = queue.removeFirst()
            do throws(BlockError) { try start(t, in: s) } catch { answer(t, IPCMessage(tag: IPCTag(label: error.rawValue))) }
        }
    }

    /// Slot `s` came back: a read's data goes to the client's window (the one its badge has now), and
    /// the client is answered.
    func finish(_ s: Int, ok: Bool) {
        guard let t = inFlight[s] else { return }
        inFlight[s] = nil
        guard ok else { return answer(t, IPCMessage(tag: IPCTag(label: BlockError.io.rawValue))) }
        if t.type == BlkRequest.typeIn {
            let bytes = t.count * disk.blockSize
            do throws(BlockError) {
                let w = try window(t.badge, offset: t.offset, bytes: bytes)
                w.copyMemory(from: disk.bounce(s), byteCount: Int(bytes))
            } catch {
                return answer(t, IPCMessage(tag: IPCTag(label: error.rawValue)))
            }
        }
        answer(t, t.type == BlkRequest.typeFlush ? IPCMessage.ok() : IPCMessage.ok(t.count))
    }

    /// Answers a deferred request through its Reply object, which is then closed.
    func answer(_ t: Transfer, _ m: IPCMessage) {
        _ = try? replyReply(t.reply, m)
        _ = try? handleClose(t.reply)
    }

    /// attach: the Frame becomes this badge's window (any earlier one is let go).
    func attach(_ h: Handle, badge: UInt64) throws(BlockError) -> IPCMessage {
        guard let (type, rights) = try? handleIdentify(h), type == .frame, rights.isSuperset(of: BlockProtocol.windowRights),
              let size = try? frameGetSize(h), size > 0, size <= BlockProtocol.maxWindow else {
            _ = try? handleClose(h)
            throw .invalid
        }
        let existing = windows.firstIndex(where: { $0.badge == badge })
        guard existing != nil || windows.count < BlockServer.windowLimit,
              let address = try? MappingSpace.map(h, length: size) else {
            _ = try? handleClose(h)
            throw .invalid
        }
        if let existing { drop(existing) }
        windows.append(Window(badge: badge, frame: h, address: address, size: size))
        return IPCMessage.ok(size)
    }

    func drop(_ i: Int) {
        let w = windows.remove(at: i)
        MappingSpace.unmap(w.address, length: w.size)
        _ = try? handleClose(w.frame)
    }
}

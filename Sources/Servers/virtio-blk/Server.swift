// virtio-blk's request loop: the block-device protocol (Sources/ABI/BlockProtocol.swift) on the
// Receiver root gave it (`export:block`). One thread receives, checks and answers each request; data
// moves between the client's window (mapped here) and the disk through the DMA bounce buffer.

struct Window {
    let badge: UInt64
    let frame: Handle
    let address: UInt64
    let size: UInt64
}

final class BlockServer {
    let disk: Disk
    let receiver: Handle
    let page: IPCBufferPage
    var windows: [Window] = []
    static let windowLimit = 64

    init(disk: Disk, receiver: Handle, page: IPCBufferPage) {
        self.disk = disk
        self.receiver = receiver
        self.page = page
    }

    var maxBlocks: UInt64 { Disk.bounceBytes / disk.blockSize }

    func run() -> Int32 {
        return serveRequests(receiver, name: "virtio-blk") { answer($0) }
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

    /// The reply to one request (never throws, never traps on what the client sent).
    func answer(_ m: IPCMessage) -> IPCMessage {
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
                return try move(m, write: label == .write)
            case .flush:
                if disk.canFlush { try disk.transfer(BlkRequest.typeFlush, sector: 0, bytes: 0) }
                return IPCMessage.ok()
            case .detach:
                guard let i = windows.firstIndex(where: { $0.badge == m.badge }) else { throw .noWindow }
                drop(i)
                print("virtio-blk: \(disk.requests) requests, \(disk.interrupts) interrupts, \(disk.polls) polls")
                return IPCMessage.ok()
            }
        } catch {
            if let handle { _ = try? handleClose(handle) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
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

    /// read and write: checks, then the transfer through the bounce buffer.
    func move(_ m: IPCMessage, write: Bool) throws(BlockError) -> IPCMessage {
        let (first, count, offset) = (m.words.0, m.words.1, m.words.2)
        guard let w = windows.first(where: { $0.badge == m.badge }) else { throw .noWindow }
        if write && disk.readOnly { throw .readOnly }
        guard count > 0, count <= maxBlocks else { throw .invalid }
        guard first <= disk.capacityBlocks, count <= disk.capacityBlocks - first else { throw .outOfRange }
        let bytes = count * disk.blockSize
        guard offset % disk.blockSize == 0, offset <= w.size, bytes <= w.size - offset else { throw .invalid }
        let window = UnsafeMutableRawPointer(bitPattern: UInt(w.address + offset))!
        let sector = first * (disk.blockSize / 512)
        if write {
            disk.bounce.copyMemory(from: window, byteCount: Int(bytes))
            try disk.transfer(BlkRequest.typeOut, sector: sector, bytes: bytes)
        } else {
            try disk.transfer(BlkRequest.typeIn, sector: sector, bytes: bytes)
            window.copyMemory(from: disk.bounce, byteCount: Int(bytes))
        }
        return IPCMessage.ok(count)
    }
}

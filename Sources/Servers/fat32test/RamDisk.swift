// A RAM disk for fsd.fat32's guest tests: a Frame mapped here, formatted with the FAT32 core, served over
// the block-device protocol (Sources/ABI/BlockProtocol.swift) by a thread of this process, as a disk
// driver would serve it. Every request is checked (label, words, handles, ranges, the window) and a bad
// one gets its BlockError; the server counts requests, so a test can see the file server's traffic.

/// The disk's memory as a Formats BlockDevice (the formatter and the in-process checks use it).
final class RamDisk: BlockDevice {
    let frame: Handle
    let address: UInt64
    let blockSize = 512
    let blockCount: UInt64

    init(bytes: UInt64) throws(SysError) {
        frame = try frameCreate(size: bytes)
        address = try MappingSpace.map(frame, length: bytes)
        blockCount = bytes / 512
    }

    func pointer(_ block: UInt64) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(address + block * 512))!
    }

    func readBlocks(_ first: UInt64, _ count: Int, into buffer: UnsafeMutableRawPointer) throws(DiskError) {
        guard count >= 0, first <= blockCount, UInt64(count) <= blockCount - first else { throw .io }
        buffer.copyMemory(from: pointer(first), byteCount: count * 512)
    }

    func writeBlocks(_ first: UInt64, _ count: Int, from buffer: UnsafeRawPointer) throws(DiskError) {
        guard count >= 0, first <= blockCount, UInt64(count) <= blockCount - first else { throw .io }
        pointer(first).copyMemory(from: buffer, byteCount: count * 512)
    }

    func flush() throws(DiskError) {}
}

/// Serves `disk` on `receiver` until the receiver goes away (run on its own thread).
final class RamDiskServer {
    let disk: RamDisk
    let receiver: Handle
    /// The most blocks one request may move (info's w3).
    static let maxBlocks: UInt64 = 1024
    var window: (handle: Handle, address: UInt64, size: UInt64)? = nil
    var requests = 0

    init(disk: RamDisk, receiver: Handle) {
        self.disk = disk
        self.receiver = receiver
    }

    func run() -> UInt64 {
        guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else { return 1 }
        var request: IPCMessage
        do throws(SysError) { request = try receiverRecv(receiver) } catch { return 1 }
        while true {
            requests += 1
            let reply = answer(request, page)
            do throws(SysError) { request = try receiverReplyRecv(receiver, reply) } catch {
                if error == .peerClosed || error == .invalidHandle { return 0 }
                do throws(SysError) { request = try receiverRecv(receiver) } catch { return 0 }
            }
        }
    }

    func answer(_ m: IPCMessage, _ page: IPCBufferPage) -> IPCMessage {
        let label = BlockLabel(rawValue: m.tag.label)
        var handle: Handle? = nil
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) {
            if label == .attach && m.tag.handles == 1 { handle = page.handle(i) } else { _ = try? handleClose(page.handle(i)) }
        }
        do throws(BlockError) {
            guard let label, m.tag.words >= label.minimumWords, m.tag.bytes == 0 else { throw .badMessage }
            if label != .attach && m.tag.handles > 0 { throw .badMessage }
            switch label {
            case .info:
                return IPCMessage(label: 0, disk.blockCount, 512, 0, RamDiskServer.maxBlocks)
            case .attach:
                guard let h = handle else { throw .badMessage }
                handle = nil
                guard let (type, rights) = try? handleIdentify(h), type == .frame, rights.isSuperset(of: BlockProtocol.windowRights),
                      let size = try? frameGetSize(h), size > 0, size <= BlockProtocol.maxWindow,
                      let address = try? MappingSpace.map(h, length: size) else {
                    _ = try? handleClose(h)
                    throw .invalid
                }
                detach()
                window = (h, address, size)
                return IPCMessage(label: 0, size)
            case .read, .write:
                guard let w = window else { throw .noWindow }
                let first = m.words.0, count = m.words.1, offset = m.words.2
                guard count > 0, count <= RamDiskServer.maxBlocks, offset % 512 == 0, offset <= w.size,
                      count * 512 <= w.size - offset else { throw .invalid }
                guard first <= disk.blockCount, count <= disk.blockCount - first else { throw .outOfRange }
                let bytes = Int(count) * 512
                let windowPointer = UnsafeMutableRawPointer(bitPattern: UInt(w.address + offset))!
                if label == .read { windowPointer.copyMemory(from: disk.pointer(first), byteCount: bytes) }
                else { disk.pointer(first).copyMemory(from: windowPointer, byteCount: bytes) }
                return IPCMessage(label: 0, count)
            case .flush:
                return IPCMessage(label: 0)
            case .detach:
                detach()
                return IPCMessage(label: 0)
            }
        } catch {
            if let handle { _ = try? handleClose(handle) }
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    func detach() {
        if let w = window {
            MappingSpace.unmap(w.address, length: w.size)
            _ = try? handleClose(w.handle)
            window = nil
        }
    }
}

// Typed client of the block-device protocol (Sources/ABI/BlockProtocol.swift): asks the driver for the
// device's geometry, attaches one data window (a Frame shared with the driver, mapped here) and moves
// blocks through it. It is a Formats BlockDevice, so the FAT32 core and the partition reader run on it.
// Requests larger than the window or than the driver's per-request limit are split. A failed request
// is DiskError.io (the driver's BlockError is kept in `lastError` for messages).
//
// Make it before installing another IPC buffer on the thread: `init` installs its own page for the
// attach (a handle transfer), and only register words move after that.

public final class BlockClient: BlockDevice {
    public let sender: Handle
    public let blockSize: Int
    public let blockCount: UInt64
    public let flags: BlockFlags
    /// The most blocks one request moves (the driver's limit and the window's).
    public let maxBlocks: Int
    let window: Handle
    let windowAddress: UInt64
    let windowSize: UInt64
    let page: IPCBufferPage
    /// The driver's answer to the last failed request, or the SysError's code for a failed call.
    public private(set) var lastError: UInt32 = 0

    /// Connects to the driver behind `sender` with a window of `windowBytes` (rounded to pages).
    public init(_ sender: Handle, windowBytes: UInt64 = 1 << 20) throws(SysError) {
        self.sender = sender
        let info = try BlockClient.call(sender, IPCMessage(label: BlockLabel.info.rawValue))
        guard info.words.1 >= 512, info.words.1 <= 4096, info.words.1 & (info.words.1 - 1) == 0,
              info.words.0 > 0, info.words.3 > 0 else { throw .invalidArgument }
        blockSize = Int(info.words.1)
        blockCount = info.words.0
        flags = BlockFlags(rawValue: info.words.2)
        let size = min(max(windowBytes, UInt64(blockSize)), BlockProtocol.maxWindow)
        windowSize = (size + pageSize - 1) / pageSize * pageSize
        maxBlocks = Int(min(info.words.3, windowSize / UInt64(blockSize)))
        page = try IPCBufferPage.make()
        window = try frameCreate(size: windowSize)
        windowAddress = try MappingSpace.map(window, length: windowSize)
        try page.install()
        let copy = try handleDuplicate(window, rights: BlockProtocol.windowRights.union(.transfer))
        page.setHandle(0, copy)
        do throws(SysError) {
            _ = try BlockClient.call(sender, IPCMessage(tag: IPCTag(words: 0, bytes: 0, handles: 1, label: BlockLabel.attach.rawValue)))
        } catch {
            _ = try? handleClose(copy)   // left here when the send failed; closed by the driver otherwise
            throw error
        }
    }

    deinit {
        _ = try? BlockClient.call(sender, IPCMessage(label: BlockLabel.detach.rawValue))
        MappingSpace.unmap(windowAddress, length: windowSize)
        _ = try? handleClose(window)
        page.release()
    }

    /// One request; a reply label other than 0 is `.invalidArgument` (the BlockError is in the reply).
    static func call(_ sender: Handle, _ message: IPCMessage) throws(SysError) -> IPCMessage {
        let reply = try senderCall(sender, message)
        if reply.tag.label != 0 { throw .invalidArgument }
        return reply
    }

    func request(_ label: BlockLabel, _ first: UInt64, _ count: Int) throws(DiskError) {
        let m = IPCMessage(label: label.rawValue, first, UInt64(count), 0)
        let reply: IPCMessage
        do throws(SysError) { reply = try senderCall(sender, m) } catch {
            lastError = UInt32(truncatingIfNeeded: error.rawValue)
            throw .io
        }
        if reply.tag.label != 0 { lastError = reply.tag.label; throw .io }
        guard reply.words.0 == UInt64(count) else { throw .io }
    }

    public func readBlocks(_ first: UInt64, _ count: Int, into buffer: UnsafeMutableRawPointer) throws(DiskError) {
        guard count >= 0, first <= blockCount, UInt64(count) <= blockCount - first else { throw .io }
        var done = 0
        while done < count {
            let n = min(count - done, maxBlocks)
            try request(.read, first + UInt64(done), n)
            (buffer + done * blockSize).copyMemory(from: UnsafeRawPointer(bitPattern: UInt(windowAddress))!,
                                                   byteCount: n * blockSize)
            done += n
        }
    }

    public func writeBlocks(_ first: UInt64, _ count: Int, from buffer: UnsafeRawPointer) throws(DiskError) {
        guard count >= 0, first <= blockCount, UInt64(count) <= blockCount - first else { throw .io }
        var done = 0
        while done < count {
            let n = min(count - done, maxBlocks)
            UnsafeMutableRawPointer(bitPattern: UInt(windowAddress))!.copyMemory(from: buffer + done * blockSize,
                                                                                 byteCount: n * blockSize)
            try request(.write, first + UInt64(done), n)
            done += n
        }
    }

    public func flush() throws(DiskError) {
        let reply: IPCMessage
        do throws(SysError) { reply = try senderCall(sender, IPCMessage(label: BlockLabel.flush.rawValue)) } catch {
            lastError = UInt32(truncatingIfNeeded: error.rawValue)
            throw .io
        }
        if reply.tag.label != 0 { lastError = reply.tag.label; throw .io }
    }
}

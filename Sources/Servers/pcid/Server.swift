// pcid's request loop (Sources/ABI/PCIProtocol.swift): one thread receives, checks and answers.

final class Server {
    let config: ConfigSpace
    var functions: [PCIFunction]
    let resource: Handle
    let receiver: Handle
    let initfs: Handle?
    /// Duplicates of the Receivers of the drivers pcid started, by function index (to mint Senders).
    var driverReceivers: [(index: Int, receiver: Handle)] = []
    var nextClientBadge: UInt64 = 1
    /// DMA bytes given to each function's driver (`dma`), by function index.
    var dmaGiven: [UInt64] = []
    var page: IPCBufferPage? = nil

    init(config: ConfigSpace, functions: [PCIFunction], resource: Handle, receiver: Handle, initfs: Handle?) {
        self.config = config
        self.functions = functions
        self.resource = resource
        self.receiver = receiver
        self.initfs = initfs
        dmaGiven = [UInt64](repeating: 0, count: functions.count)
    }

    /// Receives and answers requests until the Receiver goes away.
    func run() -> Int32 {
        guard let p = try? IPCBufferPage.make(), (try? p.install()) != nil else {
            print("pcid: no IPC buffer page; exiting")
            return 1
        }
        page = p
        return serveRequests(receiver, name: "pcid") { answer($0) }
    }

    /// The reply to one request (never throws, never traps on what the client sent).
    func answer(_ m: IPCMessage) -> IPCMessage {
        if let page { for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) } }
        do throws(PCIError) {
            guard let label = PCILabel(rawValue: m.tag.label) else { throw .badMessage }
            guard m.tag.words >= label.minimumWords, m.tag.handles == 0, m.tag.bytes == 0 else { throw .badMessage }
            switch label {
            case .count: return IPCMessage.ok(UInt64(functions.count), config.access.rawValue)
            case .function:
                let f = try function(m.words.0)
                return IPCMessage.ok(f.word0.word, f.word1.word, f.capabilities, f.driver.rawValue)
            case .bar:
                let f = try function(m.words.0)
                guard m.words.1 < 6 else { throw .invalid }
                let b = f.bars[Int(m.words.1)]
                return IPCMessage.ok(b.base, b.size, b.flags.rawValue)
            case .configRead:
                let f = try function(m.words.0)
                let (offset, width) = try place(m.words.1, m.words.2)
                return IPCMessage.ok(UInt64(config.read(f.address, offset, width: width)))
            case .configWrite:
                let f = try function(m.words.0)
                guard m.badge == m.words.0 + 1 else { throw .denied }
                let (offset, width) = try place(m.words.1, m.words.2)
                guard offset + UInt16(width) <= 0x10 || offset >= 0x28 else { throw .denied }   // the BARs
                guard m.words.3 >> (UInt64(width) * 8) == 0 else { throw .invalid }
                config.write(f.address, offset, width: width, UInt32(truncatingIfNeeded: m.words.3))
                return IPCMessage.ok()
            case .driver:
                guard m.badge == 0 else { throw .denied }
                _ = try function(m.words.0)
                guard let d = driverReceivers.first(where: { UInt64($0.index) == m.words.0 }) else { throw .noDriver }
                guard let sender = try? senderCreate(d.receiver, badge: nextClientBadge) else { throw .noDriver }
                nextClientBadge += 1
                page?.setHandle(0, sender)
                return IPCMessage(tag: IPCTag(handles: 1, label: 0))
            case .dma:
                guard m.badge > 0, m.badge <= UInt64(functions.count) else { throw .denied }
                let i = Int(m.badge - 1)
                let size = m.words.0
                guard size > 0, size % pageSize == 0, size <= PCIProtocol.dmaLimit - dmaGiven[i] else { throw .invalid }
                let frame: Handle
                do throws(SysError) { frame = try frameCreateContiguous(resource, size: size) } catch {
                    throw error == .outOfMemory || error == .limitExceeded ? .noMemory : .invalid
                }
                dmaGiven[i] += size
                page?.setHandle(0, frame)
                return IPCMessage(tag: IPCTag(handles: 1, label: 0))
            }
        } catch {
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    func function(_ index: UInt64) throws(PCIError) -> PCIFunction {
        guard index < UInt64(functions.count) else { throw .noDevice }
        return functions[Int(index)]
    }

    /// A configuration-space offset and width: width 1, 2 or 4, aligned, inside the function's space.
    func place(_ offset: UInt64, _ width: UInt64) throws(PCIError) -> (UInt16, Int) {
        guard width == 1 || width == 2 || width == 4, offset % width == 0, offset < config.functionSize else { throw .invalid }
        return (UInt16(offset), Int(width))
    }
}

// pcid's request loop (Sources/ABI/PCIProtocol.swift): one thread receives, checks and answers. Claims:
// a driver (a boot server such as virtio-blk, which imports `pci`) asks for a function by vendor and
// device ID and gets a Sender of its own whose badge names the function; through it, and only through
// it, it takes that function's BARs (a Frame over each memory BAR, an IOPort over each I/O BAR) and its
// INTx line's IRQ object, each once, and DMA memory. Memory and I/O decoding and bus mastering are
// switched on when the function is claimed (INTx left enabled).

final class Server {
    let config: ConfigSpace
    var functions: [PCIFunction]
    let resources: Resources
    let receiver: Handle
    /// DMA bytes given to each function's driver (`dma`), by function index.
    var dmaGiven: [UInt64] = []
    var page: IPCBufferPage? = nil

    init(config: ConfigSpace, functions: [PCIFunction], resources: Resources, receiver: Handle) {
        self.config = config
        self.functions = functions
        self.resources = resources
        self.receiver = receiver
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

    /// The function a driver's badge names, or nil for a client's badge.
    func own(_ badge: UInt64) -> Int? {
        guard badge >= PCIProtocol.functionBadgeBase, badge - PCIProtocol.functionBadgeBase < UInt64(functions.count) else { return nil }
        return Int(badge - PCIProtocol.functionBadgeBase)
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
                guard own(m.badge) == Int(truncatingIfNeeded: m.words.0) else { throw .denied }
                let (offset, width) = try place(m.words.1, m.words.2)
                guard offset + UInt16(width) <= 0x10 || offset >= 0x28 else { throw .denied }   // the BARs
                guard m.words.3 >> (UInt64(width) * 8) == 0 else { throw .invalid }
                config.write(f.address, offset, width: width, UInt32(truncatingIfNeeded: m.words.3))
                return IPCMessage.ok()
            case .claim: return try claim(m)
            case .take: return try take(m)
            case .dma: return try dma(m)
            }
        } catch {
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    /// claim: the n-th function with the vendor and device IDs, if nobody claimed it; a driver's Sender.
    func claim(_ m: IPCMessage) throws(PCIError) -> IPCMessage {
        guard own(m.badge) == nil else { throw .denied }
        guard m.words.0 <= 0xffff, m.words.1 <= 0xffff else { throw .invalid }
        let matches = functions.indices.filter {
            UInt64(functions[$0].word0.vendor) == m.words.0 && UInt64(functions[$0].word0.deviceID) == m.words.1
        }
        guard m.words.2 < UInt64(matches.count) else { throw .noDevice }
        let i = matches[Int(m.words.2)]
        guard functions[i].driver == .none else { throw .busy }
        guard let sender = try? senderCreate(receiver, badge: PCIProtocol.functionBadgeBase + UInt64(i)) else { throw .noMemory }
        functions[i].driver = .claimed
        // Memory and I/O decoding, bus mastering; INTx stays enabled (command bit 10 clear).
        let command = config.read(functions[i].address, 4, width: 2)
        config.write(functions[i].address, 4, width: 2, (command | 0x7) & ~0x400)
        print("pcid: \(location(functions[i])) claimed (\(hex(m.words.0)):\(hex(m.words.1)))")
        page?.setHandle(0, sender)
        return IPCMessage(tag: IPCTag(words: 1, handles: 1, label: 0), words: (UInt64(i), 0, 0, 0))
    }

    /// take: one of the driver's own function's objects (a BAR or the interrupt), once.
    func take(_ m: IPCMessage) throws(PCIError) -> IPCMessage {
        guard let i = own(m.badge) else { throw .denied }
        let what = m.words.0
        guard what <= PCIProtocol.takeInterrupt else { throw .invalid }
        let bit = UInt8(1) << UInt8(what)
        guard functions[i].taken & bit == 0 else { throw .busy }
        let f = functions[i]
        if what == PCIProtocol.takeInterrupt {
            guard f.irq != nil else { throw .invalid }
        } else {
            guard f.bars[Int(what)].flags.contains(.present) else { throw .invalid }
        }
        let h: Handle
        var words: (UInt64, UInt64) = (0, 0)
        do throws(SysError) {
            if let irq = f.irq, what == PCIProtocol.takeInterrupt {
                // INTx lines are level-triggered and shared between functions: every driver on the
                // line gets each interrupt and checks its own device (IRQOptions.shared).
                h = try resources.make { r throws(SysError) in try irqCreate(r, irq.number, irq.numbering, shared: true) }
                words = (irq.number, irq.numbering.rawValue)
            } else {
                let bar = f.bars[Int(what)]
                if bar.flags.contains(.io) {
                    h = try resources.make { r throws(SysError) in try ioportCreate(r, base: bar.base, count: bar.size) }
                } else {
                    let base = bar.base & ~(pageSize - 1)
                    let end = (bar.base + bar.size + pageSize - 1) & ~(pageSize - 1)
                    h = try resources.make { r throws(SysError) in try frameCreatePhysical(r, address: base, size: end - base) }
                }
            }
        } catch {
            // One IRQ object per line: a shared INTx line another driver holds is .inUse.
            print("pcid: \(location(f)): cannot make object \(what) for its driver: \(error.name)")
            throw error == .inUse ? .busy : error == .outOfMemory || error == .limitExceeded ? .noMemory : .invalid
        }
        functions[i].taken |= bit
        page?.setHandle(0, h)
        return IPCMessage(tag: IPCTag(words: 2, handles: 1, label: 0), words: (words.0, words.1, 0, 0))
    }

    /// dma: contiguous RAM for the driver's device, within its budget.
    func dma(_ m: IPCMessage) throws(PCIError) -> IPCMessage {
        guard let i = own(m.badge) else { throw .denied }
        let size = m.words.0
        guard size > 0, size % pageSize == 0, size <= PCIProtocol.dmaLimit - dmaGiven[i] else { throw .invalid }
        let frame: Handle
        do throws(SysError) { frame = try resources.make { r throws(SysError) in try frameCreateContiguous(r, size: size) } } catch {
            throw error == .outOfMemory || error == .limitExceeded ? .noMemory : .invalid
        }
        dmaGiven[i] += size
        page?.setHandle(0, frame)
        return IPCMessage(tag: IPCTag(handles: 1, label: 0))
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

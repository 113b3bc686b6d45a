// The xHCI host controller (eXtensible Host Controller Interface 1.2): its registers in BAR 0 (§5.3
// capability, §5.4 operational and port, §5.5 runtime, §5.6 doorbell registers), reset and start-up
// (§4.2), the command ring and the event ring of interrupter 0 (§4.9), and the wait for events
// (interrupt-driven through the INTx line's IRQ object, with a 20 ms poll as well, as virtio-blk does).
//
// DMA memory is one physically contiguous Frame from pcid, handed out a page at a time (`DMAPages`):
// the Device Context Base Address Array, the command ring, the event ring and its segment table, any
// scratchpad buffers the controller asks for, then five pages per device (Devices.swift).
// The TRB, ring and context logic is Sources/Formats/XHCIRings.swift (host-tested).

/// Register offsets.
enum Reg {
    // Capability registers.
    static let capLength: UInt64 = 0x00, hcsParams1: UInt64 = 0x04, hcsParams2: UInt64 = 0x08
    static let hccParams1: UInt64 = 0x10, dbOff: UInt64 = 0x14, rtsOff: UInt64 = 0x18
    // Operational registers.
    static let usbCmd: UInt64 = 0x00, usbSts: UInt64 = 0x04, pageSize: UInt64 = 0x08
    static let crcr: UInt64 = 0x18, dcbaap: UInt64 = 0x30, config: UInt64 = 0x38, ports: UInt64 = 0x400
    // Interrupter 0 (runtime base + 0x20).
    static let iman: UInt64 = 0x20, imod: UInt64 = 0x24, erstsz: UInt64 = 0x28, erstba: UInt64 = 0x30, erdp: UInt64 = 0x38
}

enum Cmd {
    static let run: UInt32 = 1 << 0, reset: UInt32 = 1 << 1, interrupterEnable: UInt32 = 1 << 2
}

enum Sts {
    static let halted: UInt32 = 1 << 0, eventInterrupt: UInt32 = 1 << 3, portChange: UInt32 = 1 << 4
    static let notReady: UInt32 = 1 << 11
}

/// PORTSC bits (§5.4.8).
enum PortSC {
    static let connected: UInt32 = 1 << 0, enabled: UInt32 = 1 << 1, reset: UInt32 = 1 << 4, power: UInt32 = 1 << 9
    static let connectChange: UInt32 = 1 << 17, resetChange: UInt32 = 1 << 21
    /// The write-1-to-clear change bits (CSC, PEC, WRC, OCC, PRC, PLC, CEC).
    static let changes: UInt32 = 0x7f << 17
    /// Bits a write must carry over unchanged (PP, the indicator control, the wake enables).
    static let preserve: UInt32 = power | 3 << 14 | 7 << 25
    static func speed(_ v: UInt32) -> UInt32 { (v >> 10) & 0xf }
}

enum USBError: Error {
    case system(SysError)
    case timeout(StaticString)
    case completion(StaticString, UInt8)
    case refused(StaticString)
}

/// Pages of the DMA Frame, handed out in order (zeroed: the Frame came zeroed and nothing is returned).
struct DMAPages {
    let virtual: UInt64
    let physical: UInt64
    let pages: Int
    var used = 0

    mutating func take(_ n: Int = 1) throws(USBError) -> (virtual: UInt64, physical: UInt64) {
        guard used + n <= pages else { throw .refused("out of DMA pages") }
        defer { used += n }
        return (virtual + UInt64(used) * pageSize, physical + UInt64(used) * pageSize)
    }
}

/// TRBs in mapped DMA memory: the control word goes last, after a compiler barrier (x86 stores are
/// seen in order by the device).
struct DMATRBs: TRBMemory {
    let base: UInt64
    func load(_ index: Int) -> TRB {
        let a = base + UInt64(index) * 16
        let control = mmio_read32(a + 12)
        atomic_fence_seq_cst()
        return TRB(parameter: UInt64(mmio_read32(a)) | UInt64(mmio_read32(a + 4)) << 32, status: mmio_read32(a + 8), control: control)
    }
    func store(_ index: Int, _ t: TRB) {
        let a = base + UInt64(index) * 16
        mmio_write32(a, UInt32(truncatingIfNeeded: t.parameter))
        mmio_write32(a + 4, UInt32(truncatingIfNeeded: t.parameter >> 32))
        mmio_write32(a + 8, t.status)
        atomic_fence_seq_cst()
        mmio_write32(a + 12, t.control)
    }
}

final class Controller {
    let base: UInt64
    let operational: UInt64
    let runtime: UInt64
    let doorbells: UInt64
    let maxSlots: Int
    let maxPorts: Int
    let contextSize: Int
    var dma: DMAPages
    let notify: Handle
    let irq: Handle?
    var dcbaa: UInt64 = 0
    var commands = ProducerRing(count: 2, physical: 0)
    var commandTRBs = DMATRBs(base: 0)
    var events = EventRing(count: 2, physical: 0)
    var eventTRBs = DMATRBs(base: 0)
    /// Counters for the log and the test: interrupts taken, 20 ms polls that found the line quiet.
    var interrupts: UInt64 = 0
    var polls: UInt64 = 0
    /// Events taken while waiting for something else, handled after the wait (Devices.swift).
    var deferred: [TRB] = []

    static let commandRingTRBs = 64, eventRingTRBs = 256

    init(bar: UInt64, dma: DMAPages, irq: Handle?) throws(USBError) {
        base = bar
        operational = bar + UInt64(mmio_read8(bar + Reg.capLength))
        runtime = bar + UInt64(mmio_read32(bar + Reg.rtsOff) & ~0x1f)
        doorbells = bar + UInt64(mmio_read32(bar + Reg.dbOff) & ~0x3)
        let p1 = mmio_read32(bar + Reg.hcsParams1)
        maxSlots = min(Int(p1 & 0xff), 16)
        maxPorts = Int(p1 >> 24)
        contextSize = mmio_read32(bar + Reg.hccParams1) & 4 != 0 ? 64 : 32
        self.dma = dma
        self.irq = irq
        do throws(SysError) {
            notify = try notifyCreate()
            if let irq { try irqBind(irq, notify: notify, bits: 1) }
        } catch { throw .system(error) }
    }

    func read(_ r: UInt64) -> UInt32 { mmio_read32(operational + r) }
    func write(_ r: UInt64, _ v: UInt32) { mmio_write32(operational + r, v) }
    func write64(_ at: UInt64, _ v: UInt64) {
        mmio_write32(at, UInt32(truncatingIfNeeded: v))
        mmio_write32(at + 4, UInt32(truncatingIfNeeded: v >> 32))
    }

    /// Waits (sleeping 1 ms steps, at most `ms`) until `done`.
    func spin(_ ms: Int, _ what: StaticString, until done: () -> Bool) throws(USBError) {
        var waited = 0
        while !done() {
            guard waited < ms else { throw .timeout(what) }
            threadSleep(nanoseconds: 1_000_000)
            waited += 1
        }
    }

    /// Halts and resets the controller, then sets up the slots, DCBAA, scratchpads, command ring and
    /// interrupter 0, and runs it with interrupts on (§4.2).
    func start() throws(USBError) {
        try spin(1000, "controller not ready") { read(Reg.usbSts) & Sts.notReady == 0 }
        write(Reg.usbCmd, read(Reg.usbCmd) & ~Cmd.run)
        try spin(1000, "halt") { read(Reg.usbSts) & Sts.halted != 0 }
        write(Reg.usbCmd, Cmd.reset)
        try spin(1000, "reset") { read(Reg.usbCmd) & Cmd.reset == 0 && read(Reg.usbSts) & Sts.notReady == 0 }
        guard read(Reg.pageSize) & 1 != 0 else { throw .refused("the controller has no 4 KiB page size") }
        write(Reg.config, UInt32(maxSlots))

        let table = try dma.take()
        dcbaa = table.virtual
        write64(operational + Reg.dcbaap, table.physical)
        try scratchpads()

        let c = try dma.take()
        commands = ProducerRing(count: Controller.commandRingTRBs, physical: c.physical)
        commandTRBs = DMATRBs(base: c.virtual)
        write64(operational + Reg.crcr, c.physical | 1)

        let e = try dma.take(2)
        events = EventRing(count: Controller.eventRingTRBs, physical: e.physical)
        eventTRBs = DMATRBs(base: e.virtual)
        let erst = try dma.take()
        mmio_write64(erst.virtual, e.physical)
        mmio_write32(erst.virtual + 8, UInt32(Controller.eventRingTRBs))
        mmio_write32(runtime + Reg.erstsz, 1)
        write64(runtime + Reg.erdp, e.physical)
        write64(runtime + Reg.erstba, erst.physical)
        mmio_write32(runtime + Reg.imod, 4000)                 // at most one interrupt per ms
        mmio_write32(runtime + Reg.iman, 3)                    // clear IP, set IE

        write(Reg.usbCmd, Cmd.run | Cmd.interrupterEnable)
        try spin(1000, "start") { read(Reg.usbSts) & Sts.halted == 0 }
    }

    /// The scratchpad buffers the controller asks for (HCSPARAMS2), each a page, in an array that
    /// DCBAA entry 0 points to (§4.20).
    func scratchpads() throws(USBError) {
        let p2 = mmio_read32(base + Reg.hcsParams2)
        let count = Int((p2 >> 27) & 0x1f | ((p2 >> 21) & 0x1f) << 5)
        guard count > 0 else { return }
        guard count <= 32 else { throw .refused("more than 32 scratchpad buffers asked for") }
        let array = try dma.take()
        for i in 0..<count { mmio_write64(array.virtual + UInt64(i) * 8, try dma.take().physical) }
        mmio_write64(dcbaa, array.physical)
    }

    func ring(_ slot: Int, _ target: UInt32) {
        atomic_fence_seq_cst()
        mmio_write32(doorbells + UInt64(slot) * 4, target)
    }

    func portSC(_ port: Int) -> UInt32 { read(Reg.ports + UInt64(port - 1) * 0x10) }
    /// Writes PORTSC keeping the bits that must be carried and writing 1 to none of the RW1C ones but `set`.
    func setPortSC(_ port: Int, _ set: UInt32) {
        write(Reg.ports + UInt64(port - 1) * 0x10, portSC(port) & PortSC.preserve | set)
    }

    /// Runs a command and waits for its completion event (other events are deferred).
    func command(_ trb: TRB, _ what: StaticString) throws(USBError) -> TRB {
        let at = commands.push(trb, commandTRBs)
        ring(0, 0)
        let done = try waitFor(what) { $0.type == .commandCompletion && $0.parameter == at }
        guard done.completionCode == CompletionCode.success else { throw .completion(what, done.completionCode) }
        return done
    }

    /// Takes events until one matches (returned), keeping the others in `deferred`; 2 s at most.
    func waitFor(_ what: StaticString, _ match: (TRB) -> Bool) throws(USBError) -> TRB {
        let deadline = Clock.now() + 2_000_000_000
        while true {
            while let e = nextEvent() {
                if match(e) { return e }
                deferred.append(e)
            }
            guard Clock.now() < deadline else { throw .timeout(what) }
            sleep(5_000_000)
        }
    }

    /// The next event of the ring, ERDP moved past it; nil when none is there.
    func nextEvent() -> TRB? {
        guard let e = events.next(eventTRBs) else { return nil }
        write64(runtime + Reg.erdp, events.dequeuePointer | 1 << 3)    // EHB: write 1 to clear
        return e
    }

    /// Sleeps until the interrupt (or `ns`); clears the interrupter's pending bit and acks the line.
    func sleep(_ ns: UInt64) {
        do throws(SysError) {
            _ = try notifyWait(notify, timeout: ns)
            interrupts += 1
        } catch { polls += 1 }
        mmio_write32(runtime + Reg.iman, 3)
        write(Reg.usbSts, Sts.eventInterrupt | Sts.portChange)
        if let irq { _ = try? irqAck(irq) }
    }
}

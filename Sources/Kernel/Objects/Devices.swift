// Device capabilities (Zircon's resource model): a Resource names a range of the machine (root gets the
// whole machine), and device objects come only from inside one:
//  - IOPort: a run of I/O ports. Every handle to it in a process's table grants those ports to that
//    process (Process.ioPorts, the TSS bitmap); closing the handle takes them back.
//  - IRQ: one interrupt line (by GSI). An interrupt masks the line, ends it at the controller and ORs
//    the bound bits into the bound Notify; irq_ack unmasks it, so level-triggered lines work. The object
//    going (its last handle) unbinds and masks the line. One IRQ object per line at a time.
//  - Physical Frames over device memory live in Frame.swift (Frame(device:)).
// One CPU, interrupts off in the kernel: the line table is touched only with interrupts off.

#if !KERNEL
import ABI
#endif

final class Resource {
    let range: ResourceRange
    init(_ range: ResourceRange) {
        self.range = range
        ObjectCounter.live += 1
    }
    deinit { ObjectCounter.live -= 1 }
}

final class IOPort {
    let base: UInt16
    let count: UInt32
    /// Ports base ..< base + count; the caller checked count ≥ 1 and the end ≤ 0x10000.
    init(base: UInt16, count: UInt32) {
        self.base = base
        self.count = count
        ObjectCounter.live += 1
    }
    deinit { ObjectCounter.live -= 1 }

    /// A handle to this object was stored in `p`'s table: `p` may use the ports.
    func opened(in p: Process) {
        p.ioPorts.grant(base: base, count: count)
        IOBitmap.changed(p)
    }

    /// A handle to it was closed in `p`'s table.
    func closed(in p: Process) {
        p.ioPorts.revoke(base: base, count: count)
        IOBitmap.changed(p)
    }
}

final class IRQ {
    let gsi: UInt32
    /// Created to share its line (irq_create's `shared` option): a line holds several IRQ objects only
    /// when every one of them was.
    let shared: Bool
    /// Where an interrupt goes (nil: unbound; it takes no part in the line's masking).
    private(set) var notify: Notify? = nil
    private(set) var bits: UInt64 = 0
    /// Interrupts delivered so far (tests, debugging).
    private(set) var count: UInt64 = 0
    /// Signalled and not acknowledged yet: the line stays masked until no object on it is.
    private var pending = false
    /// The next IRQ object on the same line (the line's list, see `lines`).
    private unowned(unsafe) var nextOnLine: IRQ? = nil

    /// The first IRQ object of each line, not retained (each object unlinks itself as it goes), and how
    /// many objects on the line wait for their irq_ack. Guarded by: the kernel lock.
    private static var lines = [Unmanaged<IRQ>?](repeating: nil, count: Int(ResourceKind.irq.limit))
    private static var pendingOnLine = [Int](repeating: 0, count: Int(ResourceKind.irq.limit))

    /// Lines the kernel keeps: the PIT's (ISA IRQ 0, through the MADT's override: GSI 2 on PCs). The
    /// scheduler's timer is the local APIC's and no IOAPIC line is the tick any more, but the kernel
    /// programs the PIT (channel 2 calibrates the clocks when there is no HPET), so its line is not given
    /// out. The HPET raises no interrupt (only its main counter is used).
    static func isKernelLine(_ gsi: UInt32) -> Bool { gsi == InterruptLines.gsi(isaIRQ: 0) }

    /// The objects of a line, first to last.
    private static func each(_ gsi: UInt32, _ body: (IRQ) -> Void) {
        var next = lines[Int(gsi)]?.takeUnretainedValue()
        while let irq = next {
            next = irq.nextOnLine
            body(irq)
        }
    }

    /// Whether an object for `gsi` can be made: the line has none, or (`shared`) only shared ones.
    static func isAvailable(_ gsi: UInt32, shared: Bool) -> Bool {
        guard gsi < UInt32(lines.count) else { return false }
        guard lines[Int(gsi)] != nil else { return true }
        var all = shared
        each(gsi) { if !$0.shared { all = false } }
        return all
    }

    /// The object for `gsi` (the caller checked the line exists, is available and is not the kernel's);
    /// a line's first object masks it until bound.
    init(gsi: UInt32, shared: Bool = false) {
        self.gsi = gsi
        self.shared = shared
        ObjectCounter.live += 1
        if IRQ.lines[Int(gsi)] == nil { InterruptLines.mask(gsi: gsi) }
        nextOnLine = IRQ.lines[Int(gsi)]?.takeUnretainedValue()
        IRQ.lines[Int(gsi)] = Unmanaged.passUnretained(self)
    }

    deinit {
        // Out of the line's list; a line left without objects is masked, one whose other objects no
        // longer wait for this one's irq_ack is unmasked.
        if IRQ.lines[Int(gsi)]?.takeUnretainedValue() === self {
            IRQ.lines[Int(gsi)] = nextOnLine.map { Unmanaged.passUnretained($0) }
        } else {
            IRQ.each(gsi) { if $0.nextOnLine === self { $0.nextOnLine = nextOnLine } }
        }
        if pending { IRQ.pendingOnLine[Int(gsi)] -= 1 }
        IRQ.settle(gsi)
        ObjectCounter.live -= 1
    }

    /// Masks the line while an object on it waits for its irq_ack or none is bound; unmasks it otherwise.
    private static func settle(_ gsi: UInt32) {
        var bound = false
        each(gsi) { if $0.notify != nil { bound = true } }
        if bound && pendingOnLine[Int(gsi)] == 0 {
            InterruptLines.unmask(gsi: gsi)
        } else {
            InterruptLines.mask(gsi: gsi)
        }
    }

    /// Interrupts go to `notify` as `bits` from now on; as irq_ack, it unmasks the line unless another
    /// object on it still waits for its irq_ack.
    func bind(_ notify: Notify, bits: UInt64) {
        self.notify = notify
        self.bits = bits
        clearPending()
        IRQ.settle(gsi)
    }

    /// The interrupt was handled: the line may fire again once every object it signalled said so.
    func acknowledge() throws(SysError) {
        guard notify != nil else { throw .badState }
        clearPending()
        IRQ.settle(gsi)
    }

    private func clearPending() {
        guard pending else { return }
        pending = false
        IRQ.pendingOnLine[Int(gsi)] -= 1
    }

    /// An interrupt on `gsi` (the line already masked and ended at the controller): signals the Notify of
    /// every bound object on it, each of which then owes an irq_ack. With none bound the line just stays
    /// masked.
    static func deliver(gsi: UInt32) {
        guard gsi < UInt32(lines.count) else { return }
        each(gsi) { irq in
            guard let n = irq.notify else { return }
            irq.count &+= 1
            if !irq.pending {
                irq.pending = true
                pendingOnLine[Int(gsi)] += 1
            }
            _ = IPC.notify(n, bits: irq.bits)
        }
    }
}

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
    /// Where an interrupt goes (nil: unbound; the line stays masked).
    private(set) var notify: Notify? = nil
    private(set) var bits: UInt64 = 0
    /// Interrupts delivered so far (tests, debugging).
    private(set) var count: UInt64 = 0

    /// The IRQ object of each line, not retained (the object clears its entry as it goes).
    private static var lines = [Unmanaged<IRQ>?](repeating: nil, count: Int(ResourceKind.irq.limit))

    /// Lines the kernel keeps: the PIT's (ISA IRQ 0, through the MADT's override: GSI 2 on PCs). The
    /// scheduler's timer is the local APIC's and no IOAPIC line is the tick any more, but the kernel
    /// programs the PIT (channel 2 calibrates the clocks when there is no HPET), so its line is not given
    /// out. The HPET raises no interrupt (only its main counter is used).
    static func isKernelLine(_ gsi: UInt32) -> Bool { gsi == InterruptLines.gsi(isaIRQ: 0) }

    /// Whether `gsi` has an IRQ object.
    static func isTaken(_ gsi: UInt32) -> Bool { gsi < UInt32(lines.count) && lines[Int(gsi)] != nil }

    /// The object for `gsi` (the caller checked the line exists, is free and is not the kernel's); the
    /// line is masked until bound.
    init(gsi: UInt32) {
        self.gsi = gsi
        ObjectCounter.live += 1
        InterruptLines.mask(gsi: gsi)
        IRQ.lines[Int(gsi)] = Unmanaged.passUnretained(self)
    }

    deinit {
        InterruptLines.mask(gsi: gsi)
        IRQ.lines[Int(gsi)] = nil
        ObjectCounter.live -= 1
    }

    /// Interrupts go to `notify` as `bits` from now on; the line is unmasked.
    func bind(_ notify: Notify, bits: UInt64) {
        self.notify = notify
        self.bits = bits
        InterruptLines.unmask(gsi: gsi)
    }

    /// The interrupt was handled: the line may fire again.
    func acknowledge() throws(SysError) {
        guard notify != nil else { throw .badState }
        InterruptLines.unmask(gsi: gsi)
    }

    /// An interrupt on `gsi` (the line already masked and ended at the controller): signals the bound
    /// Notify. With no IRQ object the line just stays masked.
    static func deliver(gsi: UInt32) {
        guard gsi < UInt32(lines.count), let irq = lines[Int(gsi)]?.takeUnretainedValue() else { return }
        irq.count &+= 1
        if let n = irq.notify { _ = IPC.notify(n, bits: irq.bits) }
    }
}

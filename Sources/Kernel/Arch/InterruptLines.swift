/// Device interrupt lines, named by global system interrupt (GSI) number.
///
/// One seam for whoever owns a line (IRQ objects, drivers) and whichever controller delivers it: the
/// IOAPICs (Arch/IOAPIC.swift) with the MADT's interrupt source overrides, vectors 0x20 + GSI
/// (Core/InterruptRouting.swift), acknowledged at the local APIC. The 8259s stay masked for good.
enum InterruptLines {
    /// Lines with a vector: GSI 0 ..< count (every IOAPIC pin, up to InterruptRouting.maxLines).
    static var count: UInt32 { IOAPICs.routing.lineCount }

    /// The vector a line arrives on, or nil when there is no such line.
    static func vector(gsi: UInt32) -> Int? { IOAPICs.routing.vector(gsi: gsi) }

    /// The line a vector belongs to, or nil when the vector is not a device line's.
    static func gsi(vector: Int) -> UInt32? { IOAPICs.routing.gsi(vector: vector) }

    /// The line an ISA IRQ arrives on (the MADT's override, else the same number).
    static func gsi(isaIRQ: UInt8) -> UInt32 { IOAPICs.routing.gsi(isaIRQ: isaIRQ) }

    static func mask(gsi: UInt32) { IOAPICs.setMasked(gsi: gsi, true) }

    static func unmask(gsi: UInt32) { IOAPICs.setMasked(gsi: gsi, false) }

    /// Tells the controller the line's interrupt was taken (the local APIC's EOI, which the IOAPIC sees
    /// for a level-triggered line).
    static func endOfInterrupt(gsi: UInt32) { LAPIC.endOfInterrupt() }

    /// A device line fired (not the timer's): it is masked and acknowledged, and its IRQ object, if any,
    /// signals its Notify (Objects/Devices.swift); irq_ack unmasks it again.
    static func handle(gsi: UInt32) {
        mask(gsi: gsi)
        endOfInterrupt(gsi: gsi)
        IRQ.deliver(gsi: gsi)
    }
}

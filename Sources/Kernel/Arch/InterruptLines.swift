/// Device interrupt lines, named by global system interrupt (GSI) number.
///
/// One seam for whoever owns a line (the timer, IRQ objects) and whichever controller delivers it. Today
/// that is the 8259 pair remapped to vectors 32..47 (GSI n = ISA IRQ n); the IOAPIC replaces the bodies,
/// with the MADT's overrides, behind the same functions.
enum InterruptLines {
    static let firstVector = 32
    static let count: UInt32 = 16

    /// The vector a line arrives on, or nil when there is no such line.
    static func vector(gsi: UInt32) -> Int? {
        gsi < count ? firstVector + Int(gsi) : nil
    }

    /// The line a vector belongs to, or nil when the vector is not a device line's.
    static func gsi(vector: Int) -> UInt32? {
        vector >= firstVector && vector < firstVector + Int(count) ? UInt32(vector - firstVector) : nil
    }

    static func mask(gsi: UInt32) {
        guard gsi < count else { return }
        if gsi < 8 {
            port_out8(0x21, port_in8(0x21) | UInt8(1 << gsi))
        } else {
            port_out8(0xA1, port_in8(0xA1) | UInt8(1 << (gsi - 8)))
        }
    }

    static func unmask(gsi: UInt32) {
        guard gsi < count else { return }
        if gsi < 8 {
            port_out8(0x21, port_in8(0x21) & ~UInt8(1 << gsi))
        } else {
            port_out8(0xA1, port_in8(0xA1) & ~UInt8(1 << (gsi - 8)))
            port_out8(0x21, port_in8(0x21) & ~UInt8(1 << 2))    // the cascade line
        }
    }

    /// Tells the controller the line's interrupt was taken.
    static func endOfInterrupt(gsi: UInt32) {
        if gsi >= 8 { port_out8(0xA0, 0x20) }
        port_out8(0x20, 0x20)
    }

    /// A device line fired (not the timer's): it is masked and acknowledged, and its IRQ object, if any,
    /// signals its Notify (Objects/Devices.swift); irq_ack unmasks it again.
    static func handle(gsi: UInt32) {
        mask(gsi: gsi)
        endOfInterrupt(gsi: gsi)
        IRQ.deliver(gsi: gsi)
    }
}

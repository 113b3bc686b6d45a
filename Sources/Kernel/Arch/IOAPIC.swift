// The IOAPICs of the MADT: each one's IOREGSEL (offset 0x00) and IOWIN (0x10) through an uncached
// mapping (Intel 82093AA datasheet, section 3). At boot every pin is programmed from InterruptRouting
// (Core/InterruptRouting.swift: vector, polarity, trigger mode) masked, delivered to the boot CPU;
// InterruptLines unmasks the lines someone owns.
// Guarded by: the kernel lock (any CPU masks and unmasks lines under it).

#if !KERNEL
import ABI
#endif

enum IOAPICs {
    /// The register windows, one per MADT IOAPIC, in the MADT's order.
    static private(set) var windows: [UInt64] = []
    static private(set) var routing = InterruptRouting()
    /// The APIC ID every line is delivered to (the boot CPU's).
    static private(set) var destination: UInt8 = 0

    /// Maps every IOAPIC, reads its pin count, and programs each pin masked.
    static func initialize(madt: MADT, destination: UInt32) {
        windows = madt.ioAPICs.map { MMIO.map(physical: UInt64($0.address)) }
        let pins = windows.map { Int((read($0, 1) >> 16) & 0xFF) + 1 }   // IOAPICVER: max redirection entry
        routing = InterruptRouting(madt: madt, pinCounts: pins)
        self.destination = UInt8(truncatingIfNeeded: destination)
        for (i, window) in windows.enumerated() {
            for pin in 0..<pins[i] { writeEntry(window, pin, RedirectionEntry(raw: 1 << 16)) }
        }
        for gsi in 0..<routing.lineCount { setMasked(gsi: gsi, true) }
    }

    /// Masks or unmasks a line (rewriting its whole entry from the routing); no-op for a GSI without a pin.
    static func setMasked(gsi: UInt32, _ masked: Bool) {
        guard let at = routing.pin(gsi: gsi), let entry = routing.entry(gsi: gsi, masked: masked, destination: destination)
        else { return }
        writeEntry(windows[at.ioAPIC], at.pin, entry)
    }

    /// The entry a line has now (tests).
    static func entry(gsi: UInt32) -> RedirectionEntry? {
        guard let at = routing.pin(gsi: gsi) else { return nil }
        let w = windows[at.ioAPIC]
        return RedirectionEntry(raw: UInt64(read(w, 0x10 + 2 * at.pin)) | UInt64(read(w, 0x11 + 2 * at.pin)) << 32)
    }

    /// The high half (destination) first, then the low half, which holds the mask.
    private static func writeEntry(_ window: UInt64, _ pin: Int, _ entry: RedirectionEntry) {
        write(window, 0x10 + 2 * pin, entry.with(masked: true).low)
        write(window, 0x11 + 2 * pin, entry.high)
        write(window, 0x10 + 2 * pin, entry.low)
    }

    private static func read(_ window: UInt64, _ register: Int) -> UInt32 {
        mmio_write32(window, UInt32(register))
        return mmio_read32(window + 0x10)
    }

    private static func write(_ window: UInt64, _ register: Int, _ value: UInt32) {
        mmio_write32(window, UInt32(register))
        mmio_write32(window + 0x10, value)
    }
}

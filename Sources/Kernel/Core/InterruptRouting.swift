// Interrupt routing from the MADT: which IOAPIC pin a global system interrupt (GSI) is, which GSI an ISA
// IRQ arrives on (the interrupt source overrides), each line's polarity and trigger mode, the vector the
// kernel gives it, and the 64-bit IOAPIC redirection entry that says all of that.
//
// Pure logic, built from `MADT` (Core/ACPI.swift) and host-tested on the committed QEMU tables; the kernel's
// IOAPIC driver (Arch/IOAPIC.swift) only writes what this computes.
//
// Vectors: device lines take 0x20 + GSI (so ISA IRQ n without an override keeps vector 0x20 + n, as on
// the 8259), up to `maxLines` lines; the local APIC's own vectors sit above them (LocalAPICVector).

#if !KERNEL
import ABI
#endif

/// The local APIC's own vectors, above every device line's.
public enum LocalAPICVector {
    /// The local APIC timer (the scheduler tick and deadlines).
    public static let timer = 0xEF
    /// The wake-up IPI one CPU sends another (Arch/SMP.swift): today an application processor counts it
    /// (its idle loop takes no threads yet); the reschedule IPI of per-CPU run queues.
    public static let wakeup = 0xF0
    /// The TLB shootdown IPI (Memory/Shootdown.swift): the receiver flushes what the sender asked and
    /// acknowledges, without taking any lock.
    public static let shootdown = 0xF1
    /// The spurious-interrupt vector (SVR): counted and ignored, never acknowledged.
    public static let spurious = 0xFF
}

/// Polarity and trigger mode of one line.
public struct LineMode: Equatable, Sendable {
    public var activeLow: Bool
    public var levelTriggered: Bool
    public init(activeLow: Bool, levelTriggered: Bool) {
        self.activeLow = activeLow
        self.levelTriggered = levelTriggered
    }
    /// ISA lines: active high, edge triggered.
    public static let isa = LineMode(activeLow: false, levelTriggered: false)
    /// PCI lines (GSI 16 and up on a PC): active low, level triggered.
    public static let pci = LineMode(activeLow: true, levelTriggered: true)
}

/// One IOAPIC redirection-table entry (Intel 82093AA datasheet, section 3.2.4): vector bits 0-7, delivery
/// mode fixed (000) bits 8-10, destination mode physical (bit 11 = 0), polarity bit 13 (1 = low), trigger
/// mode bit 15 (1 = level), mask bit 16, destination APIC ID bits 56-63.
public struct RedirectionEntry: Equatable, Sendable {
    public var raw: UInt64
    public init(raw: UInt64) { self.raw = raw }
    public init(vector: Int, mode: LineMode, masked: Bool, destination: UInt8) {
        raw = UInt64(vector & 0xFF)
        if mode.activeLow { raw |= 1 << 13 }
        if mode.levelTriggered { raw |= 1 << 15 }
        if masked { raw |= 1 << 16 }
        raw |= UInt64(destination) << 56
    }
    public var vector: Int { Int(raw & 0xFF) }
    public var masked: Bool { raw & (1 << 16) != 0 }
    public var activeLow: Bool { raw & (1 << 13) != 0 }
    public var levelTriggered: Bool { raw & (1 << 15) != 0 }
    public var destination: UInt8 { UInt8(truncatingIfNeeded: raw >> 56) }
    /// The same entry masked or unmasked.
    public func with(masked: Bool) -> RedirectionEntry {
        RedirectionEntry(raw: masked ? raw | (1 << 16) : raw & ~(1 << 16))
    }
    /// The low and high 32-bit registers (IOREDTBL index 0x10 + 2 * pin, then + 1).
    public var low: UInt32 { UInt32(truncatingIfNeeded: raw) }
    public var high: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) }
}

/// Where a GSI is: which IOAPIC (index in the MADT's list) and which of its pins.
public struct IOAPICPin: Equatable, Sendable {
    public var ioAPIC: Int
    public var pin: Int
}

public struct InterruptRouting: Sendable {
    /// The first device vector (GSI 0).
    public static let firstVector = 0x20
    /// Device lines the kernel gives vectors to: GSI 0 ..< maxLines, vectors 0x20 ..< 0xE0.
    public static let maxLines: UInt32 = 0xC0

    /// The MADT's IOAPICs, with their pin counts (from each IOAPIC's version register, read by the caller).
    public var ioAPICs: [(gsiBase: UInt32, pins: Int)]
    /// Interrupt source overrides of bus 0 (ISA).
    public var overrides: [InterruptOverride]

    /// No IOAPIC: no line has a vector.
    public init() {
        ioAPICs = []
        overrides = []
    }

    /// `pinCounts[i]`: the number of redirection entries of `madt.ioAPICs[i]`.
    public init(madt: MADT, pinCounts: [Int]) {
        ioAPICs = zip(madt.ioAPICs, pinCounts).map { ($0.gsiBase, $1) }
        overrides = madt.overrides.filter { $0.bus == 0 }
    }

    /// Lines with a vector: every GSI some IOAPIC has, capped at maxLines.
    public var lineCount: UInt32 {
        let end = ioAPICs.map { UInt64($0.gsiBase) + UInt64($0.pins) }.max() ?? 0
        return UInt32(min(end, UInt64(InterruptRouting.maxLines)))
    }

    /// The GSI an ISA IRQ arrives on: its override's, else the same number.
    public func gsi(isaIRQ irq: UInt8) -> UInt32 {
        overrides.first { $0.source == irq }?.gsi ?? UInt32(irq)
    }

    /// A line's polarity and trigger mode: an override's flags (MPS INTI: 00 = the bus's default, 01 = high
    /// / edge, 11 = low / level), else ISA's default for a GSI an ISA IRQ reaches identity-mapped (< 16 and not
    /// taken by an override's source), else PCI's.
    public func mode(gsi: UInt32) -> LineMode {
        if let o = overrides.first(where: { $0.gsi == gsi }) {
            let polarity = o.flags & 3, trigger = (o.flags >> 2) & 3
            return LineMode(activeLow: polarity == 0 ? false : polarity == 3,
                            levelTriggered: trigger == 0 ? false : trigger == 3)
        }
        let redirectedAway = overrides.contains { UInt32($0.source) == gsi }
        return gsi < 16 && !redirectedAway ? .isa : .pci
    }

    /// The IOAPIC and pin of a GSI, or nil when no IOAPIC has it.
    public func pin(gsi: UInt32) -> IOAPICPin? {
        for (i, io) in ioAPICs.enumerated() where gsi >= io.gsiBase && UInt64(gsi) < UInt64(io.gsiBase) + UInt64(io.pins) {
            return IOAPICPin(ioAPIC: i, pin: Int(gsi - io.gsiBase))
        }
        return nil
    }

    /// The vector of a line, or nil when the GSI has no vector (no IOAPIC pin, or past maxLines).
    public func vector(gsi: UInt32) -> Int? {
        gsi < lineCount && pin(gsi: gsi) != nil ? InterruptRouting.firstVector + Int(gsi) : nil
    }

    /// The line a vector belongs to, or nil when it is not a device line's.
    public func gsi(vector: Int) -> UInt32? {
        guard vector >= InterruptRouting.firstVector, vector < InterruptRouting.firstVector + Int(lineCount) else { return nil }
        let gsi = UInt32(vector - InterruptRouting.firstVector)
        return pin(gsi: gsi) != nil ? gsi : nil
    }

    /// The redirection entry for a line, delivered to the CPU with APIC ID `destination`.
    public func entry(gsi: UInt32, masked: Bool, destination: UInt8) -> RedirectionEntry? {
        guard let v = vector(gsi: gsi) else { return nil }
        return RedirectionEntry(vector: v, mode: mode(gsi: gsi), masked: masked, destination: destination)
    }
}

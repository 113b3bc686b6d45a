// The HPET (IA-PC HPET specification 1.0a, section 2.3): the kernel's reference clock, found through
// ACPI's HPET table and read through an uncached mapping. Only its main counter is used (enabled, no
// legacy replacement routing, no comparators): the TSC and the local APIC timer are calibrated against
// it, and the in-kernel tests check the clock against it. PIT channel 2 stands in when there is no HPET.
// Guarded by: written once at boot (boot CPU), read-only afterwards.

#if !KERNEL
import ABI
#endif

enum HPET {
    static let capabilities: UInt64 = 0x00, configuration: UInt64 = 0x10, mainCounter: UInt64 = 0xF0

    /// The register page, uncached; 0 when there is no HPET.
    static private(set) var registers: UInt64 = 0
    /// Counter frequency in Hz (10^15 / the period in femtoseconds); 0 when there is no HPET.
    static private(set) var frequency: UInt64 = 0

    static var present: Bool { registers != 0 }

    /// Maps the HPET of the ACPI table (memory space only) and starts its main counter.
    static func initialize(_ table: HPETTable?) {
        guard let t = table, t.address.addressSpace == GenericAddress.systemMemory, t.address.address != 0 else { return }
        let r = MMIO.map(physical: t.address.address)
        let period = mmio_read64(r + capabilities) >> 32          // femtoseconds per tick
        guard period > 0, period <= 100_000_000 else {              // the specification's maximum: 100 ns
            Log.warn("hpet: bad counter period \(period) fs; not used")
            return
        }
        let config = mmio_read64(r + configuration)
        mmio_write64(r + configuration, (config & ~UInt64(2)) | 1)  // ENABLE_CNF, no LEG_RT_CNF
        registers = r
        frequency = 1_000_000_000_000_000 / period
    }

    /// The main counter (a 32-bit HPET wraps after 2^32 ticks: 43 s at QEMU's 100 MHz; only spans of
    /// milliseconds are measured with it).
    static func counter() -> UInt64 { mmio_read64(registers + mainCounter) }
}

/// PIT channel 2 as a stopwatch for calibrating when there is no HPET: counting down from 0xFFFF in
/// mode 0 (gate through port 0x61), its count read back with the latch command, bracketed by TSC reads
/// as the HPET's counter is (waiting for its output bit instead measured late by a varying amount under
/// QEMU).
enum PIT {
    static let frequency: UInt64 = 1_193_182

    /// TSC ticks and PIT ticks over at least `ticks` (< 65000) PIT ticks.
    static func measureTSC(pitTicks ticks: UInt16) -> (tsc: UInt64, pit: UInt64) {
        port_out8(0x61, (port_in8(0x61) & ~UInt8(0x02)) | 0x01)     // gate high, speaker off
        port_out8(0x43, 0xB0)                                       // channel 2, lobyte/hibyte, mode 0
        port_out8(0x42, 0xFF)
        port_out8(0x42, 0xFF)
        var c0 = count()
        while c0 < UInt16(ticks) + 1000 { c0 = count() }            // loaded and counting (not yet near 0)
        let t0 = read_tsc()
        var c1 = c0
        while c0 - c1 < ticks { cpu_pause(); c1 = min(count(), c1) }
        return (read_tsc() &- t0, UInt64(c0 - c1))
    }

    /// Channel 2's count (latched, then low and high byte).
    private static func count() -> UInt16 {
        port_out8(0x43, 0x80)
        let low = UInt16(port_in8(0x42))
        return UInt16(port_in8(0x42)) << 8 | low
    }
}

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

/// PIT channel 2 as a one-shot stopwatch (mode 0, gate through port 0x61, output read back on bit 5 of
/// port 0x61), for calibrating when there is no HPET.
enum PIT {
    static let frequency: UInt64 = 1_193_182

    /// The TSC ticks from loading the channel with `ticks` (≤ 65535) until its output goes high.
    static func measureTSC(pitTicks ticks: UInt16) -> UInt64 {
        port_out8(0x61, (port_in8(0x61) & ~UInt8(0x02)) | 0x01)     // gate high, speaker off
        port_out8(0x43, 0xB0)                                       // channel 2, lobyte/hibyte, mode 0
        port_out8(0x42, UInt8(truncatingIfNeeded: ticks))
        port_out8(0x42, UInt8(truncatingIfNeeded: ticks >> 8))
        let start = read_tsc()
        while port_in8(0x61) & 0x20 == 0 { cpu_pause() }
        return read_tsc() &- start
    }
}

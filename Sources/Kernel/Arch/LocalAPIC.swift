// The local APIC of the CPU the kernel runs on: x2APIC through MSRs when CPUID.1:ECX[21] says the CPU has
// it, else xAPIC through an uncached mapping of the MADT's local APIC address. It takes every interrupt
// (the 8259s stay masked: Arch/Descriptors.swift), its EOI acknowledges IOAPIC and local lines alike, and
// its spurious vector (0xFF) is counted and ignored (a spurious interrupt gets no EOI).
// Register offsets and bits: Intel SDM volume 3, chapter 11 (11.4.1 base MSR, 11.5.1 LVT, 11.5.4 timer,
// 11.9 SVR, 11.12 x2APIC: MSR 0x800 + offset / 16).
// Guarded by: the mode and the register page's address are written by the boot CPU before any other CPU
// starts, then only read; each CPU programs only its own local APIC (the registers are per CPU at the same
// address); `spuriousInterrupts` is the boot CPU's count (interrupts off).

#if !KERNEL
import ABI
#endif

enum LAPIC {
    enum Register {
        static let id = 0x20, version = 0x30, taskPriority = 0x80, eoi = 0xB0, spuriousVector = 0xF0
        static let lvtTimer = 0x320, lvtLINT0 = 0x350, lvtError = 0x370
        static let commandLow = 0x300, commandHigh = 0x310
        static let initialCount = 0x380, currentCount = 0x390, divideConfiguration = 0x3E0
    }
    static let baseMSR: UInt32 = 0x1B
    static let masked: UInt32 = 1 << 16

    /// x2APIC mode (MSR access) rather than xAPIC (memory-mapped).
    static private(set) var x2APIC = false
    /// The xAPIC register page, uncached; 0 in x2APIC mode.
    static private(set) var registers: UInt64 = 0
    /// Spurious interrupts taken (counted, ignored).
    static var spuriousInterrupts = 0

    static var modeName: StaticString { x2APIC ? "x2APIC (MSRs)" : "xAPIC (MMIO, uncached)" }

    /// Enables the local APIC (x2APIC when the CPU has it), sets the spurious vector, accepts every
    /// priority, and masks LINT0 (the 8259's ExtINT wire) and the timer until Timer programs it.
    static func initialize(madtAddress: UInt64?) {
        x2APIC = cpuid_register(1, 0, 2) & (1 << 21) != 0
        let base = read_msr(baseMSR)
        // EN: xAPIC mode first, unless the firmware left x2APIC on (going back from it would fault).
        if base & (1 << 10) == 0 { write_msr(baseMSR, base | (1 << 11)) }
        if x2APIC {
            write_msr(baseMSR, base | (1 << 11) | (1 << 10))           // then EXTD (SDM 11.12.5)
        } else {
            registers = MMIO.map(physical: madtAddress ?? (base & 0xF_FFFF_F000))
        }
        write(Register.taskPriority, 0)
        write(Register.lvtTimer, masked | UInt32(LocalAPICVector.timer))
        write(Register.lvtLINT0, masked)
        write(Register.spuriousVector, 0x100 | UInt32(LocalAPICVector.spurious))
    }

    /// An application processor's local APIC, in the boot CPU's mode (Arch/SMP.swift, on that CPU).
    static func initializeAP() {
        let base = read_msr(baseMSR)
        if base & (1 << 11) == 0 { write_msr(baseMSR, base | (1 << 11)) }
        if x2APIC && base & (1 << 10) == 0 { write_msr(baseMSR, base | (1 << 11) | (1 << 10)) }
        write(Register.taskPriority, 0)
        write(Register.lvtTimer, masked | UInt32(LocalAPICVector.timer))
        write(Register.lvtLINT0, masked)
        write(Register.spuriousVector, 0x100 | UInt32(LocalAPICVector.spurious))
    }

    /// Sends an inter-processor interrupt (`command`: the ICR's low word, APStartup's values) to the CPU
    /// with APIC ID `destination`, and waits until the local APIC has taken it (xAPIC delivery status).
    static func sendIPI(_ command: UInt32, to destination: UInt32) {
        if x2APIC {
            write_msr(0x830, UInt64(destination) << 32 | UInt64(command))
        } else {
            mmio_write32(registers + UInt64(Register.commandHigh), destination << 24)
            mmio_write32(registers + UInt64(Register.commandLow), command)
            while mmio_read32(registers + UInt64(Register.commandLow)) & (1 << 12) != 0 { cpu_pause() }
        }
    }

    static func read(_ offset: Int) -> UInt32 {
        x2APIC ? UInt32(truncatingIfNeeded: read_msr(0x800 + UInt32(offset >> 4)))
               : mmio_read32(registers + UInt64(offset))
    }

    static func write(_ offset: Int, _ value: UInt32) {
        if x2APIC { write_msr(0x800 + UInt32(offset >> 4), UInt64(value)) } else { mmio_write32(registers + UInt64(offset), value) }
    }

    /// This CPU's APIC ID (x2APIC: the whole register; xAPIC: bits 24-31).
    static var id: UInt32 { x2APIC ? read(Register.id) : read(Register.id) >> 24 }

    /// Acknowledges the interrupt being handled (any vector but the spurious one).
    static func endOfInterrupt() { write(Register.eoi, 0) }
}

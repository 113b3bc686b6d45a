// Bringing up the platform's interrupts and time at boot, in order: the local APIC, the IOAPICs (every
// line masked), the HPET, the TSC clock and the time page, then the local APIC timer (armed later by
// Timer.start). One log line each for the APIC mode, the clock and the timer.

#if !KERNEL
import ABI
#endif

enum Platform {
    static func initialize() {
        guard let madt = Kernel.acpi.madt, !madt.ioAPICs.isEmpty else {
            kernelPanic("no MADT with an IOAPIC: the kernel needs the local APIC and an IOAPIC")
        }
        LAPIC.initialize(madtAddress: madt.localAPICAddress)
        IOAPICs.initialize(madt: madt, destination: LAPIC.id)
        Log.info("apic: local APIC in \(LAPIC.modeName) mode, id \(LAPIC.id); \(madt.ioAPICs.count) IOAPIC, \(InterruptLines.count) lines at vectors \(hex: UInt64(InterruptRouting.firstVector))+; 8259 masked; spurious vector \(hex: UInt64(LocalAPICVector.spurious))")
        HPET.initialize(Kernel.acpi.hpet)
        TSC.initialize()
        TimePage.initialize()
        TimePage.publish(TSC.scale, frequency: TSC.frequency)
        Log.info("clock: TSC at \(TSC.frequency) Hz from \(TSC.source), \(TSC.invariant ? "invariant" : "not invariant"); reference \(HPET.present ? "HPET" : "PIT") at \(HPET.present ? HPET.frequency : PIT.frequency) Hz")
        Timer.initialize()
        if Timer.tscDeadline {
            Log.info("timer: local APIC timer in TSC-deadline mode, tickless idle, slice \(Timer.sliceNanoseconds / 1_000_000) ms")
        } else {
            Log.info("timer: local APIC timer in one-shot mode at \(Timer.apicFrequency) Hz, tickless idle, slice \(Timer.sliceNanoseconds / 1_000_000) ms")
        }
    }
}

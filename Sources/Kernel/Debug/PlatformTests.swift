// In-kernel tests of the platform's interrupts and time (Arch/LocalAPIC, IOAPIC, HPET, Time/TSC, Timer):
// the clock against the HPET, the time page against the clock, the IOAPIC's entries against the routing,
// and the local APIC timer firing at its deadline.

#if !KERNEL
import ABI
#endif

let platformTests: [KernelTest] = [
    KernelTest(name: "apic.spurious_vector_and_enabled", body: spuriousVectorSet),
    KernelTest(name: "apic.ioapic_entries_follow_the_routing", body: ioapicEntries),
    KernelTest(name: "time.clock_follows_hpet", body: clockFollowsHPET),
    KernelTest(name: "time.time_page_matches_clock", body: timePageMatchesClock),
    KernelTest(name: "timer.fires_at_its_deadline", body: timerFiresAtDeadline),
    KernelTest(name: "timer.idle_without_timeouts_arms_nothing", body: idleArmsNothing),
    KernelTest(name: "timer.sooner_timeout_rearms", body: soonerTimeoutRearms),
]

/// SVR: APIC software enable (bit 8) and vector 0xFF; IA32_APIC_BASE enable bit set.
private func spuriousVectorSet() -> Bool {
    check(LAPIC.read(LAPIC.Register.spuriousVector) & 0x1FF == 0x1FF, "SVR is not 0x1FF")
        && check(read_msr(LAPIC.baseMSR) & (1 << 11) != 0, "IA32_APIC_BASE enable bit clear")
        && check(LAPIC.x2APIC == (read_msr(LAPIC.baseMSR) & (1 << 10) != 0), "x2APIC mode differs from the base MSR")
}

/// Every line's entry is the routing's, masked (nothing owns a line during the tests); the PIT's ISA IRQ 0
/// is where the MADT's override says.
private func ioapicEntries() -> Bool {
    let routing = IOAPICs.routing
    guard check(InterruptLines.count >= 24, "fewer than 24 lines") else { return false }
    for gsi in 0..<InterruptLines.count {
        guard let expected = routing.entry(gsi: gsi, masked: true, destination: UInt8(truncatingIfNeeded: LAPIC.id)),
              IOAPICs.entry(gsi: gsi) == expected else { return check(false, "an IOAPIC entry differs from the routing") }
    }
    InterruptLines.unmask(gsi: 4)
    let unmasked = IOAPICs.entry(gsi: 4)?.masked == false
    InterruptLines.mask(gsi: 4)
    return check(unmasked && IOAPICs.entry(gsi: 4)?.masked == true, "unmask/mask did not change the entry")
        && check(InterruptLines.vector(gsi: 4) == 0x24 && InterruptLines.gsi(vector: 0x24) == 4, "vector of GSI 4")
        && check(InterruptLines.gsi(isaIRQ: 0) == (Kernel.acpi.madt?.overrides.first { $0.source == 0 }?.gsi ?? 0), "ISA IRQ 0")
}

/// Over one second of HPET time, the clock advances by the same within 1% (the TSC was calibrated over
/// 20 ms; this checks the whole chain over a span 50 times as long).
private func clockFollowsHPET() -> Bool {
    guard check(HPET.present, "no HPET") else { return false }
    let ticks = HPET.frequency, window = TimeScale.ticks(nanoseconds: TSC.pairWindowNanoseconds, frequency: HPET.frequency)
    // Paired reads, as the calibration makes them: the host may deschedule QEMU between two reads.
    let (c0, h0) = TSC.pairedRead(Clock.nanoseconds, reference: HPET.counter, window: window)
    var now = h0
    while now &- h0 < ticks { cpu_pause(); now = HPET.counter() }
    let (c1, h1) = TSC.pairedRead(Clock.nanoseconds, reference: HPET.counter, window: window)
    let hpetNanoseconds = TimeScale(frequency: HPET.frequency).nanoseconds(h1 &- h0)
    let clock = c1 - c0
    Log.info("time.clock_follows_hpet: clock \(clock) ns over \(hpetNanoseconds) ns of HPET time")
    return check(clock.distance(to: hpetNanoseconds).magnitude <= hpetNanoseconds / 100, "clock and HPET differ by more than 1%")
}

/// The time page holds the clock's scale, with an even sequence.
private func timePageMatchesClock() -> Bool {
    guard check(TimePage.physical != 0, "no time page") else { return false }
    let w = KernelMemory.virtual(physical: TimePage.physical).assumingMemoryBound(to: UInt64.self)
    let scale = TimeScale(base: w[TimePage.base], offset: w[TimePage.offset], multiplier: w[TimePage.multiplier],
                          shift: UInt32(truncatingIfNeeded: w[TimePage.shift]))
    let tsc = read_tsc()
    return check(w[TimePage.sequence] & 1 == 0 && w[TimePage.sequence] > 0, "sequence odd or never written")
        && check(scale == TSC.scale && w[TimePage.frequency] == TSC.frequency, "the page's scale is not the clock's")
        && check(scale.nanoseconds(tsc) == TSC.scale.nanoseconds(tsc), "page and clock disagree")
}

/// An interrupt 2 ms ahead arrives, not before its deadline, and within 500 ms.
private func timerFiresAtDeadline() -> Bool {
    let before = Timer.interrupts
    let start = Clock.nanoseconds(), deadline = start + 2_000_000
    Timer.arm(at: deadline)
    while Timer.interrupts == before && Clock.nanoseconds() - start < 500_000_000 { cpu_idle() }
    let at = Clock.nanoseconds()
    Timer.stop()
    return check(Timer.interrupts == before + 1, "no timer interrupt within 500 ms")
        && check(at >= deadline, "the timer fired before its deadline")
}

/// Tickless idle: with no timeout pending, going idle leaves nothing armed; a running thread's slice is
/// armed for at most one slice.
private func idleArmsNothing() -> Bool {
    guard check(Timeouts.nextDeadline() == nil, "a timeout is pending") else { return false }
    Timer.started = true
    defer { Timer.stop(); Timer.started = false }
    Timer.armSlice()
    let slice = armedNanoseconds()
    Timer.armIdle()
    let idle = armedNanoseconds()
    return check(slice != nil && slice! > 0 && slice! <= Timer.sliceNanoseconds, "the slice is not armed for one slice")
        && check(idle == nil, "going idle left the timer armed") && check(!Timer.sliceArmed, "still marked as a slice")
}

/// How far ahead the timer is armed, or nil when it is not.
private func armedNanoseconds() -> UInt64? {
    if Timer.tscDeadline {
        let deadline = read_msr(Timer.deadlineMSR), now = read_tsc()
        guard deadline != 0 else { return nil }
        return deadline > now ? TimeScale(frequency: TSC.frequency).nanoseconds(deadline - now) : 0
    }
    let count = LAPIC.read(LAPIC.Register.currentCount)
    return count == 0 ? nil : TimeScale(frequency: Timer.apicFrequency).nanoseconds(UInt64(count))
}

/// A timeout added while a slice is armed re-arms the timer when it is sooner, and only then.
private func soonerTimeoutRearms() -> Bool {
    Timer.started = true
    defer { Timer.stop(); Timer.started = false }
    Timer.armSlice()
    let slice = Timer.armedDeadline
    Timer.deadlineAdded(slice + 1_000_000_000)
    let later = Timer.armedDeadline
    Timer.deadlineAdded(slice - 5_000_000)
    return check(later == slice, "a later timeout re-armed the timer")
        && check(Timer.armedDeadline == slice - 5_000_000, "a sooner timeout did not re-arm the timer")
        && check((armedNanoseconds() ?? UInt64.max) <= 5_000_000, "the hardware is not armed for the sooner timeout")
}

import Foundation
import Testing

/// Issue 10, the platform's interrupts and time: on q35 and pc, with 1 and 4 CPUs (the others stay
/// parked), the kernel says which APIC mode, clock and timer it uses, one line each, and the userspace
/// suite (clock_get, the time page) passes on the IOAPIC and the tickless local APIC timer.
@Suite(.serialized) struct PlatformTests {
    /// The apic:, clock: and timer: lines, each exactly once.
    static func expectPlatformLines(_ serial: String, _ context: String) {
        let lines: [Regex<Substring>] = [
            /\[info\] apic: local APIC in (?:x2APIC \(MSRs\)|xAPIC \(MMIO, uncached\)) mode, id \d+; \d+ IOAPIC, \d+ lines at vectors 0x20\+; 8259 masked; spurious vector 0xff/,
            /\[info\] clock: TSC at \d{7,} Hz from (?:CPUID 0x15|CPUID 0x16|the HPET|the PIT), (?:not )?invariant; reference (?:HPET|PIT) at \d+ Hz/,
            /\[info\] timer: local APIC timer in (?:TSC-deadline mode|one-shot mode at \d+ Hz), tickless idle, slice 10 ms/,
        ]
        for (i, line) in lines.enumerated() {
            #expect(serial.matches(of: line).count == 1, "\(context): line \(["apic:", "clock:", "timer:"][i]) missing or repeated")
        }
    }

    @Test(arguments: [("q35", 1), ("q35", 4), ("pc", 1), ("pc", 4)])
    func userspaceSuitePassesOnTheIOAPICAndLocalAPICTimer(machine: String, cpus: Int) throws {
        let b = try UserspaceTests.bootUserTests(["--machine", machine, "--cpus", String(cpus)])
        let context = "\(machine) --cpus \(cpus)"
        #expect(b.result.status == 0, "\(context): \(b.result.stderr)")
        Self.expectPlatformLines(b.serial, context)
        #expect(b.serial.contains("reference HPET at 100000000 Hz"), "\(context): QEMU's HPET runs at 100 MHz")
        let summary = try #require(b.serial.firstMatch(of: /(\d+) passed, (\d+) failed/), "\(context): no summary")
        #expect(summary.2 == "0", "\(context): \(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") })")
        for name in ["clock.get_advances", "clock.time_page_agrees_with_clock_get", "clock.time_page_read_only"] {
            #expect(b.serial.contains("ok   \(name)"), "\(context): \(name) did not pass")
        }
    }

    @Test func inKernelPlatformTestsPass() throws {
        let b = try BootTests.boot(["--test"])
        #expect(b.result.status == 0, "osh boot --test: \(b.result.stderr)")
        for name in ["apic.spurious_vector_and_enabled", "apic.ioapic_entries_follow_the_routing",
                     "time.clock_follows_hpet", "time.time_page_matches_clock", "timer.fires_at_its_deadline",
                     "timer.idle_without_timeouts_arms_nothing", "timer.sooner_timeout_rearms"] {
            #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass")
        }
    }

    /// Without an HPET (no ACPI HPET table) the PIT calibrates the TSC and the timer.
    @Test func withoutAnHPETThePITCalibrates() throws {
        let wrapper = FileManager.default.temporaryDirectory.appendingPathComponent("qemu-no-hpet-\(getpid()).sh")
        try "#!/bin/sh\nexec qemu-system-x86_64 \"$@\" -machine hpet=off\n".write(to: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper.path)
        defer { try? FileManager.default.removeItem(at: wrapper) }
        let b = try UserspaceTests.bootUserTests(["--machine", "q35", "--qemu", wrapper.path])
        #expect(b.result.status == 0, "no HPET: \(b.result.stderr)")
        Self.expectPlatformLines(b.serial, "no HPET")
        #expect(b.serial.contains("from the PIT") && b.serial.contains("reference PIT at 1193182 Hz"))
        #expect(b.serial.contains("no HPET"), "the ACPI summary says there is no HPET table")
        #expect(b.serial.contains("ok   clock.time_page_agrees_with_clock_get"))
        #expect(b.serial.contains("devices: no HPET address"), "system_info gives an HPET address on a machine without one")
    }
}

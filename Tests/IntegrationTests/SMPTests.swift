import Foundation
import Testing

/// Issue 12, SMP: the kernel starts every CPU QEMU gives it (INIT-SIPI-SIPI through a trampoline below
/// 1 MiB), says how many run, and the in-kernel smp.* tests and the userspace suite pass with 1, 2 and 4
/// CPUs (osh boots more than one CPU with `-accel tcg,thread=multi`, so they truly run at once). The APs idle:
/// threads still run on the boot CPU only (README, "Not done yet").
@Suite(.serialized) struct SMPTests {
    /// The `smp:` line for `cpus` CPUs all running.
    static func runningLine(_ cpus: Int) -> String {
        let ids = (0..<cpus).map(String.init).joined(separator: " ")
        return "[info] smp: \(cpus) CPU\(cpus == 1 ? "" : "s") running (APIC IDs \(ids)), \(cpus) in the MADT"
    }

    @Test(arguments: [1, 2, 4])
    func inKernelSMPTestsPass(cpus: Int) throws {
        let b = try BootTests.boot(["--test", "--cpus", String(cpus)])
        #expect(b.result.status == 0, "--cpus \(cpus): \(b.result.stderr)")
        #expect(b.serial.contains(Self.runningLine(cpus)), "--cpus \(cpus): no or a wrong smp: line")
        #expect(cpus == 1 || b.serial.contains("; trampoline at 0x8000"), "--cpus \(cpus): trampoline page")
        for name in ["smp.every_enabled_cpu_is_online", "smp.per_cpu_blocks_are_distinct", "smp.aps_take_wakeup_ipis",
                     "locks.order_record_follows_nesting", "locks.ticket_lock_excludes_across_cpus"] {
            #expect(b.serial.contains("ok   \(name)"), "--cpus \(cpus): \(name) did not pass")
        }
        #expect(!b.serial.contains("did not come up") && !b.serial.contains("did not start"))
    }

    /// The lock-order checker: logging (Console.lock, rank 90) while holding test.inner (rank 95) panics,
    /// naming both locks.
    @Test func lockOrderViolationPanicsNamingBothLocks() throws {
        let b = try BootTests.boot(["--cmdline", "lockorder_test", "--cpus", "2"])
        #expect(b.result.status == 2, "a lock-order panic ends the run with guest status 2: \(b.result.stderr)")
        #expect(b.serial.contains("lock order: taking Console.lock (rank 90) while holding test.inner (rank 95)"))
        #expect(b.serial.contains("KERNEL PANIC: lock order violated"))
        #expect(!b.serial.contains("lockorder_test: logging while holding"), "the line was not logged")
    }

    /// `smp=off` leaves the others parked, and the tests know it.
    @Test func smpOffLeavesTheOthersParked() throws {
        let b = try BootTests.boot(["--test", "--cpus", "4", "--cmdline", "smp=off"])
        #expect(b.result.status == 0, "smp=off: \(b.result.stderr)")
        #expect(b.serial.contains("[info] smp: 1 of 4 CPUs running (smp=off: the others stay parked)"))
        #expect(b.serial.contains("ok   smp.every_enabled_cpu_is_online"))
    }

    /// Through GRUB (multiboot2, the boot information in low memory) and on q35: the APs still start.
    @Test(arguments: [["--boot", "iso"], ["--machine", "q35"], ["--uefi"]])
    func apsStartThroughOtherBootPaths(_ more: [String]) throws {
        let b = try BootTests.boot(["--test", "--cpus", "2"] + more)
        #expect(b.result.status == 0, "\(more): \(b.result.stderr)")
        #expect(b.serial.contains(Self.runningLine(2)), "\(more): no or a wrong smp: line")
        #expect(b.serial.contains("ok   smp.aps_take_wakeup_ipis"), "\(more)")
    }

    /// The userspace suite passes with 2 and 4 CPUs running, and system_info counts them.
    @Test(arguments: [1, 2, 4])
    func userspaceSuitePasses(cpus: Int) throws {
        let b = try UserspaceTests.bootUserTests(["--cpus", String(cpus)])
        UserspaceTests.expectSuitePassed(b, "--cpus \(cpus)")
        #expect(b.serial.contains(Self.runningLine(cpus)))
        #expect(b.serial.contains("smp: system_info says \(cpus) of \(cpus) CPUs online"), "--cpus \(cpus)")
        #expect(b.serial.contains("ok   smp.system_info_counts_cpus"))
    }
}

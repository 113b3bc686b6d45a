import Foundation
import Testing

/// Threads on every CPU (issue 12; the default): the SMP tests of the userspace suite on 2 and 4 CPUs with
/// threads on the APs, and the SMP stress round with several seeds in a row on 4 CPUs. (The whole suite
/// on 1, 2 and 4 CPUs is SMPTests.userspaceSuitePasses; `smp=boot` keeps every thread on CPU 0.)
@Suite(.serialized) struct SMPThreadsTests {
    /// Every CPU runs threads: the smp.* tests pass on 2 and 4 CPUs, and so do the
    /// futex and ring tests whose threads run on other CPUs.
    @Test(arguments: [2, 4])
    func smpTestsPassWithThreadsOnEveryCPU(cpus: Int) throws {
        let b = try BootTests.boot(["--cmdline", "usertest", "--cpus", String(cpus),
                                    "--module", UserspaceTests.servers.appendingPathComponent("root.elf").path + ":root",
                                    "--module", Repo.build.appendingPathComponent("initfs.tar.zst").path + ":initfs"],
                                   timeout: 1200)
        #expect(b.serial.firstMatch(of: /(\d+) passed, (\d+) failed/) != nil, "--cpus \(cpus): the suite did not end")
        #expect(b.serial.contains("smp: threads run on every CPU"))
        #expect(b.serial.contains("smp: a thread ran pinned on each of \(cpus) CPUs"))
        for name in ["smp.thread_state", "smp.calls_across_cpus", "smp.unmap_faults_on_other_cpu", "smp.stress_every_cpu", "futex", "ring_backpressure"] {
            #expect(b.serial.contains("ok   \(name)"), "--cpus \(cpus): \(name) did not pass")
        }
    }

    /// The whole suite on 4 CPUs with the IPC fast path off (`ipc_fastpath=off`, issue 17): the general
    /// path is the reference the fast path must match, on many CPUs too.
    @Test func suitePassesOnFourCPUsWithIPCFastPathOff() throws {
        let b = try BootTests.boot(["--cmdline", "usertest ipc_fastpath=off", "--cpus", "4",
                                    "--module", UserspaceTests.servers.appendingPathComponent("root.elf").path + ":root",
                                    "--module", Repo.build.appendingPathComponent("initfs.tar.zst").path + ":initfs"],
                                   timeout: 1200)
        UserspaceTests.expectSuitePassed(b, "usertest ipc_fastpath=off --cpus 4")
        #expect(b.serial.contains("ipc: fast path off (ipc_fastpath=off)"))
        for name in ["smp.calls_across_cpus", "smp.stress_every_cpu", "ipc_many_callers", "ipc_killed_peers"] {
            #expect(b.serial.contains("ok   \(name)"), "ipc_fastpath=off --cpus 4: \(name) did not pass")
        }
    }

    /// `smpstress=5,storm`: the stress round with five seeds in a row on 4 CPUs, each passing, with the
    /// process storm (child processes made, called into, ended and stopped on every CPU).
    @Test func stressRoundPassesWithFiveSeeds() throws {
        let b = try BootTests.boot(["--cmdline", "smpstress=5,storm", "--cpus", "4",
                                    "--module", UserspaceTests.servers.appendingPathComponent("root.elf").path + ":root",
                                    "--module", Repo.build.appendingPathComponent("initfs.tar.zst").path + ":initfs"],
                                   timeout: 900)
        #expect(b.result.status == 0, "smpstress=5,storm: \(b.result.stderr)")
        #expect(b.serial.contains("systest: smpstress: 5 seeds on 4 CPUs"))
        #expect(b.serial.contains("5 passed, 0 failed"),
                "smpstress failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
    }
}

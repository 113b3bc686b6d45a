import Foundation
import Testing

/// The kernel core seen from userspace: the root process's test suite (every syscall and its failure
/// paths, 1,000 processes, faults), and a user fault report that osh symbolizes.
@Suite(.serialized) struct UserspaceTests {
    static let servers = Repo.build.appendingPathComponent("servers")

    static func bootUserTests(_ options: [String] = []) throws -> BootTests.Boot {
        try BootTests.boot(options + ["--cmdline", "usertest",
                                      "--module", servers.appendingPathComponent("root.elf").path + ":root",
                                      "--module", servers.appendingPathComponent("crashtest.elf").path + ":crashtest"])
    }

    @Test func rootTestSuitePassesAndFaultsAreSymbolized() throws {
        let b = try Self.bootUserTests()
        #expect(b.result.status == 0, "usertest run: \(b.result.stderr)")
        let summary = try #require(b.serial.firstMatch(of: /(\d+) passed, (\d+) failed/), "no summary in serial.log")
        #expect(Int(summary.1)! >= 32)
        #expect(summary.2 == "0", "userspace failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
        for name in ["thousand_processes", "elf_child_fault", "child_fault", "sse_state", "shared_with_child", "thread_stop",
                     "ipc_handle_transfer", "ipc_many_callers", "ipc_killed_peers", "ipc_cross_process", "notify", "futex",
                     "ring_stream", "ring_cross_process",
                     "lifecycle.nt_flag", "lifecycle.priority_of_ready_thread", "lifecycle.unstarted_thread_freed",
                     "lifecycle.self_handle_freed", "lifecycle.killed_threads_freed_promptly",
                     "lifecycle.process_exit_many_threads", "lifecycle.receiver_closed_wakes_receiver",
                     "lifecycle.reply_released_by_killed_caller", "lifecycle.last_running_thread_ends_process",
                     // Issue 9 findings 2 and 3, resource limits, and memory exhaustion kept to an error.
                     "frame.huge_sparse", "process_load.huge_segment", "limits.frames", "limits.kernel_memory",
                     "limits.handles", "limits.threads", "limits.errors", "memory.exhaustion_contained"] {
            #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass")
        }
        // The kernel's tracker at shutdown.
        #expect(b.serial.contains("syscall tracker:"))
        #expect(b.serial.contains(/process_create \d{4}/), "1,000 processes should show in the tracker")
        // The faulting program's report: raw markup in serial.log, symbolized on osh's output.
        #expect(b.serial.contains("USER FAULT: process"))
        #expect(b.serial.contains("\"crashtest\""))
        #expect(b.serial.contains(/\{\{\{module:0:crashtest:elf:[0-9a-f]{40}\}\}\}/))
        // The kernel's image too, so a first frame in the kernel is symbolized (TraceTests).
        #expect(b.serial.contains(/\{\{\{module:1:kernel:elf:[0-9a-f]{40}\}\}\}/))
        for function in ["crashLevel3", "crashLevel2", "crashLevel1"] {
            let line = b.result.stdout.split(separator: "\n").first { $0.contains(function) }
            #expect(line?.contains(/Sources\/Servers\/crashtest\/Main\.swift:\d+/) == true,
                    "\(function) not symbolized to crashtest/Main.swift:LINE in osh's output" as Comment)
        }
    }

    /// Issue 9, finding 4: ending a process of N threads took time quadratic in N with interrupts off.
    /// Root's `exitbench=N` times one such exit with the TSC; under `-icount` the guest TSC counts
    /// instructions, so the figures do not depend on the host's load. 8 times the threads must cost
    /// less than 16 times the instructions (measured: 8.2 after the fix, 60 before it).
    @Test func processExitIsLinearInThreads() throws {
        let small = try Self.exitInstructions(threads: 500)
        let large = try Self.exitInstructions(threads: 4000)
        #expect(large < 16 * small, "process exit: \(small) guest instructions for 500 threads, \(large) for 4,000")
    }

    /// Boots root with `exitbench=N` under `-icount shift=0` (QEMU directly, as scripts/bench-ipc.py
    /// does): the TSC ticks of one process exit of N threads.
    static func exitInstructions(threads: Int) throws -> UInt64 {
        let result = try run("qemu-system-x86_64", [
            "-accel", "tcg", "-icount", "shift=0,sleep=off", "-smp", "1", "-m", "512", "-display", "none",
            "-monitor", "none", "-serial", "stdio", "-no-reboot", "-nodefaults",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", Repo.kernel.path,
            "-append", "exitbench=\(threads)", "-initrd", servers.appendingPathComponent("root.elf").path + " root"])
        let figure = try #require(result.stdout.firstMatch(of: /process_exit_threads \d+ (\d+) tsc_ticks/),
                                  "no figure from exitbench=\(threads): \(result.stdout.suffix(2000))")
        return UInt64(figure.1)!
    }

    @Test func rootIdlesWithoutUsertest() throws {
        let result = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "8"])
        #expect(result.status == 124, "root stays up until osh's timeout: \(result.stderr)")
        #expect(result.stdout.contains("root: no servers to start yet"))
    }

    /// The user heap allocator's host stress test (60,000 random allocations, contents checked).
    @Test func userHeapHostStressTest() throws {
        let result = try run("make", ["-s", "-C", Repo.root.path, "runtime-host-test"])
        #expect(result.status == 0, "make runtime-host-test:\n\(result.stdout)\n\(result.stderr)")
    }
}

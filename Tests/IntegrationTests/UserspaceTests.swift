import Foundation
import Testing

/// The kernel core seen from userspace: the root process's test suite (every syscall and its failure
/// paths, 1,000 processes, faults), and a user fault report that osh symbolizes.
@Suite(.serialized) struct UserspaceTests {
    static let servers = Repo.build.appendingPathComponent("servers")

    static func bootUserTests() throws -> BootTests.Boot {
        try BootTests.boot(["--cmdline", "usertest",
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
        for function in ["crashLevel3", "crashLevel2", "crashLevel1"] {
            let line = b.result.stdout.split(separator: "\n").first { $0.contains(function) }
            #expect(line?.contains(/Sources\/Servers\/crashtest\/Main\.swift:\d+/) == true,
                    "\(function) not symbolized to crashtest/Main.swift:LINE in osh's output" as Comment)
        }
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

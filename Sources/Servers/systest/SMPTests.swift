// The CPUs the kernel runs on (issue 12): system_info's cpusOnline and cpusPresent. The integration test
// (Tests/IntegrationTests/SMPTests.swift) boots with --cpus 1, 2 and 4 and compares the line printed here
// with what it asked QEMU for.

/// cpusOnline is at least 1 and at most cpusPresent; the figures are printed for the host test.
func testSystemInfoCountsCPUs() throws(SysError) {
    let online = try systemInfo(.cpusOnline)
    let present = try systemInfo(.cpusPresent)
    check(online >= 1 && online <= present, "cpusOnline \(online), cpusPresent \(present)")
    print("smp: system_info says \(online) of \(present) CPUs online")
}

let smpTests: [(StaticString, () throws(SysError) -> Void)] = [
    ("smp.system_info_counts_cpus", testSystemInfoCountsCPUs),
    ("smp.affinity_pins_to_each_cpu", testAffinityPinsToEachCPU),
    ("smp.thread_state", testThreadState),
    ("smp.calls_across_cpus", testCallsAcrossCPUs),
    ("smp.unmap_faults_on_other_cpu", testUnmapFaultsOnOtherCPU),
    ("smp.stress_every_cpu", testStressEveryCPU),
]

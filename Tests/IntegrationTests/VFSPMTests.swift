import Foundation
import Testing

/// vfs and pm in the guest: root starts both from the initfs under `vfspmtest`, then the vfspmtest
/// program, which drives them through their protocols (files in fs:///, a second vfs mounted as a scheme
/// and its fstab, spawn/wait/kill/list through pm, a child's fault status, seeded malformed messages).
@Suite(.serialized) struct VFSPMTests {
    @Test func vfsAndPMPassTheirGuestTests() throws {
        let b = try BootTests.boot(["--cmdline", "vfspmtest"])
        #expect(b.result.status == 0, "vfspmtest run: \(b.result.stderr)")
        let summary = try #require(b.serial.firstMatch(of: /vfspmtest: (\d+) passed, (\d+) failed/), "no summary in serial.log")
        #expect(summary.2 == "0", "failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
        for name in ["vfs.create_write_read", "vfs.open_flags", "vfs.directories_rename_unlink", "vfs.errors",
                     "vfs.large_file", "vfs.mount_forwards_and_reads_fstab", "pm.spawn_wait",
                     "pm.arguments_environment_handles", "pm.fault_status", "pm.kill_and_list", "pm.parent_and_child",
                     "pm.errors", "vfs.malformed_stream", "pm.malformed_stream"] {
            #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass")
        }
        #expect(b.serial.contains("vfs: fstab line 2: tmpfs at fs:///tmp"))
        // The faulting child's report still prints; its parent saw the status (pm.fault_status).
        #expect(b.serial.contains(/USER FAULT: process \d+ "pmchild"/))
    }
}

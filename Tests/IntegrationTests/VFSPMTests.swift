import Foundation
import Testing

/// vfs and pm in the guest: under `vfspmtest` root starts initfsd and vfs as boot servers, then pm and
/// the vfspmtest program, which drives them through their protocols (vfs on the file protocol: tmpfs files
/// with and without windows, initfs files through vfs, share, mounts of a second vfs and their
/// permissions, statfs, fstab's tmpfs; spawn/wait/kill/list through pm, a child's fault status; seeded
/// malformed messages to both).
@Suite(.serialized) struct VFSPMTests {
    @Test func vfsAndPMPassTheirGuestTests() throws {
        let b = try BootTests.boot(["--cmdline", "vfspmtest"])
        #expect(b.result.status == 0, "vfspmtest run: \(b.result.stderr)")
        let summary = try #require(b.serial.firstMatch(of: /vfspmtest: (\d+) passed, (\d+) failed/), "no summary in serial.log")
        #expect(summary.2 == "0", "failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
        for name in ["vfs.create_write_read", "vfs.open_flags", "vfs.directories_rename_unlink", "vfs.errors",
                     "vfs.large_file", "vfs.initfs_through_vfs", "vfs.share", "vfs.mount_permissions_and_forwarding",
                     "vfs.statfs", "vfs.fstab_tmpfs", "vfs.closed_connections_dropped", "pm.spawn_wait",
                     "pm.arguments_environment_handles", "pm.fault_status", "pm.kill_and_list", "pm.parent_and_child",
                     "pm.errors", "vfs.malformed_stream", "pm.malformed_stream"] {
            #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass")
        }
        // vfs runs as a boot server (initfs imported, fat32 optional and absent) and reads initfs:///etc/fstab.
        #expect(b.serial.contains("root: sbin/vfs starts without its optional import `fat32`: no started boot server exports it"))
        #expect(b.serial.contains("root: started sbin/vfs (vfs: imports initfs,fat32?,services?; exports vfs)"))
        #expect(b.serial.contains("vfs: fstab line 12: tmpfs at fs:///tmp"))
        #expect(b.serial.contains("vfs: fstab line 13: vfat LABEL=OSDISK at fs:///disk not mounted: no fat32 server"))
        // A line on the second disk waits for its first access (its fsd.fat32 is started then, through pm).
        #expect(b.serial.contains("vfs: fstab line 14: fat32 virtio1 at fs:///disk1: its server starts on first access"))
        // The faulting child's report still prints; its parent saw the status (pm.fault_status).
        #expect(b.serial.contains(/USER FAULT: process \d+ "pmchild"/))
    }
}

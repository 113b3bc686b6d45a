import Foundation
import Testing

/// Two virtio disks: the boot servers drive the first (fs:/// by `root=LABEL=OSDISK`), init starts a
/// second virtio-blk for the second from drivers.conf (registered as `block1`), and vfs starts a
/// fsd.fat32 for fstab's `virtio1 fs:///disk1 vfat x-lazy` line through pm at the first request under
/// fs:///disk1, not at boot. The shell lists and reads the second disk's files and writes one there,
/// which mtools finds on the second image afterwards (fsck.fat clean); the first disk is untouched.
@Suite(.serialized) struct SecondDiskTests {
    @Test func aSecondDiskGetsItsOwnDriverAndFileServerOnFirstAccess() throws {
        let first = try DiskTests.makeImage("disk-a", diskMiB: 64, partitionMiB: 62)
        let second = try DiskTests.makeImage("disk-b", diskMiB: 40, partitionMiB: 38)
        defer {
            try? FileManager.default.removeItem(at: first)
            try? FileManager.default.removeItem(at: second)
        }
        let local = FileManager.default.temporaryDirectory.appendingPathComponent("second-\(UUID().uuidString).txt")
        try Data("on the second disk\n".utf8).write(to: local)
        defer { try? FileManager.default.removeItem(at: local) }
        #expect(try DiskTests.mtool("mcopy", second, [local.path, "::/second.txt"]).status == 0)

        let b = try BootTests.boot(["--disk", first.path, "--disk", second.path, "--cmdline", "root=LABEL=OSDISK",
                                    "--exec", "ls /disk1; cat /disk1/second.txt; echo written to disk one > /disk1/w.txt; ls / | wc -l"],
                                   timeout: 600)
        #expect(b.result.status == 0, "\(b.result.stdout) \(b.result.stderr)")
        let lines = b.result.stdout.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init)
        for name in ["second.txt", "hello.txt", "docs"] { #expect(lines.contains(name), "\(name): \(b.result.stdout)") }
        #expect(lines.contains("on the second disk"), "\(b.result.stdout)")
        #expect(lines.contains("3"), "the first disk's root still holds its three entries: \(b.result.stdout)")

        // The driver came from drivers.conf; the file server at the first access, after init idled.
        let serial = b.serial
        #expect(serial.contains("init: started driver block1 (initfs:///sbin/virtio-blk function="), "\(serial)")
        #expect(serial.contains("root: service directory: `block1` registered"))
        #expect(serial.contains("vfs: fstab line"), "fstab read")
        #expect(serial.contains("fat32 virtio1 at fs:///disk1: its server starts on first access"))
        let idle = try #require(serial.range(of: "services running; idle"), "init idled")
        let started = try #require(serial.range(of: "vfs: fs:///disk1: started fsd.fat32 for virtio1 on first access"), "\(serial)")
        #expect(idle.upperBound < started.lowerBound, "started at the first access, not at boot")
        #expect(serial.components(separatedBy: "virtio-blk: function ").count - 1 == 2, "two virtio-blk instances")
        // Both disks' INTx line (ISA IRQ 11 on pc) is shared: each driver has it, none polls.
        let drivers = serial.split(whereSeparator: \.isNewline).filter { $0.contains("virtio-blk: function ") && $0.contains(" blocks of ") }
        #expect(drivers.count == 2 && drivers.allSatisfy { $0.contains(", isa-irq ") }, "\(drivers)")

        #expect(try DiskTests.mread(second, "/w.txt").map { String(decoding: $0, as: UTF8.self) } == "written to disk one\n")
        #expect(try DiskTests.mread(first, "/w.txt") == nil)
        let fsck = try DiskTests.fsck(second, partitionMiB: 38)
        #expect(fsck.status == 0, "fsck.fat -n: \(fsck.stdout)")
    }
}

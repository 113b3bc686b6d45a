import Foundation
import Testing

/// `mount`, `df` and `umount` in the shell, with two virtio disks (root=LABEL=OSDISK on the first; fstab's
/// `virtio1 fs:///disk1 vfat x-lazy` on the second, whose fsd.fat32 vfs starts on first access): the
/// listing in Linux's shape with the lazy mount not started, then started; df's used figure grows by a
/// file written there (rounded to clusters) and matches fsck.fat's cluster counts of the image after the
/// guest exits; umount refuses the root, a missing mount and a busy one, then unmounts: its fsd.fat32 is
/// ended through pm, a later access under the point is "no such file", and the listing no longer has it.
@Suite(.serialized) struct MountShellTests {
    @Test func mountListsDfMeasuresUmountUnmounts() throws {
        let first = try DiskTests.makeImage("mount-a", diskMiB: 64, partitionMiB: 62)
        let second = try DiskTests.makeImage("mount-b", diskMiB: 40, partitionMiB: 38)
        defer {
            try? FileManager.default.removeItem(at: first)
            try? FileManager.default.removeItem(at: second)
        }
        let script = """
            echo == list; mount
            echo == df; df
            ls /disk1; echo == started; mount
            echo == before; df /disk1
            cp initfs:///bin/coreutils /disk1/big; stat /disk1/big
            echo == after; df /disk1
            echo == root; umount /; echo status $?
            umount initfs:///; echo status $?
            umount /nothing; echo status $?
            sleep 300 < /disk1/second.txt &
            echo == busy; umount /disk1; echo status $?
            kill $!; wait $!
            echo == unmount; umount /disk1; echo status $?
            echo == gone; ls /disk1; echo status $?
            echo == listed; mount
            """
        let local = FileManager.default.temporaryDirectory.appendingPathComponent("mount-\(UUID().uuidString).txt")
        try Data("on the second disk\n".utf8).write(to: local)
        defer { try? FileManager.default.removeItem(at: local) }
        #expect(try DiskTests.mtool("mcopy", second, [local.path, "::/second.txt"]).status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mount-\(UUID().uuidString).sh")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        let b = try BootTests.boot(["--disk", first.path, "--disk", second.path, "--cmdline", "root=LABEL=OSDISK",
                                    "--script", file.path], timeout: 900)
        let out = b.result.stdout.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init)
        func section(_ name: String) -> [String] {
            guard let start = out.firstIndex(of: "== " + name) else { return [] }
            return Array(out[(start + 1)...].prefix { !$0.hasPrefix("== ") })
        }
        let all = b.result.stdout + b.result.stderr
        #expect(b.result.status == 0, "\(all)")

        let list = section("list")
        for line in ["initfsd on initfs:/// type initfs (ro)", "LABEL=OSDISK on fs:/// type vfat (rw)",
                     "none on fs:///tmp type tmpfs (rw)", "virtio1 on fs:///disk1 type vfat (rw,x-lazy,not-started)"] {
            #expect(list.contains(line), "\(line) in: \(all)")
        }
        let df = section("df")
        #expect(df.first?.hasPrefix("Filesystem      1K-blocks       Used  Available Use% Mounted on") == true, "\(all)")
        #expect(df.contains { $0.hasPrefix("LABEL=OSDISK") && $0.hasSuffix(" /") }, "\(all)")
        #expect(df.contains { $0.hasPrefix("initfsd") && $0.hasSuffix("100% initfs:///") }, "initfs: all used: \(all)")
        #expect(!df.contains { $0.hasSuffix("/disk1") }, "a mount not started is left out: \(all)")
        #expect(section("started").contains("virtio1 on fs:///disk1 type vfat (rw,x-lazy,started)"), "\(all)")

        func figures(_ lines: [String]) -> (size: Int, used: Int, available: Int)? {
            guard let l = lines.first(where: { $0.hasPrefix("virtio1 ") && $0.hasSuffix(" /disk1") }) else { return nil }
            let f = l.split(separator: " ").compactMap { Int($0) }
            return f.count >= 3 ? (f[0], f[1], f[2]) : nil
        }
        let before = try #require(figures(section("before")), "\(all)")
        let after = try #require(figures(section("after")), "\(all)")
        let sizeLine = try #require(section("before").first { $0.contains("Size: ") }, "\(all)")
        let fileSize = try #require(Int(sizeLine.split(separator: "\t")[0].split(separator: " ").last!), "\(sizeLine)")
        // 512-byte clusters (make-disk.sh): the file's clusters, in KiB as df rounds them (used up).
        let clusters = (fileSize + 511) / 512
        #expect(fileSize > 100_000 && before.size == after.size, "\(all)")
        let grown = after.used - before.used
        #expect(abs(grown * 1024 - clusters * 512) <= 1024, "df's used grew \(grown) KiB for \(clusters) clusters: \(all)")
        #expect(before.available - after.available == grown || before.available - after.available == grown + 1
                || before.available - after.available == grown - 1, "\(all)")

        #expect(section("root").filter { $0.hasPrefix("umount: ") }.count == 3
                && section("root").contains { $0.contains("/: the root file systems") }, "\(all)")
        #expect(section("root").contains("umount: /nothing: not mounted"), "\(all)")
        #expect(section("root").filter { $0 == "status 1" }.count == 3, "\(all)")
        #expect(section("busy").contains("umount: /disk1: target is busy (files are open under it)")
                && section("busy").contains("status 1"), "\(all)")
        #expect(section("unmount").contains("status 0"), "\(all)")
        #expect(section("gone").contains { $0.contains("/disk1: no such file or directory") } && section("gone").contains("status 2"),
                "\(all)")
        #expect(!section("listed").contains { $0.contains("disk1") } && section("listed").contains("LABEL=OSDISK on fs:/// type vfat (rw)"),
                "\(all)")
        // vfs ended the fsd.fat32 it had started for the mount.
        #expect(b.serial.contains(/vfs: unmounted fs:\/\/\/disk1; stopped its server \(process \d+\)/), "\(b.serial)")

        // The host's view of the second image: clean, the file there, and fsck's clusters as df showed them.
        let fsck = try DiskTests.fsck(second, partitionMiB: 38)
        #expect(fsck.status == 0, "fsck.fat -n: \(fsck.stdout)")
        let m = try #require(fsck.stdout.firstMatch(of: /(\d+)\/(\d+) clusters/), "\(fsck.stdout)")
        let (usedClusters, totalClusters) = (Int(m.1)!, Int(m.2)!)
        #expect(after.size == (totalClusters * 512 + 1023) / 1024, "df's 1K-blocks against fsck's \(totalClusters) clusters")
        #expect(after.used == (usedClusters * 512 + 1023) / 1024, "df's used against fsck's \(usedClusters) clusters")
        #expect(after.available == (totalClusters - usedClusters) * 512 / 1024, "df's available against fsck's free clusters")
        #expect(try DiskTests.mread(second, "/big")?.count == fileSize)
    }
}

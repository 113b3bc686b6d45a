// `root=` values and the volume fsd.fat32 serves (Sources/Formats/RootDevice.swift), on a GPT disk made
// by sgdisk with a Linux partition first and a FAT32 partition (mkfs.fat --offset, label OSDISK) second.

import Foundation
import Testing
@testable import Formats

@Suite("root= and the volume served") struct RootDeviceTests {
    @Test func parsesRootValues() {
        #expect(RootDevice.parse("virtio0p1") == .virtio(disk: 0, partition: 1))
        #expect(RootDevice.parse("virtio12p3") == .virtio(disk: 12, partition: 3))
        #expect(RootDevice.parse("virtio0") == .virtio(disk: 0, partition: nil))
        #expect(RootDevice.parse("LABEL=OSDISK") == .label(Array("OSDISK".utf8)))
        for bad in ["virtio", "virtiop1", "virtio0p", "virtio0p0", "virtio0px", "virtioxp1", "LABEL=", "sda1", "tmpfs", "fs", "virtio0p1p2"] {
            #expect(RootDevice.parse(Substring(bad)) == nil, "\(bad)")
        }
        #expect(RootDevice.labelsMatch(Array("OSDISK     ".utf8), Array("osdisk".utf8)))
        #expect(!RootDevice.labelsMatch(Array("OSDISK2".utf8), Array("OSDISK".utf8)))
    }

    /// A 64 MiB GPT image: partition 1 Linux (8 MiB, name "linux"), partition 2 FAT32 (40 MiB, name
    /// "data", volume label OSDISK).
    func image(_ scratch: Scratch) throws -> (MemoryBlockDevice, p2Start: UInt64) {
        let image = try blankImage(scratch, mib: 64)
        #expect(try tool("/usr/sbin/sgdisk", ["-n", "1:2048:+8M", "-t", "1:8300", "-c", "1:linux",
                                              "-n", "2:0:+40M", "-t", "2:0700", "-c", "2:data", image]).status == 0)
        let p2Start: UInt64 = 2048 + 8 * 2048
        let mkfs = try tool("/usr/sbin/mkfs.fat", ["-F", "32", "-s", "1", "-n", "OSDISK", "--offset", "\(p2Start)", image, "\(40 * 1024)"])
        #expect(mkfs.status == 0, "mkfs.fat: \(mkfs.output)")
        return (try loadDevice(image), p2Start)
    }

    @Test func choosesTheVolume() throws {
        let scratch = try Scratch()
        let (device, p2) = try image(scratch)
        let p1 = (start: UInt64(2048), count: UInt64(8 * 2048)), fat = (start: p2, count: UInt64(40 * 2048))
        func choose(_ root: RootDevice?, disk: Int = 0) throws -> (UInt64, UInt64) {
            let c = try VolumeChoice.choose(device, disk: disk, root: root)
            return (c.start, c.count)
        }
        #expect(try choose(nil) == fat, "no root=: the first partition that may hold FAT")
        #expect(try choose(.virtio(disk: 0, partition: nil)) == fat)
        #expect(try choose(.virtio(disk: 0, partition: 1)) == p1)
        #expect(try choose(.virtio(disk: 0, partition: 2)) == fat)
        #expect(try choose(.label(Array("osdisk".utf8))) == fat, "the FAT volume label")
        #expect(try choose(.label(Array("linux".utf8))) == p1, "the GPT partition name")
        #expect(throws: DiskError.notFound) { try choose(.virtio(disk: 0, partition: 3)) }
        #expect(throws: DiskError.notFound) { try choose(.virtio(disk: 1, partition: 1)) }
        #expect(throws: DiskError.notFound) { try choose(.virtio(disk: 1, partition: nil)) }
        #expect(throws: DiskError.notFound) { try choose(.label(Array("NOPE".utf8))) }
        #expect(VolumeChoice.fatLabel(device, at: p2).map { String(decoding: $0, as: UTF8.self) } == "OSDISK     ")
        #expect(VolumeChoice.fatLabel(device, at: 2048) == nil)
    }

    @Test func wholeDiskVolumeByLabel() throws {
        let scratch = try Scratch()
        let device = try loadDevice(try mkfsImage(scratch))   // label TESTVOL, no table
        #expect(try VolumeChoice.choose(device, disk: 0, root: .label(Array("testvol".utf8))) == (0, device.blockCount))
        #expect(try VolumeChoice.choose(device, disk: 0, root: nil) == (0, device.blockCount))
        #expect(throws: DiskError.notFound) { try VolumeChoice.choose(device, disk: 0, root: .label(Array("OSDISK".utf8))) }
    }
}

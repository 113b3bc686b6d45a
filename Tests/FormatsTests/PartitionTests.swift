// MBR and GPT tables written by sfdisk and sgdisk (util-linux, gdisk: scripts/deps.sh) read back as the
// tools report them (`sfdisk -J`); a damaged primary GPT falls back to the backup; damaged tables and
// entries off the disk are errors; a FAT volume on a whole disk is no table; a FAT32 partition made by
// mkfs.fat --offset opens through a BlockRange and reads back what mtools wrote.

import Foundation
import Testing
@testable import Formats

/// sfdisk's view: (start, size, type) per partition, and the table's label.
func sfdiskDump(_ image: String) throws -> (label: String, parts: [(start: UInt64, size: UInt64, type: String, name: String?)]) {
    let r = try tool("/usr/sbin/sfdisk", ["-J", image])
    #expect(r.status == 0, "sfdisk -J: \(r.output)")
    let json = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as! [String: Any]
    let table = json["partitiontable"] as! [String: Any]
    let parts = (table["partitions"] as? [[String: Any]] ?? []).map {
        (start: ($0["start"] as! NSNumber).uint64Value, size: ($0["size"] as! NSNumber).uint64Value,
         type: $0["type"] as! String, name: $0["name"] as? String)
    }
    return (table["label"] as! String, parts)
}

/// The GUID as text (as sfdisk prints it) from its on-disk bytes.
func guidText(_ b: [UInt8]) -> String {
    func hex(_ s: ArraySlice<UInt8>) -> String { s.map { String(format: "%02X", $0) }.joined() }
    return hex(b[0..<4].reversed()[...]) + "-" + hex(b[4..<6].reversed()[...]) + "-" + hex(b[6..<8].reversed()[...]) + "-"
        + hex(b[8..<10]) + "-" + hex(b[10..<16])
}

func blankImage(_ scratch: Scratch, mib: Int) throws -> String {
    let image = scratch.path("disk.img")
    FileManager.default.createFile(atPath: image, contents: nil)
    let h = try FileHandle(forWritingTo: URL(fileURLWithPath: image))
    try h.truncate(atOffset: UInt64(mib) << 20)
    try h.close()
    return image
}

@Suite("Partition tables") struct PartitionTests {
    @Test func mbrAsSfdiskWroteIt() throws {
        let scratch = try Scratch()
        let image = try blankImage(scratch, mib: 64)
        let script = "label: dos\nstart=2048, size=40960, type=c\nstart=43008, size=20480, type=83\n"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/sfdisk")
        p.arguments = ["-q", image]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = Pipe()
        try p.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let table = try PartitionTable.read(try loadDevice(image))
        let dump = try sfdiskDump(image)
        #expect(dump.label == "dos" && table.scheme == .mbr)
        #expect(table.partitions.map { $0.start } == dump.parts.map { $0.start })
        #expect(table.partitions.map { $0.count } == dump.parts.map { $0.size })
        #expect(table.partitions.map { String($0.mbrType, radix: 16) } == dump.parts.map { $0.type })
        #expect(table.partitions.map { $0.number } == [1, 2])
        #expect(table.partitions[0].mayHoldFAT && !table.partitions[1].mayHoldFAT)
    }

    @Test func gptAsSgdiskWroteIt() throws {
        let scratch = try Scratch()
        let image = try blankImage(scratch, mib: 64)
        let r = try tool("/usr/sbin/sgdisk", ["-n", "1:2048:+36M", "-t", "1:0700", "-c", "1:OS data ✓",
                                              "-n", "2:0:+8M", "-t", "2:8300", "-c", "2:linux", image])
        #expect(r.status == 0, "sgdisk: \(r.output)")
        let device = try loadDevice(image)
        let table = try PartitionTable.read(device)
        let dump = try sfdiskDump(image)
        #expect(dump.label == "gpt" && table.scheme == .gpt)
        #expect(table.partitions.map { $0.start } == dump.parts.map { $0.start })
        #expect(table.partitions.map { $0.count } == dump.parts.map { $0.size })
        #expect(table.partitions.map { guidText($0.typeGUID) } == dump.parts.map { $0.type })
        #expect(table.partitions.map { String(decoding: $0.name, as: UTF8.self) } == ["OS data ✓", "linux"])
        #expect(table.partitions[0].mayHoldFAT && !table.partitions[1].mayHoldFAT)

        // The primary header damaged: the backup at the last block gives the same table.
        var damaged = device.bytes
        damaged[512 + 40] ^= 0x01
        #expect(try PartitionTable.read(MemoryBlockDevice(bytes: damaged)) == table)
        // The primary entry array damaged: its CRC no longer matches; the backup array is used.
        var entries = device.bytes
        entries[2 * 512 + 32] ^= 0x10
        #expect(try PartitionTable.read(MemoryBlockDevice(bytes: entries)) == table)
        // Both headers damaged: an error.
        damaged[damaged.count - 512 + 40] ^= 0x01
        #expect(throws: PartitionError.corrupt) { _ = try PartitionTable.read(MemoryBlockDevice(bytes: damaged)) }
        // A disk cut short: the backup is gone and entries run off the end.
        let cut = Array(device.bytes[0..<(20 << 20)])
        #expect(throws: PartitionError.self) { _ = try PartitionTable.read(MemoryBlockDevice(bytes: cut)) }
    }

    @Test func fatPartitionOpensThroughARange() throws {
        let scratch = try Scratch()
        let image = try blankImage(scratch, mib: 64)
        #expect(try tool("/usr/sbin/sgdisk", ["-n", "1:2048:+40M", "-t", "1:0700", image]).status == 0)
        #expect(try tool("/usr/sbin/mkfs.fat", ["-F", "32", "-s", "1", "--offset", "2048", image, "\(40 * 1024)"]).status == 0)
        let local = scratch.path("hello")
        try Data("on a partition".utf8).write(to: URL(fileURLWithPath: local))
        #expect(try tool("/usr/bin/mcopy", ["-i", "\(image)@@\(2048 * 512)", local, "::/Partition File.txt"]).status == 0)
        let device = try loadDevice(image)
        let table = try PartitionTable.read(device)
        let part = try #require(table.partitions.first)
        let volume = try FAT32Volume(try BlockRange(device, start: part.start, count: part.count), clock: fixedClock)
        #expect(try volume.readFile(path("partition file.txt")) == Array("on a partition".utf8))
        try volume.writeFile(path("back.txt"), Array("written through the range".utf8))
        try volume.sync()
        try saveDevice(device, image)
        #expect(try tool("/usr/bin/mtype", ["-i", "\(image)@@\(2048 * 512)", "::/back.txt"]).output == "written through the range")
        #expect(try PartitionTable.read(try loadDevice(image)) == table)   // the table was not touched
    }

    @Test func wholeDiskFATAndBlankDisksHaveNoTable() throws {
        let scratch = try Scratch()
        let image = try mkfsImage(scratch, mib: 34)
        #expect(try PartitionTable.read(try loadDevice(image)).scheme == .none)
        #expect(try PartitionTable.read(MemoryBlockDevice(bytes: [UInt8](repeating: 0, count: 1 << 20))).scheme == .none)
    }

    @Test func mbrEntriesOffTheDiskAreCorrupt() throws {
        var mbr = [UInt8](repeating: 0, count: 1 << 20)
        mbr[510] = 0x55; mbr[511] = 0xAA
        mbr[446 + 4] = 0x0C
        mbr.put32(446 + 8, 2048)
        mbr.put32(446 + 12, 4096)   // ends past the 2048-block disk
        #expect(throws: PartitionError.corrupt) { _ = try PartitionTable.read(MemoryBlockDevice(bytes: mbr)) }
        mbr.put32(446 + 8, 100)
        mbr.put32(446 + 12, 200)
        mbr[446 + 16 + 4] = 0x83
        mbr.put32(446 + 16 + 8, 250)   // overlaps the first
        mbr.put32(446 + 16 + 12, 10)
        #expect(throws: PartitionError.corrupt) { _ = try PartitionTable.read(MemoryBlockDevice(bytes: mbr)) }
        mbr.put32(446 + 16 + 8, 300)
        #expect(try PartitionTable.read(MemoryBlockDevice(bytes: mbr)).partitions.count == 2)
    }

    @Test func crc32MatchesZlib() {
        #expect(crc32(Array("123456789".utf8)[...]) == 0xCBF4_3926)
    }
}

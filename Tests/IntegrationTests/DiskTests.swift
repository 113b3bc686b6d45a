import Foundation
import Testing
import KernelCore

/// FAT32 on the virtio disk through the boot servers pcid, virtio-blk and fsd.fat32 (Sources/Servers/
/// disktest): the host makes the image with scripts/make-disk.sh (GPT, a FAT32 partition labelled
/// OSDISK, files put there by mtools), boots `disktest root=LABEL=OSDISK`, and after QEMU exits checks
/// the partition with `fsck.fat -n` and reads back with mtools exactly what the guest wrote. Damaged
/// images (each a documented corruption) are served without a crash; a boot without a disk still starts
/// the storage servers, which answer "no device".
@Suite(.serialized) struct DiskTests {
    /// The partition's first byte (sector 2048).
    static let offset = 2048 * 512

    static func makeImage(_ name: String, diskMiB: Int, partitionMiB: Int) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid())-\(UUID().uuidString).img")
        let r = try run(Repo.root.appendingPathComponent("scripts/make-disk.sh").path, [url.path, String(diskMiB), String(partitionMiB)])
        #expect(r.status == 0, "make-disk.sh: \(r.stderr)")
        return url
    }

    /// mtools on the image's partition; the exit status and standard output.
    static func mtool(_ tool: String, _ image: URL, _ args: [String]) throws -> RunResult {
        try run("/usr/bin/" + tool, ["-i", "\(image.path)@@\(offset)"] + args, environment: ["MTOOLS_SKIP_CHECK": "1"])
    }

    /// A file's bytes as mtools reads them (nil when mtools cannot find it).
    static func mread(_ image: URL, _ path: String) throws -> [UInt8]? {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("mread-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try mtool("mcopy", image, ["-n", "::" + path, out.path])
        guard r.status == 0 else { return nil }
        return [UInt8](try Data(contentsOf: out))
    }

    /// `fsck.fat -n` on the partition (copied out of the image); its status and output.
    static func fsck(_ image: URL, partitionMiB: Int) throws -> RunResult {
        let part = FileManager.default.temporaryDirectory.appendingPathComponent("part-\(UUID().uuidString).img")
        defer { try? FileManager.default.removeItem(at: part) }
        let data = try Data(contentsOf: image)
        try data.subdata(in: offset..<(offset + partitionMiB << 20)).write(to: part)
        return try run("/usr/sbin/fsck.fat", ["-n", part.path])
    }

    /// disktest's pattern: SplitMix64 words, little-endian.
    static func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = SplitMix64(seed: seed)
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            let v = state.next()
            for k in 0..<8 where i < count { out[i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))); i += 1 }
        }
        return out
    }

    @Test func fat32OnTheVirtioDisk() throws {
        let image = try Self.makeImage("disktest", diskMiB: 36, partitionMiB: 34)
        defer { try? FileManager.default.removeItem(at: image) }
        let b = try BootTests.boot(["--disk", image.path, "--cmdline", "disktest root=LABEL=OSDISK"], timeout: 900)
        #expect(b.result.status == 0, "disktest run: \(b.result.stderr)")
        let summary = try #require(b.serial.firstMatch(of: /disktest: (\d+) passed, (\d+) failed/), "no summary in serial.log")
        #expect(summary.2 == "0", "failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
        for name in ["disk.host_files", "disk.statfs", "disk.write_read_back", "disk.big_file_hash", "disk.rename_delete",
                     "disk.long_names", "disk.thousand_entries", "disk.full_disk"] {
            #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass")
        }
        // The boot servers: pcid with narrowed Resources, virtio-blk claiming its function, fsd.fat32 on root=.
        for server in ["pcid (pcid: imports none; exports pci)", "virtio-blk (virtio-blk: imports pci; exports block)",
                       "fsd.fat32 (fsd.fat32: imports block; exports fat32)"] {
            #expect(b.serial.contains("root: started sbin/\(server)"), "\(server)")
        }
        #expect(b.serial.contains(/pcid: [0-9a-f:.]+ claimed \(1af4:1042\)/))
        #expect(b.serial.contains(/fsd.fat32: mounted OSDISK at block 2048 \(\d+ KiB/))
        // On the host: a clean volume holding exactly what the guest wrote.
        let check = try Self.fsck(image, partitionMiB: 34)
        #expect(check.status == 0, "fsck.fat -n: \(check.stdout)\(check.stderr)")
        #expect(try Self.mread(image, "/guest/data.bin") == Self.pattern(200_000, seed: 1))
        #expect(try Self.mread(image, "/guest/big.bin") == Self.pattern(5 << 20, seed: 2))
        #expect(try Self.mread(image, "/guest/renamed.txt") == Array("renamed\n".utf8))
        #expect(try Self.mread(image, "/guest/before.txt") == nil)
        #expect(try Self.mread(image, "/guest/gone.txt") == nil)
        #expect(try Self.mread(image, "/guest/fill.bin") == nil)
        #expect(try Self.mread(image, "/guest/many/entry 0742.txt") == Array("0742".utf8))
        #expect(try Self.mread(image, "/hello.txt") == Array("hello from the host\n".utf8))
        let many = try Self.mtool("mdir", image, ["-b", "::/guest/many"])
        #expect(many.stdout.split(separator: "\n").filter { $0.contains("entry ") }.count == 1000)
        let guest = try Self.mtool("mdir", image, ["-b", "::/guest"])
        for name in ["A long file name with spaces.text", "Grüße aus dem Gast ✓.md", String(repeating: "L", count: 200)] {
            #expect(guest.stdout.contains("/" + name), "mdir lists \(name)")
            #expect(try Self.mread(image, "/guest/" + name) != nil)
        }
        let manifest = try String(contentsOf: b.runDirectory.appendingPathComponent("manifest.json"), encoding: .utf8)
        #expect(manifest.contains(image.lastPathComponent))
    }

    @Test func noDiskStillStartsTheStorageServers() throws {
        let b = try BootTests.boot(["--cmdline", "disktest"])
        #expect(b.serial.contains("root: started sbin/virtio-blk"))
        #expect(b.serial.contains("virtio-blk: no virtio block device 0; every request is answered `no device`"))
        #expect(b.serial.contains("fsd.fat32: no disk (the block driver answers"))
        #expect(b.serial.contains("disktest: no disk (fsd.fat32 answers no server)"))
    }

    /// One damaged image per documented corruption: disktest reads, lists and writes, every request is
    /// answered, and fsd.fat32 is still there afterwards.
    enum Damage: String, CaseIterable {
        /// The boot sector claims 700-byte sectors (the BPB check refuses the volume: EIO).
        case badBytesPerSector
        /// README.TXT's FAT entry points at itself (a chain loop: EIO for that file only).
        case chainLoop
        /// The root directory's cluster number is past the end of the volume.
        case rootClusterOutOfRange
        /// The image ends halfway through the partition (the volume is larger than the device).
        case truncated
        /// Both GPT headers' CRCs are wrong (no partition table: root=LABEL finds nothing).
        case brokenGPT
    }

    static func damage(_ image: URL, _ d: Damage) throws {
        let h = try FileHandle(forUpdating: image)
        defer { try? h.close() }
        func write(_ at: Int, _ bytes: [UInt8]) throws {
            try h.seek(toOffset: UInt64(at))
            h.write(Data(bytes))
        }
        func read(_ at: Int, _ count: Int) throws -> [UInt8] {
            try h.seek(toOffset: UInt64(at))
            return [UInt8](h.readData(ofLength: count))
        }
        switch d {
        case .badBytesPerSector: try write(offset + 11, [0xbc, 0x02])
        case .rootClusterOutOfRange: try write(offset + 44, [0xf0, 0xff, 0xff, 0x0f])
        case .truncated: try h.truncate(atOffset: UInt64(offset + (17 << 20)))
        case .brokenGPT:
            let sectors = Int(try h.seekToEnd()) / 512
            for lba in [1, sectors - 1] {
                let crc = try read(lba * 512 + 16, 4)
                try write(lba * 512 + 16, crc.map { $0 ^ 0xff })
            }
        case .chainLoop:
            let boot = try read(offset, 512)
            let reserved = Int(boot[14]) | Int(boot[15]) << 8
            let fats = Int(boot[16])
            let fatSectors = Int(boot[36]) | Int(boot[37]) << 8 | Int(boot[38]) << 16 | Int(boot[39]) << 24
            // README.TXT's first cluster from mtools' listing order: find its directory entry in the root.
            let rootCluster = Int(boot[44]) | Int(boot[45]) << 8
            let dataStart = offset + (reserved + fats * fatSectors) * 512
            let root = try read(dataStart + (rootCluster - 2) * 512, 512)
            var cluster = 0
            for e in stride(from: 0, to: 512, by: 32) where Array(root[e..<(e + 11)]) == Array("README  TXT".utf8) {
                cluster = Int(root[e + 26]) | Int(root[e + 27]) << 8 | Int(root[e + 20]) << 16 | Int(root[e + 21]) << 24
            }
            #expect(cluster >= 2, "README.TXT's cluster in the root directory")
            for copy in 0..<fats {
                let at = offset + (reserved + copy * fatSectors) * 512 + cluster * 4
                try write(at, [UInt8(cluster & 0xff), UInt8(cluster >> 8 & 0xff), UInt8(cluster >> 16 & 0xff), 0])
            }
        }
    }

    @Test(arguments: Damage.allCases) func damagedImagesAreServedWithoutACrash(_ d: Damage) throws {
        let image = try Self.makeImage("damaged", diskMiB: 36, partitionMiB: 34)
        defer { try? FileManager.default.removeItem(at: image) }
        try Self.damage(image, d)
        let b = try BootTests.boot(["--disk", image.path, "--cmdline", "damageddisk root=LABEL=OSDISK"], timeout: 600)
        #expect(b.result.status == 0, "\(d): \(b.result.stderr)")
        #expect(b.serial.contains("disktest: damaged disk: 8 of 8 requests answered, server alive"), "\(d)")
        #expect(!b.serial.contains("PANIC") && !b.serial.contains("ended by a fault"), "\(d)")
        switch d {
        case .chainLoop:
            #expect(b.serial.contains("disktest: read /README.TXT: I/O error"))
            #expect(b.serial.contains("disktest: read /hello.txt: 20 bytes"), "other files still read")
        default:
            #expect(b.serial.contains("disktest: read /hello.txt: I/O error"), "\(d)")
        }
    }
}

import Foundation
import Testing

/// The boot servers pcid and virtio-blk in the guest (Sources/Servers/storagetest), with a raw image the host prepares
/// and checks: `osh boot --disk IMG --cmdline storagetest`. The host writes a pattern into sectors
/// 100-107 before the boot; the guest reads it, writes 1 MiB of its own pattern from sector 2048 and the
/// last sector, and checks pcid's list and the error replies of both servers. After QEMU exits the host
/// reads the image file and finds the guest's bytes. Once on QEMU's pc (pcid through ports 0xCF8/0xCFC,
/// the ISA IRQ of the interrupt line) and once on q35 (ECAM from MCFG, GSI 20-23).
@Suite(.serialized) struct StorageTests {
    static let imageBytes = 8 << 20

    /// A fresh 8 MiB image with the host's pattern in sectors 100-107 (byte i of sector s: (s*7+i) & 0xff).
    static func makeImage() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("storagetest-\(getpid())-\(UUID().uuidString).img")
        var bytes = [UInt8](repeating: 0, count: imageBytes)
        for s in 100..<108 { for i in 0..<512 { bytes[s * 512 + i] = UInt8(truncatingIfNeeded: s * 7 + i) } }
        try Data(bytes).write(to: url)
        return url
    }

    /// Boots storagetest with the image; checks the guest's verdict and then the image's bytes.
    static func bootAndCheck(_ extra: [String]) throws -> BootTests.Boot {
        let image = try makeImage()
        defer { try? FileManager.default.removeItem(at: image) }
        let b = try BootTests.boot(extra + ["--disk", image.path, "--cmdline", "storagetest"])
        #expect(b.result.status == 0, "storagetest run: \(b.result.stderr)")
        let summary = try #require(b.serial.firstMatch(of: /storagetest: (\d+) passed, (\d+) failed/), "no summary in serial.log")
        #expect(summary.2 == "0", "failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
        for name in ["pci.lists_functions", "pci.errors", "pci.claims", "block.imported", "block.info", "block.no_window",
                     "block.reads_host_sectors", "block.writes_and_reads_back", "block.concurrent_clients", "block.errors", "block.malformed",
                     "block.detach"] {
            #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass")
        }
        #expect(b.serial.contains("storagetest: disk capacity \(imageBytes / 512) blocks of 512 bytes"))
        // The guest's writes are in the file: 1 MiB from sector 2048, and the last sector.
        let data = [UInt8](try Data(contentsOf: image))
        #expect(data.count == imageBytes)
        var wrong = 0
        for s in 2048..<4096 { for i in 0..<512 where data[s * 512 + i] != UInt8(truncatingIfNeeded: s * 13 + i * 3 + 1) { wrong += 1 } }
        #expect(wrong == 0, "\(wrong) bytes from sector 2048 differ from what the guest wrote")
        let lastSector: [UInt8] = (0..<512).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: 2048 * 13 + i * 3 + 1) }
        let onDisk = Array(data[(imageBytes - 512)..<imageBytes])
        #expect(onDisk == lastSector, "the last sector holds the window's first block")
        // The host's sectors are untouched, the rest still zero.
        #expect(data[0..<(100 * 512)].allSatisfy { $0 == 0 })
        for s in 100..<108 { for i in 0..<512 { #expect(data[s * 512 + i] == UInt8(truncatingIfNeeded: s * 7 + i)) } }
        // The run directory records the image.
        let manifest = try String(contentsOf: b.runDirectory.appendingPathComponent("manifest.json"), encoding: .utf8)
        #expect(manifest.contains(image.lastPathComponent))
        // Interrupt-driven: the driver's figures after its flush name interrupts.
        let figures = try #require(b.serial.firstMatch(of: /virtio-blk: (\d+) requests, (\d+) interrupts, (\d+) polls/))
        #expect(Int(figures.2)! > 0, "no interrupt reached the driver: \(figures.0)")
        // block.concurrent_clients had two requests on the ring at once (the driver answers later).
        let most = try #require(b.serial.firstMatch(of: /virtio-blk: \d+ requests, \d+ interrupts, \d+ polls, at most (\d+) in flight/))
        #expect(Int(most.1)! >= 2, "requests were not in flight together: \(most.0)")
        return b
    }

    @Test func pcidAndVirtioBlkOnPC() throws {
        let b = try Self.bootAndCheck(["--machine", "pc"])
        #expect(b.serial.contains("pcid: ") && b.serial.contains(" functions through ports 0xcf8/0xcfc"))
        #expect(b.serial.contains(/pcid: 00:00\.0 8086:1237 class 6\.0\.0 \(host bridge\)/))
        #expect(b.serial.contains(/pcid: [0-9a-f:.]+ 1af4:1042 class 1\.0\.0 \(SCSI storage\) bar1=mem:0x[0-9a-f]+\+0x1000 bar4=mem:0x[0-9a-f]+\+0x4000,64,pf INTA isa-irq \d+ caps msi-x,vendor/))
        #expect(b.serial.contains(/pcid: [0-9a-f:.]+ claimed \(1af4:1042\)/))
        #expect(b.serial.contains("root: started sbin/pcid (pcid: imports none; exports pci)"))
        #expect(b.serial.contains("virtio-blk: function "))
    }

    @Test func pcidAndVirtioBlkOnQ35() throws {
        let b = try Self.bootAndCheck(["--machine", "q35"])
        #expect(b.serial.contains(/pcid: \d+ functions through ECAM at 0xb0000000, buses 0-255/))
        #expect(b.serial.contains(/pcid: 00:00\.0 8086:29c0 class 6\.0\.0 \(host bridge\)/))
        #expect(b.serial.contains(#/pcid: [0-9a-f:.]+ 1af4:1042 class 1\.0\.0 \(SCSI storage\) .* INTA gsi 2[0-3] caps /#))
    }

    @Test func diskOptionNeedsAnExistingImage() throws {
        let r = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--disk", "/nonexistent/disk.img"])
        #expect(r.status == 66)
        #expect(r.stderr.contains("osh: error: --disk: cannot write '/nonexistent/disk.img'"))
    }
}

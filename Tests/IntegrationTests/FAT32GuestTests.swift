import Foundation
import Testing

/// fsd.fat32 in the guest: under `fat32test` init starts the fat32test program, which formats a RAM disk
/// with the FAT32 core, serves it over the block-device protocol and drives fsd.fat32 through the
/// file-service protocol (Sources/Servers/fat32test).
@Suite(.serialized) struct FAT32GuestTests {
    @Test func fsdFAT32PassesItsGuestTests() throws {
        let b = try BootTests.boot(["--cmdline", "fat32test"])
        #expect(b.result.status == 0, "fat32test run: \(b.result.stderr)")
        let summary = try #require(b.serial.firstMatch(of: /fat32test: (\d+) passed, (\d+) failed/), "no summary in serial.log")
        #expect(summary.2 == "0", "failures:\n\(b.serial.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "\n"))")
        for name in ["fat32.write_read_window", "fat32.write_read_bytes", "fat32.big_file_hash", "fat32.long_names",
                     "fat32.rename_unlink_dirs", "fat32.thousand_entries", "fat32.malformed", "fat32.connect_share_statfs",
                     "fat32.restart_keeps_files", "fat32.full_disk", "fat32.malformed_stream", "fat32.damaged_disk"] {
            #expect(b.serial.contains("ok   \(name)"), "\(name) did not pass")
        }
        #expect(b.serial.contains(/fsd.fat32: mounted GUESTDISK at block 0 \(\d+ KiB, \d+ KiB free, 512-byte clusters\)/))
    }
}

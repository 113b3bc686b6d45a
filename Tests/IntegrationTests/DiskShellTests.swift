import Foundation
import Testing

/// The disk as `make run` boots it (`--disk build/disk.img`, `root=LABEL=OSDISK`): the shell's fs:/// is
/// the FAT32 partition's root, a file written from the shell is on the image afterwards (mtools reads it,
/// `fsck.fat -n` finds the volume clean) and is there again after a reboot.
@Suite(.serialized) struct DiskShellTests {
    @Test func theShellWritesToTheDiskAndTheFileSurvivesAReboot() throws {
        let image = try DiskTests.makeImage("diskshell", diskMiB: 64, partitionMiB: 62)
        defer { try? FileManager.default.removeItem(at: image) }
        func boot(_ command: String) throws -> RunResult {
            try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "600", "--disk", image.path,
                                    "--cmdline", "root=LABEL=OSDISK", "--exec", command])
        }
        let first = try boot("ls /; echo written from the shell > /new.txt; mkdir /made; ls / | wc -l")
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        let lines = first.stdout.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init)
        // The root holds what make-disk.sh put there (hello.txt, docs, README.TXT), then new.txt and made.
        for name in ["hello.txt", "docs", "README.TXT"] { #expect(lines.contains(name), "\(name): \(first.stdout)") }
        #expect(lines.contains("5"), "five entries after the writes: \(first.stdout)")

        let written = try DiskTests.mread(image, "/new.txt")
        #expect(written.map { String(decoding: $0, as: UTF8.self) } == "written from the shell\n")
        #expect(try DiskTests.mtool("mdir", image, ["-b", "::/"]).stdout.contains("made"))
        let fsck = try DiskTests.fsck(image, partitionMiB: 62)
        #expect(fsck.status == 0, "fsck.fat -n: \(fsck.stdout)")

        let second = try boot("cat /new.txt")
        #expect(second.status == 0 && second.stdout.contains("written from the shell"), "\(second.stdout) \(second.stderr)")
    }
}

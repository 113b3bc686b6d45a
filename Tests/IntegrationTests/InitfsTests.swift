import Foundation
import Testing

/// The initfs: `make` packs build/initfs.tar.zst, osh hands it to the kernel as the module `initfs`, root
/// unpacks it with the Swift zstd decoder and starts programs from it; a damaged initfs is reported and
/// the system still starts.
@Suite(.serialized) struct InitfsTests {
    @Test func rootUnpacksTheInitfsAndRunsProgramsFromIt() throws {
        // No --module: osh passes build/servers/root.elf and build/initfs.tar.zst; ipcbench comes from the initfs.
        let result = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "120", "--cmdline", "bench rounds=50"])
        #expect(result.status == 0, "bench from the initfs: \(result.stderr)")
        #expect(result.stdout.contains(/root: initfs: \d+ files, \d+ bytes from \d+ compressed/))
        // Root reads each program's manifest from its ELF note without running it.
        #expect(result.stdout.contains(/root: initfs: bin\/ipcbench \d+ manifest: name ipcbench, imports none, exports none/))
        #expect(result.stdout.contains(/root: initfs: bin\/crashtest \d+ manifest: name crashtest/))
        #expect(result.stdout.contains("bench ipc.roundtrip.0w.insn"), "ipcbench did not run from the initfs")
    }

    @Test func oshManifestPrintsTheNoteOrSaysWhyNot() throws {
        let servers = Repo.build.appendingPathComponent("servers")
        let ok = try run(Repo.osh.path, ["manifest", "--raw", servers.appendingPathComponent("crashtest.elf").path])
        #expect(ok.status == 0)
        #expect(ok.stdout == "name=crashtest\nimports=\nexports=\n")
        let kernel = try run(Repo.osh.path, ["manifest", Repo.build.appendingPathComponent("kernel.elf").path])
        #expect(kernel.status == 1)
        #expect(kernel.stderr.contains("osh: error:") && kernel.stderr.contains("no manifest note"))
        let missing = try run(Repo.osh.path, ["manifest", "/nonexistent/file.elf"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot read"))
    }

    @Test func aDamagedInitfsIsReportedAndRootStillStarts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("initfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var packed = [UInt8](try Data(contentsOf: Repo.build.appendingPathComponent("initfs.tar.zst")))
        packed[packed.count / 2] ^= 0x40
        let damaged = dir.appendingPathComponent("initfs.tar.zst")
        try Data(packed).write(to: damaged)
        let root = Repo.build.appendingPathComponent("servers/root.elf").path
        let result = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "10",
                                             "--module", root + ":root", "--module", damaged.path + ":initfs"])
        #expect(result.status == 124, "root stays up until osh's timeout: \(result.stderr)")
        #expect(result.stdout.contains("root: initfs: not a valid zstd stream"))
        #expect(result.stdout.contains("root: no servers to start yet"))
    }
}

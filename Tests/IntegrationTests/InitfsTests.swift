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

    /// The boot sequence (README): root starts the boot servers of sbin/ from their manifests with their
    /// grants, then init, which starts the services of etc/init.conf and restarts one that dies (here
    /// `inittest`'s crashtest, which faults every time: three restarts, then init gives up).
    @Test func rootStartsServersWithGrantsThenInitStartsAndRestartsServices() throws {
        let result = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "90", "--cmdline", "inittest"])
        let out = result.stdout
        #expect(out.contains(/root: initfs: sbin\/initfsd \d+ manifest: name initfsd, imports none, exports initfs/))
        #expect(out.contains(/root: initfs: sbin\/init \d+ manifest: name init, imports initfs,input,mouse,time,random,vfs,pm,console,pci,block,fat32,usbinput\?,framebuffer\?,output\?,services\?, exports none/))
        #expect(out.contains("root: started sbin/initfsd (initfsd: imports none; exports initfs)"), "\(out.suffix(3000))")
        // init imports the device servers' and the console's services too, to hand them on (init.conf's
        // import=), and pm, which starts the services.
        #expect(out.contains("root: started initfs:///sbin/init (imports initfs,input,mouse,time,random,vfs,pm,console,pci,block,fat32,usbinput,framebuffer,output,services)"))
        #expect(out.contains("root: started sbin/pm (pm: imports vfs,initfs,time,services?; exports pm)"))
        for server in ["kbd: imports none; exports input", "moused: imports input; exports mouse",
                       "timed: imports none; exports time", "rngd: imports none; exports random",
                       "console: imports input,pm?,output?,usbinput?; exports console", "fbd: imports none; exports framebuffer", "outputd: imports framebuffer; exports output"] {
            #expect(out.contains(server), "\(server)")
        }
        #expect(out.contains(/initfsd: serving initfs:\/\/ \(\d+ files, \d+ directories, \d+ bytes\)/))
        #expect(out.contains("init: started crashtest (initfs:///bin/crashtest)"))
        for n in 1...3 {
            #expect(out.contains("init: crashtest faulted (vector 14); restart \(n) of 3 after"), "restart \(n)")
        }
        #expect(out.contains("init: crashtest faulted (vector 14); restarted 3 times, giving up"))
        #expect(out.contains("init: 1 of 1 services running; idle"))
        // Root started initfsd before init (dependency order), and init only after both.
        let initfsd = try #require(out.range(of: "root: started sbin/initfsd"))
        let initLine = try #require(out.range(of: "root: started initfs:///sbin/init"))
        #expect(initfsd.lowerBound < initLine.lowerBound)
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
        #expect(result.stdout.contains("root: no initfs:///sbin/init; nothing more to start"))
        #expect(result.stdout.contains("root: init is not running; root idles"))
    }
}

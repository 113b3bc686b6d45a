import Foundation
import Testing

/// Root's start of the boot servers, in a boot: a test initfs (build/initfs.tar.zst plus sbin/ servers
/// with made-up manifests in copies of crashtest's ELF: an import nobody exports, a server importing from
/// that one, an import cycle, an ELF that cannot load, and a server importing from that one) gives one
/// `not started` line each, and the rest of the system (initfsd, init) still starts; two whose only imports
/// are optional (nobody exports one; the other's exporter cannot load) start without them. BootOrderTests check
/// the same decisions on the host; this checks root's lines.
@Suite(.serialized) struct BootFailureTests {
    /// A fake boot server: its file name in sbin/ and its manifest (name, imports, exports).
    struct Fake {
        let file: String
        let imports: String
        let exports: String
        var unloadable = false
        /// It starts: its only imports are optional ones nobody (started) exports.
        var starts = false
    }

    static let fakes = [
        Fake(file: "lonely", imports: "nowhere", exports: "lonelysvc"),
        Fake(file: "needslonely", imports: "lonelysvc", exports: ""),
        Fake(file: "cyca", imports: "cycb", exports: "cyca"),
        Fake(file: "cycb", imports: "cyca", exports: "cycb"),
        Fake(file: "broken", imports: "", exports: "brokensvc", unloadable: true),
        Fake(file: "needsbroken", imports: "brokensvc", exports: ""),
        Fake(file: "optnowhere", imports: "nowhere?", exports: "", starts: true),
        Fake(file: "optbroken", imports: "brokensvc?", exports: "", starts: true),
    ]

    /// build/initfs.tar.zst unpacked, the fakes added to sbin/, packed again; its path.
    func testInitfs(in dir: URL) throws -> URL {
        let tree = dir.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        let tar = dir.appendingPathComponent("initfs.tar")
        try must(run("zstd", ["-d", "-q", "-f", Repo.build.appendingPathComponent("initfs.tar.zst").path, "-o", tar.path]))
        try must(run("tar", ["-xf", tar.path, "-C", tree.path]))
        let base = Repo.build.appendingPathComponent("servers/crashtest.elf").path
        for f in BootFailureTests.fakes {
            let manifest = dir.appendingPathComponent("\(f.file).manifest"), note = dir.appendingPathComponent("\(f.file).note")
            try "name=\(f.file)\nimports=\(f.imports)\nexports=\(f.exports)\n".write(to: manifest, atomically: true, encoding: .utf8)
            try must(run("python3", [Repo.root.appendingPathComponent("scripts/manifest-note.py").path, manifest.path, note.path]))
            let out = tree.appendingPathComponent("sbin/\(f.file)")
            try must(run(Repo.tool("llvm-objcopy"), ["--update-section", ".note.manifest=\(note.path)", base, out.path]))
            if f.unloadable {
                // e_phnum = 0: the manifest note is still found through the section headers, but the
                // kernel's loader finds no segment to load (.badELF).
                var bytes = [UInt8](try Data(contentsOf: out))
                bytes[56] = 0
                bytes[57] = 0
                try Data(bytes).write(to: out)
            }
        }
        return try packInitfs(tree, tar: tar, in: dir)
    }

    @Test func serversThatCannotStartAreNamedAndTheRestStarts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bootfail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let initfs = try testInitfs(in: dir)
        let root = Repo.build.appendingPathComponent("servers/root.elf").path
        let result = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "60",
                                             "--module", root + ":root", "--module", initfs.path + ":initfs"])
        let out = result.stdout
        #expect(result.status == 124, "the system stays up until osh's timeout: \(result.stderr)")
        #expect(out.contains("root: sbin/lonely not started: it imports `nowhere`, which no boot server exports"), "\(out.suffix(4000))")
        #expect(out.contains("root: sbin/needslonely not started: it imports from sbin/lonely, which is not started"))
        #expect(out.contains(/root: sbin\/cyc[ab], sbin\/cyc[ab] not started: their imports form a cycle/))
        #expect(out.contains("root: sbin/broken not started: bad ELF image"))
        #expect(out.contains("root: sbin/needsbroken not started: its import from sbin/broken is not there"))
        for f in BootFailureTests.fakes where !f.starts { #expect(!out.contains("root: started sbin/\(f.file) "), "\(f.file) started") }
        // Optional imports: nobody exports `nowhere`, and `brokensvc`'s exporter did not start; both start.
        #expect(out.contains("root: sbin/optnowhere starts without its optional import `nowhere`: no started boot server exports it"))
        #expect(out.contains("root: started sbin/optnowhere (optnowhere: imports nowhere?; exports none)"))
        #expect(out.contains("root: sbin/optbroken starts without its optional import `brokensvc`: no started boot server exports it"))
        #expect(out.contains("root: started sbin/optbroken (optbroken: imports brokensvc?; exports none)"))
        // The rest of the system starts.
        #expect(out.contains("root: started sbin/initfsd (initfsd: imports none; exports initfs)"))
        #expect(out.contains("root: started initfs:///sbin/init (imports initfs"))
        #expect(out.contains("init: 0 of 0 services running; idle"))
    }
}

import Foundation
import Testing
import Symbolizer

/// The initfs packs its programs stripped (no DWARF, no symbol table: root unpacks a sixth of the bytes at
/// boot) with their build IDs and manifest notes; the full ELF files stay in build/servers, where osh finds
/// them by build ID.
@Suite(.serialized) struct InitfsSymbolsTests {
    /// build/initfs.tar.zst unpacked with the host's zstd and tar into a fresh directory.
    static func unpackedInitfs() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("initfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let archive = Repo.build.appendingPathComponent("initfs.tar.zst").path
        let unpacked = try run("/bin/sh", ["-c", "zstd -dc \"$0\" | tar -x -C \"$1\"", archive, dir.path])
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        return dir
    }

    /// The section names of an ELF file, from llvm-objdump.
    static func sections(_ path: String) throws -> [String] {
        let dump = try run(Repo.tool("llvm-objdump"), ["-h", path])
        return dump.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count >= 3 && Int(fields[0]) != nil ? String(fields[1]) : nil
        }
    }

    static func size(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    /// Whether two paths are one file (hard links to one inode).
    static func sameFile(_ a: String, _ b: String) throws -> Bool {
        guard FileManager.default.fileExists(atPath: b) else { return false }
        let ia = try FileManager.default.attributesOfItem(atPath: a)[.systemFileNumber] as? UInt64
        let ib = try FileManager.default.attributesOfItem(atPath: b)[.systemFileNumber] as? UInt64
        return ia != nil && ia == ib
    }

    @Test func initfsProgramsAreStrippedAndKeepTheirBuildIDsAndManifests() throws {
        let dir = try Self.unpackedInitfs()
        defer { try? FileManager.default.removeItem(at: dir) }
        var programs = 0, packedBytes = 0, fullBytes = 0
        for folder in ["bin", "sbin"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(folder).path)
            for entry in names {
                let packed = dir.appendingPathComponent(folder).appendingPathComponent(entry).path
                // bin/ls, bin/cat, … are hard links to bin/coreutils (the core utilities' one image).
                let name = try Self.sameFile(packed, dir.appendingPathComponent("bin/coreutils").path) ? "coreutils" : entry
                let full = Repo.build.appendingPathComponent("servers/\(name).elf").path
                let packedID = try ELFSymbolizer.readBuildID(packed)
                #expect(packedID != nil, "\(folder)/\(entry) has no build ID")
                #expect(packedID == (try ELFSymbolizer.readBuildID(full)), "\(folder)/\(name) and servers/\(name).elf differ")
                let packedSections = try Self.sections(packed)
                #expect(!packedSections.contains { $0.hasPrefix(".debug") || $0 == ".symtab" }, "\(folder)/\(name): \(packedSections)")
                #expect(packedSections.contains(".note.manifest"), "\(folder)/\(name) lost its manifest note")
                #expect(try Self.sections(full).contains(".debug_info"), "servers/\(name).elf lost its DWARF")
                let manifest = try run(Repo.osh.path, ["manifest", "--raw", packed])
                #expect(manifest.status == 0 && manifest.stdout.hasPrefix("name=\(name)\n"), "\(folder)/\(name): \(manifest.stdout)\(manifest.stderr)")
                programs += 1
                packedBytes += try Self.size(packed)
                fullBytes += try Self.size(full)
            }
        }
        #expect(programs >= 8, "the initfs holds \(programs) programs")
        // Without DWARF the programs are a fraction of their full size (about a sixth today).
        #expect(packedBytes * 3 < fullBytes, "packed programs \(packedBytes) bytes, full \(fullBytes)")
    }

    /// A program started from the initfs (init's crashtest under `inittest`, no module of its own) faults;
    /// osh boot cannot name its frames (the run directory has no copy of it), and `osh trace` of the run's
    /// log finds build/servers/crashtest.elf by the build ID in the report and names function, file and line.
    @Test func oshTraceSymbolizesAProgramFromTheInitfsByBuildID() throws {
        let result = try run(Repo.osh.path, ["boot", "--accel", "tcg", "--timeout", "45", "--cmdline", "inittest"])
        let match = try #require(result.stderr.firstMatch(of: /\[run ([^;\]]+)/), "no run directory in: \(result.stderr)")
        let log = URL(fileURLWithPath: String(match.1)).appendingPathComponent("serial.log")
        let serial = try String(contentsOf: log, encoding: .utf8)
        #expect(serial.contains("init: crashtest faulted (vector 14)"), "\(serial.suffix(2000))")
        let id = try #require(try ELFSymbolizer.readBuildID(Repo.build.appendingPathComponent("servers/crashtest.elf").path))
        #expect(serial.contains("{{{module:0:crashtest:elf:\(id)}}}"), "the report names crashtest's build ID")
        let trace = try run(Repo.osh.path, ["trace", log.path, "--build", Repo.build.path], cwd: Repo.root)
        #expect(trace.status == 0, "\(trace.stderr)")
        #expect(trace.stdout.contains(/crashLevel2.*Sources\/Servers\/crashtest\/Main\.swift:\d+/), "\(trace.stdout.suffix(3000))")
    }
}

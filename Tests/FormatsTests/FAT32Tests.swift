// The FAT32 core against the real tools: images made by mkfs.fat and filled by mtools read back exactly;
// what the core writes (files, long names, directories, renames, deletes, truncation) is listed and read
// back by mtools and `fsck.fat -n` finds no error; a random workload is compared with a model; damaged
// images (bit flips, truncation, chain loops, clusters out of range, bad BPBs) give errors, never a
// trap, a hang or a write outside the partition. Needs dosfstools and mtools (scripts/deps.sh).

import Foundation
import Testing
@testable import Formats

/// Runs a tool; its exit status and output (stdout and stderr together).
@discardableResult
func tool(_ path: String, _ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["MTOOLS_SKIP_CHECK"] = "1"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A scratch directory removed at the end.
final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fat32-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// An empty FAT32 image of `mib` MiB made by mkfs.fat (512-byte clusters unless told).
func mkfsImage(_ scratch: Scratch, mib: Int = 40, clusterSectors: Int = 1, name: String = "disk.img") throws -> String {
    let image = scratch.path(name)
    let r = try tool("/usr/sbin/mkfs.fat", ["-C", "-F", "32", "-s", "\(clusterSectors)", "-n", "TESTVOL", image, "\(mib * 1024)"])
    #expect(r.status == 0, "mkfs.fat: \(r.output)")
    return image
}

func loadDevice(_ image: String) throws -> MemoryBlockDevice {
    MemoryBlockDevice(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: image))))
}

func saveDevice(_ device: MemoryBlockDevice, _ image: String) throws {
    try Data(device.bytes).write(to: URL(fileURLWithPath: image))
}

/// fsck.fat's verdict on an image, read-only: true when it found nothing to fix.
func fsckClean(_ image: String) throws -> (Bool, String) {
    let r = try tool("/usr/sbin/fsck.fat", ["-n", "-V", image])
    return (r.status == 0, r.output)
}

/// mtools' copy of a file in the image.
func mtype(_ image: String, _ path: String) throws -> [UInt8]? {
    let scratch = try Scratch()
    let out = scratch.path("out")
    let r = try tool("/usr/bin/mcopy", ["-n", "-i", image, "::" + path, out])
    guard r.status == 0 else { return nil }
    return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
}

/// Every path mtools lists in the image (`mdir -/ -b`), without the `::` prefix.
func mlist(_ image: String) throws -> Set<String> {
    let r = try tool("/usr/bin/mdir", ["-i", image, "-/", "-b", "::/"])
    var paths = Set<String>()
    for line in r.output.split(separator: "\n") {
        var s = String(line)
        if s.hasPrefix("::") { s.removeFirst(2) }
        while s.hasSuffix("/") { s.removeLast() }
        if !s.isEmpty { paths.insert(s) }
    }
    return paths
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func path(_ s: String) -> [[UInt8]] { s.split(separator: "/").map { Array($0.utf8) } }

func random(_ n: Int, _ rng: inout Seeded) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: n)
    for i in 0..<n { out[i] = UInt8(truncatingIfNeeded: rng.next()) }
    return out
}

func pick<T>(_ items: [T], _ rng: inout Seeded) -> T? { items.isEmpty ? nil : items[rng.below(items.count)] }

/// 2026-01-01 00:00:00 UTC.
func fixedClock() -> UInt64 { 1_767_225_600 }

@Suite("FAT32") struct FAT32Tests {
    @Test func readsWhatMtoolsWrote() throws {
        let scratch = try Scratch()
        let image = try mkfsImage(scratch)
        var rng = Seeded(state: 15)
        let files: [(String, [UInt8])] = [
            ("README.TXT", bytes("hello\n")),
            ("lower.txt", random(1, &rng)),
            ("A Long File Name With Spaces.data", random(70_000, &rng)),
            ("Mixed.Case.Dots.tar.gz", random(513, &rng)),
            ("empty", []),
            ("dir/sub/deep file.bin", random(300_000, &rng)),
            ("dir/Ünïcødé ✓ name.txt", random(4096, &rng)),
            ("dir/" + String(repeating: "n", count: 200), random(10, &rng)),
        ]
        for (name, data) in files {
            let local = scratch.path("src")
            try Data(data).write(to: URL(fileURLWithPath: local))
            let parts = name.split(separator: "/")
            var dir = ""
            for p in parts.dropLast() {
                dir += "/" + p
                try tool("/usr/bin/mmd", ["-i", image, "-D", "s", "::" + dir])
            }
            let r = try tool("/usr/bin/mcopy", ["-i", image, local, "::/" + name])
            #expect(r.status == 0, "mcopy \(name): \(r.output)")
        }
        for i in 0..<300 { try tool("/usr/bin/mmd", ["-i", image, "::/many-\(i)"]) }
        let volume = try FAT32Volume(try loadDevice(image), clock: fixedClock)
        for (name, data) in files {
            #expect(try volume.readFile(path(name)) == data, "\(name)")
            // FAT compares ASCII letters without case (other letters as they are).
            let upper = String(decoding: name.utf8.map { asciiUpper($0) }, as: UTF8.self)
            #expect(try volume.readFile(path(upper)) == data, "\(name) (looked up as \(upper))")
        }
        let rootNames = Set(try volume.list(volume.root).map { String(decoding: $0.name, as: UTF8.self) })
        #expect(rootNames.isSuperset(of: ["README.TXT", "lower.txt", "A Long File Name With Spaces.data", "dir", "empty"]))
        #expect(rootNames.contains("many-0") && rootNames.contains("many-299"))
        let sub = try volume.lookup(path("dir/sub"))
        #expect(sub.isDirectory)
        #expect(try volume.list(sub).map { String(decoding: $0.name, as: UTF8.self) } == ["deep file.bin"])
        #expect(volume.label == bytes("TESTVOL    "))
    }

    @Test func missingPathsAreErrors() throws {
        let scratch = try Scratch()
        let image = try mkfsImage(scratch)
        let volume = try FAT32Volume(try loadDevice(image), clock: fixedClock)
        #expect(throws: DiskError.notFound) { try volume.lookup(path("nothing")) }
        try volume.writeFile(path("file"), bytes("x"))
        #expect(throws: DiskError.notDirectory) { try volume.lookup(path("file/below")) }
    }

    @Test func whatTheCoreWritesIsCleanForFsckAndMtools() throws {
        let scratch = try Scratch()
        let image = try mkfsImage(scratch)
        let device = try loadDevice(image)
        let volume = try FAT32Volume(device, clock: fixedClock)
        let freeBefore = volume.freeCount
        var rng = Seeded(state: 1515)
        var expected: [String: [UInt8]] = [:]
        _ = try volume.makeDirectory(bytes("Documents"), in: volume.root)
        let docs = try volume.lookup(path("Documents"))
        _ = try volume.makeDirectory(bytes("sub dir"), in: docs)
        let named: [(String, Int)] = [("SHORT.TXT", 100), ("short.txt2", 0), ("A much longer name.text", 5000),
                                      ("Documents/report final (2).pdf", 123_457), ("Documents/sub dir/ünïcødé ✓.md", 2049),
                                      ("Documents/.hidden", 17), ("big.bin", 1_500_000)]
        for (name, size) in named {
            let data = random(size, &rng)
            try volume.writeFile(path(name), data)
            expected[name] = data
        }
        // Overwrite the middle, append, write past the end (a zero gap), truncate down and up.
        var big = try volume.lookup(path("big.bin"))
        let patch = random(10_000, &rng)
        _ = try patch.withUnsafeBytes { try volume.write(&big, at: 700_001, from: $0) }
        expected["big.bin"]!.replaceSubrange(700_001..<710_001, with: patch)
        var report = try volume.lookup(path("Documents/report final (2).pdf"))
        let tail = random(3000, &rng)
        _ = try tail.withUnsafeBytes { try volume.write(&report, at: 200_000, from: $0) }
        expected["Documents/report final (2).pdf"]! += [UInt8](repeating: 0, count: 200_000 - 123_457) + tail
        var short = try volume.lookup(path("SHORT.TXT"))
        try volume.truncate(&short, to: 10)
        try volume.truncate(&short, to: 1000)
        expected["SHORT.TXT"] = Array(expected["SHORT.TXT"]![0..<10]) + [UInt8](repeating: 0, count: 990)
        // Rename within a directory, across directories, over an existing file; delete; rmdir.
        _ = try volume.rename(try volume.lookup(path("A much longer name.text")), to: bytes("renamed.txt"), in: volume.root)
        expected["renamed.txt"] = expected.removeValue(forKey: "A much longer name.text")
        _ = try volume.rename(try volume.lookup(path("short.txt2")), to: bytes("moved here"), in: docs)
        expected["Documents/moved here"] = expected.removeValue(forKey: "short.txt2")
        _ = try volume.rename(try volume.lookup(path("renamed.txt")), to: bytes("SHORT.TXT"), in: volume.root)
        expected["SHORT.TXT"] = expected.removeValue(forKey: "renamed.txt")
        _ = try volume.makeDirectory(bytes("gone"), in: volume.root)
        _ = try volume.writeFile(path("gone/file"), bytes("bye"))
        #expect(throws: DiskError.notEmpty) { try volume.remove(try volume.lookup(path("gone"))) }
        try volume.remove(try volume.lookup(path("gone/file")))
        try volume.remove(try volume.lookup(path("gone")))
        // A directory moved into another keeps its contents and its `..` follows it.
        _ = try volume.makeDirectory(bytes("travel"), in: volume.root)
        try volume.writeFile(path("travel/inside"), bytes("in"))
        expected["Documents/sub dir/travel/inside"] = bytes("in")
        _ = try volume.rename(try volume.lookup(path("travel")), to: bytes("travel"), in: try volume.lookup(path("Documents/sub dir")))
        #expect(throws: DiskError.invalid) {
            _ = try volume.rename(try volume.lookup(path("Documents")), to: bytes("loop"),
                                  in: try volume.lookup(path("Documents/sub dir")))
        }
        // 600 entries in one directory (the directory grows over several clusters).
        _ = try volume.makeDirectory(bytes("crowd"), in: volume.root)
        for i in 0..<600 {
            let name = "crowd/entry number \(i).txt"
            try volume.writeFile(path(name), bytes("\(i)"))
            expected[name] = bytes("\(i)")
        }
        try volume.sync()
        try saveDevice(device, image)

        let (clean, report2) = try fsckClean(image)
        #expect(clean, "fsck.fat -n: \(report2)")
        #expect(!report2.contains("Free cluster summary"), "\(report2)")
        for (name, data) in expected {
            #expect(try mtype(image, "/" + name) == data, "mtools reads \(name)")
        }
        let listed = try mlist(image)
        for name in expected.keys { #expect(listed.contains("/" + name), "mdir lists \(name)") }
        #expect(!listed.contains("/gone"))
        // The FSInfo count equals what a fresh mount counts.
        let again = try FAT32Volume(try loadDevice(image), clock: fixedClock)
        #expect(again.freeCount == volume.freeCount)
        #expect(volume.freeCount < freeBefore)
        let info = try loadDevice(image).bytes
        #expect(info.le32(512 + 488) == volume.freeCount)
        // Times come from the clock.
        let node = try again.lookup(path("SHORT.TXT"))
        #expect(node.modified == 1_767_225_600)
    }

    @Test func formatterMakesAVolumeFsckAndMtoolsAccept() throws {
        let scratch = try Scratch()
        let image = scratch.path("formatted.img")
        let device = MemoryBlockDevice(bytes: [UInt8](repeating: 0, count: 40 << 20))
        try FAT32Format.format(device, label: bytes("SWIFTOS"), time: 1_767_225_600)
        let volume = try FAT32Volume(device, clock: fixedClock)
        #expect(volume.clusterCount >= 65525)
        try volume.writeFile(path("hello.txt"), bytes("hello from the core\n"))
        try volume.sync()
        try saveDevice(device, image)
        let (clean, report) = try fsckClean(image)
        #expect(clean, "fsck.fat -n: \(report)")
        #expect(try mtype(image, "/hello.txt") == bytes("hello from the core\n"))
        let local = scratch.path("from-mtools")
        try Data(bytes("written by mcopy")).write(to: URL(fileURLWithPath: local))
        #expect(try tool("/usr/bin/mcopy", ["-i", image, local, "::/Written By Mcopy.txt"]).status == 0)
        let reread = try FAT32Volume(try loadDevice(image), clock: fixedClock)
        #expect(try reread.readFile(path("written by mcopy.txt")) == bytes("written by mcopy"))
    }

    @Test func randomWorkloadMatchesAModel() throws {
        let scratch = try Scratch()
        let image = try mkfsImage(scratch, mib: 36)
        let device = try loadDevice(image)
        // Small caches, so cache eviction and write-back run often.
        let volume = try FAT32Volume(device, clock: fixedClock, fatCacheSectors: 4, dataCacheClusters: 4)
        var rng = Seeded(state: 0xFA7)
        var files: [String: [UInt8]] = [:]
        var dirs: [String] = [""]
        func name(_ rng: inout Seeded) -> String {
            let pool = ["a", "B", "long name number", "x.txt", "Ünï", "data.bin", "q", "file.with.dots"]
            return pool[rng.below(pool.count)] + "\(rng.below(40))"
        }
        for step in 0..<1500 {
            let op = rng.below(10)
            let dir = dirs[rng.below(dirs.count)]
            let prefix = dir.isEmpty ? "" : dir + "/"
            switch op {
            case 0...2:   // write somewhere in a new or existing file
                let target = files.keys.sorted().isEmpty || rng.below(2) == 0 ? prefix + name(&rng) : files.keys.sorted()[rng.below(files.count)]
                if dirs.contains(target) { continue }
                var node: FATNode
                do { node = try volume.lookup(path(target)) } catch DiskError.notFound {
                    node = try volume.createFile(Array(target.split(separator: "/").last!.utf8), in: try volume.lookup(path(dir)))
                    files[target] = []
                    // The target's directory may differ from `dir` when it was an existing file.
                }
                let offset = rng.below(3) == 0 ? rng.below(60_000) : (files[target]?.count ?? 0)
                let data = random(rng.below(20_000) + 1, &rng)
                _ = try data.withUnsafeBytes { try volume.write(&node, at: UInt64(offset), from: $0) }
                var model = files[target] ?? []
                if model.count < offset { model += [UInt8](repeating: 0, count: offset - model.count) }
                let end = offset + data.count
                if model.count < end { model += [UInt8](repeating: 0, count: end - model.count) }
                model.replaceSubrange(offset..<end, with: data)
                files[target] = model
            case 3:   // truncate
                guard let target = pick(files.keys.sorted(), &rng) else { continue }
                var node = try volume.lookup(path(target))
                let size = rng.below(40_000)
                try volume.truncate(&node, to: UInt64(size))
                var model = files[target]!
                if size < model.count { model.removeLast(model.count - size) } else { model += [UInt8](repeating: 0, count: size - model.count) }
                files[target] = model
            case 4:   // delete
                guard let target = pick(files.keys.sorted(), &rng) else { continue }
                try volume.remove(try volume.lookup(path(target)))
                files[target] = nil
            case 5:   // rename a file to another directory (replacing a file there)
                guard let source = pick(files.keys.sorted(), &rng) else { continue }
                let newName = prefix + name(&rng)
                if dirs.contains(where: { $0.lowercased() == newName.lowercased() }) { continue }
                _ = try volume.rename(try volume.lookup(path(source)), to: Array(newName.split(separator: "/").last!.utf8),
                                      in: try volume.lookup(path(dir)))
                let data = files.removeValue(forKey: source)!
                // FAT names compare without case for ASCII letters: the model drops any file the new name replaced.
                for k in files.keys where k.lowercased() == newName.lowercased() { files[k] = nil }
                files[newName] = data
            case 6:   // mkdir
                let d = prefix + name(&rng)
                if files.keys.contains(where: { $0.lowercased() == d.lowercased() }) || dirs.contains(where: { $0.lowercased() == d.lowercased() }) { continue }
                _ = try volume.makeDirectory(Array(d.split(separator: "/").last!.utf8), in: try volume.lookup(path(dir)))
                dirs.append(d)
            case 7:   // rmdir of an empty directory
                guard dir != "", !files.keys.contains(where: { $0.hasPrefix(dir + "/") }),
                      !dirs.contains(where: { $0.hasPrefix(dir + "/") }) else { continue }
                try volume.remove(try volume.lookup(path(dir)))
                dirs.removeAll { $0 == dir }
            default:  // read a random range and compare
                guard let target = pick(files.keys.sorted(), &rng) else { continue }
                let node = try volume.lookup(path(target))
                let model = files[target]!
                #expect(Int(node.size) == model.count, "step \(step): size of \(target)")
                let offset = rng.below(model.count + 10)
                var buffer = [UInt8](repeating: 0, count: rng.below(30_000) + 1)
                let n = try buffer.withUnsafeMutableBytes { try volume.read(node, at: UInt64(offset), into: $0) }
                let want = offset < model.count ? Array(model[offset..<min(model.count, offset + buffer.count)]) : []
                #expect(Array(buffer[0..<n]) == want, "step \(step): read of \(target) at \(offset)")
            }
        }
        try volume.sync()
        try saveDevice(device, image)
        let (clean, report) = try fsckClean(image)
        #expect(clean, "fsck.fat -n: \(report)")
        let reread = try FAT32Volume(try loadDevice(image), clock: fixedClock)
        #expect(reread.freeCount == volume.freeCount)
        for (name, data) in files {
            #expect(try reread.readFile(path(name)) == data, "\(name)")
            #expect(try mtype(image, "/" + name) == data, "mtools reads \(name)")
        }
    }

    @Test func fullDiskIsNoSpaceAndLeavesTheVolumeClean() throws {
        let scratch = try Scratch()
        let image = try mkfsImage(scratch, mib: 34)
        let device = try loadDevice(image)
        let volume = try FAT32Volume(device, clock: fixedClock)
        var node = try volume.createFile(bytes("filler"), in: volume.root)
        let chunk = [UInt8](repeating: 0xAB, count: 1 << 20)
        var written = 0
        var error: DiskError? = nil
        while error == nil {
            do { written += try chunk.withUnsafeBytes { try volume.write(&node, at: UInt64(written), from: $0) } }
            catch let e as DiskError { error = e }
        }
        #expect(error == .noSpace)
        #expect(Int(node.size) == written)
        try volume.sync()
        try saveDevice(device, image)
        let (clean, report) = try fsckClean(image)
        #expect(clean, "fsck.fat -n: \(report)")
    }

    @Test func badNamesAreRefused() throws {
        let device = MemoryBlockDevice(bytes: [UInt8](repeating: 0, count: 34 << 20))
        try FAT32Format.format(device)
        let volume = try FAT32Volume(device, clock: fixedClock)
        for bad in ["", ".", "..", "a/b", "star*", "colon:", "ends.", "ends ", "tab\t"] {
            #expect(throws: DiskError.self) { _ = try volume.createFile(bytes(bad), in: volume.root) }
        }
        #expect(throws: DiskError.nameTooLong) { _ = try volume.createFile(bytes(String(repeating: "x", count: 256)), in: volume.root) }
        #expect(throws: DiskError.invalidName) { _ = try volume.createFile([0xFF, 0x41], in: volume.root) }
        _ = try volume.createFile(bytes("Same"), in: volume.root)
        #expect(throws: DiskError.exists) { _ = try volume.createFile(bytes("SAME"), in: volume.root) }
    }

    @Test func aliasesAreUnique() throws {
        var taken: [[UInt8]] = []
        for _ in 0..<12 {
            let (short, _, long) = try makeShortName(bytes("Long File Name.html"), avoiding: taken)
            #expect(long)
            #expect(!taken.contains(short))
            taken.append(short)
        }
        #expect(String(decoding: taken[0], as: UTF8.self) == "LONGFI~1HTM")
        #expect(String(decoding: taken[11], as: UTF8.self) == "LONGF~12HTM")
        let (plain, caseBits, long) = try makeShortName(bytes("readme.md"), avoiding: [])
        #expect(!long && caseBits == 0x18 && String(decoding: plain, as: UTF8.self) == "README  MD ")
    }

    @Test func timesRoundTrip() {
        for t: UInt64 in [315_532_800, 1_000_000_000, 1_767_225_600, 4_102_444_798] {
            let (d, tm) = fatDateTime(t)
            #expect(unixTime(date: d, time: tm) == t / 2 * 2)
        }
        #expect(unixTime(date: 0, time: 0) == 0)
    }
}

/// Damaged images: every operation ends in a DiskError or succeeds; none traps, hangs or writes
/// outside the volume's partition.
@Suite("FAT32 damage") struct FAT32DamageTests {
    /// A disk with guard bytes around a 34 MiB FAT32 partition holding a few files and directories.
    static func populatedDisk() throws -> (disk: [UInt8], start: UInt64, count: UInt64) {
        let start: UInt64 = 2048, count: UInt64 = 34 * 2048
        var disk = [UInt8](repeating: 0x5A, count: Int(start + count + 2048) * 512)
        let device = MemoryBlockDevice(bytes: disk)
        let range = try BlockRange(device, start: start, count: count)
        try FAT32Format.format(range, hiddenSectors: UInt32(start))
        let volume = try FAT32Volume(range, clock: fixedClock)
        var rng = Seeded(state: 99)
        _ = try volume.makeDirectory(bytes("dir one"), in: volume.root)
        _ = try volume.makeDirectory(bytes("nested"), in: try volume.lookup(path("dir one")))
        for i in 0..<40 {
            let where_ = ["", "dir one/", "dir one/nested/"][i % 3]
            try volume.writeFile(path(where_ + "file with a long name \(i).bin"), random(i * 997, &rng))
        }
        try volume.sync()
        disk = device.bytes
        return (disk, start, count)
    }

    /// Lists and reads everything reachable (each directory once), then writes a little.
    static func exercise<D: BlockDevice>(_ volume: FAT32Volume<D>) throws(DiskError) {
        var pending = [volume.root]
        var seen: [UInt32] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while let dir = pending.popLast() {
            guard !seen.contains(dir.firstCluster), seen.count < 200 else { continue }
            seen.append(dir.firstCluster)
            for node in try volume.list(dir) {
                if node.isDirectory { pending.append(node); continue }
                var offset: UInt64 = 0
                while offset < UInt64(node.size) {
                    let n = try withMutableBytes(&buffer) { (b) throws(DiskError) in
                        try volume.read(node, at: offset, into: UnsafeMutableRawBufferPointer(start: b, count: 65536))
                    }
                    if n == 0 { break }
                    offset += UInt64(n)
                }
            }
        }
        try volume.writeFile(path("new file.txt"), [UInt8](repeating: 7, count: 5000))
        _ = try volume.makeDirectory(bytes("new dir"), in: volume.root)
        let all = try volume.list(volume.root)
        if let victim = all.first(where: { !$0.isDirectory }) { try volume.remove(victim) }
        if let other = all.last(where: { !$0.isDirectory }) {
            _ = try volume.rename(other, to: bytes("renamed after damage"), in: try volume.lookup(path("new dir")))
        }
        try volume.sync()
    }

    @Test func bitFlipsGiveErrorsOnly() throws {
        let (base, start, count) = try FAT32DamageTests.populatedDisk()
        let first = Int(start) * 512, end = Int(start + count) * 512
        var rng = Seeded(state: 0xBADF00D)
        var failures = 0, successes = 0
        for round in 0..<150 {
            var bytes = base
            // Flips in the metadata (boot sector, FSInfo, FATs, the first directory clusters) mostly.
            let metadataEnd = first + 32 * 512 + 2 * 600 * 512 + 64 * 512
            for _ in 0..<(1 + rng.below(24)) {
                let at = round % 4 == 3 ? first + rng.below(end - first) : first + rng.below(metadataEnd - first)
                bytes[at] ^= UInt8(1) << UInt8(rng.below(8))
            }
            let device = MemoryBlockDevice(bytes: bytes)
            do {
                let volume = try FAT32Volume(try BlockRange(device, start: start, count: count), clock: fixedClock)
                try FAT32DamageTests.exercise(volume)
                successes += 1
            } catch let e as DiskError {
                _ = e
                failures += 1
            }
            #expect(device.bytes[0..<first].allSatisfy { $0 == 0x5A }, "round \(round): written before the partition")
            #expect(device.bytes[end...].allSatisfy { $0 == 0x5A }, "round \(round): written after the partition")
        }
        #expect(failures + successes == 150)
    }

    @Test func truncatedDisksGiveErrors() throws {
        let (base, start, count) = try FAT32DamageTests.populatedDisk()
        for cut in [0, 1, 511, 512 * 32, 512 * 1000, 512 * 20_000, Int(count) * 512 - 512] {
            let bytes = Array(base[Int(start) * 512..<(Int(start) * 512 + cut)])
            let device = MemoryBlockDevice(bytes: bytes)
            #expect(throws: DiskError.self, "cut at \(cut)") {
                let volume = try FAT32Volume(device, clock: fixedClock)
                try FAT32DamageTests.exercise(volume)
            }
        }
    }

    /// Sets cluster `c`'s entry in both FATs of the populated disk's volume.
    static func setFAT(_ disk: inout [UInt8], start: UInt64, _ c: UInt32, _ value: UInt32) {
        let boot = Int(start) * 512
        let reserved = Int(disk.le16(boot + 14)), fatSectors = Int(disk.le32(boot + 36))
        for copy in 0..<2 { disk.put32(boot + (reserved + copy * fatSectors) * 512 + Int(c) * 4, value) }
    }

    @Test func chainLoopsAndClustersOutOfRangeAreCorrupt() throws {
        let (base, start, count) = try FAT32DamageTests.populatedDisk()
        let name = path("file with a long name 30.bin")   // 29,910 bytes: 59 clusters
        let clean = try FAT32Volume(try BlockRange(MemoryBlockDevice(bytes: base), start: start, count: count), clock: fixedClock)
        let node = try clean.lookup(name)
        let chain = try clean.chain(node.firstCluster)
        for (label, c, value) in [("loop to itself", chain[5], chain[5]), ("loop back", chain[40], chain[2]),
                                  ("past the volume", chain[10], 0x0FFF_FFF0), ("cluster 1", chain[3], 1),
                                  ("a free cluster", chain[7], 0), ("a bad cluster", chain[8], 0x0FFF_FFF7)] {
            var disk = base
            FAT32DamageTests.setFAT(&disk, start: start, c, value)
            let volume = try FAT32Volume(try BlockRange(MemoryBlockDevice(bytes: disk), start: start, count: count),
                                         clock: fixedClock)
            #expect(throws: DiskError.corrupt, "\(label)") { _ = try volume.readFile(name) }
            #expect(throws: DiskError.corrupt, "\(label): remove") { try volume.remove(try volume.lookup(name)) }
        }
    }

    @Test func badBootSectorsAreCorrupt() throws {
        let (base, start, count) = try FAT32DamageTests.populatedDisk()
        let boot = Int(start) * 512
        let damages: [(String, (inout [UInt8]) -> Void)] = [
            ("no signature", { $0[boot + 510] = 0 }),
            ("sector size 0", { $0.put16(boot + 11, 0) }),
            ("sector size 700", { $0.put16(boot + 11, 700) }),
            ("3 sectors per cluster", { $0[boot + 13] = 3 }),
            ("no reserved sectors", { $0.put16(boot + 14, 0) }),
            ("no FATs", { $0[boot + 16] = 0 }),
            ("FAT16 root entries", { $0.put16(boot + 17, 512) }),
            ("FAT size 0", { $0.put32(boot + 36, 0) }),
            ("FAT too small", { $0.put32(boot + 36, 8) }),
            ("FATs past the end", { $0.put32(boot + 36, 0x0100_0000) }),
            ("root cluster 0", { $0.put32(boot + 44, 0) }),
            ("root cluster past the end", { $0.put32(boot + 44, 0x00FF_FFFF) }),
        ]
        for (label, damage) in damages {
            var disk = base
            damage(&disk)
            #expect(throws: DiskError.corrupt, "\(label)") {
                _ = try FAT32Volume(try BlockRange(MemoryBlockDevice(bytes: disk), start: start, count: count), clock: fixedClock)
            }
        }
        // A partition shorter than the volume its BPB describes (a truncated disk): an I/O error at mount.
        #expect(throws: DiskError.io) {
            _ = try FAT32Volume(try BlockRange(MemoryBlockDevice(bytes: base), start: start, count: count - 100), clock: fixedClock)
        }
    }
}

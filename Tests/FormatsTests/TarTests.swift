// The ustar reader against archives written by GNU tar in its ustar, pax and gnu formats: every member's
// path, kind, size, link target and bytes must match the files that went in; damaged headers and
// truncated archives are errors.

import Foundation
import Testing
@testable import Formats

/// Makes a directory tree, archives it with GNU tar in `format`, and returns the archive and the tree's files.
func makeArchive(format: String) throws -> (archive: [UInt8], files: [String: [UInt8]], links: [String: String]) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("tar-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let tree = root.appendingPathComponent("tree")
    var files: [String: [UInt8]] = [:]
    var rng = Seeded(state: 0x7a4)
    let longDir = String(repeating: "d", count: 90) + "/" + String(repeating: "e", count: 40)
    let names = ["sbin/init", "bin/sh", "etc/init.conf", "empty", "\(longDir)/file-with-a-long-name.txt",
                 "a/" + String(repeating: "n", count: 140)]
    for (i, name) in names.enumerated() {
        // ustar cannot hold a 140-character last component; leave it out there.
        if format == "ustar" && name.hasPrefix("a/") { continue }
        let url = tree.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let size = name == "empty" ? 0 : [513, 100_000, 37, 0, 4096, 1][i]
        let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        try Data(bytes).write(to: url)
        files[name] = bytes
    }
    try FileManager.default.createSymbolicLink(atPath: tree.appendingPathComponent("bin/link").path,
                                               withDestinationPath: "sh")
    let archive = root.appendingPathComponent("out.tar")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
    p.arguments = ["--format=\(format)", "--sort=name", "-C", tree.path, "-cf", archive.path, "."]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "tar --format=\(format)")
    return (Array(try Data(contentsOf: archive)), files, ["bin/link": "sh"])
}

/// The path of an entry, without tar's leading "./".
func cleanPath(_ e: TarEntry) -> String {
    var s = String(decoding: e.path, as: UTF8.self)
    if s.hasPrefix("./") { s.removeFirst(2) }
    return s
}

@Suite("ustar reader")
struct TarTests {
    @Test("ustar, pax and gnu archives from GNU tar", arguments: ["ustar", "pax", "gnu"])
    func archives(format: String) throws {
        let (archive, files, links) = try makeArchive(format: format)
        let entries = try tarEntries(archive)
        var seen: [String: [UInt8]] = [:]
        for e in entries {
            let path = cleanPath(e)
            switch e.kind {
            case .file:
                seen[path] = Array(archive[e.dataOffset..<(e.dataOffset + e.size)])
            case .symlink:
                #expect(links[path] == String(decoding: e.linkTarget, as: UTF8.self))
            case .directory:
                #expect(e.size == 0)
            default:
                Issue.record("unexpected member \(path) of kind \(e.kind)")
            }
        }
        #expect(Set(seen.keys) == Set(files.keys))
        for (name, bytes) in files { #expect(seen[name] == bytes, "content of \(name)") }
        #expect(entries.contains { cleanPath($0) == "sbin" && $0.kind == .directory })
    }

    @Test("a damaged header is refused")
    func damagedHeader() throws {
        var (archive, _, _) = try makeArchive(format: "ustar")
        archive[0] ^= 0x01          // the first header's name: the checksum no longer matches
        #expect(throws: TarError.badChecksum) { try tarEntries(archive) }
        var sizes = try makeArchive(format: "ustar").archive
        sizes[124] = UInt8(ascii: "9")   // not an octal digit (the checksum is rewritten to match)
        rewriteChecksum(&sizes, header: 0)
        #expect(throws: TarError.badHeader) { try tarEntries(sizes) }
    }

    @Test("every truncation inside a member is an error")
    func truncations() throws {
        let archive = try makeArchive(format: "pax").archive
        let entries = try tarEntries(archive)
        let end = entries.map { $0.dataOffset + $0.size }.max()!
        for cut in Array(stride(from: 1, to: end, by: 97)) + entries.map({ $0.dataOffset }) + [end] {
            #expect(throws: TarError.self, "cut at \(cut)") { try tarEntries(Array(archive.prefix(cut))) }
        }
    }
}

/// Recomputes header `header`'s checksum field after a test changed its bytes.
func rewriteChecksum(_ archive: inout [UInt8], header: Int) {
    var sum = 0
    for i in 0..<512 { sum += (i >= 148 && i < 156) ? 32 : Int(archive[header + i]) }
    let digits = Array(String(sum, radix: 8).utf8)
    let field = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - digits.count) + digits + [0, 0x20]
    for (i, b) in field.enumerated() { archive[header + 148 + i] = b }
}

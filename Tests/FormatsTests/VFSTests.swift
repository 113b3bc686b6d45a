// vfs's pure parts: file URIs, the mount table, the fstab parser and the RAM file system.

import ABI
import Testing
@testable import Formats

@Suite("vfs: URIs, mounts, fstab, tmpfs")
struct VFSTests {
    func uri(_ s: String) throws(FileError) -> FileURI { try FileURI(parsing: Array(s.utf8)) }

    @Test("URIs and bare paths parse (repeated slashes count as one)")
    func uris() throws {
        #expect(try uri("initfs:///sbin/init") == FileURI(scheme: "initfs", components: ["sbin", "init"]))
        #expect(try uri("/etc/hosts") == FileURI(scheme: "fs", components: ["etc", "hosts"]))
        #expect(try uri("fs:///") == FileURI(scheme: "fs", components: []))
        #expect(try uri("//a/b//c/d/") == FileURI(scheme: "fs", components: ["a", "b", "c", "d"]))
        #expect(try uri("a-b.c+1:///x").scheme == "a-b.c+1")
        #expect(try uri("/dir:with:colons/x").components == ["dir:with:colons", "x"])
        #expect(try uri("initfs:///sbin/init").text == "initfs:///sbin/init")
    }

    @Test("malformed URIs are refused with their error", arguments: [
        ("", FileError.notFound), ("relative/path", .invalid), ("fs://host/x", .invalid), ("fs:/x", .invalid),
        ("Fs:///x", .invalid), ("1fs:///x", .invalid), (":///x", .invalid), ("f s:///x", .invalid),
        ("abcdefghijklmnopq:///x", .invalid), ("/a\u{0}b", .invalid),
        ("/a/./b", .invalid), ("/../x", .invalid), ("fs:///a/..", .invalid), ("/.", .invalid),
        ("/" + String(repeating: "n", count: 256), .nameTooLong), ("/" + String(repeating: "a/", count: 2100), .nameTooLong)])
    func malformedURIs(text: String, error: FileError) {
        #expect(throws: error) { try uri(text) }
    }

    @Test("the mount table picks the longest prefix of the URI's scheme")
    func mountTable() throws {
        var t = MountTable<String>()
        try t.mount(scheme: "fs", at: [], "root")
        try t.mount(scheme: "fs", at: ["tmp"], "tmp")
        try t.mount(scheme: "initfs", at: [], "initfs")
        #expect(throws: FileError.exists) { try t.mount(scheme: "fs", at: ["tmp"], "again") }
        func at(_ s: String) throws -> (String, [String]) { let r = try t.resolve(uri(s)); return (t.mounts[r.index].target, r.rest) }
        #expect(try at("/etc/hosts") == ("root", ["etc", "hosts"]))
        #expect(try at("/tmp/a/b") == ("tmp", ["a", "b"]))
        #expect(try at("/tmpx") == ("root", ["tmpx"]))
        #expect(try at("fs:///tmp") == ("tmp", []))
        #expect(try at("initfs:///sbin/pm") == ("initfs", ["sbin", "pm"]))
        #expect(throws: FileError.noServer) { try t.resolve(uri("disk:///x")) }
        #expect(try t.isMountPoint(uri("/tmp")))
        #expect(throws: FileError.busy) { _ = try t.unmount(scheme: "fs", at: []) }
        #expect(try t.unmount(scheme: "fs", at: ["tmp"]) == "tmp")
        #expect(try at("/tmp/a") == ("root", ["tmp", "a"]))
        #expect(throws: FileError.notFound) { _ = try t.unmount(scheme: "fs", at: ["tmp"]) }
    }

    @Test("fstab: entries, comments, defaults and refused lines with their numbers")
    func fstab() {
        let text = """
        # the root
        none   /        tmpfs  defaults  0 0
        \tnone fs:///tmp tmpfs size=1m,mode=1777   # a comment
        /dev/vda1 disk:///boot fat32

        bad-line only
        a /x t o 1 2 3
        a relative t
        a /y t o x
        a /z t ,o
        """
        let (entries, problems) = parseFstab(Array(text.utf8))
        #expect(entries.map { $0.line } == [2, 3, 4])
        #expect(entries[0] == FstabEntry(source: "none", mountPoint: FileURI(scheme: "fs", components: []), type: "tmpfs",
                                         options: ["defaults"], line: 2))
        #expect(entries[1].mountPoint.components == ["tmp"] && entries[1].options == ["size=1m", "mode=1777"])
        #expect(entries[2].mountPoint.scheme == "disk" && entries[2].options == ["defaults"] && entries[2].type == "fat32")
        #expect(problems.map { $0.line } == [6, 7, 8, 9, 10])
        #expect(parseFstab([]).entries.isEmpty && parseFstab([]).problems.isEmpty)
    }

    @Test("tmpfs: create, write, read, list, rename, unlink")
    func tmpfsBasics() throws {
        var fs = TmpFS()
        try fs.mkdir(["etc"])
        let n = try fs.open(["etc", "hosts"], [.write, .create])
        try fs.write(node: n, offset: 0, Array("127.0.0.1 localhost\n".utf8)[...])
        try fs.write(node: n, offset: 25, Array("x".utf8)[...])
        #expect(fs.stat(node: n).size == 26)
        #expect(Array(try fs.read(node: n, offset: 19, count: 100)) == [10, 0, 0, 0, 0, 0, UInt8(ascii: "x")])
        #expect(try fs.read(node: n, offset: 26, count: 10).isEmpty)
        fs.close(n)
        #expect(try fs.list(["etc"]).map { $0.name } == ["hosts"])
        try fs.mkdir(["etc", "b"]); try fs.mkdir(["etc", "a"])
        #expect(try fs.list(["etc"]).map { $0.name } == ["a", "b", "hosts"])
        #expect(try fs.list(["etc"]).map { $0.kind } == [.directory, .directory, .file])
        try fs.rename(["etc", "hosts"], ["etc", "a", "h"])
        #expect(throws: FileError.notFound) { try fs.lookup(["etc", "hosts"]) }
        #expect(fs.stat(node: try fs.lookup(["etc", "a", "h"])).size == 26)
        #expect(throws: FileError.notEmpty) { try fs.unlink(["etc", "a"]) }
        try fs.unlink(["etc", "a", "h"])
        try fs.unlink(["etc", "a"])
        #expect(fs.used == 0)
    }

    @Test("tmpfs: POSIX errors")
    func tmpfsErrors() throws {
        var fs = TmpFS(capacity: 100)
        try fs.mkdir(["d"])
        try fs.mkdir(["d", "sub"])
        fs.close(try fs.open(["f"], [.write, .create]))
        #expect(throws: FileError.exists) { try fs.mkdir(["d"]) }
        #expect(throws: FileError.exists) { _ = try fs.open(["f"], [.write, .create, .exclusive]) }
        #expect(throws: FileError.notFound) { _ = try fs.open(["g"], [.read]) }
        #expect(throws: FileError.notFound) { _ = try fs.open(["no", "g"], [.write, .create]) }
        #expect(throws: FileError.notDirectory) { _ = try fs.open(["f", "g"], [.write, .create]) }
        #expect(throws: FileError.isDirectory) { _ = try fs.open(["d"], [.write]) }
        #expect(throws: FileError.invalid) { _ = try fs.open(["f"], [.read, .truncate]) }
        #expect(throws: FileError.invalid) { _ = try fs.open(["f"], OpenFlags(rawValue: 1 << 9)) }
        #expect(throws: FileError.invalid) { try fs.unlink([]) }
        #expect(throws: FileError.invalid) { try fs.rename(["d"], ["d", "sub", "x"]) }
        #expect(throws: FileError.isDirectory) { try fs.rename(["f"], ["d"]) }
        #expect(throws: FileError.notDirectory) { try fs.rename(["d"], ["f"]) }
        try fs.mkdir(["e"])
        #expect(throws: FileError.notEmpty) { try fs.rename(["e"], ["d"]) }
        try fs.rename(["e"], ["d", "sub"])      // a directory onto an empty directory
        let n = try fs.open(["f"], [.write])
        #expect(throws: FileError.noSpace) { try fs.write(node: n, offset: 90, Array(repeating: 1, count: 11)[...]) }
        try fs.write(node: n, offset: 90, Array(repeating: 1, count: 10)[...])
        #expect(fs.used == 100)
        #expect(throws: FileError.tooLarge) { try fs.write(node: n, offset: Int.max, [1][...]) }
        #expect(throws: FileError.isDirectory) { _ = try fs.read(node: try fs.lookup(["d"]), offset: 0, count: 1) }
        fs.close(n)
    }

    @Test("tmpfs: an unlinked open file stays readable until closed; a rename replaces a file")
    func tmpfsLifetimes() throws {
        var fs = TmpFS()
        let live = fs.liveNodes
        let n = try fs.open(["a"], [.read, .write, .create])
        try fs.write(node: n, offset: 0, [1, 2, 3][...])
        try fs.unlink(["a"])
        #expect(Array(try fs.read(node: n, offset: 0, count: 3)) == [1, 2, 3])
        #expect(throws: FileError.notFound) { try fs.lookup(["a"]) }
        fs.close(n)
        #expect(fs.liveNodes == live && fs.used == 0)
        let b = try fs.open(["b"], [.write, .create]); try fs.write(node: b, offset: 0, [9, 9][...]); fs.close(b)
        let c = try fs.open(["c"], [.write, .create]); try fs.write(node: c, offset: 0, [7][...]); fs.close(c)
        try fs.rename(["c"], ["b"])
        #expect(fs.used == 1 && fs.liveNodes == live + 1)
        let t = try fs.open(["b"], [.write, .truncate])
        #expect(fs.stat(node: t).size == 0 && fs.used == 0)
        fs.close(t)
    }

    @Test("tmpfs: directories open with .directory, entries with sizes, rmdir and unlink flags")
    func tmpfsDirectoryRules() throws {
        var fs = TmpFS()
        try fs.mkdir(["d"])
        let f = try fs.open(["d", "f"], [.write, .create])
        try fs.write(node: f, offset: 0, [1, 2, 3][...])
        fs.close(f)
        #expect(throws: FileError.isDirectory) { _ = try fs.open(["d"], [.read]) }
        #expect(throws: FileError.notDirectory) { _ = try fs.open(["d", "f"], [.read, .directory]) }
        #expect(throws: FileError.invalid) { _ = try fs.open(["d"], [.read, .directory, .create]) }
        #expect(throws: FileError.invalid) { _ = try fs.open(["d", "f"], [.create]) }
        let d = try fs.open(["d"], [.read, .directory])
        let entries = try fs.entries(node: d)
        #expect(entries.count == 1 && entries[0].name == "f" && entries[0].kind == .file && entries[0].size == 3)
        #expect(throws: FileError.notDirectory) { _ = try fs.entries(node: try fs.lookup(["d", "f"])) }
        fs.close(d)
        #expect(throws: FileError.isDirectory) { try fs.unlink(["d"], directory: false) }
        #expect(throws: FileError.notDirectory) { try fs.unlink(["d", "f"], directory: true) }
        try fs.unlink(["d", "f"], directory: false)
        try fs.unlink(["d"], directory: true)
        #expect(fs.liveNodes == 1)
    }

    @Test("scheme names and process records")
    func wireFormats() {
        #expect(FileURI.isScheme(Array("abcdefghijklmnop".utf8)[...]))
        #expect(!FileURI.isScheme(Array(repeating: 97, count: 17)[...]))
        let r = ProcessRecord(id: 7, parent: 3, state: .exited, threads: 2, pages: 99, status: ExitCode.fault(vector: 14),
                              name: Array("a-very-long-program-name-indeed".utf8))
        #expect(r.bytes.count == ProcessRecord.size)
        #expect(ProcessRecord(r.bytes[...]) == r)
        #expect(r.name.count == ProcessRecord.nameBytes)
        #expect(ProcessRecord(r.bytes.dropLast()) == nil)
    }
}

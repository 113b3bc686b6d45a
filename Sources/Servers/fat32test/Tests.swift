// The checks fat32test runs against fsd.fat32 (see Main.swift).

let fat32Tests: [(StaticString, (Rig) throws(FileError) -> Void)] = [
    ("fat32.write_read_window", testWindow),
    ("fat32.write_read_bytes", testBytes),
    ("fat32.big_file_hash", testBigFile),
    ("fat32.long_names", testLongNames),
    ("fat32.rename_unlink_dirs", testRenameUnlink),
    ("fat32.thousand_entries", testThousand),
    ("fat32.malformed", testMalformed),
    ("fat32.connect_share_statfs", testConnections),
    ("fat32.restart_keeps_files", testRestart),
    ("fat32.full_disk", testFullDisk),
    ("fat32.malformed_stream", testMalformedStream),
    ("fat32.damaged_disk", testDamagedDisk),
]

func service(_ rig: Rig) throws(FileError) -> FileService {
    guard let fs = rig.fs else { throw .noServer }
    do throws(SysError) { try fs.adopt() } catch { throw .noServer }
    return fs
}

/// Deterministic bytes: a pattern that differs per file and per position.
func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = SplitMix64(seed: seed)
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        let v = state.next()
        var k = 0
        while k < 8 && i < count { out[i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))); i += 1; k += 1 }
    }
    return out
}

func testWindow(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    let data = pattern(100_000, seed: 1)
    let f = try fs.open("/window.bin", [.read, .write, .create], window: 64 * 1024)
    var at = 0
    while at < data.count {
        let n = try f.write(Array(data[at..<min(data.count, at + 64 * 1024)]))
        check(n > 0, "write returned 0")
        if n == 0 { return }
        at += n
    }
    try f.close()
    check(try fs.stat("/window.bin").size == 100_000, "size after writing")
    check(try fs.readFile("/window.bin") == data, "read back through a window")
    check(try fs.stat("fat32:///window.bin").modified >= 1_767_225_600, "modification time from the clock")
}

func testBytes(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    let f = try fs.open("/bytes.txt", [.read, .write, .create])
    let text = Array("hello through IPC bytes\n".utf8)
    check(try f.write(text) == text.count, "write")
    try f.seek(0)
    check(try f.read(count: 100) == text, "read back")
    try f.seek(6)
    check(try f.write(Array("THROUGH".utf8)) == 7, "overwrite")
    try f.seek(0, from: .start)
    check(try f.read(count: 100) == Array("hello THROUGH IPC bytes\n".utf8), "read after overwrite")
    try f.close()
    let a = try fs.open("/bytes.txt", [.write, .append])
    _ = try a.write(Array("more".utf8))
    try a.close()
    check(try fs.readFile("/bytes.txt") == Array("hello THROUGH IPC bytes\nmore".utf8), "append")
    let t = try fs.open("/bytes.txt", [.write, .truncate])
    try t.close()
    check(try fs.stat("/bytes.txt").size == 0, "truncate on open")
    expectError(.exists, "exclusive create of an existing file") { () throws(FileError) in
        try fs.open("/bytes.txt", [.write, .create, .exclusive])
    }
}

func testBigFile(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    let size = 3 << 20
    let data = pattern(size, seed: 3)
    let expected = data.withUnsafeBytes { xxHash64($0) }
    let f = try fs.open("/big file.bin", [.write, .create, .truncate], window: 1 << 20)
    var at = 0
    while at < size {
        let n = try f.write(Array(data[at..<min(size, at + (1 << 20))]))
        if n == 0 { check(false, "write returned 0"); return }
        at += n
    }
    try f.close()
    let back = try fs.readFile("/big file.bin")
    check(back.count == size, "size \(back.count)")
    check(back.withUnsafeBytes { xxHash64($0) } == expected, "xxHash64 of the data read back")
}

func testLongNames(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    let names = ["A long file name with spaces.text", "ünïcødé ✓ name.md", "x.y.z.multiple.dots", "lower.txt",
                 String(repeating: "L", count: 200)]
    for (i, name) in names.enumerated() {
        let f = try fs.open("/" + name, [.write, .create])
        _ = try f.write(Array("file \(i)".utf8))
        try f.close()
    }
    let listed = try fs.list("/").map { $0.name }
    for name in names { check(listed.contains(name), "readdir lists \(name)") }
    check(try fs.readFile("/a LONG file NAME with SPACES.TEXT") == Array("file 0".utf8), "lookup ignores ASCII case")
    check(try fs.readFile("/" + names[1]) == Array("file 1".utf8), "a Unicode name")
    expectError(.nameTooLong, "a 256-character name") { () throws(FileError) in
        try fs.open("/" + String(repeating: "n", count: 256), [.write, .create])
    }
    expectError(.invalid, "a name with a colon") { () throws(FileError) in try fs.open("/a:b", [.write, .create]) }
}

func testRenameUnlink(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    try fs.mkdir("/docs")
    try fs.mkdir("/docs/inner")
    let f = try fs.open("/docs/draft.txt", [.write, .create])
    _ = try f.write(Array("draft".utf8))
    try f.close()
    try fs.rename("/docs/draft.txt", to: "/docs/inner/Final Version.txt")
    expectError(.notFound, "the old name after rename") { () throws(FileError) in try fs.stat("/docs/draft.txt") }
    check(try fs.readFile("/docs/inner/Final Version.txt") == Array("draft".utf8), "read under the new name")
    try fs.rename("/docs/inner", to: "/moved")
    check(try fs.readFile("/moved/Final Version.txt") == Array("draft".utf8), "a moved directory keeps its files")
    expectError(.invalid, "moving a directory into itself") { () throws(FileError) in try fs.rename("/moved", to: "/moved/x") }
    expectError(.notEmpty, "rmdir of a full directory") { () throws(FileError) in try fs.unlink("/moved", .directory) }
    expectError(.isDirectory, "unlink of a directory without the flag") { () throws(FileError) in try fs.unlink("/moved") }
    try fs.unlink("/moved/Final Version.txt")
    expectError(.notFound, "a deleted file") { () throws(FileError) in try fs.stat("/moved/Final Version.txt") }
    try fs.unlink("/moved", .directory)
    try fs.unlink("/docs", .directory)
    expectError(.notFound, "a removed directory") { () throws(FileError) in try fs.stat("/docs") }
    expectError(.exists, "mkdir of an existing name") { () throws(FileError) in try fs.mkdir("/window.bin") }
}

func testThousand(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    try fs.mkdir("/many")
    for i in 0..<1000 {
        let f = try fs.open("/many/entry \(i).dat", [.write, .create, .exclusive])
        try f.close()
    }
    let listed = try fs.list("/many")
    check(listed.count == 1000, "1000 entries listed, got \(listed.count)")
    check(listed.first?.name == "entry 0.dat" && listed.last?.name == "entry 999.dat", "entries in creation order")
    check(try fs.stat("/many/ENTRY 517.DAT").size == 0, "one of them found by name")
}

func testMalformed(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    expectError(.badMessage, "an open without its words") { () throws(FileError) in _ = try fs.call(.open, []) }
    expectError(.badFile, "a file id never opened") { () throws(FileError) in _ = try fs.call(.read, [12345, 10, 0]) }
    expectError(.invalid, "a `..` component") { () throws(FileError) in try fs.stat("/many/../window.bin") }
    expectError(.noServer, "another scheme") { () throws(FileError) in try fs.stat("initfs:///etc/init.conf") }
    expectError(.invalid, "a relative path") { () throws(FileError) in try fs.stat("window.bin") }
    expectError(.notDirectory, "a path through a file") { () throws(FileError) in try fs.stat("/window.bin/x") }
    let f = try fs.open("/window.bin", .read)
    expectError(.accessDenied, "a write to a file opened for reading") { () throws(FileError) in _ = try f.write([1, 2, 3]) }
    expectError(.invalid, "a read longer than the IPC bytes") { () throws(FileError) in _ = try fs.call(.read, [f.id, 100_000, 0]) }
    try f.close()
    check(try fs.stat("/window.bin").size == 100_000, "the server still answers")
}

func testRestart(_ rig: Rig) throws(FileError) {
    let before = try service(rig).readFile("/window.bin")
    rig.stop()
    // With fsd.fat32 gone, FSInfo's free count equals a count of the FAT's free entries (the core
    // recounts at mount).
    do throws(DiskError) {
        let volume = try FAT32Volume(rig.disk, clock: { 0 })
        let recorded = rig.disk.pointer(1).load(fromByteOffset: 488, as: UInt32.self)
        check(recorded == volume.freeCount, "FSInfo free count \(recorded), FAT says \(volume.freeCount)")
    } catch {
        check(false, "mounting the disk in-process failed")
    }
    do throws(SysError) { try rig.start() } catch { check(false, "restart: \(text(error.name))"); return }
    let fs = try service(rig)
    check(try fs.readFile("/window.bin") == before, "a file written before the restart")
    check(try fs.list("/many").count == 1000, "the directory of 1000 entries")
}

func testFullDisk(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    let f = try fs.open("/filler", [.write, .create], window: 1 << 20)
    let chunk = [UInt8](repeating: 0xA5, count: 1 << 20)
    var got: FileError? = nil
    var total = 0
    for _ in 0..<64 {
        do throws(FileError) { total += try f.write(chunk) } catch { got = error; break }
    }
    check(got == .noSpace, "a full disk answers noSpace, got \(got.map { text($0.name) } ?? "no error after \(total) bytes")")
    try f.close()
    try fs.unlink("/filler")
    let g = try fs.open("/after", [.write, .create])
    check(try g.write(Array("space again".utf8)) == 11, "writing after freeing space")
    try g.close()
}

/// A chain loop in the FAT and a bad BPB: fsd.fat32 answers errors (or refuses to start), never traps.
func testDamagedDisk(_ rig: Rig) throws(FileError) {
    rig.stop()
    let boot = rig.disk.pointer(0)
    let reserved = UInt64(boot.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
    let fatSectors = UInt64(boot.loadUnaligned(fromByteOffset: 36, as: UInt32.self))
    // window.bin's third cluster points back at its first.
    do throws(DiskError) {
        let volume = try FAT32Volume(rig.disk, clock: { 0 })
        let node = try volume.lookup([Array("window.bin".utf8)])
        let chain = try volume.chain(node.firstCluster)
        guard chain.count > 3 else { check(false, "window.bin has \(chain.count) clusters"); return }
        for copy in 0..<UInt64(2) {
            let at = (reserved + copy * fatSectors) * 512 + UInt64(chain[2]) * 4
            rig.disk.pointer(0).storeBytes(of: chain[0], toByteOffset: Int(at), as: UInt32.self)
        }
    } catch {
        check(false, "mounting the disk in-process failed")
        return
    }
    do throws(SysError) { try rig.start() } catch { check(false, "restart: \(text(error.name))"); return }
    let fs = try service(rig)
    expectError(.io, "reading a file whose chain loops") { () throws(FileError) in try fs.readFile("/window.bin") }
    check(try fs.readFile("/after") == Array("space again".utf8), "other files still read")
    expectError(.io, "deleting a file whose chain loops") { () throws(FileError) in try fs.unlink("/window.bin") }
    // A boot sector with 700-byte sectors: fsd.fat32 refuses the volume at the first request and answers
    // every request that needs it with EIO; it keeps running (connect still works).
    rig.stop()
    boot.storeBytes(of: UInt16(700).littleEndian, toByteOffset: 11, as: UInt16.self)
    do throws(SysError) { try rig.start() } catch { check(false, "start on a bad BPB: \(text(error.name))"); return }
    expectError(.io, "a file server that refused the volume") { () throws(FileError) in try service(rig).stat("/after") }
    expectError(.io, "the second request") { () throws(FileError) in try service(rig).open("/after", .read) }
    let c = try service(rig).connect()
    _ = try? handleClose(c)
    rig.stop()
}

/// statfs by path and by id; connect gives a badge of its own (ids do not cross); share hands one open
/// file to a new connection (one position), which may go while the original id still works.
func testConnections(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    let sf = try fs.call(.statfs, [], bytes: try fs.putPath("/"))
    check(sf.words.2 == 512 && sf.words.0 > sf.words.1 && sf.words.1 > 0 && sf.words.0 > 10 << 20,
          "statfs: size \(sf.words.0), free \(sf.words.1), cluster \(sf.words.2)")
    expectError(.notFound, "statfs of a missing path") { () throws(FileError) in try fs.call(.statfs, [], bytes: try fs.putPath("/nope/x")) }
    let f = try fs.open("/shared.txt", [.read, .write, .create, .truncate])
    check(try f.write(Array("0123456789".utf8)) == 10, "write /shared.txt")
    _ = try f.seek(0)
    let byID = try fs.call(.statfs, [f.id])
    check(byID.words.0 == sf.words.0 && byID.words.2 == 512, "statfs by id")
    expectError(.badFile, "statfs of a bad id") { () throws(FileError) in try fs.call(.statfs, [f.id + 1000]) }
    // connect: a badge of its own.
    let c = try fs.connect()
    do {
        let other: FileService
        do throws(SysError) { other = try FileService(c) } catch { check(false, "client on the connection"); return }
        expectError(.badFile, "another connection's id") { () throws(FileError) in try other.call(.stat, [f.id]) }
        check(try other.readFile("/shared.txt") == Array("0123456789".utf8), "reading through a connection")
    }
    _ = try? handleClose(c)
    // share: the same open file (one position) through a new connection.
    _ = try service(rig)
    let r = try fs.call(.share, [f.id])
    check(r.tag.handles == 1, "share: \(r.tag.handles) handles")
    let sharedSender = fs.page.handle(0)
    do {
        let s: FileService
        do throws(SysError) { s = try FileService(sharedSender) } catch { check(false, "client on the share"); return }
        let shared = OpenFile(service: s, id: r.words.0, size: 10, kind: .file, window: nil, windowAddress: 0, windowSize: 0)
        check(try shared.read(count: 4) == Array("0123".utf8), "reading through the share")
        expectError(.badFile, "the original id through the share") { () throws(FileError) in try s.call(.stat, [f.id]) }
        _ = try service(rig)
        check(try f.read(count: 3) == Array("456".utf8), "the original id after the share read: one position")
        _ = try? s.adopt()
        try shared.close()
        expectError(.badFile, "the shared id after its close") { () throws(FileError) in try s.call(.stat, [r.words.0]) }
    }
    _ = try? handleClose(sharedSender)
    _ = try service(rig)
    check(try f.read(count: 3) == Array("789".utf8), "the original id after the share is gone")
    expectError(.badFile, "share of a bad id") { () throws(FileError) in try fs.call(.share, [f.id + 1000]) }
    expectError(.notSupported, "map") { () throws(FileError) in try fs.call(.map, [], bytes: try fs.putPath("/shared.txt")) }
    try f.close()
}

/// 400 seeded random requests (labels, words, path bytes with and without the scheme); fsd.fat32 answers
/// each, still serves, and leaves FSInfo's free count equal to the FAT's.
func testMalformedStream(_ rig: Rig) throws(FileError) {
    let fs = try service(rig)
    let kept = try fs.readFile("/window.bin")   // a path the stream never names
    var rng = SplitMix64(seed: 0xF5D)
    let paths = ["/after", "/many/entry 3.dat", "/new", "/x/y", "fat32:///z", "/", "//", "/a\u{0}b", "relative", "/.."]
    for _ in 0..<400 {
        let label = UInt32(rng.next() % 13)
        var words: [UInt64] = []
        for _ in 0..<Int(rng.next() % 5) { words.append(rng.next() % 3 == 0 ? rng.next() : rng.next() % 8) }
        var bytes = 0
        if rng.next() % 2 == 0 {
            let path = Array(paths[Int(rng.next() % UInt64(paths.count))].utf8)
            bytes = path.count
            path.withUnsafeBytes { _ = fs.page.put($0) }
        } else if rng.next() % 4 == 0 {
            bytes = Int(rng.next() % 64)
            for k in 0..<bytes { _ = [UInt8(truncatingIfNeeded: rng.next())].withUnsafeBytes { fs.page.put($0, at: k) } }
        }
        var m = IPCMessage(tag: IPCTag(words: words.count, bytes: bytes, label: label))
        if words.count > 0 { m.words.0 = words[0] }
        if words.count > 1 { m.words.1 = words[1] }
        if words.count > 2 { m.words.2 = words[2] }
        if words.count > 3 { m.words.3 = words[3] }
        do throws(SysError) { _ = try senderCall(fs.sender, m) } catch {
            check(false, "the call failed: \(text(error.name))")
            return
        }
    }
    check(try fs.readFile("/window.bin") == kept, "the server still reads files")
    rig.stop()
    do throws(DiskError) {
        let volume = try FAT32Volume(rig.disk, clock: { 0 })
        let recorded = rig.disk.pointer(1).load(fromByteOffset: 488, as: UInt32.self)
        check(recorded == volume.freeCount, "FSInfo free count \(recorded), FAT says \(volume.freeCount)")
    } catch {
        check(false, "mounting the disk in-process failed")
    }
    do throws(SysError) { try rig.start() } catch { check(false, "restart: \(text(error.name))") }
}

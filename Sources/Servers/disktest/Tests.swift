// The checks disktest runs on the virtio disk (see Main.swift). What the host looks for afterwards
// (DiskTests): /guest/data.bin (200,000 bytes, pattern seed 1), /guest/big.bin (5 MiB, seed 2, its
// xxHash64 printed), /guest/renamed.txt ("renamed\n"; /guest/before.txt and /guest/gone.txt gone),
// /guest/many/ (1,000 files `entry NNNN.txt` holding "NNNN"), the long names below, and no /guest/fill.bin.

let diskTests: [(StaticString, (FileService) throws(FileError) -> Void)] = [
    ("disk.host_files", testHostFiles),
    ("disk.statfs", testStatfs),
    ("disk.write_read_back", testWriteRead),
    ("disk.big_file_hash", testBigFile),
    ("disk.rename_delete", testRenameDelete),
    ("disk.long_names", testLongNames),
    ("disk.thousand_entries", testThousand),
    ("disk.full_disk", testFullDisk),
]

/// Deterministic bytes: SplitMix64 words, little-endian (DiskTests makes the same).
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

/// The long names disktest creates in /guest (DiskTests lists them with mtools).
let longNames = ["A long file name with spaces.text", "Grüße aus dem Gast ✓.md", String(repeating: "L", count: 200)]

/// Writes `data` to `path` through a window of `window` bytes.
func writeFile(_ fs: FileService, _ path: String, _ data: [UInt8], window: Int = 1 << 20) throws(FileError) {
    let f = try fs.open(path, [.write, .create, .truncate], window: UInt64(window))
    var at = 0
    while at < data.count {
        let n = try f.write(Array(data[at..<min(data.count, at + window)]))
        if n == 0 { throw .io }
        at += n
    }
    try f.close()
}

func testHostFiles(_ fs: FileService) throws(FileError) {
    check(try fs.readFile("/hello.txt") == Array("hello from the host\n".utf8), "/hello.txt as the host wrote it")
    check(try fs.readFile("fat32:///docs/A long name from the host.txt") == Array("long\n".utf8), "a long name the host wrote")
    let root = try fs.list("/").map { $0.name }
    check(root.contains("hello.txt") && root.contains("docs"), "readdir of /: \(root)")
    try fs.mkdir("/guest")
}

func testStatfs(_ fs: FileService) throws(FileError) {
    let r = try fs.call(.statfs, [], bytes: try fs.putPath("/"))
    check(r.words.2 == 512, "cluster size \(r.words.2)")
    check(r.words.0 >= 30 << 20 && r.words.0 <= 40 << 20, "size \(r.words.0)")
    check(r.words.1 > 0 && r.words.1 < r.words.0, "free \(r.words.1) of \(r.words.0)")
    print("disktest: statfs \(r.words.0) bytes, \(r.words.1) free, \(r.words.2)-byte clusters")
}

func testWriteRead(_ fs: FileService) throws(FileError) {
    let data = pattern(200_000, seed: 1)
    try writeFile(fs, "/guest/data.bin", data, window: 64 << 10)
    check(try fs.stat("/guest/data.bin").size == 200_000, "size after writing")
    check(try fs.readFile("/guest/data.bin") == data, "read back")
    let f = try fs.open("/guest/data.bin", .read)
    try f.seek(150_000)
    check(try f.read(count: 16) == Array(data[150_000..<150_016]), "read at an offset (IPC bytes)")
    try f.close()
}

func testBigFile(_ fs: FileService) throws(FileError) {
    let data = pattern(5 << 20, seed: 2)
    let expected = data.withUnsafeBytes { xxHash64($0) }
    try writeFile(fs, "/guest/big.bin", data)
    let back = try fs.readFile("/guest/big.bin")
    check(back.count == data.count, "size \(back.count)")
    check(back.withUnsafeBytes { xxHash64($0) } == expected, "xxHash64 of the data read back")
    print("disktest: big.bin xxhash64 \(String(expected, radix: 16))")
}

func testRenameDelete(_ fs: FileService) throws(FileError) {
    try writeFile(fs, "/guest/before.txt", Array("renamed\n".utf8))
    try fs.rename("/guest/before.txt", to: "/guest/renamed.txt")
    expectError(.notFound, "the old name after rename") { () throws(FileError) in try fs.stat("/guest/before.txt") }
    check(try fs.readFile("/guest/renamed.txt") == Array("renamed\n".utf8), "the new name")
    try writeFile(fs, "/guest/gone.txt", pattern(10_000, seed: 9))
    try fs.unlink("/guest/gone.txt")
    expectError(.notFound, "a deleted file") { () throws(FileError) in try fs.stat("/guest/gone.txt") }
    try fs.mkdir("/guest/dir")
    try writeFile(fs, "/guest/dir/x", [1])
    expectError(.notEmpty, "rmdir of a directory with a file") { () throws(FileError) in try fs.unlink("/guest/dir", .directory) }
    try fs.unlink("/guest/dir/x")
    try fs.unlink("/guest/dir", .directory)
    expectError(.notFound, "a removed directory") { () throws(FileError) in try fs.stat("/guest/dir") }
}

func testLongNames(_ fs: FileService) throws(FileError) {
    for (i, name) in longNames.enumerated() { try writeFile(fs, "/guest/" + name, Array("long \(i)\n".utf8)) }
    let listed = try fs.list("/guest").map { $0.name }
    for name in longNames { check(listed.contains(name), "readdir lists \(name)") }
    check(try fs.readFile("/guest/a LONG file name WITH spaces.TEXT") == Array("long 0\n".utf8), "lookup ignores ASCII case")
    expectError(.nameTooLong, "a 256-byte name") { () throws(FileError) in
        try fs.open("/guest/" + String(repeating: "n", count: 256), [.write, .create])
    }
}

func testThousand(_ fs: FileService) throws(FileError) {
    try fs.mkdir("/guest/many")
    for i in 0..<1000 {
        let digits = String(i)
        let n = String(repeating: "0", count: 4 - digits.count) + digits
        let f = try fs.open("/guest/many/entry \(n).txt", [.write, .create, .exclusive])
        _ = try f.write(Array(n.utf8))
        try f.close()
    }
    let names = try fs.list("/guest/many").map { $0.name }
    check(names.count == 1000, "\(names.count) entries listed")
    check(names.contains("entry 0000.txt") && names.contains("entry 0999.txt"), "first and last entry listed")
    check(try fs.readFile("/guest/many/entry 0500.txt") == Array("0500".utf8), "an entry's contents")
}

/// Fills the volume until ENOSPC, checks nothing more fits, then deletes the filler: the free space is
/// back (statfs) and the host's fsck finds the volume clean.
func testFullDisk(_ fs: FileService) throws(FileError) {
    let chunk = pattern(1 << 20, seed: 7)
    let f = try fs.open("/guest/fill.bin", [.write, .create, .truncate], window: 1 << 20)
    // Measured after the create: the directory may have grown by a cluster for the entry.
    let free = try fs.call(.statfs, [], bytes: try fs.putPath("/")).words.1
    var total: UInt64 = 0
    var got: FileError? = nil
    while total <= free + (1 << 20) {
        do throws(FileError) {
            let n = try f.write(chunk)
            if n == 0 { break }
            total += UInt64(n)
        } catch {
            got = error
            break
        }
    }
    check(got == .noSpace, "a full disk answers noSpace, got \(got.map { text($0.name) } ?? "no error after \(total) bytes")")
    check(total + (1 << 20) > free, "wrote \(total) of \(free) free bytes before noSpace")
    let after = try fs.call(.statfs, [], bytes: try fs.putPath("/")).words.1
    check(after < 1 << 20, "free after filling: \(after)")
    expectError(.noSpace, "a new file's data on a full disk") { () throws(FileError) in
        try writeFile(fs, "/guest/more.bin", chunk, window: 1 << 20)
    }
    try f.close()
    try? fs.unlink("/guest/more.bin")
    try fs.unlink("/guest/fill.bin")
    let back = try fs.call(.statfs, [], bytes: try fs.putPath("/")).words.1
    check(back == free, "free after deleting the filler: \(back), before \(free)")
}

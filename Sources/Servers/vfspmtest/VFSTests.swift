// vfs through the file protocol: tmpfs files at fs:/// (with and without a data window), open flags,
// directories, errors, a large file, initfs files through vfs, share, mounts (permissions, forwarding to
// a second vfs, unmount while busy), statfs, and connections dropped when their Sender goes.

typealias GuestTest = (StaticString, (Context) throws(ServiceError) -> Void)
typealias FileTest = (StaticString, (Context) throws(FileError) -> Void)

let vfsTests: [FileTest] = [
    ("vfs.create_write_read", testCreateWriteRead),
    ("vfs.open_flags", testOpenFlags),
    ("vfs.directories_rename_unlink", testDirectories),
    ("vfs.errors", testVFSErrors),
    ("vfs.large_file", testLargeFile),
    ("vfs.initfs_through_vfs", testInitfsThroughVFS),
    ("vfs.share", testShare),
    ("vfs.mount_permissions_and_forwarding", testMountForwarding),
    ("vfs.statfs", testStatfs),
    ("vfs.fstab_tmpfs", testFstabTmpfs),
    ("vfs.closed_connections_dropped", testClosedConnectionsDropped),
]

/// A raw request through `to` (words, `bytes` message bytes already in `s`'s page); the reply's label.
func rawCall(_ s: FileService, _ label: UInt32, _ words: [UInt64], bytes: Int = 0, through to: Handle? = nil) -> UInt32 {
    try? s.adopt()
    var m = IPCMessage(tag: IPCTag(words: words.count, bytes: bytes, label: label))
    if words.count > 0 { m.words.0 = words[0] }
    if words.count > 1 { m.words.1 = words[1] }
    if words.count > 2 { m.words.2 = words[2] }
    if words.count > 3 { m.words.3 = words[3] }
    guard let reply = try? senderCall(to ?? s.sender, m) else { return UInt32.max }
    return reply.tag.label
}

func testCreateWriteRead(_ c: Context) throws(FileError) {
    let f = try c.fs.open("fs:///hello.txt", [.read, .write, .create])
    check(try f.write(Array("hello, world".utf8)) == 12, "write count")
    let st = try f.stat()
    check(st.size == 12 && st.kind == .file, "stat by id after the write")
    check(try f.seek(7) == 7, "seek from the start")
    check(try f.read(count: 100) == Array("world".utf8), "read after seek")
    check(try f.read(count: 100).isEmpty, "read at the end")
    check(try f.seek(-5, from: .end) == 7, "seek from the end")
    check(try f.seek(2, from: .current) == 9, "seek from the position")
    expectFileError(.invalid, "seek before the start") { () throws(FileError) in try f.seek(-100, from: .current) }
    try f.close()
    check(rawCall(c.fs, FileLabel.read.rawValue, [f.id, 1, 0]) == FileError.badFile.rawValue, "read after close")
    check(try readFile(c.fs, "/hello.txt") == Array("hello, world".utf8), "read through a bare path")
    check(try readFile(c.fs, "/hello.txt", window: 4096) == Array("hello, world".utf8), "read through a window")
    let s = try c.fs.stat("fs:///hello.txt")
    check(s.kind == .file && s.size == 12, "stat by path")
    try c.fs.unlink("/hello.txt")
}

func testOpenFlags(_ c: Context) throws(FileError) {
    let fs = c.fs
    try writeFile(fs, "/flags", Array("abc".utf8))
    expectFileError(.exists, "create+exclusive on an existing file") { () throws(FileError) in
        try c.fs.open("/flags", [.write, .create, .exclusive])
    }
    try c.fs.open("/flags2", [.write, .create, .exclusive]).close()
    let ap = try c.fs.open("/flags", [.write, .append])
    _ = try ap.seek(0)
    _ = try ap.write(Array("de".utf8))
    try ap.close()
    check(try readFile(c.fs, "/flags") == Array("abcde".utf8), "append writes at the end")
    let ro = try c.fs.open("/flags", .read)
    expectFileError(.accessDenied, "write on a file opened for reading") { () throws(FileError) in try ro.write([1]) }
    try ro.close()
    let wo = try c.fs.open("/flags", .write)
    expectFileError(.accessDenied, "read on a file opened for writing") { () throws(FileError) in try wo.read(count: 1) }
    try wo.close()
    let tr = try c.fs.open("/flags", [.write, .truncate])
    check(try tr.stat().size == 0, "truncate empties the file")
    try tr.close()
    expectFileError(.invalid, "truncate without write") { () throws(FileError) in try c.fs.open("/flags", [.read, .truncate]) }
    expectFileError(.invalid, "unknown flag bits") { () throws(FileError) in try c.fs.open("/flags", OpenFlags(rawValue: 1 << 40)) }
    expectFileError(.invalid, "neither read nor write") { () throws(FileError) in try c.fs.open("/flags", [.create]) }
    expectFileError(.notDirectory, "a file opened as a directory") { () throws(FileError) in try c.fs.open("/flags", [.read, .directory]) }
    expectFileError(.isDirectory, "a directory opened as a file") { () throws(FileError) in try c.fs.open("/bin", .read) }
    try c.fs.unlink("/flags")
    try c.fs.unlink("/flags2")
}

func testDirectories(_ c: Context) throws(FileError) {
    try c.fs.mkdir("/d")
    try c.fs.mkdir("fs:///d/sub")
    try writeFile(c.fs, "/d/b", [2])
    try writeFile(c.fs, "/d/a", [1, 1])
    let listed = try c.fs.list("/d")
    check(listed.map { $0.name } == ["a", "b", "sub"], "readdir order: \(listed.map { $0.name })")
    check(listed.map { $0.kind } == [.file, .file, .directory] && listed.map { $0.size } == [2, 1, 0], "readdir kinds and sizes")
    try c.fs.rename("/d/a", to: "/d/sub/moved")
    check(try c.fs.list("/d/sub").map { $0.name } == ["moved"], "rename into a subdirectory")
    check(try readFile(c.fs, "/d/sub/moved") == [1, 1], "a renamed file keeps its bytes")
    try c.fs.rename("/d/b", to: "/d/sub/moved")
    check(try readFile(c.fs, "/d/sub/moved") == [2], "rename replaces a file")
    expectFileError(.notEmpty, "remove a directory with entries") { () throws(FileError) in try c.fs.unlink("/d", .directory) }
    expectFileError(.isDirectory, "unlink a directory without the flag") { () throws(FileError) in try c.fs.unlink("/d/sub") }
    expectFileError(.notDirectory, "rmdir of a file") { () throws(FileError) in try c.fs.unlink("/d/sub/moved", .directory) }
    expectFileError(.notFound, "the old name is gone") { () throws(FileError) in try c.fs.stat("/d/a") }
    expectFileError(.exists, "mkdir over a directory") { () throws(FileError) in try c.fs.mkdir("/d/sub") }
    expectFileError(.notDirectory, "readdir of a file") { () throws(FileError) in try c.fs.list("/d/sub/moved") }
    expectFileError(.invalid, "rename a directory into itself") { () throws(FileError) in try c.fs.rename("/d", to: "/d/sub/x") }
    try c.fs.unlink("/d/sub/moved")
    try c.fs.unlink("/d/sub", .directory)
    try c.fs.unlink("/d", .directory)
    expectFileError(.notFound, "stat after unlink") { () throws(FileError) in try c.fs.stat("/d") }
    // Many entries: readdir goes on over several replies.
    try c.fs.mkdir("/many")
    for i in 0..<120 { try writeFile(c.fs, "/many/entry-with-a-longish-name-\(1000 + i)", []) }
    let many = try c.fs.list("/many")
    check(many.count == 120 && many.first?.name == "entry-with-a-longish-name-1000", "readdir of 120 entries: \(many.count)")
    for i in 0..<120 { try c.fs.unlink("/many/entry-with-a-longish-name-\(1000 + i)") }
    try c.fs.unlink("/many", .directory)
}

func testVFSErrors(_ c: Context) throws(FileError) {
    expectFileError(.notFound, "open a missing file") { () throws(FileError) in try c.fs.open("/missing", .read) }
    expectFileError(.invalid, "a relative path") { () throws(FileError) in try c.fs.open("relative", .read) }
    expectFileError(.invalid, "a .. component") { () throws(FileError) in try c.fs.open("/bin/../bin/pmchild", .read) }
    expectFileError(.noServer, "a scheme nobody serves") { () throws(FileError) in try c.fs.open("nosuch:///x", .read) }
    expectFileError(.invalid, "an authority") { () throws(FileError) in try c.fs.open("fs://host/x", .read) }
    expectFileError(.isDirectory, "open a directory for writing") { () throws(FileError) in try c.fs.open("/bin", .write) }
    expectFileError(.busy, "unlink a mount point") { () throws(FileError) in try c.fs.unlink("fs:///tmp", .directory) }
    let s = c.fs
    check(rawCall(s, FileLabel.read.rawValue, [999_999, 1, 0]) == FileError.badFile.rawValue, "a file id never opened")
    check(rawCall(s, 77, [1, 2]) == FileError.badMessage.rawValue, "a wrong label")
    check(rawCall(s, FileLabel.seek.rawValue, [3, 0]) == FileError.badMessage.rawValue, "too few words")
    check(rawCall(s, FileLabel.open.rawValue, [OpenFlags.read.rawValue, 0]) == FileError.badMessage.rawValue, "open without a path")
    check(rawCall(s, FileLabel.rename.rawValue, [5000], bytes: 10) == FileError.badMessage.rawValue, "rename's first length past the bytes")
    // A file id is its opener's alone: through another connection it is a bad file id.
    let f = try c.fs.open("/bin/pmchild", .read)
    check(rawCall(c.admin, FileLabel.read.rawValue, [f.id, 1, 0]) == FileError.badFile.rawValue, "another badge's file id")
    check(rawCall(s, FileLabel.read.rawValue, [f.id, UInt64(IPCBuffer.maxBytes) + 1, 0]) == FileError.invalid.rawValue,
          "a read longer than a message without a window")
    check(rawCall(s, FileLabel.write.rawValue, [f.id, 1, 0]) == FileError.accessDenied.rawValue, "write to a file opened for reading")
    try f.close()
    // A window that is not a Frame: .invalid, the handle is not kept.
    let notify: Handle
    do throws(SysError) { notify = try notifyCreate() } catch { throw .noMemory }
    let path = Array("/bin/pmchild".utf8)
    try? c.fs.adopt()
    c.fs.page.setHandle(0, notify)
    _ = path.withUnsafeBytes { c.fs.page.put($0) }
    var m = IPCMessage(tag: IPCTag(words: 2, bytes: path.count, handles: 1, label: FileLabel.open.rawValue))
    m.words.0 = OpenFlags.read.rawValue
    check((try? senderCall(c.fs.sender, m))?.tag.label == FileError.invalid.rawValue, "a Notify as the window")
    check((try? handleIdentify(notify)) == nil, "the Notify moved to vfs and was closed there")
}

func testLargeFile(_ c: Context) throws(FileError) {
    let data = pattern(200_000, seed: 5)
    try writeFile(c.fs, "/large", data, window: 64 << 10)
    check(try c.fs.stat("/large").size == 200_000, "size of the large file")
    check(try readFile(c.fs, "/large", window: 64 << 10) == data, "the large file reads back through a window")
    check(try readFile(c.fs, "/large") == data, "the large file reads back without one")
    try c.fs.unlink("/large")
}

/// initfs:/// is initfsd's, mounted read-only: reads with and without a window, stat, readdir and map
/// are forwarded; changes are `.readOnly`.
func testInitfsThroughVFS(_ c: Context) throws(FileError) {
    let plain = try readFile(c.fs, "initfs:///etc/init.conf")
    check(plain.count > 100 && plain.starts(with: Array("# The services init starts".utf8)), "init.conf without a window (\(plain.count) bytes)")
    check(try readFile(c.fs, "initfs:///etc/init.conf", window: 8192) == plain, "init.conf through a window")
    check(try c.fs.stat("initfs:///etc/init.conf").size == UInt64(plain.count), "stat forwarded")
    check(try c.fs.list("initfs:///etc").contains { $0.name == "init.conf" && $0.kind == .file }, "readdir forwarded")
    let f = try c.fs.open("initfs:///etc/init.conf", .read)
    check(try f.seek(2) == 2, "seek forwarded")
    check(try f.read(count: 3) == Array(plain[2..<5]), "read after seek forwarded")
    check(try f.stat().size == UInt64(plain.count), "stat by id forwarded")
    try f.close()
    expectFileError(.readOnly, "create on initfs") { () throws(FileError) in try c.fs.open("initfs:///new", [.write, .create]) }
    expectFileError(.readOnly, "mkdir on initfs") { () throws(FileError) in try c.fs.mkdir("initfs:///d") }
    expectFileError(.readOnly, "unlink on initfs") { () throws(FileError) in try c.fs.unlink("initfs:///etc/init.conf") }
    expectFileError(.notFound, "a missing initfs file") { () throws(FileError) in try c.fs.open("initfs:///nosuch", .read) }
    let (frame, size) = try c.fs.map("initfs:///etc/init.conf")
    var head = [UInt8](repeating: 0, count: 26)
    let got = head.withUnsafeMutableBytes { b in (try? frameReadAll(frame, offset: 0, into: b)) != nil }
    check(got && head == Array(plain[0..<26]) && size == UInt64(plain.count), "map forwarded to initfsd")
    _ = try? handleClose(frame)
    expectFileError(.notSupported, "map of a tmpfs file") { () throws(FileError) in try c.fs.map("/bin/pmchild") }
}

/// share: the same open file in a new connection; one position; open until both have closed it, in
/// either order; a share's Sender gone closes its side.
func testShare(_ c: Context) throws(FileError) {
    try writeFile(c.fs, "/shared", Array("0123456789".utf8))
    for order in 0..<2 {
        let f = try c.fs.open("/shared", [.read, .write], window: 4096)
        try? c.fs.adopt()
        let reply = try c.fs.call(.share, [f.id])
        check(reply.tag.handles == 1, "share moves a Sender")
        let other: FileService
        do throws(SysError) { other = try FileService(c.fs.page.handle(0)) } catch { throw .noMemory }
        let sharedID = reply.words.0
        check(try f.read(count: 4) == Array("0123".utf8), "the opener reads through its window")
        try? other.adopt()
        let r = try other.call(.read, [sharedID, 3, 0])
        check(other.page.take(r.tag.bytes) == Array("456".utf8), "the share reads on from the same position")
        check(rawCall(other, FileLabel.read.rawValue, [f.id, 1, 0]) == FileError.badFile.rawValue, "the share holds only its file")
        if order == 0 {
            try f.close()
            try? other.adopt()
            let after = try other.call(.read, [sharedID, 10, 0])
            check(other.page.take(after.tag.bytes) == Array("789".utf8), "the share reads after the opener closed")
            _ = try other.call(.close, [sharedID])
        } else {
            try? other.adopt()
            _ = try other.call(.close, [sharedID])
            check(try f.read(count: 10) == Array("789".utf8), "the opener reads after the share closed")
            try f.close()
        }
        _ = try? handleClose(other.sender)
    }
    // A share whose Sender goes without a close: vfs drops it; the opener's file stays.
    let f = try c.fs.open("/shared", .read)
    try? c.fs.adopt()
    let reply = try c.fs.call(.share, [f.id])
    _ = try? handleClose(c.fs.page.handle(0))
    _ = reply
    check(try f.read(count: 2) == Array("01".utf8), "the opener reads after its share's Sender went")
    try f.close()
    try c.fs.unlink("/shared")
}

/// mount and unmount only through the administrative Sender; a second vfs (spawned through pm from
/// fs:///bin/vfs) mounted as `test://` and at fs:///mnt gets the requests below those points.
func testMountForwarding(_ c: Context) throws(FileError) {
    let receiver: Handle, secondAdmin: Handle
    do throws(SysError) {
        receiver = try receiverCreate()
        secondAdmin = try senderCreate(receiver)
    } catch { throw .noMemory }
    let id: UInt32
    do throws(ServiceError) { id = try c.pm.spawn("fs:///bin/vfs", handles: [receiver]) } catch {
        fail("spawn the second vfs: \(text(error.name))")
        return
    }
    let second: FileService
    do throws(SysError) { second = try FileService(secondAdmin) } catch { throw .noMemory }
    try writeFile(second, "/hello", Array("from the second vfs".utf8))
    try? second.adopt()
    try second.mkdir("/sub")
    func mount(_ s: FileService, _ point: String, flags: MountFlags = []) throws(FileError) {
        let copy: Handle
        do throws(SysError) { copy = try handleDuplicate(secondAdmin, rights: Rights.defaults(for: .sender)) } catch { throw .noMemory }
        try? s.adopt()
        let n = try s.putPath(point)
        do throws(FileError) { _ = try s.call(.mount, [flags.rawValue], bytes: n, handles: [copy]) } catch {
            _ = try? handleClose(copy)
            throw error
        }
    }
    func unmount(_ s: FileService, _ point: String) throws(FileError) {
        try? s.adopt()
        _ = try s.call(.unmount, [], bytes: try s.putPath(point))
    }
    expectFileError(.accessDenied, "mount through a connection") { () throws(FileError) in try mount(c.fs, "test://") }
    try mount(c.admin, "test://")
    try mount(c.admin, "fs:///mnt")
    expectFileError(.exists, "a mount point used twice") { () throws(FileError) in try mount(c.admin, "test://") }
    check(try readFile(c.fs, "test:///hello") == Array("from the second vfs".utf8), "read forwarded to test://")
    check(try readFile(c.fs, "fs:///mnt/hello", window: 4096) == Array("from the second vfs".utf8), "read through a window at fs:///mnt")
    try writeFile(c.fs, "test:///written", Array("through the first".utf8))
    check(try readFile(second, "/written") == Array("through the first".utf8), "write forwarded")
    check(try c.fs.list("fs:///mnt").map { $0.name } == ["hello", "sub", "written"], "readdir forwarded")
    try c.fs.rename("test:///written", to: "test:///sub/renamed")
    try? second.adopt()
    check(try second.stat("/sub/renamed").size == 17, "rename forwarded with paths below the mount point")
    expectFileError(.crossDevice, "rename across mounts") { () throws(FileError) in try c.fs.rename("fs:///mnt/hello", to: "/hello") }
    let busy = try c.fs.open("test:///hello", .read)
    expectFileError(.busy, "unmount with a file open under it") { () throws(FileError) in try unmount(c.admin, "test://") }
    expectFileError(.accessDenied, "unmount through a connection") { () throws(FileError) in try unmount(c.fs, "fs:///mnt") }
    try busy.close()
    // The mounts listing (any connection may read it): the two mounts above among vfs's own.
    func listing(_ s: FileService) throws(FileError) -> [MountEntry] {
        try? s.adopt()
        var out: [MountEntry] = []
        var index: UInt64 = 0
        while true {
            let r = try s.call(.mounts, [index])
            if r.words.0 == 0 { break }
            guard let e = MountEntry.decode(s.page.take(r.tag.bytes), count: Int(r.words.0)) else { throw .io }
            out += e
            index = r.words.1
        }
        return out
    }
    let listed = try listing(c.fs)
    check(listed.contains(MountEntry(flags: .running, point: "test:///", source: "mount", type: "server", options: "defaults"))
          && listed.contains { $0.point == "fs:///mnt" } && listed.contains { $0.point == "initfs:///" && $0.type == "initfs" }
          && listed.contains { $0.point == "fs:///" && $0.type == "tmpfs" }, "the mounts listing: \(listed.map { $0.line })")
    expectFileError(.badMessage, "mounts with bytes") { () throws(FileError) in _ = try c.fs.call(.mounts, [0], bytes: try c.fs.putPath("/")) }
    expectFileError(.badMessage, "mounts without its word") { () throws(FileError) in _ = try c.fs.call(.mounts, []) }
    expectFileError(.invalid, "mounts past the end") { () throws(FileError) in _ = try c.fs.call(.mounts, [UInt64(listed.count + 1)]) }
    check((try? c.fs.call(.mounts, [UInt64(listed.count)]))?.words.0 == 0, "mounts at the end: none")
    // Administrative connections: only through an administrative Sender; they may unmount.
    expectFileError(.accessDenied, "an administrative connection through a plain one") { () throws(FileError) in
        _ = try c.fs.connect(.administrative)
    }
    try? c.admin.adopt()
    expectFileError(.invalid, "connect with unknown flags") { () throws(FileError) in _ = try c.admin.call(.connect, [2]) }
    let adminConnection = try c.admin.connect(.administrative)
    let viaConnection: FileService
    do throws(SysError) { viaConnection = try FileService(adminConnection) } catch { throw .noMemory }
    expectFileError(.busy, "unmount of the root") { () throws(FileError) in try unmount(viaConnection, "fs:///") }
    expectFileError(.busy, "unmount of initfs:///") { () throws(FileError) in try unmount(viaConnection, "initfs:///") }
    try unmount(viaConnection, "test://")
    check(try !listing(c.fs).contains { $0.point == "test:///" }, "test:// unmounted through an administrative connection")
    try mount(viaConnection, "test://")
    _ = try? handleClose(adminConnection)
    try unmount(c.admin, "test://")
    try unmount(c.admin, "fs:///mnt")
    expectFileError(.noServer, "a scheme after its unmount") { () throws(FileError) in try c.fs.open("test:///hello", .read) }
    expectFileError(.notFound, "unmount of nothing") { () throws(FileError) in try unmount(c.admin, "test://") }
    // A mounted server that ends: requests under it fail, vfs goes on.
    try mount(c.admin, "gone://", flags: .readOnly)
    expectFileError(.readOnly, "a read-only mount") { () throws(FileError) in try c.fs.open("gone:///x", [.write, .create]) }
    do throws(ServiceError) {
        try c.pm.kill(id)
        _ = try c.pm.wait(id)
    } catch { fail("kill the second vfs: \(text(error.name))") }
    expectFileError(.io, "a read from a server that ended") { () throws(FileError) in try readFile(c.fs, "gone:///hello") }
    try unmount(c.admin, "gone://")
    check(try c.fs.stat("/bin/pmchild").kind == .file, "vfs still answers after a mounted server ended")
    _ = try? handleClose(secondAdmin)
}

func testStatfs(_ c: Context) throws(FileError) {
    try? c.fs.adopt()
    let r = try c.fs.call(.statfs, [], bytes: try c.fs.putPath("/"))
    check(r.words.0 == 64 << 20 && r.words.1 <= r.words.0 && r.words.2 == 4096, "the tmpfs's figures: \(r.words.0) \(r.words.1) \(r.words.2)")
    let f = try c.fs.open("/bin/pmchild", .read)
    let byID = try c.fs.call(.statfs, [f.id])
    check(byID.words.0 == r.words.0, "statfs by file id")
    try f.close()
    let initfs = try c.fs.call(.statfs, [], bytes: try c.fs.putPath("initfs:///etc"))
    check(initfs.words.0 > 0 && initfs.words.1 == 0 && initfs.words.2 == 512,
          "initfsd's figures (the archive's size, nothing free): \(initfs.words.0) \(initfs.words.1) \(initfs.words.2)")
    expectFileError(.notFound, "statfs of a missing initfs path") { () throws(FileError) in
        _ = try c.fs.call(.statfs, [], bytes: try c.fs.putPath("initfs:///nope"))
    }
}

/// initfs:///etc/fstab's tmpfs line: fs:///tmp is a tmpfs of its own.
func testFstabTmpfs(_ c: Context) throws(FileError) {
    check(try c.fs.stat("fs:///tmp").kind == .directory, "fs:///tmp is there")
    try writeFile(c.fs, "/tmp/t", [1])
    expectFileError(.crossDevice, "rename from fs:///tmp to fs:///") { () throws(FileError) in try c.fs.rename("/tmp/t", to: "/t") }
    try c.fs.unlink("/tmp/t")
}

/// More connections than vfs holds at once (1,024), each with an open file, each Sender then closed:
/// vfs drops each one's state when its Sender is gone (closed-client notice), so every connect succeeds.
func testClosedConnectionsDropped(_ c: Context) throws(FileError) {
    try writeFile(c.fs, "/kept", Array("kept".utf8))
    for i in 0..<1100 {
        try? c.admin.adopt()
        let sender: Handle
        do throws(FileError) { sender = try c.admin.connect() } catch {
            return check(false, "connection \(i): \(text(error.name))")
        }
        let n = try c.admin.putPath("/kept")
        var m = IPCMessage(tag: IPCTag(words: 2, bytes: n, label: FileLabel.open.rawValue))
        m.words.0 = OpenFlags.read.rawValue
        check((try? senderCall(sender, m))?.tag.label == 0, "open through connection \(i)")
        _ = try? handleClose(sender)
    }
    check(try readFile(c.fs, "/kept") == Array("kept".utf8), "the test's own connection after 1,100 others")
    try c.fs.unlink("/kept")
}

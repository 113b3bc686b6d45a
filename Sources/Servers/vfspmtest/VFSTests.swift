// vfs through its protocol: files in the tmpfs at fs:///, directories, renames, errors, a file larger
// than the shared Frame, and a second vfs mounted as a scheme (forwarding, and its /etc/fstab read).

typealias GuestTest = (StaticString, (Context) throws(ServiceError) -> Void)

let vfsTests: [GuestTest] = [
    ("vfs.create_write_read", testCreateWriteRead),
    ("vfs.open_flags", testOpenFlags),
    ("vfs.directories_rename_unlink", testDirectories),
    ("vfs.errors", testVFSErrors),
    ("vfs.large_file", testLargeFile),
    ("vfs.mount_forwards_and_reads_fstab", testMountForwarding),
    ("vfs.closed_connections_dropped", testClosedConnectionsDropped),
]

/// More connections than vfs holds at once (VFSServer.maxConnections, 256), each with an open file and
/// closed by its client: vfs drops each one's state when its Sender is gone (closed-client notice), so
/// every connect succeeds; the test's own connection works after.
func testClosedConnectionsDropped(_ c: Context) throws(ServiceError) {
    try c.fs.writeFile("/kept", Array("kept".utf8))
    for i in 0..<300 {
        let client: VFSClient
        do throws(ServiceError) { client = try VFSClient(connectingTo: c.vfsAdmin, frameSize: Int(pageSize), page: c.page) } catch {
            return check(false, "connection \(i): \(text(error.name))")
        }
        _ = try client.open("/kept", .read)
        client.close()
    }
    check(try c.fs.readFile("/kept") == Array("kept".utf8), "the test's own connection after 300 others")
}

func testCreateWriteRead(_ c: Context) throws(ServiceError) {
    let fs = c.fs
    let fd = try fs.open("fs:///hello.txt", [.read, .write, .create])
    check(try fs.write(fd, Array("hello, world".utf8)) == 12, "write count")
    check(try fs.fstat(fd) == (.file, 12), "fstat after write")
    check(try fs.seek(fd, 7, .set) == 7, "seek set")
    check(try fs.read(fd, count: 100) == Array("world".utf8), "read after seek")
    check(try fs.read(fd, count: 100).isEmpty, "read at the end")
    check(try fs.seek(fd, -5, .end) == 7, "seek from the end")
    check(try fs.seek(fd, 2, .current) == 9, "seek from the current offset")
    expectError(.invalid, "seek before the start") { () throws(ServiceError) in try fs.seek(fd, -100, .current) }
    try fs.close(fd)
    expectError(.badDescriptor, "read after close") { () throws(ServiceError) in try fs.read(fd, count: 1) }
    check(try fs.readFile("/hello.txt") == Array("hello, world".utf8), "read through a bare path")
    let s = try fs.stat("fs:///hello.txt")
    check(s.kind == .file && s.size == 12, "stat")
}

func testOpenFlags(_ c: Context) throws(ServiceError) {
    let fs = c.fs
    try fs.writeFile("/flags", Array("abc".utf8))
    expectError(.exists, "create+exclusive on an existing file") { () throws(ServiceError) in try fs.open("/flags", [.write, .create, .exclusive]) }
    let ex = try fs.open("/flags2", [.write, .create, .exclusive])
    try fs.close(ex)
    let ap = try fs.open("/flags", [.write, .append])
    _ = try fs.seek(ap, 0, .set)
    try fs.write(ap, Array("de".utf8))
    try fs.close(ap)
    check(try fs.readFile("/flags") == Array("abcde".utf8), "append writes at the end")
    let ro = try fs.open("/flags", .read)
    expectError(.badDescriptor, "write on a read-only descriptor") { () throws(ServiceError) in try fs.write(ro, [1]) }
    try fs.close(ro)
    let wo = try fs.open("/flags", .write)
    expectError(.badDescriptor, "read on a write-only descriptor") { () throws(ServiceError) in try fs.read(wo, count: 1) }
    try fs.close(wo)
    let tr = try fs.open("/flags", [.write, .truncate])
    check(try fs.fstat(tr).size == 0, "truncate empties the file")
    try fs.close(tr)
    expectError(.invalid, "truncate without write") { () throws(ServiceError) in try fs.open("/flags", [.read, .truncate]) }
    expectError(.invalid, "unknown flag bits") { () throws(ServiceError) in try fs.open("/flags", VFSOpenFlags(rawValue: 1 << 40)) }
    try fs.unlink("/flags")
    try fs.unlink("/flags2")
}

func testDirectories(_ c: Context) throws(ServiceError) {
    let fs = c.fs
    try fs.mkdir("/d")
    try fs.mkdir("fs:///d/sub")
    try fs.writeFile("/d/b", [2])
    try fs.writeFile("/d/a", [1, 1])
    let names = try fs.readdir("/d").map { $0.name }
    check(names == ["a", "b", "sub"], "readdir order: \(names)")
    check(try fs.readdir("/d").map { $0.kind } == [.file, .file, .directory], "readdir kinds")
    try fs.rename("/d/a", to: "/d/sub/moved")
    check(try fs.readdir("/d/sub").map { $0.name } == ["moved"], "rename into a subdirectory")
    check(try fs.readFile("/d/sub/moved") == [1, 1], "a renamed file keeps its bytes")
    try fs.rename("/d/b", to: "/d/sub/moved")
    check(try fs.readFile("/d/sub/moved") == [2], "rename replaces a file")
    expectError(.notEmpty, "unlink a non-empty directory") { () throws(ServiceError) in try fs.unlink("/d") }
    expectError(.notFound, "the old name is gone") { () throws(ServiceError) in try fs.stat("/d/a") }
    expectError(.exists, "mkdir over a directory") { () throws(ServiceError) in try fs.mkdir("/d/sub") }
    expectError(.notDirectory, "readdir of a file") { () throws(ServiceError) in try fs.readdir("/d/sub/moved") }
    expectError(.invalid, "rename a directory into itself") { () throws(ServiceError) in try fs.rename("/d", to: "/d/sub/x") }
    try fs.unlink("/d/sub/moved")
    try fs.unlink("/d/sub")
    try fs.unlink("/d")
    expectError(.notFound, "stat after unlink") { () throws(ServiceError) in try fs.stat("/d") }
    // Many entries: readdir goes on over several answers with a small Frame.
    let small = try VFSClient(connectingTo: c.vfsAdmin, frameSize: 4096, page: c.page)
    defer { small.close() }
    try small.mkdir("/many")
    for i in 0..<120 { try small.writeFile("/many/entry-with-a-longish-name-\(1000 + i)", []) }
    let listed = try small.readdir("/many")
    check(listed.count == 120 && listed.first?.name == "entry-with-a-longish-name-1000", "readdir of 120 entries: \(listed.count)")
    for i in 0..<120 { try small.unlink("/many/entry-with-a-longish-name-\(1000 + i)") }
    try small.unlink("/many")
}

func testVFSErrors(_ c: Context) throws(ServiceError) {
    let fs = c.fs
    expectError(.notFound, "open a missing file") { () throws(ServiceError) in try fs.open("/missing", .read) }
    expectError(.invalid, "a relative path") { () throws(ServiceError) in try fs.open("relative", .read) }
    expectError(.notFound, "a scheme nobody serves") { () throws(ServiceError) in try fs.open("nosuch:///x", .read) }
    expectError(.invalid, "an authority") { () throws(ServiceError) in try fs.open("fs://host/x", .read) }
    expectError(.isDirectory, "open a directory for writing") { () throws(ServiceError) in try fs.open("/bin", .write) }
    expectError(.busy, "unlink a mount point") { () throws(ServiceError) in try fs.unlink("fs:///") }
    expectError(.nameTooLong, "a path longer than a URI may be") { () throws(ServiceError) in try fs.call(.open, UInt64(fs.frameSize + 1), 1) }
    let small = try VFSClient(connectingTo: c.vfsAdmin, frameSize: 4096, page: c.page)
    defer { small.close() }
    expectError(.invalid, "a path past the end of the Frame") { () throws(ServiceError) in try small.call(.rename, 3000, 3000) }
    expectError(.invalid, "a write count past the Frame") { () throws(ServiceError) in
        let fd = try small.open("/past", [.write, .create])
        defer { _ = try? small.close(fd); _ = try? small.unlink("/past") }
        return try small.call(.write, fd, 4097)
    }
    expectError(.invalid, "a read count past the Frame") { () throws(ServiceError) in
        let fd = try fs.open("/bin/pmchild", .read)
        defer { _ = try? fs.close(fd) }
        return try fs.call(.read, fd, UInt64(fs.frameSize + 1))
    }
    expectError(.badDescriptor, "a descriptor never opened") { () throws(ServiceError) in try fs.call(.read, 999_999, 1) }
    expectError(.notPermitted, "a file operation through the admin Sender") { () throws(ServiceError) in
        try VFSClient.request(c.vfsAdmin, IPCMessage(label: VFSOp.stat.rawValue, 1))
    }
    expectError(.badMessage, "connect without a Frame") { () throws(ServiceError) in
        try VFSClient.request(c.vfsAdmin, IPCMessage(label: VFSOp.connect.rawValue))
    }
    expectError(.notPermitted, "connect through a connection") { () throws(ServiceError) in
        c.page.setHandle(0, try sys { () throws(SysError) in try frameCreate(size: pageSize) })
        return try VFSClient.request(fs.sender, IPCMessage(tag: IPCTag(handles: 1, label: VFSOp.connect.rawValue)))
    }
    // A connect with a Notify instead of a Frame: .invalid, and the handle is not kept.
    let notify = try sys { () throws(SysError) in try notifyCreate() }
    c.page.setHandle(0, notify)
    expectError(.invalid, "connect with a Notify") { () throws(ServiceError) in
        try VFSClient.request(c.vfsAdmin, IPCMessage(tag: IPCTag(handles: 1, label: VFSOp.connect.rawValue)))
    }
    expectError(.badMessage, "a wrong label") { () throws(ServiceError) in try VFSClient.request(fs.sender, IPCMessage(label: 77, 1, 2)) }
    expectError(.badMessage, "too few words") { () throws(ServiceError) in try VFSClient.request(fs.sender, IPCMessage(label: VFSOp.seek.rawValue, 3, 0)) }
}

func testLargeFile(_ c: Context) throws(ServiceError) {
    let data = pattern(200_000, seed: 5)
    try c.fs.writeFile("/large", data)
    check(try c.fs.stat("/large").size == 200_000, "size of the large file")
    check(try c.fs.readFile("/large") == data, "the large file reads back byte for byte")
    try c.fs.unlink("/large")
}

/// A second vfs (spawned through pm from fs:///bin/vfs) is mounted as `initfs`: URIs of that scheme are
/// forwarded to it, and its /etc/fstab is read (a tmpfs line mounts fs:///tmp in the first vfs).
func testMountForwarding(_ c: Context) throws(ServiceError) {
    let receiver = try sys { () throws(SysError) in try receiverCreate() }
    let admin = try sys { () throws(SysError) in try senderCreate(receiver) }
    let mountSender = try sys { () throws(SysError) in try handleDuplicate(admin, rights: Rights.defaults(for: .sender)) }
    let id = try c.pm.spawn("fs:///bin/vfs", handles: [receiver])
    let second = try VFSClient(connectingTo: admin, page: c.page)
    defer { second.close(); _ = try? handleClose(admin) }
    try second.mkdir("/etc")
    try second.writeFile("/etc/fstab", Array("# test fstab\nnone fs:///tmp tmpfs defaults 0 0\nbad line\n".utf8))
    try second.writeFile("/hello", Array("from the second vfs".utf8))
    try VFSClient.mount(c.vfsAdmin, scheme: "initfs", server: mountSender, page: c.page)
    check(try c.fs.readFile("initfs:///hello") == Array("from the second vfs".utf8), "read forwarded to the mounted scheme")
    try c.fs.writeFile("initfs:///written", Array("through the first".utf8))
    check(try second.readFile("/written") == Array("through the first".utf8), "write forwarded to the mounted scheme")
    check(try c.fs.readdir("initfs:///").map { $0.name } == ["etc", "hello", "written"], "readdir forwarded")
    try c.fs.rename("initfs:///written", to: "initfs:///renamed")
    check(try second.stat("/renamed").size == 17, "rename forwarded")
    check(try c.fs.stat("fs:///tmp").kind == .directory, "fstab's tmpfs mounted at fs:///tmp")
    try c.fs.writeFile("/tmp/t", [1])
    expectError(.crossDevice, "rename across mounts") { () throws(ServiceError) in try c.fs.rename("/tmp/t", to: "/t") }
    expectError(.notFound, "fs:///tmp is its own file system") { () throws(ServiceError) in try second.stat("/tmp/t") }
    expectError(.exists, "a scheme mounted twice") { () throws(ServiceError) in
        let again = try sys { () throws(SysError) in try handleDuplicate(admin, rights: Rights.defaults(for: .sender)) }
        try VFSClient.mount(c.vfsAdmin, scheme: "initfs", server: again, page: c.page)
    }
    check(try c.pm.list().contains { $0.id == id && $0.state == .running }, "the second vfs runs")
    // Its server ends: the mount answers with an error, and vfs goes on.
    try c.pm.kill(id)
    check(try c.pm.wait(id) == (id, ExitCode.stopped), "the killed second vfs ends as stopped")
    expectError(.io, "a read from a scheme whose server ended") { () throws(ServiceError) in try c.fs.readFile("initfs:///hello") }
    check(try c.fs.readFile("/tmp/t") == [1], "vfs still answers after its scheme's server ended")
    try c.fs.unlink("/tmp/t")
}

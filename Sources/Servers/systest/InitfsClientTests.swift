// initfsd's client bookkeeping: `connect` gives each client a Sender with a badge of its own (no shared
// file ids), and once a client's Sender is gone (closed-client notice) initfsd drops its open files and
// their windows, so the kernel's figures return to where they were before the client came.

func initfsClientTests(_ startup: Startup) -> [(StaticString, () throws(SysError) -> Void)] {
    [("initfs.connections_own_their_file_ids", { () throws(SysError) in try testInitfsConnectionsOwnIDs(startup) }),
     ("initfs.gone_client_files_dropped", { () throws(SysError) in try testInitfsGoneClientFilesDropped(startup) })]
}

/// A new connection to initfsd through `fs`, or nil after a failed check.
func initfsConnection(_ fs: FileService) throws(SysError) -> FileService? {
    try fs.adopt()
    guard let sender = fileStep("connect", { () throws(FileError) in try fs.connect() }) else { return nil }
    return try FileService(sender)
}

func testInitfsConnectionsOwnIDs(_ startup: Startup) throws(SysError) {
    guard let fs = try initfsService(startup), let a = try initfsConnection(fs), let b = try initfsConnection(fs) else { return }
    defer { closeAll(a.sender, b.sender) }
    check(a.sender != b.sender, "two connections share a handle")
    try a.adopt()
    guard let file = fileStep("open through a", { () throws(FileError) in try a.open("/etc/init.conf") }) else { return }
    try b.adopt()
    expectFileError(.badFile, "stat of a's file id through b") { () throws(FileError) in try b.call(.stat, [file.id]) }
    expectFileError(.badFile, "read of a's file id through b") { () throws(FileError) in try b.call(.read, [file.id, 8, 0]) }
    try fs.adopt()
    expectFileError(.badFile, "read of a's file id through the imported Sender") { () throws(FileError) in
        try fs.call(.read, [file.id, 8, 0])
    }
    try a.adopt()
    check(fileStep("read through a") { () throws(FileError) in try file.read(count: 4) }?.count == 4, "a cannot read its own file")
    check(fileStep("close through a") { () throws(FileError) in try file.close() } != nil, "a cannot close its own file")
    expectFileError(.badMessage, "connect with bytes") { () throws(FileError) in try a.call(.connect, [], bytes: 4) }
}

func testInitfsGoneClientFilesDropped(_ startup: Startup) throws(SysError) {
    guard let fs = try initfsService(startup) else { return }
    let baseline = KernelFigures.now()
    do {
        guard let client = try initfsConnection(fs) else { return }
        try client.adopt()
        var files: [OpenFile] = []
        for _ in 0..<3 {
            guard let f = fileStep("open with a window", { () throws(FileError) in
                try client.open("/etc/init.conf", window: 2 * pageSize)
            }) else { return }
            files.append(f)
        }
        step("the client's Sender closed with files open")
        try handleClose(client.sender)
        // Without the Sender the files' close calls fail; each drops its own window handle and mapping.
        for f in files { check(fileError { () throws(FileError) in try f.close() } == .noServer, "close went through") }
        files.removeAll()
    }
    // initfsd holds the windows until it drops the client: only then are the Frames freed.
    let after = settle(until: baseline)
    check(after.matches(baseline), "initfsd kept the gone client's files: \(after.liveObjects) live objects (\(baseline.liveObjects) before), \(after.freeFrames) free frames (\(baseline.freeFrames) before)")
    try fs.adopt()
    check(fileStep("read after a client went") { () throws(FileError) in try fs.readFile("/etc/init.conf") }?.isEmpty == false,
          "initfsd does not answer after a client went")
}

// initfsd seen from a client (Sources/ABI/FileProtocol.swift): what it serves, each documented error, and
// a seeded stream of random and malformed requests after which it must still answer correctly.

func initfsTests(_ startup: Startup) -> [(StaticString, () throws(SysError) -> Void)] {
    [("initfs.read_stat_readdir", { () throws(SysError) in try testInitfsReads(startup) }),
     ("initfs.errors", { () throws(SysError) in try testInitfsErrors(startup) }),
     ("initfs.malformed_stream", { () throws(SysError) in try testInitfsMalformedStream(startup) })]
}

/// A FileService on initfsd, or nil after a failed check.
func initfsService(_ startup: Startup) throws(SysError) -> FileService? {
    guard let sender = startup.imported("initfs") else {
        check(false, "no Sender to initfsd (import:initfs)")
        return nil
    }
    return try FileService(sender)
}

/// Runs `body`, turning a FileError into a failed check naming `what`.
func fileStep<T>(_ what: StaticString, _ body: () throws(FileError) -> T) -> T? {
    do throws(FileError) { return try body() } catch {
        check(false, "\(text(what)): \(text(error.name))")
        return nil
    }
}

/// The FileError `body` fails with, or nil when it succeeded.
func fileError<T>(_ body: () throws(FileError) -> T) -> FileError? {
    do throws(FileError) { _ = try body(); return nil } catch { return error }
}

func expectFileError<T>(_ expected: FileError, _ what: StaticString, _ body: () throws(FileError) -> T) {
    let got = fileError(body)
    check(got == expected, "\(text(what)): got \(got.map { text($0.name) } ?? "success"), expected \(text(expected.name))")
}

/// stat, open, read (through a window and through IPC bytes), seek, readdir of / and /etc, close.
func testInitfsReads(_ startup: Startup) throws(SysError) {
    guard let fs = try initfsService(startup) else { return }
    let path = "initfs:///etc/init.conf"
    guard let info = fileStep("stat", { () throws(FileError) in try fs.stat(path) }) else { return }
    check(info.kind == .file && info.size > 0, "init.conf: kind \(info.kind.rawValue), size \(info.size)")
    guard let whole = fileStep("readFile", { () throws(FileError) in try fs.readFile(path) }) else { return }
    check(UInt64(whole.count) == info.size, "readFile gave \(whole.count) bytes of \(info.size)")
    let word = Array("systest".utf8)
    check(whole.indices.contains { whole[$0...].starts(with: word) }, "init.conf does not name systest")
    // Without a window: 7 bytes at a time through IPC bytes; a bare path means initfs here.
    guard let small = fileStep("open without window", { () throws(FileError) in try fs.open("/etc/init.conf") }) else { return }
    var pieces: [UInt8] = []
    while true {
        guard let chunk = fileStep("read", { () throws(FileError) in try small.read(count: 7) }) else { break }
        if chunk.isEmpty { break }
        pieces += chunk
    }
    check(pieces == whole, "reads through IPC bytes differ from the windowed read")
    check(fileStep("seek") { () throws(FileError) in try small.seek(-5, from: .end) } == info.size - 5, "seek from the end")
    check(fileStep("read tail") { () throws(FileError) in try small.read(count: 100) } == Array(whole.suffix(5)), "tail after seek")
    check(fileStep("seek past end") { () throws(FileError) in try small.seek(Int64(info.size) + 100) } == info.size + 100,
          "seek past the end")
    check(fileStep("read past end") { () throws(FileError) in try small.read(count: 10) } == [], "a read past the end gave bytes")
    check(fileStep("fstat") { () throws(FileError) in try small.stat() } == info, "fstat differs from stat")
    _ = fileStep("close") { () throws(FileError) in try small.close() }
    // Directories.
    guard let top = fileStep("list /", { () throws(FileError) in try fs.list("initfs:///") }) else { return }
    for name in ["bin", "etc", "sbin"] {
        check(top.contains { $0.name == name && $0.kind == .directory }, "/ has no directory \(name)")
    }
    guard let bin = fileStep("list /bin", { () throws(FileError) in try fs.list("/bin") }) else { return }
    check(bin.contains { $0.name == "crashtest" && $0.kind == .file && $0.size > 0 }, "/bin has no crashtest")
    guard let sbin = fileStep("list /sbin", { () throws(FileError) in try fs.list("/sbin//") }) else { return }
    check(sbin.contains { $0.name == "initfsd" } && sbin.contains { $0.name == "init" }, "/sbin lacks initfsd or init")
}

/// Every error the read-only server documents.
func testInitfsErrors(_ startup: Startup) throws(SysError) {
    guard let fs = try initfsService(startup) else { return }
    expectFileError(.notFound, "missing file") { () throws(FileError) in try fs.stat("/etc/nothing") }
    expectFileError(.notDirectory, "file as a directory") { () throws(FileError) in try fs.stat("/etc/init.conf/x") }
    expectFileError(.invalid, "dot-dot") { () throws(FileError) in try fs.stat("/etc/../bin") }
    expectFileError(.invalid, "relative path") { () throws(FileError) in try fs.stat("etc/init.conf") }
    expectFileError(.noServer, "another scheme") { () throws(FileError) in try fs.stat("fs:///etc/init.conf") }
    expectFileError(.nameTooLong, "long name") { () throws(FileError) in try fs.stat("/" + String(repeating: "a", count: 300)) }
    expectFileError(.isDirectory, "open a directory as a file") { () throws(FileError) in try fs.open("/etc") }
    expectFileError(.notDirectory, "open a file as a directory") { () throws(FileError) in try fs.open("/etc/init.conf", [.read, .directory]) }
    expectFileError(.readOnly, "open for writing") { () throws(FileError) in try fs.open("/etc/init.conf", [.read, .write]) }
    expectFileError(.readOnly, "create") { () throws(FileError) in try fs.open("/etc/new", [.write, .create]) }
    expectFileError(.exists, "exclusive create of a file that is there") { () throws(FileError) in
        try fs.open("/etc/init.conf", [.write, .create, .exclusive])
    }
    expectFileError(.invalid, "neither read nor write") { () throws(FileError) in try fs.open("/etc/init.conf", []) }
    expectFileError(.invalid, "unknown flag bits") { () throws(FileError) in try fs.open("/etc/init.conf", OpenFlags(rawValue: 1 << 40 | 1)) }
    expectFileError(.readOnly, "mkdir") { () throws(FileError) in try fs.mkdir("/new") }
    expectFileError(.readOnly, "unlink") { () throws(FileError) in try fs.unlink("/etc/init.conf") }
    expectFileError(.readOnly, "rename") { () throws(FileError) in try fs.rename("/etc/init.conf", to: "/etc/x") }
    guard let file = fileStep("open", { () throws(FileError) in try fs.open("/etc/init.conf", .read, window: 4096) }) else { return }
    expectFileError(.accessDenied, "write") { () throws(FileError) in try file.write([1, 2, 3]) }
    expectFileError(.invalid, "window range") { () throws(FileError) in try fs.call(.read, [file.id, 4096, 1]) }
    expectFileError(.invalid, "window length") { () throws(FileError) in try fs.call(.read, [file.id, 4097, 0]) }
    expectFileError(.invalid, "negative seek") { () throws(FileError) in try file.seek(-1) }
    expectFileError(.invalid, "bad seek origin") { () throws(FileError) in try fs.call(.seek, [file.id, 0, 9]) }
    expectFileError(.notDirectory, "readdir on a file") { () throws(FileError) in try file.readdir(from: 0) }
    expectFileError(.badFile, "unknown id") { () throws(FileError) in try fs.call(.read, [file.id &+ 1000, 1, 0]) }
    _ = fileStep("close") { () throws(FileError) in try file.close() }
    expectFileError(.badFile, "closed id") { () throws(FileError) in try fs.call(.close, [file.id]) }
    expectFileError(.badMessage, "unknown label") { () throws(FileError) in try fs.call(.open, []) }
    // A window that is not a Frame: refused, and the handle is not kept.
    let notify = try notifyCreate()
    defer { closeAll(notify) }
    let before = try systemInfo(.liveObjects)
    let copy = try handleDuplicate(notify, rights: [.wait, .signal, .transfer])
    let bytes = Array("/etc/init.conf".utf8)
    bytes.withUnsafeBytes { _ = fs.page.put($0) }
    expectFileError(.invalid, "a Notify as the window") { () throws(FileError) in
        try fs.call(.open, [OpenFlags.read.rawValue, 0], bytes: bytes.count, handles: [copy])
    }
    check(try systemInfo(.liveObjects) == before, "the refused window handle stayed alive")
    // Handles sent with a request that takes none are closed by the server.
    let frame = try frameCreate(size: pageSize)
    expectFileError(.badMessage, "a handle with stat") { () throws(FileError) in try fs.call(.stat, [1], handles: [frame]) }
    check(try systemInfo(.liveObjects) == before, "a handle sent with stat stayed alive")
}

/// 3,000 seeded random requests: labels (known and not), word counts, words near real file ids, bytes
/// (paths, garbage), handles (Frames, a Notify); every reply is success or a FileError (never .peerClosed,
/// which would mean the server died). Then it must still read init.conf right.
func testInitfsMalformedStream(_ startup: Startup) throws(SysError) {
    guard let fs = try initfsService(startup) else { return }
    guard let expected = fileStep("readFile", { () throws(FileError) in try fs.readFile("/etc/init.conf") }) else { return }
    guard let anchor = fileStep("open", { () throws(FileError) in try fs.open("/etc/init.conf") }) else { return }
    let paths = ["/etc/init.conf", "/", "/bin", "initfs:///sbin/init", "/nothing", "//etc//init.conf", "/etc/init.conf/x", ""]
    // initfsd keeps one Frame per file mapped (`map`): made here first, so the stream's maps add none.
    for p in paths { if let (h, _) = try? fs.map(p) { closeAll(h) } }
    let baseline = try systemInfo(.liveObjects)
    var rng = SplitMix64(seed: 0x1417_f5d0)
    var bad = 0, opened: [UInt64] = []
    for i in 0..<3000 {
        let label = UInt32(rng.next(below: 14))
        let words = Int(rng.next(below: 5))
        var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        func word() -> UInt64 {
            switch rng.next(below: 6) {
            case 0: return anchor.id &+ rng.next(below: 8) &- 4
            case 1: return opened.isEmpty ? 0 : opened[Int(rng.next(below: UInt64(opened.count)))]
            case 2: return rng.next(below: 8192)
            case 3: return UInt64.max &- rng.next(below: 4)
            case 4: return rng.next(below: 128)
            default: return rng.next()
            }
        }
        w = (word(), word(), word(), word())
        // Bytes: a path, random garbage, or none.
        var byteCount = 0
        switch rng.next(below: 3) {
        case 0:
            let p = Array(paths[Int(rng.next(below: UInt64(paths.count)))].utf8)
            p.withUnsafeBytes { _ = fs.page.put($0) }
            byteCount = p.count
        case 1:
            byteCount = Int(rng.next(below: UInt64(IPCBuffer.maxBytes) + 1))
            for k in 0..<byteCount { fs.page.bytes[k] = UInt8(truncatingIfNeeded: rng.next()) }
        default: break
        }
        // Handles: sometimes a small Frame (a window candidate) or a Notify.
        var handleCount = 0
        if rng.next(below: 6) == 0 {
            handleCount = 1 + Int(rng.next(below: 2))
            for k in 0..<handleCount {
                let h = rng.next(below: 2) == 0 ? try frameCreate(size: pageSize * (1 + rng.next(below: 2))) : try notifyCreate()
                fs.page.setHandle(k, h)
            }
        }
        let tag = IPCTag(words: words, bytes: byteCount, handles: handleCount, label: label)
        let reply: IPCMessage
        do throws(SysError) {
            reply = try senderCall(fs.sender, IPCMessage(tag: tag, words: w))
        } catch {
            check(false, "request \(i) (label \(label)): the call failed with \(text(error)): initfsd is gone?")
            return
        }
        // A handle in a reply (a map's Frame) is ours to close.
        for k in 0..<min(reply.tag.handles, IPCBuffer.maxHandles) { closeAll(fs.page.handle(k)) }
        if reply.tag.label != 0 {
            bad += 1
            if FileError(rawValue: reply.tag.label) == nil {
                check(false, "request \(i): reply label \(reply.tag.label) is no FileError")
                return
            }
        } else if label == FileLabel.open.rawValue {
            opened.append(reply.words.0)
        }
        // A connect answers with a Sender: closed at once (initfsd then gets its notice).
        for k in 0..<min(reply.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(fs.page.handle(k)) }
    }
    // Close what the stream opened, then the server must answer correctly as before.
    for id in opened { _ = try? fs.call(.close, [id]) }
    _ = try? anchor.close()
    check(bad > 2000, "only \(bad) of 3000 random requests were refused")
    let after = try systemInfo(.liveObjects)
    check(after <= baseline, "handles sent in the stream stayed alive (\(after) > \(baseline) live objects)")
    let again = fileStep("readFile after the stream") { () throws(FileError) in try fs.readFile("/etc/init.conf") }
    check(again == expected, "init.conf reads differently after the stream")
}

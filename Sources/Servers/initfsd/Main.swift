// initfsd: serves the initfs (the ustar archive root unpacked from the boot module `initfs`) read-only
// over the file-service protocol (Sources/ABI/FileProtocol.swift), scheme `initfs`.
//
// Root starts it first, with its Receiver as `export:initfs` and the unpacked archive as the Frame
// `grant:initfs-archive` (`bytes=N` on its command line: the archive's length). Every request is checked
// (label, word count, bytes, handles, file id and badge, offsets and lengths) and a bad one gets an error
// reply; handles that arrive with a request that takes none are closed.

let programName: StaticString = "initfsd"

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("initfs") else {
        print("initfsd: no Receiver for `initfs` in the startup block; exiting")
        return 1
    }
    guard let frame = startup.granted("initfs-archive"),
          let length = startup.value(ofKey: "bytes").flatMap({ Int($0) }), length >= 0 else {
        print("initfsd: no archive (grant:initfs-archive and bytes=N); exiting")
        return 1
    }
    var read: Result<Void, SysError> = .success(())
    // Uninitialized: frameReadAll fills all of it (a zero fill first would cost a byte loop).
    let archive = [UInt8](unsafeUninitializedCapacity: length) { b, count in
        read = Result { () throws(SysError) in try frameReadAll(frame, offset: 0, into: UnsafeMutableRawBufferPointer(start: b.baseAddress, count: length)) }
        count = length
    }
    if case .failure(let error) = read {
        print("initfsd: cannot read the archive: \(error.name)")
        return 1
    }
    _ = try? handleClose(frame)
    let entries: [TarEntry]
    do throws(TarError) { entries = try tarEntries(archive) } catch {
        print("initfsd: the archive is not a valid ustar archive; exiting")
        return 1
    }
    let server = Server(archive: archive, tree: Tree(entries))
    // The pager reads the archive through a pointer: the array lives (unchanged) as long as the server.
    let base = server.archive.withUnsafeBytes { UnsafeRawPointer($0.baseAddress) }
    if let base, let pager = try? FilePager(tree: server.tree, archive: base), (try? pager.start()) != nil {
        server.pager = pager
    } else {
        print("initfsd: no pager thread: map requests are refused")
    }
    let files = server.tree.nodes.filter { $0.kind == .file }.count
    print("initfsd: serving initfs:// (\(files) files, \(server.tree.nodes.count - files) directories, \(length) bytes)")
    return server.run(receiver)
}

// vfspmtest: the userspace tests of vfs and pm, started by root under `vfspmtest` with, in order, vfs's
// administrative Sender (badge 0), pm's Sender, and Frames holding the ELF images of pmchild and vfs.
// It puts those images into fs:///bin through vfs, so pm spawns them by path. Exit code 0 when every
// test passed.

let programName: StaticString = "vfspmtest"

struct Context {
    let vfsAdmin: Handle
    let pmClient: ProcessClient
    /// A connection of its own to vfs (made with `connect` through the administrative Sender).
    let fsClient: FileService
    let admin: FileService
    let page: MessagePage

    /// The pm client, its IPC buffer page installed (FileService calls install theirs).
    var pm: ProcessClient { _ = try? page.install(); return pmClient }
    /// The vfs connection, its IPC buffer page installed.
    var fs: FileService { _ = try? fsClient.adopt(); return fsClient }
}

func programMain(_ startup: Startup) -> Int32 {
    let h = startup.handles
    guard h.count >= 4 else { print("vfspmtest: expected 4 handles, got \(h.count)"); return 1 }
    let context: Context
    do throws(ServiceError) {
        let admin = try sys { () throws(SysError) in try FileService(h[0]) }
        let connection = try files { () throws(FileError) in try admin.connect() }
        let fs = try sys { () throws(SysError) in try FileService(connection) }
        let page = try sys { () throws(SysError) in try MessagePage() }
        context = Context(vfsAdmin: h[0], pmClient: try ProcessClient(h[1], page: page), fsClient: fs, admin: admin, page: page)
        let pmchild = try imageBytes(h[2]), vfs = try imageBytes(h[3])
        try files { () throws(FileError) in
            try context.fs.mkdir("/bin")
            try writeFile(context.fs, "fs:///bin/pmchild", pmchild, window: 64 << 10)
            try writeFile(context.fs, "fs:///bin/vfs", vfs, window: 64 << 10)
        }
    } catch {
        print("vfspmtest: setup failed: \(text(error.name))")
        return 1
    }
    for (name, body) in vfsTests { runFile(name) { () throws(FileError) in try body(context) } }
    for (name, body) in pmTests + pmSignalTests { run(name) { () throws(ServiceError) in try body(context) } }
    for (name, body) in malformedTests { run(name) { () throws(ServiceError) in try body(context) } }
    print("vfspmtest: \(Suite.passed) passed, \(Suite.failed) failed")
    return Suite.failed == 0 ? 0 : 1
}

/// The bytes of an ELF image in a Frame (the Frame is page-rounded; the ELF's own end is where its
/// section headers end, which is the file's end for our linker's output).
func imageBytes(_ frame: Handle) throws(ServiceError) -> [UInt8] {
    let size = Int(try sys { () throws(SysError) in try frameGetSize(frame) })
    let bytes = try ServiceCall.readFrame(frame, offset: 0, count: size)
    func word(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    let end = word(0x28, 8) + word(0x3a, 2) * word(0x3c, 2)
    guard end > 64, end <= size else { throw .notExecutable }
    return Array(bytes[0..<end])
}

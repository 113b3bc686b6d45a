// vfs: the URI namespace over the file protocol (Sources/ABI/FileProtocol.swift). A boot server: root
// gives it `export:vfs` (its Receiver), `import:initfs` and, when fsd.fat32 runs, `import:fat32`, and the
// kernel's command line, and `import:services` (root's service directory: pm and the drivers init
// starts after boot, for the file servers it starts on first access). It mounts initfs:// (read-only), keeps a tmpfs at fs:/// unless `root=` or
// initfs:///etc/fstab puts the fat32 volume there, mounts fstab's other lines, then serves: every request
// is checked, routed through the mount table to the tmpfs or forwarded to the server mounted there.
//
// Started without `export:vfs` (the vfspmtest run), it serves the first Receiver among its handles.

let programName: StaticString = "vfs"

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("vfs")
        ?? startup.handles.first(where: { (try? handleIdentify($0).type) == .receiver }) else {
        print("vfs: no Receiver (export:vfs); exiting")
        return 1
    }
    let server: VFSServer
    do throws(SysError) { server = try VFSServer(receiver: receiver) } catch {
        print("vfs: cannot start: \(error.name)")
        return 1
    }
    server.directory = startup.imported(ServiceDirectory.service)
    server.setUp(initfs: startup.imported("initfs"), fat32: startup.imported("fat32"),
                 root: startup.value(ofKey: "root").map(String.init))
    print("vfs: serving; mounts: \(server.mountList())")
    return server.run()
}

// vfs: the URI namespace (Sources/ABI/VFSProtocol.swift). It serves the file protocol on the Receiver
// it is given (the first receiver among its `handle=N` words), keeps a RAM file system (tmpfs) mounted at
// fs:///, routes each URI through its mount table, and forwards URIs of a mounted scheme to the server
// that exports it. When a server mounts `initfs`, vfs reads initfs:///etc/fstab and mounts the tmpfs
// entries it lists. `root=DEVICE` on its command line is logged: disk file systems are not mounted yet.

let programName: StaticString = "vfs"

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.handles.first(where: { (try? handleIdentify($0).type) == .receiver }) else {
        print("vfs: no receiver given (start me with a Receiver handle); exiting")
        return 1
    }
    let server: VFSServer
    do throws(SysError) { server = try VFSServer(receiver: receiver) } catch {
        print("vfs: cannot start: \(error.name)")
        return 1
    }
    if let root = startup.arguments.first(where: { $0.hasPrefix("root=") }) {
        print("vfs: \(root): mounting disk file systems is not done yet; fs:/// stays a tmpfs")
    }
    print("vfs: serving; fs:/// is a tmpfs")
    server.run()
    return 0
}

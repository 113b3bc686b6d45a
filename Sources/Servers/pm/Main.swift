// pm: processes (Sources/ABI/ProcessProtocol.swift). As a boot server (root starts it from sbin/ with
// `export:pm` and Senders for its manifest's imports) it serves the process protocol on its `export:pm`
// Receiver and reads programs through its file servers (`import:vfs` for every scheme, `import:initfs`
// for initfs:// paths; the file protocol). Started by hand (root's `vfspmtest`) it serves the first
// Receiver among its `handle=N` words and reads programs through the first Sender, vfs. Spawn by path with
// arguments, environment, named handles and descriptors, wait with exit status (a fault's status too),
// kill, list, identify, and pipes (Pipes.swift).

let programName: StaticString = "pm"

func programMain(_ startup: Startup) -> Int32 {
    let source: ImageSource
    let receiver: Handle
    var directory: Handle? = nil
    if let exported = startup.exported("pm") {
        receiver = exported
        let vfs = startup.imported("vfs"), initfs = startup.imported("initfs")
        guard vfs != nil || initfs != nil else {
            print("pm: no file server (import:vfs or import:initfs) to read programs through; exiting")
            return 1
        }
        source = ImageSource(vfs: vfs.flatMap { try? FileService($0) }, initfs: initfs.flatMap { try? FileService($0) },
                             time: startup.imported("time"), pipes: true)
        directory = startup.imported(ServiceDirectory.service)
    } else {
        let kinds = startup.handles.map { ($0, try? handleIdentify($0).type) }
        guard let r = kinds.first(where: { $0.1 == .receiver })?.0,
              let vfs = kinds.first(where: { $0.1 == .sender })?.0 else {
            print("pm: needs a Receiver to serve and a Sender to vfs; exiting")
            return 1
        }
        receiver = r
        source = ImageSource(vfs: try? FileService(vfs), initfs: nil, time: nil, pipes: false)
    }
    let server: ProcessServer
    do throws(ServiceError) { server = try ProcessServer(receiver: receiver, source: source) } catch {
        print("pm: cannot start: \(error.name)")
        return 1
    }
    server.directory = directory
    print("pm: serving")
    server.run()
    return 0
}

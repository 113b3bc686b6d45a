// pm: processes (Sources/ABI/ProcessProtocol.swift). It serves the process protocol on the first
// Receiver among its `handle=N` words and reads programs through the first Sender (vfs): spawn by path
// with arguments, environment and handles, wait with exit status (a fault's status too), kill, list.

let programName: StaticString = "pm"

func programMain(_ startup: Startup) -> Int32 {
    let kinds = startup.handles.map { ($0, try? handleIdentify($0).type) }
    guard let receiver = kinds.first(where: { $0.1 == .receiver })?.0,
          let vfs = kinds.first(where: { $0.1 == .sender })?.0 else {
        print("pm: needs a Receiver to serve and a Sender to vfs; exiting")
        return 1
    }
    let server: ProcessServer
    do throws(ServiceError) { server = try ProcessServer(receiver: receiver, vfs: vfs) } catch {
        print("pm: cannot start: \(error.name)")
        return 1
    }
    print("pm: serving")
    server.run()
    return 0
}

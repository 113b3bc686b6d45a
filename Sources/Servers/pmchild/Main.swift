// pmchild: the program the vfs/pm tests spawn through pm. Its first argument says what to do:
//   exit N        exit with N
//   fault         write to an unmapped address (the parent sees ExitCode.fault(vector: 14))
//   block         wait forever (to be killed)
//   env K=V       exit 0 when K=V is in its environment, else 1
//   frame         write "pmchild" at the start of the Frame given after its pm Sender; exit 0
//   spawn PATH    spawn PATH `exit 7` through its own pm Sender, wait for it, exit with 100 + its status
//                 (a wait for a process that is not its child must fail first: else exit 1)

let programName: StaticString = "pmchild"

func programMain(_ startup: Startup) -> Int32 {
    let args = startup.arguments.map(String.init)
    let handles = startup.handles
    guard let what = args.first else { return 2 }
    switch what {
    case "exit": return Int32(args.dropFirst().first ?? "") ?? 2
    case "fault":
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x0000_0bad_0000_0000))!.pointee = 1
        return 3
    case "block":
        if let n = try? notifyCreate() { _ = try? notifyWait(n) }
        return 4
    case "env":
        return args.count == 2 && startup.environment.contains(args[1]) ? 0 : 1
    case "frame":
        guard handles.count >= 2 else { return 2 }
        let text = Array("pmchild".utf8)
        let ok = text.withUnsafeBytes { b in (try? frameWrite(handles[1], offset: 0, from: b)) != nil }
        return ok ? 0 : 1
    case "spawn":
        guard args.count == 2, let pm = handles.first, let client = try? ProcessClient(pm) else { return 2 }
        guard (try? client.wait(1)) == nil else { return 1 }
        guard let id = try? client.spawn(args[1], arguments: ["exit", "7"]),
              let (got, status) = try? client.wait(id), got == id else { return 1 }
        return 100 + Int32(truncatingIfNeeded: status)
    default:
        return 2
    }
}

// The root process: the first user program the kernel starts, the system's root. It unpacks the initfs,
// starts the boot servers from their manifests and then init (Boot.swift). With `usertest` on the kernel
// command line init runs the userspace test suite (Sources/Servers/systest) and ends with its verdict,
// and root ends with init's, which ends the run (`fat32test` likewise, with Sources/Servers/fat32test).
// Root itself still runs `bench`, `fuzz=` and, through systest, `exitbench=` and `smpstress=`.

let programName: StaticString = "root"

func programMain(_ startup: Startup) -> Int32 {
    print("root: \(startup.modules.count) modules, heap at \(hex(Heap.base))")
    Initfs.load(startup)
    if startup.has(.bench) { return runBenchmarks(startup) }
    if let threads = startup.value(of: .exitBench) { return runExitBenchmark(startup, threads: threads) }
    if let seeds = startup.value(of: .smpStress) { return runSystest(startup, "smpstress=\(seeds)") }
    if let value = startup.value(of: .fuzz) { return runFuzz(startup, value) }
    if startup.has(.vfspmTest) { return runVFSPMTests(startup) }
    if let value = startup.value(of: .devTest) { return runDeviceCheck(startup, value) }
    guard let initProcess = Boot.startSystem(startup) else {
        print("root: init is not running; root idles")
        idle()
    }
    let code = (try? initProcess.wait()) ?? UInt64.max
    if KernelWord.allCases.contains(where: { $0.endsWithInit && startup.has($0) }) {
        // init ends with the test suite's code (the program init.conf marks `exit` under that word).
        return code == 0 ? 0 : 1
    }
    print("root: init ended with code \(hex(code)); root idles")
    idle()
}

/// Stays up for the developer (osh attach, osh syscalls): waits on a notification nobody signals.
func idle() -> Never {
    if let n = try? notifyCreate() { while true { _ = try? notifyWait(n) } }
    while true { threadYield() }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// `exitbench=N`: systest times the exit of one process of N threads (bin/systest from the initfs).
func runExitBenchmark(_ startup: Startup, threads: Substring) -> Int32 {
    runSystest(startup, "exitbench=\(threads)")
}

/// Runs bin/systest from the initfs with `commandLine` (`exitbench=N`, `smpstress=N`); its exit code.
func runSystest(_ startup: Startup, _ commandLine: String) -> Int32 {
    do throws(SysError) {
        guard let (image, owned) = try Programs.image(named: "systest", startup) else {
            print("root: \(commandLine) needs bin/systest in the initfs")
            return 1
        }
        defer { if owned { try? handleClose(image) } }
        let child = try Spawn.start(image: image, name: "systest", commandLine: commandLine)
        return Int32(truncatingIfNeeded: try child.wait())
    } catch {
        print("root: \(commandLine) failed: \(error.name)")
        return 1
    }
}

/// `bench`: the copy-on-write and pager faults (systest's `framebench`), then the IPC benchmark pair,
/// server and client in separate processes (Sources/Servers/ipcbench).
func runBenchmarks(_ startup: Startup) -> Int32 {
    do throws(SysError) {
        if let (image, owned) = try Programs.image(named: "systest", startup) {
            defer { if owned { try? handleClose(image) } }
            let frames = try Spawn.start(image: image, name: "systest", commandLine: "framebench")
            if try frames.wait() != 0 { print("root: bench: systest framebench failed") }
        } else {
            print("root: bench: no bin/systest for the frame figures")
        }
        guard let (image, owned) = try Programs.image(named: "ipcbench", startup) else {
            print("root: bench needs ipcbench (a boot module, or bin/ipcbench in the initfs)")
            return 1
        }
        defer { if owned { try? handleClose(image) } }
        let receiver = try receiverCreate()
        let sender = try senderCreate(receiver)
        let server = try Spawn.start(image: image, name: "ipcbench", commandLine: "server", give: [receiver])
        let rounds = startup.commandLine.split(separator: " ")
            .filter { $0.hasPrefix("rounds=") || $0.hasPrefix("only=") || $0 == "pairs" }.map(String.init)
        let client = try Spawn.start(image: image, name: "ipcbench",
                                     commandLine: (["client"] + rounds).joined(separator: " "), give: [sender])
        let code = try client.wait()
        try threadStop(server.thread)
        _ = try server.wait()
        return Int32(truncatingIfNeeded: code)
    } catch {
        print("root: bench failed: \(error.name)")
        return 1
    }
}

// The shell on the console: when the kernel command line has none of the test words, init opens the
// console's terminal (its `import:console`, the file protocol: open "/"), hands it to
// initfs:///bin/sh through pm as descriptors 0, 1 and 2 (three `share`s of the one open terminal) and
// starts sh again when it ends (after a pause when it ended within a second, and not after five quick
// ends in a row). Without a console or pm it logs one line and does nothing.

let shellPath = "initfs:///bin/sh"
let shellEnvironment = ["PATH=initfs:///bin", "HOME=/", "PWD=/"]

func startShell(_ startup: Startup) {
    if let word = startup.testRunWord {
        print("init: no shell (`\(staticText(word.name))` on the command line)")
        return
    }
    guard let console = startup.imported("console") else {
        print("init: no console (import:console); no shell")
        return
    }
    guard Launcher.pm != .invalid else {
        print("init: no pm (import:pm); no shell")
        return
    }
    guard (try? spawnThread({ superviseShell(console) })) != nil else {
        print("init: no thread for the shell")
        return
    }
}

/// Runs sh on the console again and again; on its own thread (its own IPC buffers).
func superviseShell(_ console: Handle) -> UInt64 {
    guard let files = try? FileService(console), let client = try? ProcessClient(Launcher.pm) else {
        print("init: no IPC buffer for the shell's supervisor")
        return 1
    }
    var quickEnds = 0
    while quickEnds < 5 {
        let started = Clock.now()
        guard let (id, terminal) = startShellOnce(files, client) else {
            quickEnds += 1
            threadSleep(nanoseconds: 1_000_000_000)
            continue
        }
        _ = try? client.page.install()
        let code = (try? client.wait(id).status) ?? UInt64.max
        _ = try? files.adopt()
        try? terminal.close()
        let quick = Clock.now() - started < 1_000_000_000
        quickEnds = quick ? quickEnds + 1 : 0
        print("init: sh ended (\(code == ExitCode.stopped ? "stopped" : ExitCode.isFault(code) ? "faulted" : "code \(code)")); starting it again")
        if quick { threadSleep(nanoseconds: 500_000_000) }
    }
    print("init: sh ended within a second five times in a row; no shell")
    return 1
}

/// An administrative connection to vfs (ConnectFlags.administrative through init's Sender, badge 0).
func vfsAdminConnection(_ vfs: Handle) throws(FileError) -> Handle {
    let files: FileService
    do throws(SysError) { files = try FileService(vfs) } catch { throw .noMemory }
    return try files.connect(.administrative)
}

/// Opens the terminal, starts sh with it as descriptors 0, 1, 2; sh's id and the open terminal.
func startShellOnce(_ files: FileService, _ client: ProcessClient) -> (UInt32, OpenFile)? {
    do throws(FileError) {
        do throws(SysError) { try files.adopt() } catch { throw FileError.io }
        let terminal = try files.open("/", [.read, .write])
        var named: [(name: String, handle: Handle, value: UInt64)] = []
        for fd in 0..<3 {
            let reply = try files.call(.share, [terminal.id])
            guard reply.tag.handles == 1 else {
                for n in named { _ = try? handleClose(n.handle) }
                throw FileError.io
            }
            named.append(("fd:\(fd)", files.page.handle(0), reply.words.0))
        }
        // The console's shell administers the system: an administrative connection to vfs (it may mount
        // and unmount: sh's `umount`). Without one pm gives sh an ordinary connection.
        if let vfs = Launcher.startup?.imported("vfs"), let admin = try? vfsAdminConnection(vfs) {
            named.append((staticText(StartupBlock.importPrefix) + "vfs", admin, 0))
        }
        _ = try? client.page.install()
        do throws(ServiceError) {
            let id = try client.spawn(shellPath, environment: shellEnvironment, named: named)
            print("init: started sh on the console (process \(id))")
            return (id, terminal)
        } catch {
            print("init: sh did not start: \(error.name)")
            return nil
        }
    } catch {
        print("init: cannot open the console's terminal: \(error.name)")
        return nil
    }
}


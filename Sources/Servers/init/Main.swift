// init: the first program root starts after the boot servers. It reads initfs:///etc/init.conf (the
// services, in order, with their arguments), starts each through pm (Launcher.swift), logs each start
// and each end, restarts a service that ends (with a doubling back-off, at most `Service.restartLimit`
// times in a row), then, when the command line has none of the test words, runs the shell on the
// console (Shell.swift), and idles with one log line. Its command line is the kernel's (root passes it
// on), so `when=WORD` lines follow the kernel's switches.

let programName: StaticString = "init"

let configPath = "initfs:///etc/init.conf"

func programMain(_ startup: Startup) -> Int32 {
    print("init: started at TSC \(read_tsc())")
    guard let initfs = startup.imported("initfs") else {
        print("init: no Sender to initfsd (import:initfs); nothing to start; idle")
        idle()
    }
    Launcher.initfs = initfs
    Launcher.pm = startup.imported("pm") ?? .invalid
    if Launcher.pm == .invalid { print("init: no pm (import:pm); services are started by init itself") }
    Launcher.resource = startup.granted("resource") ?? .invalid
    Launcher.startup = startup
    guard let files = try? FileService(initfs) else {
        print("init: no IPC buffer page; idle")
        idle()
    }
    let text: [UInt8]
    do throws(FileError) {
        text = try files.readFile(configPath)
    } catch {
        print("init: cannot read \(configPath): \(error.name); nothing to start; idle")
        idle()
    }
    let services = parseConfig(text, commandLine: startup.commandLine)
    let drivers = Drivers.read(files)
    let client = Launcher.pm == .invalid ? nil : try? ProcessClient(Launcher.pm)
    if let drivers { Drivers.start(startup, text: drivers, client: client) }
    var threads: [SpawnedThread] = []
    for service in services {
        // Start in order here; each service then has a thread that waits for it and restarts it.
        guard let first = service.launch(client: client) else { continue }
        guard let t = try? spawnThread({ service.supervise(first) }) else {
            print("init: \(service.name): no thread to watch it; it runs unwatched")
            continue
        }
        threads.append(t)
    }
    print("init: \(threads.count) of \(services.count) services running; idle")
    startShell(startup)
    idle()
}

func idle() -> Never {
    if let n = try? notifyCreate() { while true { _ = try? notifyWait(n) } }
    while true { threadYield() }
}

/// The lines of init.conf that apply: `NAME [once] [exit] [resource] [when=WORD] [import=A,B] PATH [ARGS...]`; bad
/// lines are logged and skipped.
func parseConfig(_ text: [UInt8], commandLine: String) -> [Service] {
    let words = commandLine.split(separator: " ")
    var services: [Service] = []
    var lineNumber = 0
    for raw in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        lineNumber += 1
        let line = String(decoding: raw, as: UTF8.self)
        let fields = line.split(separator: " ").filter { !$0.isEmpty }
        if fields.isEmpty || fields[0].hasPrefix("#") { continue }
        var once = false, exit = false, resource = false, when: Substring? = nil, imports: [String] = []
        var i = 1
        while i < fields.count {
            if fields[i] == "once" { once = true }
            else if fields[i] == "exit" { exit = true; once = true }
            else if fields[i] == "resource" { resource = true }
            else if fields[i].hasPrefix("when=") { when = fields[i].dropFirst(5) }
            else if fields[i].hasPrefix("import=") { imports += fields[i].dropFirst(7).split(separator: ",").map(String.init) }
            else { break }
            i += 1
        }
        guard i < fields.count else {
            print("init: \(configPath) line \(lineNumber): no program path; skipped")
            continue
        }
        if let when, !words.contains(when) { continue }
        services.append(Service(name: String(fields[0]), path: String(fields[i]),
                                arguments: fields[(i + 1)...].joined(separator: " "), once: once, exit: exit,
                                resource: resource, imports: imports))
    }
    return services
}

final class Service {
    let name: String
    let path: String
    let arguments: String
    let once: Bool
    let exit: Bool
    /// The service gets a duplicate of the machine's Resource (`grant:resource`) that root gave init.
    let resource: Bool
    /// Services of init's imports the service also gets (`import:NAME`, duplicates of init's Senders).
    let imports: [String]
    static let restartLimit = 3
    /// Milliseconds before the first restart (thread_sleep); doubled for each one after it.
    static let firstBackoff: UInt64 = 200

    init(name: String, path: String, arguments: String, once: Bool, exit: Bool, resource: Bool, imports: [String] = []) {
        self.name = name
        self.path = path
        self.arguments = arguments
        self.once = once
        self.exit = exit
        self.resource = resource
        self.imports = imports
    }

    /// Starts the service once (through pm with `client`, the calling thread's); logs the start or the failure.
    func launch(client: ProcessClient?) -> Launched? {
        do throws(LaunchError) {
            let p = try Launcher.start(path: path, name: name, arguments: arguments, resource: resource, imports: imports,
                                       client: client)
            print("init: started \(name) (\(path)\(arguments.isEmpty ? "" : " " + arguments))")
            return p
        } catch {
            print("init: \(name) did not start: \(error.text)")
            return nil
        }
    }

    /// Waits for the service, restarts it when it ends (back-off, limit); runs on its own thread.
    func supervise(_ first: Launched) -> UInt64 {
        var process = first
        var restarts = 0
        // This thread's own client of pm (its IPC buffer).
        let client = Launcher.pm == .invalid ? nil : try? ProcessClient(Launcher.pm)
        while true {
            let code: UInt64
            switch process {
            case .direct(let p): code = (try? p.wait()) ?? UInt64.max
            case .pm(let id): code = (try? client?.wait(id).status) ?? UInt64.max
            }
            let how = ExitCode.isFault(code) ? "faulted (vector \(code & 0xff))"
                : code == ExitCode.stopped ? "was stopped" : "exited with code \(code)"
            if exit {
                print("init: \(name) \(how); init ends with its code")
                Output.flush()
                processExit(code)
            }
            if once {
                print("init: \(name) \(how); not restarted (once)")
                return code
            }
            if restarts == Service.restartLimit {
                print("init: \(name) \(how); restarted \(restarts) times, giving up")
                return code
            }
            restarts += 1
            let backoff = Service.firstBackoff << (restarts - 1)
            print("init: \(name) \(how); restart \(restarts) of \(Service.restartLimit) after \(backoff) ms")
            threadSleep(nanoseconds: backoff * 1_000_000)
            guard let next = launch(client: client) else { return UInt64.max }
            process = next
        }
    }
}

// Boot servers that end are started again. Root keeps its Receiver of every exported service while the
// system runs, so the Senders importers hold stay valid across a restart: a call made while the server
// is down waits in the endpoint and the new instance answers it (a call the old instance had received
// and not answered fails with .peerClosed, as the kernel does for a thread that ends).
//
// A thread per running boot server waits for its process to end (process_wait) and tells the supervisor
// loop (a thread with a Receiver of its own), which logs the end, sleeps a back-off that doubles (200,
// 400, 800 ms) and starts the server again through Boot.start: new Senders for its imports, its device
// grants made again, a duplicate of the same Receiver for its exports. After `limit` restarts in a row
// (a run of `stable` ns or longer starts a new row) the server is given up: one line, and root closes
// its Receivers, so callers get .peerClosed instead of waiting for ever. A server that exits with code
// 0 ended on purpose and is not restarted either. Only the supervisor loop touches Boot's tables after
// init started.
//
// The same loop is root's service directory (Sources/ABI/ServiceDirectory.swift): a boot server that
// imports `services` (pm) gets a Sender to the loop's Receiver with `directoryBadge`, and asks through it
// for a new Sender to a service a boot server exports, for a program started after boot.

enum Supervisor {
    static let limit = 3
    static let firstBackoff: UInt64 = 200_000_000
    static let stable: UInt64 = 10_000_000_000
    static let endedLabel: UInt32 = 1
    /// `killtest=NAME`: the loop ends that server (words: index).
    static let killLabel: UInt32 = 2
    static let killTestDelay: UInt64 = 25_000_000_000
    /// The badge of the directory's Senders (only requests carrying it may connect).
    static let directoryBadge: UInt64 = 1 << 62
    /// The badge of init's directory Sender: it may also `register` the drivers it starts.
    static let registrarBadge: UInt64 = 1 << 62 | 1

    /// Restarts in the current row and the last start's time, per server index.
    static var restarts: [Int: (count: Int, startedAt: UInt64)] = [:]
    static var sender: Handle? = nil
    /// The loop's thread, made by `start` and started by `run` (after init started: until then the
    /// watchers' messages wait, and only root's main thread touches Boot's tables).
    static var loopThread: Handle? = nil
    static var receiver: Handle? = nil
    /// The loop's IPC buffer (a directory answer carries a handle).
    static var page: MessagePage? = nil

    /// The loop's Receiver, its thread (not started yet) and IPC buffer: made before the boot servers
    /// start, since pm's `import:services` is a Sender to it.
    static func prepare(_ startup: Startup) {
        do throws(SysError) {
            let r = try receiverCreate()
            receiver = r
            sender = try senderCreate(r)
            page = try MessagePage()
            loopThread = try spawnThread(start: false) { loop(r, startup) }.handle
        } catch {
            print("root: no supervisor (\(error.name)); boot servers that end stay down, and no service directory")
            loopThread = nil
        }
    }

    /// A Sender to the service directory for a server importing `services`, or nil.
    static func directorySender(registrar: Bool = false) -> Handle? {
        guard loopThread != nil, let receiver else { return nil }
        return try? senderCreate(receiver, badge: registrar ? registrarBadge : directoryBadge)
    }

    /// Watches every started boot server (Boot.servers' processes) from now on; `run` starts restarting.
    static func start(_ startup: Startup) {
        guard loopThread != nil else { return }
        let now = (try? clockGet()) ?? 0
        for i in Boot.servers.indices {
            guard let p = Boot.servers[i].process else { continue }
            restarts[i] = (0, now)
            watch(i, p)
        }
    }

    /// Restarting begins (the loop's thread starts); with `killtest=NAME` a thread asks the loop to end
    /// that server after `killTestDelay`.
    static func run(_ startup: Startup) {
        guard let t = loopThread else { return }
        if (try? threadStart(t)) == nil { print("root: the supervisor did not start; boot servers that end stay down") }
        _ = try? handleClose(t)
        loopThread = nil
        guard let name = startup.value(of: .killTest), let sender else { return }
        guard let i = Boot.servers.firstIndex(where: { $0.manifest.name == String(name) && $0.process != nil }) else {
            print("root: killtest: no running boot server named \(name)")
            return
        }
        let started = try? spawnThread(stackSize: 16 * 1024) {
            threadSleep(nanoseconds: killTestDelay)
            _ = try? senderCall(sender, IPCMessage(label: killLabel, UInt64(i)))
            return 0
        }
        if let started { _ = try? handleClose(started.handle) }
    }

    /// A thread that waits for server `i`'s process to end and tells the loop (words: index, exit code).
    /// Its handle is closed at once (a started thread runs on); its 16 KiB stack stays allocated.
    static func watch(_ i: Int, _ process: SpawnedProcess) {
        guard let sender else { return }
        let started = try? spawnThread(stackSize: 16 * 1024) {
            let code = (try? process.wait()) ?? UInt64.max
            _ = try? senderCall(sender, IPCMessage(label: endedLabel, UInt64(i), code))
            return 0
        }
        if let started { _ = try? handleClose(started.handle) } else {
            print("root: cannot watch \(Boot.servers[i].path); it is not restarted if it ends")
        }
    }

    static func loop(_ receiver: Handle, _ startup: Startup) -> UInt64 {
        while true {
            // Installed again each time: Adoption's client installs its own page for its calls.
            _ = try? page?.install()
            guard let m = try? receiverRecv(receiver) else { return 1 }
            if m.tag.label == ServiceDirectory.connectLabel {
                answerConnect(m)
                continue
            }
            if m.tag.label == ServiceDirectory.registerLabel {
                answerRegister(m)
                continue
            }
            _ = try? receiverReply(IPCMessage.ok())
            // Ends and kills come from root's own threads, never through a directory Sender.
            guard m.badge != directoryBadge, m.badge != registrarBadge, m.words.0 < UInt64(Boot.servers.count) else { continue }
            if m.tag.label == killLabel, let p = Boot.servers[Int(m.words.0)].process {
                print("root: killtest: ending \(Boot.servers[Int(m.words.0)].path)")
                do throws(SysError) { try processKill(p.process) } catch { print("root: killtest: process_kill failed: \(error.name)") }
            } else if m.tag.label == endedLabel {
                ended(Int(m.words.0), code: m.words.1, startup)
            }
        }
    }

    /// A directory request: a new Sender to the service named in the bytes (Boot.sender, a badge of its
    /// own), moved to the caller.
    static func answerConnect(_ m: IPCMessage) {
        guard let page else { return }
        func refuse(_ e: ServiceError) { _ = try? receiverReply(IPCMessage(label: 0, e.rawValue)) }
        guard m.badge == directoryBadge || m.badge == registrarBadge, m.tag.handles == 0, m.tag.words >= 1, m.words.0 == UInt64(m.tag.bytes),
              m.tag.bytes > 0, m.tag.bytes <= ManifestNote.maxNameLength else {
            page.closeReceived(m.tag.handles)
            return refuse(.badMessage)
        }
        let name = String(decoding: page.received(m.tag.bytes), as: UTF8.self)
        guard name != ServiceDirectory.service, case let (sender, badge)? = Boot.badgedSender(for: name) else { return refuse(.notFound) }
        page.setHandle(0, sender)
        if (try? receiverReply(IPCMessage(tag: IPCTag(words: 2, handles: 1), words: (0, badge, 0, 0)))) == nil {
            _ = try? handleClose(sender)
        }
    }

    /// A register request: the Receiver a driver started after boot serves, under a new name.
    static func answerRegister(_ m: IPCMessage) {
        guard let page else { return }
        func refuse(_ e: ServiceError) {
            page.closeReceived(m.tag.handles)
            _ = try? receiverReply(IPCMessage(label: 0, e.rawValue))
        }
        guard m.tag.handles == 1, m.tag.words >= 1, m.words.0 == UInt64(m.tag.bytes), m.tag.bytes > 0,
              m.tag.bytes <= ManifestNote.maxNameLength else { return refuse(.badMessage) }
        guard m.badge == registrarBadge else { return refuse(.accessDenied) }
        let receiver = page.handle(0)
        guard let (type, _) = try? handleIdentify(receiver), type == .receiver else { return refuse(.invalid) }
        let name = String(decoding: page.received(m.tag.bytes), as: UTF8.self)
        guard name != ServiceDirectory.service, !Boot.receivers.contains(where: { $0.service == name }),
              !Boot.registered.contains(where: { $0.service == name }) else { return refuse(.exists) }
        Boot.registered.append((name, receiver))
        print("root: service directory: `\(name)` registered")
        _ = try? receiverReply(IPCMessage(label: 0, 0))
    }

    /// Server `i` ended with `code`: restarted after its back-off, or given up.
    static func ended(_ i: Int, code: UInt64, _ startup: Startup) {
        let path = Boot.servers[i].path
        Boot.servers[i].process = nil
        if code == 0 {
            // Its work is done (it said so): not an end to repair.
            print("root: \(path) ended with code 0; not restarted")
            Boot.giveUp(i)
            return
        }
        let now = (try? clockGet()) ?? 0
        var row = restarts[i] ?? (0, now)
        if now &- row.startedAt >= stable { row.count = 0 }
        guard row.count < limit else {
            print("root: \(path) ended with code \(hex(code)) after \(limit) restarts in a row; not restarted again")
            Boot.giveUp(i)
            return
        }
        let delay = firstBackoff << UInt64(row.count)
        print("root: \(path) ended with code \(hex(code)); restarting it in \(delay / 1_000_000) ms (restart \(row.count + 1) of \(limit))")
        threadSleep(nanoseconds: delay)
        guard let process = Boot.start(i, startup) else {
            print("root: \(path) did not start again; given up")
            Boot.giveUp(i)
            return
        }
        restarts[i] = (row.count + 1, (try? clockGet()) ?? now)
        Boot.servers[i].process = process
        watch(i, process)
        Adoption.restarted(i)
    }
}

// The system's start: root reads the manifest of every boot server (sbin/ in the initfs, init aside),
// starts them in dependency order (an exporter before its importers), creates one Receiver for each
// exported service (moved to the exporter, `export:NAME`) and gives each importer its own Sender to it
// (`import:NAME`, badge = the importer's number, so a server can tell its clients apart). Then it starts
// initfs:///sbin/init with Senders for what init's manifest imports (initfs at least; its Sender to vfs has
// badge 0, vfs's administrative badge) and a duplicate of the machine's Resource (`grant:resource`).
//
// Each boot server also gets the device capabilities initfs:///etc/devices.conf lists for it (Devices.swift).
// Every boot server gets the kernel's command line (so vfs sees `root=`). An optional import (`fat32?`)
// is handed over when a started server exports it; otherwise the importer starts without it (one line).
//
// A server whose import nobody exports, one in an import cycle, one that fails to start and one whose
// exporter did not start are each one `root:` line and are not started; the rest of the system starts.
//
// Root keeps its Receiver of each exported service while the system runs: a boot server that ends is
// started again with the same one (Supervisor.swift), so its importers' Senders stay valid.

struct BootServer {
    let path: String
    let manifest: ServerManifest
    var state: State = .waiting
    /// The running instance (root waits for it to end: Supervisor).
    var process: SpawnedProcess? = nil
    /// The badge of its Sender to pm (0: it does not import pm), which pm learns when root adopts it.
    var pmBadge: UInt64 = 0

    enum State: Equatable { case waiting, started, failed }
}

enum Boot {
    /// Receivers of exported services (held until the exporter starts) and the exporter's index.
    static var receivers: [(service: String, exporter: Int, receiver: Handle)] = []
    static var servers: [BootServer] = []
    /// Receivers of services registered after boot through the service directory (drivers init starts
    /// from drivers.conf: `block1`, …); root makes Senders to them for `connect`.
    static var registered: [(service: String, receiver: Handle)] = []
    static var nextBadge: UInt64 = 1
    /// init, once started, and the badge of its Sender to pm (Adoption.swift).
    static var initProcess: SpawnedProcess? = nil
    static var initPMBadge: UInt64 = 0

    /// Starts the boot servers and init, then watches the servers (Supervisor); returns init, if it started.
    static func startSystem(_ startup: Startup) -> SpawnedProcess? {
        Supervisor.prepare(startup)
        startServers(startup)
        // pm lists root and the boot servers (and init, below): `ps` shows the whole system.
        Adoption.adoptServers()
        // Root keeps its Receivers: a server that ends is started again with the same ones. The watching
        // threads start before init, so that nothing root makes overlaps init's services (systest
        // counts the system's objects).
        Supervisor.start(startup)
        let initProcess = startInit(startup)
        Supervisor.run(startup)
        return initProcess
    }

    /// Server `i` is given up: root closes its Receivers of what it exported, so callers get .peerClosed.
    static func giveUp(_ i: Int) {
        servers[i].state = .failed
        for r in receivers where r.exporter == i { _ = try? handleClose(r.receiver) }
        receivers.removeAll { $0.exporter == i }
    }

    /// Closes root's Receivers of the exported services (each exporter holds its own).
    static func letGo() {
        for r in receivers { _ = try? handleClose(r.receiver) }
        receivers = []
    }

    /// Starts the boot servers (only those named in `only`, when given) in dependency order.
    static func startServers(_ startup: Startup, only: [String]? = nil) {
        servers = Initfs.servers().filter { $0.manifest.name != "init" && $0.path != "sbin/init" }
        if let only { servers = servers.filter { only.contains($0.manifest.name) } }
        print("root: \(servers.count) boot servers in sbin/: \(servers.map { $0.manifest.name }.joined(separator: ", "))")
        let plan = BootOrder(servers.map { $0.manifest })
        for d in plan.duplicateExports {
            print("root: \(servers[d.ignored].path) exports `\(d.service)`, which \(servers[d.first].path) already exports; "
                  + "the first one serves it")
        }
        for s in plan.skipped {
            servers[s.index].state = .failed
            switch s.reason {
            case .missingImport(let service):
                print("root: \(servers[s.index].path) not started: it imports `\(service)`, which no boot server exports")
            case .dependsOnSkipped(let other):
                print("root: \(servers[s.index].path) not started: it imports from \(servers[other].path), which is not started")
            case .cycle(let members):
                // One line for the whole cycle.
                if s.index == members.first {
                    print("root: \(members.map { servers[$0].path }.joined(separator: ", ")) not started: their imports form a cycle")
                }
            }
        }
        // One Receiver per exported service of a server that will start.
        for (service, exporter) in BootOrder.exporters(servers.map { $0.manifest }) where plan.order.contains(exporter) {
            guard let r = try? receiverCreate() else {
                print("root: no Receiver for `\(service)` (out of handles or memory)")
                continue
            }
            receivers.append((service, exporter, r))
        }
        for i in plan.order {
            let exporters = servers[i].manifest.requiredImports.compactMap { service in
                receivers.first { $0.service == service }?.exporter
            }
            if let bad = exporters.first(where: { servers[$0].state == .failed }) {
                print("root: \(servers[i].path) not started: its import from \(servers[bad].path) is not there")
                servers[i].state = .failed
                continue
            }
            servers[i].process = start(i, startup)
            servers[i].state = servers[i].process != nil ? .started : .failed
        }
        // Receivers of services whose exporter did not start: callers get .peerClosed, not a hang.
        for r in receivers where servers[r.exporter].state != .started { _ = try? handleClose(r.receiver) }
        receivers.removeAll { servers[$0.exporter].state != .started }
    }

    /// A Sender to `service` for a new importer (badge: the importer's number, or the one given), or nil
    /// when nothing serves it.
    static func sender(for service: String, badge: UInt64? = nil) -> Handle? {
        badgedSender(for: service, badge: badge)?.sender
    }

    /// sender(for:badge:) with the badge the Sender carries (pm learns it when root adopts the importer).
    static func badgedSender(for service: String, badge: UInt64? = nil) -> (sender: Handle, badge: UInt64)? {
        let receiver: Handle
        if let r = receivers.first(where: { $0.service == service }) {
            guard servers[r.exporter].state != .failed else { return nil }
            receiver = r.receiver
        } else if let r = registered.first(where: { $0.service == service }) {
            receiver = r.receiver
        } else {
            return nil
        }
        let given = badge ?? nextBadge
        guard let s = try? senderCreate(receiver, badge: given) else { return nil }
        if badge == nil { nextBadge += 1 }
        return (s, given)
    }

    /// Starts server `i` with its grants; its process, or nil when it did not start.
    static func start(_ i: Int, _ startup: Startup) -> SpawnedProcess? {
        let s = servers[i]
        var grants: [(name: String, handle: Handle)] = []
        var commandLine = startup.commandLine
        func undo() { for g in grants { _ = try? handleClose(g.handle) } }
        for service in s.manifest.imports {
            if service == ServiceDirectory.service {
                // Root's own service directory (Supervisor.swift), not a boot server's export.
                if let h = Supervisor.directorySender() {
                    grants.append((staticText(StartupBlock.importPrefix) + service, h))
                } else {
                    print("root: \(s.path) starts without `\(service)`: root has no service directory")
                }
                continue
            }
            if s.manifest.isOptional(service), !receivers.contains(where: { $0.service == service && servers[$0.exporter].state == .started }) {
                print("root: \(s.path) starts without its optional import `\(service)`: no started boot server exports it")
                continue
            }
            guard case let (h, badge)? = badgedSender(for: service) else {
                print("root: \(s.path) not started: no Sender for `\(service)`")
                undo()
                return nil
            }
            if service == "pm" { servers[i].pmBadge = badge }
            grants.append((staticText(StartupBlock.importPrefix) + service, h))
        }
        for r in receivers where r.exporter == i {
            // The exporter gets a duplicate; root keeps its own to make Senders for later importers.
            guard let h = try? handleDuplicate(r.receiver, rights: Rights.defaults(for: .receiver)) else {
                print("root: \(s.path) not started: cannot duplicate its Receiver for `\(r.service)`")
                undo()
                return nil
            }
            grants.append((staticText(StartupBlock.exportPrefix) + r.service, h))
        }
        // The device capabilities initfs:///etc/devices.conf lists for this server.
        guard let devices = Devices.make(for: s.manifest.name, machine: startup.resource) else {
            print("root: \(s.path) not started: its device grants could not be made")
            undo()
            return nil
        }
        grants += devices
        if s.manifest.exports.contains("initfs") {
            guard let archive = Initfs.archiveFrame() else {
                print("root: \(s.path) not started: cannot put the initfs archive in a Frame")
                undo()
                return nil
            }
            grants.append((staticText(StartupBlock.grantPrefix) + "initfs-archive", archive))
            commandLine = "bytes=\(Initfs.archive.count) " + startup.commandLine
        }
        var process: SpawnedProcess? = nil
        do throws(SysError) {
            guard let (image, owned) = try Programs.image(path: s.path) else {
                print("root: \(s.path) not started: not in the initfs")
                undo()
                return nil
            }
            defer { if owned { try? handleClose(image) } }
            process = try Spawn.start(image: image, name: s.manifest.name, commandLine: commandLine, grants: grants)
        } catch {
            print("root: \(s.path) not started: \(error.name)")
            undo()
            return nil
        }
        let imports = s.manifest.imports.isEmpty ? "none" : s.manifest.importsText
        let exports = s.manifest.exports.isEmpty ? "none" : s.manifest.exports.joined(separator: ",")
        print("root: started \(s.path) (\(s.manifest.name): imports \(imports); exports \(exports))")
        return process
    }

    /// initfs:///sbin/init with Senders for its imports; missing ones are logged, init starts anyway.
    static func startInit(_ startup: Startup) -> SpawnedProcess? {
        guard let entry = Initfs.servers().first(where: { $0.path == "sbin/init" }) else {
            print("root: no initfs:///sbin/init; nothing more to start")
            return nil
        }
        var grants: [(name: String, handle: Handle)] = []
        for service in entry.manifest.imports {
            if service == ServiceDirectory.service {
                // The directory, with the right to register the drivers init starts (drivers.conf).
                if let h = Supervisor.directorySender(registrar: true) {
                    grants.append((staticText(StartupBlock.importPrefix) + service, h))
                } else {
                    print("root: init starts without `services`: root has no service directory")
                }
                continue
            }
            // init's Sender to vfs is the administrative one (badge 0: mount, unmount).
            if case let (h, badge)? = badgedSender(for: service, badge: service == "vfs" ? 0 : nil) {
                if service == "pm" { initPMBadge = badge }
                grants.append((staticText(StartupBlock.importPrefix) + service, h))
            } else {
                print("root: init imports `\(service)`, which no running server exports; init starts without it")
            }
        }
        // init hands the machine's Resource on to the services init.conf marks `resource` (systest's devices.*).
        if let resource = try? handleDuplicate(startup.resource, rights: Rights.defaults(for: .resource)) {
            grants.append((staticText(StartupBlock.grantPrefix) + "resource", resource))
        } else {
            print("root: no duplicate of the machine Resource for init; its services get none")
        }
        do throws(SysError) {
            guard let (image, owned) = try Programs.image(path: entry.path) else { return nil }
            defer { if owned { try? handleClose(image) } }
            // init gets the kernel's command line: its `when=WORD` services follow the kernel's switches.
            // pm adopts it before it runs, so that everything it spawns is its child in pm's list.
            let process = try Spawn.start(image: image, name: "init", commandLine: startup.commandLine, grants: grants,
                                          running: false)
            initProcess = process
            Adoption.adoptInit()
            do throws(SysError) { try threadStart(process.thread) } catch {
                initProcess = nil
                try? threadStop(process.thread)
                try? handleClose(process.thread)
                try? handleClose(process.vmem)
                try? handleClose(process.process)
                throw error
            }
            let imports = grants.filter { $0.name.hasPrefix(staticText(StartupBlock.importPrefix)) }.map { $0.name.dropFirst(7) }
            print("root: started initfs:///sbin/init (imports \(imports.joined(separator: ",")))")
            return process
        } catch {
            print("root: initfs:///sbin/init did not start: \(error.name)")
            return nil
        }
    }
}

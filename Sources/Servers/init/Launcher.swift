// How init starts a program. With pm (init's `import:pm`): spawn by path through pm, which reads the image
// itself and gives the child its own connections to its file servers (`import:initfs`, `import:vfs`)
// and its pm Sender (`import:pm`); init adds `grant:resource` and the `import=` Senders as named handles,
// and waits for the service through pm. Without pm (a test initfs, or pm failed to start): the ELF file
// is read through initfsd into a Frame and started with the Runtime's Spawn; the new process gets a
// Sender to initfsd as `import:initfs` (a connection of its own,
// FileLabel.connect: it shares no file ids with init or other services, and initfsd drops its open files
// when it ends), and, when init.conf says `resource`, a duplicate of the machine's Resource root gave
// init, as `grant:resource`, and for each `import=NAME` a duplicate of init's own Sender to NAME (root
// gives init Senders for what init's manifest imports: the device servers' services).

enum LaunchError: Error {
    case file(FileError)
    case system(SysError)
    case scheme
    case noResource
    case noImport(String)
    case service(ServiceError)

    var text: String {
        switch self {
        case .file(let e): return "cannot read it: \(e.name)"
        case .system(let e): return "cannot start it: \(e.name)"
        case .scheme: return "only initfs:// paths can be started before pm exists"
        case .noResource: return "init.conf gives it the machine's Resource, which init did not get from root"
        case .noImport(let service): return "init.conf gives it `\(service)`, which init did not get from root"
        case .service(let e): return "pm cannot start it: \(e.name)"
        }
    }
}

/// A started service: a pm child (its process id) or a process init started itself.
enum Launched {
    case pm(UInt32)
    case direct(SpawnedProcess)
}

enum Launcher {
    static var initfs: Handle = .invalid
    /// init's Sender to pm (`import:pm`), or .invalid.
    static var pm: Handle = .invalid
    /// The machine's Resource (root's `grant:resource` to init), or .invalid.
    static var resource: Handle = .invalid
    /// init's startup block (its `import:` Senders).
    static var startup: Startup? = nil

    /// A new connection to vfs (`connect` through init's Sender, which is vfs's administrative badge 0).
    static func vfsConnection(_ admin: Handle) throws(SysError) -> Handle {
        let files = try FileService(admin)
        do throws(FileError) { return try files.connect() } catch { throw .badState }
    }

    /// Starts a service through pm (with `client`, the calling thread's) or, without pm, itself.
    static func start(path: String, name: String, arguments: String, resource: Bool = false, imports: [String] = [],
                      client: ProcessClient?) throws(LaunchError) -> Launched {
        guard let client else {
            return .direct(try spawn(path: path, name: name, arguments: arguments, resource: resource, imports: imports))
        }
        var named: [(name: String, handle: Handle, value: UInt64)] = []
        for g in try serviceGrants(resource: resource, imports: imports) { named.append((g.name, g.handle, 0)) }
        do throws(ServiceError) {
            let words = arguments.split(separator: " ").map(String.init)
            return .pm(try client.spawn(path, arguments: words, named: named))
        } catch {
            throw .service(error)
        }
    }

    /// The grants init adds to a service: for each `import=NAME` its own Sender's duplicate (for vfs a
    /// connection of the service's own, never a copy of init's administrative Sender) and, for
    /// `resource`, the machine Resource's duplicate. Nothing is left open when it throws.
    static func serviceGrants(resource: Bool, imports: [String]) throws(LaunchError) -> [(name: String, handle: Handle)] {
        if resource && Launcher.resource == .invalid { throw .noResource }
        var senders: [(name: String, handle: Handle)] = []
        for service in imports {
            guard let h = startup?.imported(service) else { throw .noImport(service) }
            senders.append((staticText(StartupBlock.importPrefix) + service, h))
        }
        var grants: [(name: String, handle: Handle)] = []
        do throws(SysError) {
            for s in senders {
                let h = s.name == staticText(StartupBlock.importPrefix) + "vfs" ? try vfsConnection(s.handle)
                    : try handleDuplicate(s.handle, rights: Rights.defaults(for: .sender))
                grants.append((s.name, h))
            }
            if resource {
                grants.append((staticText(StartupBlock.grantPrefix) + "resource",
                               try handleDuplicate(Launcher.resource, rights: Rights.defaults(for: .resource))))
            }
        } catch {
            for g in grants { _ = try? handleClose(g.handle) }
            throw .system(error)
        }
        return grants
    }

    static func spawn(path: String, name: String, arguments: String, resource: Bool = false,
                      imports: [String] = []) throws(LaunchError) -> SpawnedProcess {
        guard path.hasPrefix("initfs://") || path.hasPrefix("/") else { throw .scheme }
        let extra = try serviceGrants(resource: resource, imports: imports)
        func closeExtra() { for g in extra { _ = try? handleClose(g.handle) } }
        let image: [UInt8]
        let connection: Handle
        do throws(FileError) {
            // A client per call: its IPC buffer goes on the calling thread (main or a supervisor).
            let files: FileService
            do throws(SysError) { files = try FileService(initfs) } catch { throw .noMemory }
            image = try files.readFile(path)
            connection = try files.connect()
        } catch {
            closeExtra()
            throw .file(error)
        }
        let frame: Handle
        do throws(SysError) {
            frame = try frameCreate(size: max((UInt64(image.count) + pageSize - 1) / pageSize * pageSize, pageSize))
            let written = image.withUnsafeBytes { b in
                Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) }
            }
            if case .failure(let e) = written {
                _ = try? handleClose(frame)
                throw e
            }
        } catch {
            closeExtra()
            _ = try? handleClose(connection)
            throw .system(error)
        }
        defer { _ = try? handleClose(frame) }
        do throws(SysError) {
            let grants = [(name: staticText(StartupBlock.importPrefix) + "initfs", handle: connection)] + extra
            return try Spawn.start(image: frame, name: name, commandLine: arguments, grants: grants)
        } catch {
            _ = try? handleClose(connection)    // not moved into a child (a moved handle's value is stale)
            throw .system(error)
        }
    }
}

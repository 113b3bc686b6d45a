// How init starts a program: the one place pm will take over (spawn by path through pm, which loads the
// image itself). Until pm exists: the ELF file is read through initfsd into a Frame and started with the
// Runtime's Spawn; the new process gets a Sender to initfsd as `import:initfs` (a connection of its own,
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

    var text: String {
        switch self {
        case .file(let e): return "cannot read it: \(e.name)"
        case .system(let e): return "cannot start it: \(e.name)"
        case .scheme: return "only initfs:// paths can be started before pm exists"
        case .noResource: return "init.conf gives it the machine's Resource, which init did not get from root"
        case .noImport(let service): return "init.conf gives it `\(service)`, which init did not get from root"
        }
    }
}

enum Launcher {
    static var initfs: Handle = .invalid
    /// The machine's Resource (root's `grant:resource` to init), or .invalid.
    static var resource: Handle = .invalid
    /// init's startup block (its `import:` Senders).
    static var startup: Startup? = nil

    /// A new connection to vfs (`connect` through init's Sender, which is vfs's administrative badge 0).
    static func vfsConnection(_ admin: Handle) throws(SysError) -> Handle {
        let files = try FileService(admin)
        do throws(FileError) { return try files.connect() } catch { throw .badState }
    }

    static func spawn(path: String, name: String, arguments: String, resource: Bool = false,
                      imports: [String] = []) throws(LaunchError) -> SpawnedProcess {
        guard path.hasPrefix("initfs://") || path.hasPrefix("/") else { throw .scheme }
        if resource && Launcher.resource == .invalid { throw .noResource }
        var senders: [(name: String, handle: Handle)] = []
        for service in imports {
            guard let h = startup?.imported(service) else { throw .noImport(service) }
            senders.append((staticText(StartupBlock.importPrefix) + service, h))
        }
        let image: [UInt8]
        let connection: Handle
        do throws(FileError) {
            // A client per call: its IPC buffer goes on the calling thread (main or a supervisor).
            let files: FileService
            do throws(SysError) { files = try FileService(initfs) } catch { throw .noMemory }
            image = try files.readFile(path)
            connection = try files.connect()
        } catch {
            throw .file(error)
        }
        do throws(SysError) {
            var grants = [(name: staticText(StartupBlock.importPrefix) + "initfs", handle: connection)]
            let frame = try frameCreate(size: max((UInt64(image.count) + pageSize - 1) / pageSize * pageSize, pageSize))
            defer { _ = try? handleClose(frame) }
            let written = image.withUnsafeBytes { b in
                Result { () throws(SysError) in try frameWriteAll(frame, offset: 0, from: b) }
            }
            if case .failure(let e) = written { throw e }
            do throws(SysError) {
                for s in senders {
                    // vfs: a connection of the service's own, never a copy of init's administrative Sender.
                    let h = s.name == staticText(StartupBlock.importPrefix) + "vfs" ? try vfsConnection(s.handle)
                        : try handleDuplicate(s.handle, rights: Rights.defaults(for: .sender))
                    grants.append((s.name, h))
                }
            } catch {
                for g in grants.dropFirst() { _ = try? handleClose(g.handle) }    // the connection: below
                throw error
            }
            if resource {
                do throws(SysError) {
                    grants.append((staticText(StartupBlock.grantPrefix) + "resource",
                                   try handleDuplicate(Launcher.resource, rights: Rights.defaults(for: .resource))))
                } catch {
                    for g in grants.dropFirst() { _ = try? handleClose(g.handle) }    // the connection: below
                    throw error
                }
            }
            return try Spawn.start(image: frame, name: name, commandLine: arguments, grants: grants)
        } catch {
            _ = try? handleClose(connection)    // not moved into a child (a moved handle's value is stale)
            throw .system(error)
        }
    }
}

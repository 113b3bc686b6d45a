// Mounting: the `mount` and `unmount` requests (the administrative badge 0 only), and what vfs mounts
// at its start: initfs:/// (its import, read-only), the fat32 volume at fs:/// for `root=`, and the lines
// of initfs:///etc/fstab (tmpfs mounted by vfs itself; vfat/fat32 on the `fat32` import, which fsd.fat32
// serves: one volume of the first disk). A server's mount is checked with a `stat /` unless its options
// say `x-lazy` (then it is first contacted by the first request under it). A vfat line on a later disk
// (`virtio1p1`) gets a fsd.fat32 of its own, which vfs starts through pm at the first request under it
// (startServer). A failed mount is one log line; the rest goes on.

extension VFSServer {
    /// The mount point in a request: a URI, or a whole scheme (`console://`).
    func mountPoint(_ count: Int) throws(FileError) -> FileURI {
        guard count > 0 else { throw .badMessage }
        guard count <= FileProtocol.maxPath else { throw .nameTooLong }
        var text = page.take(count)
        if text.count >= 3 && text.suffix(3).elementsEqual("://".utf8) { text.append(UInt8(ascii: "/")) }
        return try FileURI(parsing: text)
    }

    func mount(_ m: IPCMessage, server: inout Handle?) throws(FileError) -> IPCMessage {
        guard isAdmin(m.badge) else { throw .accessDenied }
        guard let s = server else { throw .badMessage }
        let flags = MountFlags(rawValue: m.words.0)
        guard flags.rawValue & ~MountFlags.readOnly.rawValue == 0 else { throw .invalid }
        guard let (type, _) = try? handleIdentify(s), type == .sender else { throw .invalid }
        let point = try mountPoint(m.tag.bytes)
        try mounts.mount(scheme: point.scheme, at: point.components,
                         Mounted(.remote(Backend(sender: s)), at: point, readOnly: flags.contains(.readOnly),
                                 source: "mount", type: "server", options: flags.contains(.readOnly) ? "ro" : "defaults"))
        server = nil   // the mount keeps it
        print("vfs: mounted \(point.text)\(flags.contains(.readOnly) ? " (read-only)" : "")")
        return IPCMessage.ok()
    }

    func unmount(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard isAdmin(m.badge) else { throw .accessDenied }
        let point = try mountPoint(m.tag.bytes)
        guard let mounted = mounts.mounts.first(where: { $0.scheme == point.scheme && $0.prefix == point.components })?.target
        else { throw .notFound }
        // The root (fs:///) and initfs:/// stay: programs are found and started through them.
        guard point.components.count > 0 || (point.scheme != FileURI.defaultScheme && point.scheme != "initfs") else { throw .busy }
        guard !busy(mounted) else { throw .busy }
        _ = try mounts.unmount(scheme: point.scheme, at: point.components)
        var stopped = ""
        if case .remote(let b) = mounted.fs {
            if b.sender != .invalid { _ = try? handleClose(b.sender) }
            b.sender = .invalid
            if let id = b.process { stopped = stopServer(id) }
            b.process = nil
        }
        print("vfs: unmounted \(point.text)" + stopped)
        return IPCMessage.ok()
    }

    /// Ends a server vfs started (through pm: vfs's pm Sender is an administrator's, and the server is
    /// pm's child of no process, so vfs may end it and wait for it); the log line's tail.
    func stopServer(_ id: UInt32) -> String {
        defer { _ = try? page.install() }
        guard let pm, let mp = startPage, let client = try? ProcessClient(pm, page: mp) else { return "; its server (process \(id)) not stopped: no pm" }
        do throws(ServiceError) {
            try client.kill(id)
            _ = try client.wait(id)
            return "; stopped its server (process \(id))"
        } catch {
            return "; its server (process \(id)) not stopped: \(text(error.name))"
        }
    }

    /// `mounts`: the mount table from index w0, as many whole entries as fit (MountEntry's bytes).
    func listMounts(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        let all = mounts.mounts
        var index = m.words.0
        guard index <= UInt64(all.count) else { throw .invalid }
        var out: [UInt8] = []
        var count: UInt64 = 0
        while index < UInt64(all.count) {
            let t = all[Int(index)].target
            var flags: MountEntryFlags = t.readOnly ? [.readOnly] : []
            var running = true
            if case .remote(let b) = t.fs, b.startsOnAccess {
                flags.insert(.startedOnAccess)
                running = b.pending == nil && b.sender != .invalid
            }
            if running { flags.insert(.running) }
            guard let e = MountEntry(flags: flags, point: t.point.text, source: t.source, type: t.type, options: t.options).encoded(),
                  out.count + e.count <= IPCBuffer.maxBytes else { break }
            out += e
            index += 1
            count += 1
        }
        // An entry too large for a reply on its own would stop the listing there: skip it instead.
        if count == 0 && index < UInt64(all.count) { index += 1 }
        guard out.withUnsafeBytes({ page.put($0) }) else { throw .io }
        return IPCMessage.ok(count, index, bytes: out.count)
    }

    /// Whether a file opened through `mount` is open.
    func busy(_ mount: Mounted) -> Bool {
        clients.values.contains { c in c.files.values.contains { $0.description.mount === mount } }
    }

    // MARK: At start

    /// Mounts initfs:///, then `root=` and initfs:///etc/fstab.
    func setUp(initfs: Handle?, fat32: Handle?, root: String?) {
        var fstab: [UInt8]? = nil
        if let initfs {
            let point = FileURI(scheme: "initfs", components: [])
            let b = Backend(sender: initfs)
            try? mounts.mount(scheme: point.scheme, at: [], Mounted(.remote(b), at: point, readOnly: true,
                                                                      source: "initfsd", type: "initfs", options: "ro"))
            fstab = readWhole(b, ["etc", "fstab"])
        } else {
            print("vfs: no import:initfs; initfs:/// is not mounted and there is no fstab")
        }
        let rootPoint = FileURI(scheme: FileURI.defaultScheme, components: [])
        if let root {
            if let fat32 {
                mountServer(fat32, at: rootPoint, readOnly: false, lazy: false, why: "root=\(root)", source: root, type: "vfat",
                            options: "defaults")
            } else {
                print("vfs: root=\(root): no fat32 server (fsd.fat32 is not running); fs:/// stays a tmpfs")
            }
        }
        guard let fstab else { return }
        let (entries, problems) = parseFstab(fstab)
        for p in problems { print("vfs: fstab line \(p.line): \(p.reason); skipped") }
        for e in entries {
            let why = "fstab line \(e.line)"
            if root != nil && e.mountPoint == rootPoint {
                print("vfs: \(why): \(e.mountPoint.text) skipped: root= on the command line decides it")
                continue
            }
            switch e.type {
            case "tmpfs":
                if e.mountPoint == rootPoint, case .tmpfs = mounts.mounts.first(where: { $0.scheme == "fs" && $0.prefix == [] })?.target.fs {
                    print("vfs: \(why): tmpfs at fs:/// (there already)")
                    continue
                }
                do throws(FileError) {
                    try mounts.mount(scheme: e.mountPoint.scheme, at: e.mountPoint.components,
                                     Mounted(.tmpfs(TmpMount()), at: e.mountPoint, readOnly: e.options.contains("ro"),
                                             source: e.source, type: e.type, options: e.optionsText))
                    print("vfs: \(why): tmpfs at \(e.mountPoint.text)")
                } catch {
                    print("vfs: \(why): tmpfs at \(e.mountPoint.text) not mounted: \(text(error.name))")
                }
            case "vfat", "fat32":
                if case .virtio(let disk, _)? = RootDevice.parse(Substring(e.source)), disk >= 1 {
                    mountPending(PendingServer(disk: disk, source: e.source), at: e.mountPoint, readOnly: e.options.contains("ro"),
                                 lazy: e.options.contains("x-lazy"), why: why, type: e.type, options: e.optionsText)
                    continue
                }
                guard let fat32 else {
                    print("vfs: \(why): \(e.type) \(e.source) at \(e.mountPoint.text) not mounted: no fat32 server")
                    continue
                }
                guard let copy = try? handleDuplicate(fat32, rights: Rights.defaults(for: .sender)) else {
                    print("vfs: \(why): \(e.mountPoint.text) not mounted: out of handles")
                    continue
                }
                mountServer(copy, at: e.mountPoint, readOnly: e.options.contains("ro"), lazy: e.options.contains("x-lazy"),
                            why: why + " (\(e.source))", source: e.source, type: e.type, options: e.optionsText)
            default:
                print("vfs: \(why): \(e.mountPoint.text) not mounted: unknown type \(e.type)")
            }
        }
    }

    /// Mounts the server behind `sender` at `point` (replacing the tmpfs at fs:/// when that is the
    /// place); checks it answers first unless `lazy`. One log line either way.
    func mountServer(_ sender: Handle, at point: FileURI, readOnly: Bool, lazy: Bool, why: String, source: String,
                     type: String, options: String) {
        let b = Backend(sender: sender)
        if !lazy {
            do throws(FileError) { _ = try forward(b, .stat, [], bytes: try putPath([])) } catch {
                print("vfs: \(why): \(point.text) not mounted: its server does not answer (\(text(error.name)))")
                _ = try? handleClose(sender)
                return
            }
        }
        if let old = mounts.mounts.first(where: { $0.scheme == point.scheme && $0.prefix == point.components })?.target,
           case .tmpfs = old.fs, !busy(old) {
            _ = try? mounts.unmount(scheme: point.scheme, at: point.components)
        }
        do throws(FileError) {
            try mounts.mount(scheme: point.scheme, at: point.components,
                             Mounted(.remote(b), at: point, readOnly: readOnly, source: source, type: type, options: options))
        } catch {
            print("vfs: \(why): \(point.text) not mounted: \(text(error.name))")
            _ = try? handleClose(sender)
            return
        }
        print("vfs: \(why): fat32 at \(point.text)\(readOnly ? " (read-only)" : "")\(lazy ? " (x-lazy: contacted on first access)" : "")")
    }

    /// An fstab line on disk 1 or later: its fsd.fat32 is started through pm by the first request under
    /// the mount point (the disk's driver is started by init after boot, so never at vfs's start).
    func mountPending(_ p: PendingServer, at point: FileURI, readOnly: Bool, lazy: Bool, why: String, type: String,
                      options: String) {
        do throws(FileError) {
            try mounts.mount(scheme: point.scheme, at: point.components,
                             Mounted(.remote(Backend(pending: p)), at: point, readOnly: readOnly, source: p.source, type: type,
                                     options: options))
        } catch {
            print("vfs: \(why): \(point.text) not mounted: \(text(error.name))")
            return
        }
        print("vfs: \(why): fat32 \(p.source) at \(point.text)\(readOnly ? " (read-only)" : ""): its server starts on first access"
              + (lazy ? "" : " (x-lazy implied: disk \(p.disk)'s driver starts after boot)"))
    }

    /// Starts a pending mount's server: asks root's directory for pm and the disk's driver
    /// (`block<disk>`), makes the Receiver the server will serve, and spawns initfs:///sbin/fsd.fat32
    /// through pm with `import:block`, `export:fat32` and a connection of its own as `import:vfs` (pm
    /// would otherwise ask vfs for one while vfs waits for pm). `.noServer` when any of it fails; the
    /// mount stays pending, so a later request tries again (a driver started later is found then).
    func startServer(_ b: Backend, at point: FileURI) throws(FileError) {
        guard let p = b.pending else { return }
        defer { _ = try? page.install() }
        guard let directorySender = directory else {
            print("vfs: \(point.text): cannot start its server: no service directory (import:services)")
            throw .noServer
        }
        var made: [Handle] = []
        do throws(ServiceError) {
            let mp: MessagePage
            if let startPage { mp = startPage } else {
                mp = try ServiceCall.sys { () throws(SysError) in try MessagePage() }
                startPage = mp
            }
            let dir = try DirectoryClient(directorySender, page: mp)
            if pm == nil { pm = try dir.connect("pm") }
            guard let block = try? dir.connect("block\(p.disk)") else {
                print("vfs: \(point.text): no driver for disk \(p.disk) (no block\(p.disk) in the service directory); \(p.source) not started")
                throw ServiceError.notFound
            }
            made.append(block)
            let receiver = try ServiceCall.sys { () throws(SysError) in try receiverCreate() }
            made.append(receiver)
            let sender = try ServiceCall.sys { () throws(SysError) in try senderCreate(receiver) }
            made.append(sender)
            guard let connection = try? newConnection().sender else { throw ServiceError.noMemory }
            made.append(connection)
            let id = try ProcessClient(pm!, page: mp).spawn("initfs:///sbin/fsd.fat32", arguments: ["disk=\(p.disk)", "root=\(p.source)"],
                named: [(staticText(StartupBlock.importPrefix) + "block", block, 0),
                        (staticText(StartupBlock.exportPrefix) + "fat32", receiver, 0),
                        (staticText(StartupBlock.importPrefix) + "vfs", connection, 0)])
            made = []      // moved to pm (the Sender stays vfs's)
            b.sender = sender
            b.pending = nil
            b.process = id
            print("vfs: \(point.text): started fsd.fat32 for \(p.source) on first access (process \(id))")
        } catch {
            for h in made { _ = try? handleClose(h) }
            if error != .notFound { print("vfs: \(point.text): cannot start its server for \(p.source): \(error.name)") }
            throw .noServer
        }
    }

    /// A whole file of a mounted server (at most 64 KiB), or nil.
    func readWhole(_ b: Backend, _ rest: [String]) -> [UInt8]? {
        guard let length = try? putPath(rest),
              let id = (try? forward(b, .open, [OpenFlags.read.rawValue, 0], bytes: length))?.words.0 else { return nil }
        defer { _ = try? forward(b, .close, [id]) }
        var out: [UInt8] = []
        while out.count < 64 << 10 {
            guard let r = try? forward(b, .read, [id, UInt64(IPCBuffer.maxBytes), 0]) else { return nil }
            let n = min(Int(r.words.0), r.tag.bytes)
            if n == 0 { break }
            out += page.take(n)
        }
        return out
    }
}

/// A StaticString as a String.
func text(_ s: StaticString) -> String {
    String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
}

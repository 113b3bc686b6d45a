// pm's operations: spawn (the image read through vfs, loaded by the kernel's process_load), wait, kill,
// list, and the bookkeeping when a child ends.

extension ProcessServer {
    func spawn(_ m: IPCMessage, parent: UInt32) -> Answer {
        var given: [Handle] = []
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { given.append(page.handle(i)) }
        defer { for h in given { _ = try? handleClose(h) } }
        let (pathLength, argLength, envLength) = (m.words.0, m.words.1, m.words.2)
        let namesLength = m.tag.words >= 4 ? m.words.3 : 0
        let limit = UInt64(IPCBuffer.maxBytes)
        guard pathLength <= limit, argLength <= limit, envLength <= limit, namesLength <= limit,
              pathLength + argLength + envLength + namesLength == UInt64(m.tag.bytes),
              pathLength > 0, given.count <= ProcessProtocol.maxSpawnHandles else { return .error(.badMessage) }
        let bytes = page.received(m.tag.bytes)
        let path = Array(bytes[0..<Int(pathLength)])
        let envEnd = Int(pathLength + argLength + envLength)
        guard let arguments = strings(bytes[Int(pathLength)..<Int(pathLength + argLength)]),
              let environment = strings(bytes[Int(pathLength + argLength)..<envEnd]) else { return .error(.badMessage) }
        var names: [(name: [UInt8], value: UInt64)] = given.map { _ in ([], 0) }
        if namesLength > 0 {
            guard let table = SpawnNames.decode(bytes[envEnd...]), table.count == given.count else { return .error(.badMessage) }
            names = table
        }
        guard children.count < ProcessServer.maxProcesses else { return .error(.noMemory) }
        do throws(ServiceError) {
            let id = try start(path: path, arguments: arguments, environment: environment,
                               handles: Array(zip(given, names).map { ($0.0, $0.1.name, $0.1.value) }), parent: parent)
            return .ok(UInt64(id))
        } catch {
            return .error(error)
        }
    }

    /// Zero-ended strings; nil when the last one has no zero.
    func strings(_ b: ArraySlice<UInt8>) -> [String]? {
        guard b.isEmpty || b.last == 0 else { return nil }
        return b.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Reads the image, starts it with its pm Sender, the given handles (named ones as startup entries,
    /// the rest as `handle=N`), connections of its own to pm's file servers, and starts its watcher.
    func start(path: [UInt8], arguments: [String], environment: [String],
               handles: [(handle: Handle, name: [UInt8], value: UInt64)], parent: UInt32) throws(ServiceError) -> UInt32 {
        let uri: FileURI
        do throws(FileError) { uri = try FileURI(parsing: path) } catch { throw ServiceError(error) }
        guard arguments.allSatisfy({ !$0.utf8.contains(UInt8(ascii: " ")) && !$0.isEmpty }) else { throw .invalid }
        var give: [Handle] = [], grants: [(name: String, handle: Handle)] = []
        var descriptors: [(number: Int, sender: Handle, file: UInt64)] = []
        // Every grant below is a duplicate (moved into the child); the originals are the caller's to close.
        defer {
            for g in grants { _ = try? handleClose(g.handle) }
            for d in descriptors { _ = try? handleClose(d.sender) }
        }
        for h in handles {
            if h.name.isEmpty { give.append(h.handle); continue }
            let name = String(decoding: h.name, as: UTF8.self)
            let copy = try ServiceCall.sys { () throws(SysError) in try handleDuplicate(h.handle, rights: try handleIdentify(h.handle).rights) }
            if name.hasPrefix(staticText(StartupBlock.descriptorPrefix)) {
                guard let n = Int(name.dropFirst(3)), n >= 0, n < 1024, !descriptors.contains(where: { $0.number == n }) else {
                    _ = try? handleClose(copy)
                    throw .invalid
                }
                descriptors.append((n, copy, h.value))
            } else if name.hasPrefix(staticText(StartupBlock.grantPrefix)) || name.hasPrefix(staticText(StartupBlock.importPrefix))
                        || name.hasPrefix(staticText(StartupBlock.exportPrefix)) {
                grants.append((name, copy))
            } else {
                _ = try? handleClose(copy)
                throw .invalid
            }
        }
        let (image, imageSize) = try loadImage(uri)
        defer { _ = try? handleClose(image) }
        let id = nextID
        let sender = try ServiceCall.sys { () throws(SysError) in try senderCreate(receiver, badge: ProcessBadge.child(id)) }
        defer { _ = try? handleClose(sender) }
        try addServiceGrants(&grants, pmSender: sender)
        try addManifestImports(&grants, image: image, size: imageSize)
        let name = uri.components.last ?? "?"
        // Its faults come to this loop (Faults.swift) through a Sender of its own.
        let faults = try ServiceCall.sys { () throws(SysError) in try senderCreate(receiver, badge: ProcessServer.faultBadge(id)) }
        defer { _ = try? handleClose(faults) }
        let moving = grants, passing = descriptors
        let spawned = try ServiceCall.sys { () throws(SysError) in
            try Spawn.start(image: image, name: name, commandLine: arguments.joined(separator: " "), give: [sender] + give,
                            grants: moving, descriptors: passing, environment: environment, faultHandler: faults)
        }
        grants = []            // moved into the child
        descriptors = []
        nextID += 1
        let child = Child(id: id, parent: parent, name: Array(name.utf8), spawned: spawned)
        children[id] = child
        watch(child)
        return id
    }

    /// The child's `import:pm` (a duplicate of its pm Sender), `import:vfs` and `import:initfs`
    /// (connections of its own) and `import:time`, unless the caller named them.
    func addServiceGrants(_ grants: inout [(name: String, handle: Handle)], pmSender: Handle) throws(ServiceError) {
        let prefix = staticText(StartupBlock.importPrefix)
        func named(_ service: String) -> Bool { grants.contains { $0.name == prefix + service } }
        if !named("pm") {
            grants.append((prefix + "pm", try ServiceCall.sys { () throws(SysError) in try handleDuplicate(pmSender, rights: Rights.defaults(for: .sender)) }))
        }
        for (service, files) in [("vfs", vfsFiles), ("initfs", initfsFiles)] {
            guard let files, !named(service) else { continue }
            try ServiceCall.sys { () throws(SysError) in try files.adopt() }
            defer { _ = try? page.install() }
            do throws(FileError) { grants.append((prefix + service, try files.connect())) } catch { throw ServiceError.io }
        }
        if let time, !named("time") {
            grants.append((prefix + "time", try ServiceCall.sys { () throws(SysError) in try handleDuplicate(time, rights: Rights.defaults(for: .sender)) }))
        }
    }

    /// A Frame holding the program at `uri`: initfs:// paths through initfsd (its `map`: pages read
    /// when first touched) when pm has it, else through vfs (`map`, or the file read whole).
    func loadImage(_ uri: FileURI) throws(ServiceError) -> (frame: Handle, size: UInt64) {
        let files = uri.scheme == "initfs" ? (initfsFiles ?? vfsFiles) : vfsFiles
        guard let files else { throw .notFound }
        try ServiceCall.sys { () throws(SysError) in try files.adopt() }
        defer { _ = try? page.install() }
        let bytes: [UInt8]
        do throws(FileError) {
            let info = try files.stat(uri.text)
            guard info.kind == .file else { throw FileError.isDirectory }
            guard info.size >= 64 else { throw FileError.invalid }
            if let (frame, size) = try? files.map(uri.text) { return (frame, size) }
            guard info.size <= UInt64(ProcessServer.maxImage) else { throw FileError.tooLarge }
            bytes = try files.readFile(uri.text)
        } catch {
            switch error {
            case .notFound, .notDirectory: throw .notFound
            case .isDirectory, .invalid: throw .notExecutable
            case .tooLarge: throw .fileTooLarge
            case .noMemory: throw .noMemory
            default: throw .io
            }
        }
        return (try frame(holding: bytes), UInt64(bytes.count))
    }

    /// For each service the program's manifest (its ELF note, read through a read-only mapping of the
    /// image: only the pages holding the headers and the note are read) imports and the caller did not
    /// name, a Sender of the child's own from root's service directory (Sources/ABI/ServiceDirectory.swift;
    /// e.g. `pci` for lspci). A service no boot server exports is left out (the program says what it
    /// misses); a program without a manifest gets none.
    func addManifestImports(_ grants: inout [(name: String, handle: Handle)], image: Handle, size: UInt64) throws(ServiceError) {
        guard directory != nil, size > 0 else { return }
        let length = (size + pageSize - 1) / pageSize * pageSize
        guard let address = try? MappingSpace.map(image, length: length, flags: [.read]) else { return }
        defer { MappingSpace.unmap(address, length: length) }
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(address)), count: Int(size))
        guard let manifest = try? ServerManifest(elf: bytes) else { return }
        let prefix = staticText(StartupBlock.importPrefix)
        for service in manifest.imports where !grants.contains(where: { $0.name == prefix + service })
            && service != ServiceDirectory.service {
            if let sender = connect(service) { grants.append((prefix + service, sender)) }
        }
    }

    /// A new Sender to `service` from root's directory; nil when no boot server exports it.
    func connect(_ service: String) -> Handle? {
        guard let directory else { return nil }
        let name = Array(service.utf8)
        guard page.put(name) else { return nil }
        let request = IPCMessage(tag: IPCTag(words: 1, bytes: name.count, label: ServiceDirectory.connectLabel),
                                 words: (UInt64(name.count), 0, 0, 0))
        // Any failure leaves the import out: the spawn goes on, and the program says what it misses.
        guard let answer = try? ServiceCall.request(directory, request) else { return nil }
        guard answer.tag.handles == 1 else {
            page.closeReceived(answer.tag.handles)
            return nil
        }
        return page.handle(0)
    }

    func frame(holding image: [UInt8]) throws(ServiceError) -> Handle {
        guard !image.isEmpty else { throw .notExecutable }
        let frame = try ServiceCall.sys { () throws(SysError) in try frameCreate(size: (UInt64(image.count) + pageSize - 1) / pageSize * pageSize) }
        do throws(ServiceError) { try ServiceCall.writeFrame(frame, offset: 0, image) } catch {
            _ = try? handleClose(frame)
            throw error
        }
        return frame
    }

    /// A thread that waits for the child's end and reports it to the loop.
    func watch(_ child: Child) {
        let process = child.process, id = child.id, sender = watcherSender
        child.watcher = try? spawnThread(stackSize: 16 * 1024) { () -> UInt64 in
            let status = (try? processWait(process)) ?? ExitCode.stopped
            _ = try? senderCall(sender, IPCMessage(label: ProcessServer.exitedLabel, UInt64(id), status))
            return 0
        }
        if child.watcher == nil { print("pm: no watcher thread for process \(id); its end will not be seen") }
    }

    /// From the watcher: the child ended. A waiting parent gets its status; its own children pass to root.
    func childEnded(_ id: UInt32, status: UInt64) {
        guard let child = children[id], !child.exited else { return }
        child.exited = true
        child.status = status
        if let w = child.watcher { finished.append(w); child.watcher = nil }
        for c in children.values where c.parent == id { c.parent = 0 }
        for w in waiters where w.parent == id { _ = try? handleClose(w.reply) }   // its caller is gone
        waiters.removeAll { $0.parent == id }
        if let i = waiters.firstIndex(where: { $0.parent == child.parent && ($0.id == 0 || $0.id == id) }) {
            let w = waiters.remove(at: i)
            _ = try? replyReply(w.reply, reply(.ended(child)))
            _ = try? handleClose(w.reply)
            reap(child)
        }
    }

    func wait(for raw: UInt64, parent: UInt32, reply: Handle) -> Answer? {
        guard raw <= UInt64(UInt32.max) else { return .error(.noChild) }
        let id = UInt32(raw)
        let mine = children.values.filter { $0.parent == parent && (id == 0 || $0.id == id) }
        if let done = mine.filter({ $0.exited }).min(by: { $0.id < $1.id }) {
            reap(done)
            return .ended(done)
        }
        guard !mine.isEmpty else { return .error(.noChild) }
        waiters.append(Waiter(parent: parent, id: id, reply: reply))
        return nil
    }

    /// Forgets an ended child (its handles closed).
    func reap(_ child: Child) {
        children[child.id] = nil
        if let s = child.spawned {
            try? handleClose(s.thread)
            try? handleClose(s.vmem)
        }
        try? handleClose(child.process)
        if child.badge != 0 && adoptedBadges[child.badge] == child.id { adoptedBadges[child.badge] = nil }
    }

    /// Ends every thread of the child (process_kill); its watcher then reports it (status ExitCode.stopped).
    /// An administrator may end any process whose handle pm holds with the manage right (not root's
    /// adopted ones: root hands pm read and wait only).
    func kill(_ raw: UInt64, caller: UInt32, admin: Bool) -> Answer {
        guard raw <= UInt64(UInt32.max), let child = children[UInt32(raw)] else { return .error(.noSuchProcess) }
        guard admin || child.parent == caller else { return .error(.notPermitted) }
        guard !child.exited else { return .ok() }
        do throws(SysError) { try processKill(child.process) } catch {
            switch error {
            case .badState: return .ok()       // it ended meanwhile
            case .accessDenied: return .error(.notPermitted)
            default: return .error(.noSuchProcess)
            }
        }
        return .ok()
    }

    /// Records from index `first` (by process id) into the IPC buffer bytes.
    func list(from first: UInt64) -> Answer {
        forgetEndedAdoptions()
        let all = children.values.sorted { $0.id < $1.id }
        var bytes: [UInt8] = []
        var i = Int(min(first, UInt64(all.count)))
        while i < all.count && bytes.count + ProcessRecord.size <= IPCBuffer.maxBytes {
            let c = all[i]
            let threads = c.exited ? 0 : (try? processGetUsage(c.process, .threads)) ?? 0
            let pages = c.exited ? 0 : (try? processGetUsage(c.process, .frames)) ?? 0
            bytes += ProcessRecord(id: c.id, parent: c.parent, state: c.exited ? .exited : .running,
                                   threads: UInt32(truncatingIfNeeded: threads), pages: pages, status: c.status, name: c.name).bytes
            i += 1
        }
        _ = page.put(bytes)
        var answer = Answer.ok(UInt64(bytes.count / ProcessRecord.size), UInt64(all.count))
        answer.bytes = bytes.count
        return answer
    }
}

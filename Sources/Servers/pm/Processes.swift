// pm's operations: spawn (the image read through vfs, loaded by the kernel's process_load), wait, kill,
// list, and the bookkeeping when a child ends.

extension ProcessServer {
    func spawn(_ m: IPCMessage, parent: UInt32) -> Answer {
        var given: [Handle] = []
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { given.append(page.handle(i)) }
        defer { for h in given { _ = try? handleClose(h) } }
        let (pathLength, argLength, envLength) = (m.words.0, m.words.1, m.words.2)
        guard pathLength <= UInt64(IPCBuffer.maxBytes), argLength <= UInt64(IPCBuffer.maxBytes),
              envLength <= UInt64(IPCBuffer.maxBytes), pathLength + argLength + envLength == UInt64(m.tag.bytes),
              pathLength > 0, given.count < IPCBuffer.maxHandles else { return .error(.badMessage) }
        let bytes = page.received(m.tag.bytes)
        let path = Array(bytes[0..<Int(pathLength)])
        guard let arguments = strings(bytes[Int(pathLength)..<Int(pathLength + argLength)]),
              let environment = strings(bytes[Int(pathLength + argLength)...]) else { return .error(.badMessage) }
        guard children.count < ProcessServer.maxProcesses else { return .error(.noMemory) }
        do throws(ServiceError) {
            let id = try start(path: path, arguments: arguments, environment: environment, give: given, parent: parent)
            return .ok(UInt64(id))
        } catch {
            return .error(error)
        }
    }

    /// The program at `path` in a Frame: the file's pager-backed Frame when its server maps files (initfs),
    /// else its bytes read through vfs into a new Frame (tmpfs).
    func image(_ path: String) throws(ServiceError) -> Handle {
        defer { _ = try? page.install() }
        do throws(FileError) {
            try? vfs.adopt()
            let info = try vfs.stat(path)
            guard info.kind == .file else { throw .isDirectory }
            guard info.size > 0 else { throw .notSupported }
            guard info.size <= UInt64(ProcessServer.maxImage) else { throw .tooLarge }
            do throws(FileError) { return try vfs.map(path).frame } catch {
                guard error == .notSupported else { throw error }
            }
            let bytes = try vfs.readFile(path)
            let frame: Handle
            do throws(SysError) { frame = try frameCreate(size: (UInt64(bytes.count) + pageSize - 1) / pageSize * pageSize) } catch {
                throw .noMemory
            }
            do throws(ServiceError) { try ServiceCall.writeFrame(frame, offset: 0, bytes) } catch {
                _ = try? handleClose(frame)
                throw .noMemory
            }
            return frame
        } catch {
            if error == .notSupported { throw .notExecutable }
            throw ServiceError(error)
        }
    }

    /// Zero-ended strings; nil when the last one has no zero.
    func strings(_ b: ArraySlice<UInt8>) -> [String]? {
        guard b.isEmpty || b.last == 0 else { return nil }
        return b.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Reads the image, starts it with its pm Sender and the given handles, starts its watcher.
    func start(path: [UInt8], arguments: [String], environment: [String], give: [Handle], parent: UInt32) throws(ServiceError) -> UInt32 {
        let uri: FileURI
        do throws(FileError) { uri = try FileURI(parsing: path) } catch { throw ServiceError(error) }
        guard arguments.allSatisfy({ !$0.utf8.contains(UInt8(ascii: " ")) && !$0.isEmpty }) else { throw .invalid }
        let frame = try image(String(decoding: path, as: UTF8.self))
        defer { _ = try? handleClose(frame) }
        let id = nextID
        let sender = try ServiceCall.sys { () throws(SysError) in try senderCreate(receiver, badge: UInt64(id)) }
        defer { _ = try? handleClose(sender) }
        let name = uri.components.last ?? "?"
        // Its faults come to this loop (Faults.swift) through a Sender of its own.
        let faults = try ServiceCall.sys { () throws(SysError) in try senderCreate(receiver, badge: ProcessServer.faultBadge(id)) }
        defer { _ = try? handleClose(faults) }
        let spawned = try ServiceCall.sys { () throws(SysError) in
            try Spawn.start(image: frame, name: name, commandLine: arguments.joined(separator: " "), give: [sender] + give,
                            environment: environment, faultHandler: faults)
        }
        nextID += 1
        let child = Child(id: id, parent: parent, name: Array(name.utf8), spawned: spawned)
        children[id] = child
        watch(child)
        return id
    }

    /// A thread that waits for the child's end and reports it to the loop.
    func watch(_ child: Child) {
        let process = child.spawned.process, id = child.id, sender = watcherSender
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
        try? handleClose(child.spawned.thread)
        try? handleClose(child.spawned.vmem)
        try? handleClose(child.spawned.process)
    }

    /// Stops the child's thread; its watcher then reports it (status ExitCode.stopped).
    func kill(_ raw: UInt64, caller: UInt32) -> Answer {
        guard raw <= UInt64(UInt32.max), let child = children[UInt32(raw)] else { return .error(.noSuchProcess) }
        guard caller == 0 || child.parent == caller else { return .error(.notPermitted) }
        guard !child.exited else { return .ok() }
        do throws(SysError) { try threadStop(child.spawned.thread) } catch { return .error(.noSuchProcess) }
        return .ok()
    }

    /// Records from index `first` (by process id) into the IPC buffer bytes.
    func list(from first: UInt64) -> Answer {
        let all = children.values.sorted { $0.id < $1.id }
        var bytes: [UInt8] = []
        var i = Int(min(first, UInt64(all.count)))
        while i < all.count && bytes.count + ProcessRecord.size <= IPCBuffer.maxBytes {
            let c = all[i]
            let threads = c.exited ? 0 : (try? processGetUsage(c.spawned.process, .threads)) ?? 0
            let pages = c.exited ? 0 : (try? processGetUsage(c.spawned.process, .frames)) ?? 0
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

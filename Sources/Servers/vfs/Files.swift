// vfs's file requests: each checks its arguments, then acts on the tmpfs or forwards to the server of
// the mount (Sources/ABI/FileProtocol.swift says what each request carries and answers).

extension VFSServer {
    static let writeFlags: OpenFlags = [.write, .create, .truncate, .append]

    func open(_ m: IPCMessage, window: inout Handle?) throws(FileError) -> IPCMessage {
        let flags = OpenFlags(rawValue: m.words.0)
        guard flags.rawValue & ~OpenFlags.all.rawValue == 0, flags.contains(.read) || flags.contains(.write) else {
            throw .invalid
        }
        let (mount, rest) = try resolve(try uri(m.tag.bytes))
        if mount.readOnly && !flags.intersection(VFSServer.writeFlags).isEmpty { throw .readOnly }
        guard (clients[m.badge]?.files.count ?? 0) < VFSServer.filesPerClient else { throw .tooManyOpen }
        switch mount.fs {
        case .tmpfs(let t):
            var mapped: Window? = nil
            if let w = window {
                guard let (type, rights) = try? handleIdentify(w), type == .frame,
                      rights.isSuperset(of: FileProtocol.windowRights),
                      let size = try? frameGetSize(w), size > 0, size <= FileProtocol.maxWindow,
                      let address = try? MappingSpace.map(w, length: size) else { throw .invalid }
                mapped = Window(frame: w, address: address, size: size)
            }
            let node: Int
            do throws(FileError) { node = try t.fs.open(rest, flags) } catch {
                if let mapped { MappingSpace.unmap(mapped.address, length: mapped.size) }
                throw error
            }
            window = nil   // kept (or closed by remove)
            let s = t.fs.stat(node: node)
            let d = Description(.local(t, node: node), mount: mount, flags: flags)
            let id = add(ClientFile(description: d, window: mapped, hasWindow: mapped != nil), to: m.badge)
            return IPCMessage.ok(id, UInt64(s.size), UInt64(s.kind.rawValue))
        case .remote(let b):
            let length = try putPath(rest)
            let windowed = window != nil
            if let w = window { page.setHandle(0, w) }
            let reply: IPCMessage
            do throws(FileError) {
                reply = try forward(b, .open, [flags.rawValue, m.words.1], bytes: length, handles: windowed ? 1 : 0)
            } catch {
                // A window that reached the server is its (it closed a refused one); one still here is
                // closed by answer.
                if let w = window, (try? handleIdentify(w)) == nil { window = nil }
                throw error
            }
            window = nil   // moved to the server
            let d = Description(.remote(b, id: reply.words.0, windowed: windowed), mount: mount, flags: flags)
            let id = add(ClientFile(description: d, window: nil, hasWindow: windowed), to: m.badge)
            return IPCMessage.ok(id, reply.words.1, reply.words.2)
        }
    }

    /// read and write: the checks both share; the client file and its description.
    func transfer(_ m: IPCMessage, writing: Bool) throws(FileError) -> ClientFile {
        let f = try file(m.words.0, m.badge)
        let d = f.description
        guard d.flags.contains(writing ? .write : .read) else { throw .accessDenied }
        if f.hasWindow {
            guard m.tag.bytes == 0 else { throw .badMessage }
        } else if writing {
            guard m.words.1 == UInt64(m.tag.bytes) else { throw .invalid }
        } else {
            guard m.tag.bytes == 0 else { throw .badMessage }
            guard m.words.1 <= UInt64(IPCBuffer.maxBytes) else { throw .invalid }
        }
        if let w = f.window {
            guard m.words.2 <= w.size, m.words.1 <= w.size - m.words.2 else { throw .invalid }
        }
        // A server's file opened with a window reads and writes through it; a share of it has none.
        if case .remote(_, _, let windowed) = d.place, windowed != f.hasWindow { throw .notSupported }
        return f
    }

    func read(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let f = try transfer(m, writing: false)
        let d = f.description
        switch d.place {
        case .local(let t, let node):
            guard d.position <= UInt64(Int.max) else { return IPCMessage.ok(0) }
            let data = try t.fs.read(node: node, offset: Int(d.position), count: Int(m.words.1))
            data.withUnsafeBytes { source in
                if let w = f.window, source.count > 0 {
                    UnsafeMutableRawPointer(bitPattern: UInt(w.address + m.words.2))!
                        .copyMemory(from: source.baseAddress!, byteCount: source.count)
                } else if f.window == nil {
                    page.put(source)
                }
            }
            d.position += UInt64(data.count)
            return IPCMessage.ok(UInt64(data.count), bytes: f.window == nil ? data.count : 0)
        case .remote(let b, let id, _):
            let reply = try forward(b, .read, [id, m.words.1, m.words.2])
            return IPCMessage.ok(reply.words.0, bytes: f.hasWindow ? 0 : min(reply.tag.bytes, Int(m.words.1)))
        }
    }

    func write(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let f = try transfer(m, writing: true)
        let d = f.description
        switch d.place {
        case .local(let t, let node):
            let bytes: [UInt8]
            if let w = f.window {
                bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(w.address + m.words.2)),
                                                     count: Int(m.words.1)))
            } else {
                bytes = page.take(m.tag.bytes)
            }
            if d.flags.contains(.append) { d.position = UInt64(t.fs.stat(node: node).size) }
            guard d.position <= UInt64(Int.max) else { throw .tooLarge }
            try t.fs.write(node: node, offset: Int(d.position), bytes[...])
            d.position += UInt64(bytes.count)
            return IPCMessage.ok(UInt64(bytes.count))
        case .remote(let b, let id, _):
            let reply = try forward(b, .write, [id, m.words.1, m.words.2], bytes: f.hasWindow ? 0 : m.tag.bytes)
            return IPCMessage.ok(reply.words.0)
        }
    }

    func seek(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let d = try file(m.words.0, m.badge).description
        guard m.tag.bytes == 0, let origin = SeekOrigin(rawValue: m.words.2) else { throw .invalid }
        switch d.place {
        case .local(let t, let node):
            let base: Int64
            switch origin {
            case .start: base = 0
            case .current: base = Int64(bitPattern: d.position)
            case .end: base = Int64(t.fs.stat(node: node).size)
            }
            let (target, overflow) = base.addingReportingOverflow(Int64(bitPattern: m.words.1))
            guard !overflow, target >= 0 else { throw .invalid }
            d.position = UInt64(target)
            return IPCMessage.ok(d.position)
        case .remote(let b, let id, _):
            return IPCMessage.ok(try forward(b, .seek, [id, m.words.1, m.words.2]).words.0)
        }
    }

    func close(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        _ = try file(m.words.0, m.badge)
        remove(m.words.0, of: m.badge)
        return IPCMessage.ok()
    }

    func stat(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        if m.tag.bytes > 0 {
            let (mount, rest) = try resolve(try uri(m.tag.bytes))
            switch mount.fs {
            case .tmpfs(let t): return statReply(t, try t.fs.lookup(rest))
            case .remote(let b): return reply4(try forward(b, .stat, [], bytes: try putPath(rest)))
            }
        }
        guard m.tag.words >= 1 else { throw .badMessage }
        switch try file(m.words.0, m.badge).description.place {
        case .local(let t, let node): return statReply(t, node)
        case .remote(let b, let id, _): return reply4(try forward(b, .stat, [id]))
        }
    }

    func statReply(_ t: TmpMount, _ node: Int) -> IPCMessage {
        let s = t.fs.stat(node: node)
        return IPCMessage.ok(UInt64(s.size), UInt64(s.kind.rawValue), s.kind == .directory ? 0o755 : 0o644, 0)
    }

    /// A server's success reply passed on: its four words.
    func reply4(_ r: IPCMessage) -> IPCMessage { IPCMessage.ok(r.words.0, r.words.1, r.words.2, r.words.3) }

    func readdir(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        switch try file(m.words.0, m.badge).description.place {
        case .local(let t, let node):
            let entries = try t.fs.entries(node: node)
            var index = m.words.1
            guard index <= UInt64(entries.count) else { throw .invalid }
            var out: [UInt8] = []
            var count: UInt64 = 0
            while index < UInt64(entries.count) {
                let e = entries[Int(index)]
                guard appendDirectoryEntry(&out, name: Array(e.name.utf8)[...], kind: e.kind, size: UInt64(e.size)) else { break }
                index += 1
                count += 1
            }
            out.withUnsafeBytes { page.put($0) }
            return IPCMessage.ok(count, index, bytes: out.count)
        case .remote(let b, let id, _):
            let r = try forward(b, .readdir, [id, m.words.1])
            return IPCMessage.ok(r.words.0, r.words.1, bytes: r.tag.bytes)
        }
    }

    /// The mount of a path a change (mkdir, unlink, rename) names; `.readOnly` on a read-only mount.
    func changing(_ count: Int, at offset: Int = 0) throws(FileError) -> (uri: FileURI, mount: Mounted, rest: [String]) {
        let u = try uri(count, at: offset)
        let (mount, rest) = try resolve(u)
        guard !mount.readOnly else { throw .readOnly }
        return (u, mount, rest)
    }

    func mkdir(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let (u, mount, rest) = try changing(m.tag.bytes)
        guard !mounts.isMountPoint(u) else { throw .exists }
        switch mount.fs {
        case .tmpfs(let t): try t.fs.mkdir(rest)
        case .remote(let b): _ = try forward(b, .mkdir, [m.words.0], bytes: try putPath(rest))
        }
        return IPCMessage.ok()
    }

    func unlink(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let flags = UnlinkFlags(rawValue: m.words.0)
        guard flags.rawValue & ~UnlinkFlags.directory.rawValue == 0 else { throw .invalid }
        let (u, mount, rest) = try changing(m.tag.bytes)
        guard !mounts.isMountPoint(u) else { throw .busy }
        switch mount.fs {
        case .tmpfs(let t): try t.fs.unlink(rest, directory: flags.contains(.directory))
        case .remote(let b): _ = try forward(b, .unlink, [flags.rawValue], bytes: try putPath(rest))
        }
        return IPCMessage.ok()
    }

    func rename(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard m.words.0 > 0, m.words.0 < UInt64(m.tag.bytes) else { throw .badMessage }
        let first = Int(m.words.0)
        // Across mounts is EXDEV before anything else (as on Linux, also onto a read-only mount).
        let from = try uri(first), to = try uri(m.tag.bytes - first, at: first)
        let (mountA, restA) = try resolve(from), (mountB, restB) = try resolve(to)
        guard mountA === mountB else { throw .crossDevice }
        guard !mountA.readOnly else { throw .readOnly }
        guard !mounts.isMountPoint(from), !mounts.isMountPoint(to) else { throw .busy }
        switch mountA.fs {
        case .tmpfs(let t): try t.fs.rename(restA, restB)
        case .remote(let b):
            let a = try putPath(restA)
            let c = try putPath(restB, at: a)
            _ = try forward(b, .rename, [UInt64(a)], bytes: a + c)
        }
        return IPCMessage.ok()
    }

    func map(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        let (mount, rest) = try resolve(try uri(m.tag.bytes))
        guard case .remote(let b) = mount.fs else { throw .notSupported }
        let r = try forward(b, .map, [], bytes: try putPath(rest))
        guard r.tag.handles == 1 else {
            for i in 0..<min(r.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
            throw .io
        }
        moving = page.handle(0)
        var reply = IPCMessage.ok(r.words.0, r.words.1)
        reply.tag = IPCTag(words: 2, handles: 1, label: 0)
        return reply
    }

    func connect(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        let flags = ConnectFlags(rawValue: m.tag.words >= 1 ? m.words.0 : 0)
        guard flags.rawValue & ~ConnectFlags.administrative.rawValue == 0 else { throw .invalid }
        if flags.contains(.administrative) && !isAdmin(m.badge) { throw .accessDenied }
        let (badge, sender) = try newConnection()
        if flags.contains(.administrative) { adminConnections.insert(badge) }
        page.setHandle(0, sender)
        moving = sender
        var reply = IPCMessage.ok(badge)
        reply.tag = IPCTag(words: 1, handles: 1, label: 0)
        return reply
    }

    /// share: the same description in a new connection (no window there), and its Sender.
    func share(_ m: IPCMessage, moving: inout Handle?) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        let d = try file(m.words.0, m.badge).description
        if case .remote(_, _, let windowed) = d.place, windowed { throw .notSupported }
        let (badge, sender) = try newConnection()
        d.references += 1
        let id = add(ClientFile(description: d, window: nil, hasWindow: false), to: badge)
        page.setHandle(0, sender)
        moving = sender
        var reply = IPCMessage.ok(id)
        reply.tag = IPCTag(words: 1, handles: 1, label: 0)
        return reply
    }

    func control(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        guard m.tag.bytes == 0 else { throw .badMessage }
        guard case .remote(let b, let id, _) = try file(m.words.0, m.badge).description.place else { throw .notSupported }
        return reply4(try forward(b, .control, [id, m.words.1, m.words.2]))
    }

    func statfs(_ m: IPCMessage) throws(FileError) -> IPCMessage {
        let fs: FileSystem
        var serverID: UInt64? = nil
        var rest: [String] = []
        if m.tag.bytes > 0 {
            let r = try resolve(try uri(m.tag.bytes))
            fs = r.mount.fs
            rest = r.rest
        } else {
            guard m.tag.words >= 1 else { throw .badMessage }
            let d = try file(m.words.0, m.badge).description
            fs = d.mount.fs
            if case .remote(_, let id, _) = d.place { serverID = id }
        }
        switch fs {
        case .tmpfs(let t):
            return IPCMessage.ok(UInt64(t.fs.capacity), UInt64(t.fs.capacity - t.fs.used), pageSize)
        case .remote(let b):
            if let serverID { return reply4(try forward(b, .statfs, [serverID])) }
            return reply4(try forward(b, .statfs, [], bytes: try putPath(rest)))
        }
    }
}

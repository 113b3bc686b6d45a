// The typed client of pm's process protocol (Sources/ABI/ProcessProtocol.swift): spawn, wait, kill,
// list, identify, pipe, adopt. A client is used by the thread that made it; each call installs the client's
// MessagePage as that thread's IPC buffer first (another client may have taken it over meanwhile).

/// A Sender to pm and the calling thread's IPC buffer.
public struct ProcessClient {
    public let sender: Handle
    let page: MessagePage

    public init(_ sender: Handle, page: MessagePage? = nil) throws(ServiceError) {
        self.sender = sender
        self.page = try ServiceCall.pageOrNew(page)
    }

    /// Starts the program at `path` (a URI); `handles` and `named` move to pm, which gives `handles` to the
    /// child after its pm Sender (` handle=N`) and each of `named` as the startup entry of that name
    /// (`fd:N` with the file id as `value`, `grant:NAME`, `import:NAME`). Arguments may hold any bytes
    /// (SpawnArguments). The child's process id.
    public func spawn(_ path: String, arguments: [String] = [], environment: [String] = [],
                      handles: [Handle] = [], named: [(name: String, handle: Handle, value: UInt64)] = []) throws(ServiceError) -> UInt32 {
        try ServiceCall.sys { () throws(SysError) in try page.install() }
        let p = Array(path.utf8)
        var a: [UInt8] = [], e: [UInt8] = []
        for s in arguments { a += Array(SpawnArguments.escape(s).utf8) + [0] }
        for s in environment { e += Array(s.utf8) + [0] }
        let all = handles + named.map { $0.handle }
        let table = named.isEmpty ? [] : SpawnNames.encode(handles.map { _ in ([], 0) } + named.map { (Array($0.name.utf8), $0.value) })
        guard all.count <= ProcessProtocol.maxSpawnHandles, page.put(p + a + e + table) else { throw .fileTooLarge }
        for (i, h) in all.enumerated() { page.setHandle(i, h) }
        let tag = IPCTag(words: 4, bytes: p.count + a.count + e.count + table.count, handles: all.count, label: ProcessOp.spawn.rawValue)
        let answer = try call(IPCMessage(tag: tag, words: (UInt64(p.count), UInt64(a.count), UInt64(e.count), UInt64(table.count))))
        return UInt32(truncatingIfNeeded: answer.words.1)
    }

    /// The caller's process id (0 for an administrator) and its parent's.
    /// One request, with this client's page installed as the calling thread's IPC buffer.
    func call(_ message: IPCMessage) throws(ServiceError) -> IPCMessage {
        try ServiceCall.sys { () throws(SysError) in try page.install() }
        return try ServiceCall.request(sender, message)
    }

    public func identify() throws(ServiceError) -> (id: UInt32, parent: UInt32) {
        let answer = try call(IPCMessage(label: ProcessOp.identify.rawValue))
        return (UInt32(truncatingIfNeeded: answer.words.1), UInt32(truncatingIfNeeded: answer.words.2))
    }

    /// A new pipe: Senders holding its read end and its write end (the caller's), with their file ids.
    public func pipe() throws(ServiceError) -> (read: Handle, readFile: UInt64, write: Handle, writeFile: UInt64) {
        let answer = try call(IPCMessage(label: ProcessOp.pipe.rawValue))
        guard answer.tag.handles == 2 else {
            page.closeReceived(answer.tag.handles)
            throw .badMessage
        }
        return (page.handle(0), answer.words.1, page.handle(1), answer.words.2)
    }

    /// Waits for the child `id` (0: any child) to end; its id and exit status.
    public func wait(_ id: UInt32 = 0) throws(ServiceError) -> (id: UInt32, status: UInt64) {
        let answer = try call(IPCMessage(label: ProcessOp.wait.rawValue, UInt64(id)))
        return (UInt32(truncatingIfNeeded: answer.words.1), answer.words.2)
    }

    /// wait, with the fault address of a child that faulted (0 otherwise): CR2 for a page fault, else
    /// the faulting instruction.
    public func waitWithFault(_ id: UInt32 = 0) throws(ServiceError) -> (id: UInt32, status: UInt64, faultAddress: UInt64) {
        let answer = try call(IPCMessage(label: ProcessOp.wait.rawValue, UInt64(id)))
        return (UInt32(truncatingIfNeeded: answer.words.1), answer.words.2, answer.words.3)
    }

    /// Ends process `id`, recording `signal` (1-64; its parent's wait reports it).
    public func kill(_ id: UInt32, signal: UInt64 = ProcessProtocol.defaultSignal) throws(ServiceError) {
        _ = try call(IPCMessage(label: ProcessOp.kill.rawValue, UInt64(id), signal))
    }

    /// Has pm list `process` (moved to pm; read and wait rights suffice) as `name`, a child of `parent`
    /// (0: none); `badge` is the badge of that process's own Sender to pm (0: none), so that what it
    /// spawns is its child. Administrators only. The id pm gives it.
    public func adopt(_ process: Handle, name: String, parent: UInt32, badge: UInt64) throws(ServiceError) -> UInt32 {
        try ServiceCall.sys { () throws(SysError) in try page.install() }
        let bytes = Array(name.utf8.prefix(ProcessRecord.nameBytes))
        guard page.put(bytes) else { throw .badMessage }
        page.setHandle(0, process)
        let tag = IPCTag(words: 3, bytes: bytes.count, handles: 1, label: ProcessOp.adopt.rawValue)
        let answer = try call(IPCMessage(tag: tag, words: (UInt64(bytes.count), UInt64(parent), badge, 0)))
        return UInt32(truncatingIfNeeded: answer.words.1)
    }

    /// Every process pm knows.
    public func list() throws(ServiceError) -> [ProcessRecord] {
        var out: [ProcessRecord] = []
        while true {
            let answer = try call(IPCMessage(label: ProcessOp.list.rawValue, UInt64(out.count)))
            let count = Int(answer.words.1), total = Int(answer.words.2)
            let bytes = page.received(count * ProcessRecord.size)
            for i in 0..<count {
                guard let r = ProcessRecord(bytes[(i * ProcessRecord.size)...]) else { throw .badMessage }
                out.append(r)
            }
            if out.count >= total || count == 0 { return out }
        }
    }
}

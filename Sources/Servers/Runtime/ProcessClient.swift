// The typed client of pm's process protocol (Sources/ABI/ProcessProtocol.swift): spawn, wait, kill,
// list. A client is used by the thread that made it (its MessagePage is that thread's IPC buffer).

/// A Sender to pm and the calling thread's IPC buffer.
public struct ProcessClient {
    public let sender: Handle
    let page: MessagePage

    public init(_ sender: Handle, page: MessagePage? = nil) throws(ServiceError) {
        self.sender = sender
        self.page = try ServiceCall.pageOrNew(page)
    }

    /// Starts the program at `path` (a vfs URI); `handles` move to pm, which gives them to the child
    /// after its pm Sender. The child's process id.
    public func spawn(_ path: String, arguments: [String] = [], environment: [String] = [],
                      handles: [Handle] = []) throws(ServiceError) -> UInt32 {
        let p = Array(path.utf8)
        var a: [UInt8] = [], e: [UInt8] = []
        for s in arguments { a += Array(s.utf8) + [0] }
        for s in environment { e += Array(s.utf8) + [0] }
        guard handles.count < IPCBuffer.maxHandles, page.put(p + a + e) else { throw .fileTooLarge }
        for (i, h) in handles.enumerated() { page.setHandle(i, h) }
        let tag = IPCTag(words: 3, bytes: p.count + a.count + e.count, handles: handles.count, label: ProcessOp.spawn.rawValue)
        let answer = try ServiceCall.request(sender, IPCMessage(tag: tag, words: (UInt64(p.count), UInt64(a.count), UInt64(e.count), 0)))
        return UInt32(truncatingIfNeeded: answer.words.1)
    }

    /// Waits for the child `id` (0: any child) to end; its id and exit status.
    public func wait(_ id: UInt32 = 0) throws(ServiceError) -> (id: UInt32, status: UInt64) {
        let answer = try ServiceCall.request(sender, IPCMessage(label: ProcessOp.wait.rawValue, UInt64(id)))
        return (UInt32(truncatingIfNeeded: answer.words.1), answer.words.2)
    }

    /// wait, with the fault address of a child that faulted (0 otherwise): CR2 for a page fault, else
    /// the faulting instruction.
    public func waitWithFault(_ id: UInt32 = 0) throws(ServiceError) -> (id: UInt32, status: UInt64, faultAddress: UInt64) {
        let answer = try ServiceCall.request(sender, IPCMessage(label: ProcessOp.wait.rawValue, UInt64(id)))
        return (UInt32(truncatingIfNeeded: answer.words.1), answer.words.2, answer.words.3)
    }

    public func kill(_ id: UInt32) throws(ServiceError) {
        _ = try ServiceCall.request(sender, IPCMessage(label: ProcessOp.kill.rawValue, UInt64(id)))
    }

    /// Every process pm knows.
    public func list() throws(ServiceError) -> [ProcessRecord] {
        var out: [ProcessRecord] = []
        while true {
            let answer = try ServiceCall.request(sender, IPCMessage(label: ProcessOp.list.rawValue, UInt64(out.count)))
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

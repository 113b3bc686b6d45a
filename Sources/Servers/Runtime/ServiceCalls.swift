// Helpers for clients of services whose replies carry a ServiceError word in w0 (pm's ProcessClient,
// pm itself): one call, Frame copies, the calling thread's MessagePage.

public enum ServiceCall {
    /// One call; a failed call or an error word becomes a ServiceError.
    static func request(_ to: Handle, _ message: IPCMessage) throws(ServiceError) -> IPCMessage {
        let answer = try sys { () throws(SysError) in try senderCall(to, message) }
        guard answer.words.0 == 0 else { throw ServiceError(rawValue: answer.words.0) ?? .badMessage }
        return answer
    }

    /// `count` bytes of a Frame from `offset` (frameReadAll: in pieces the kernel copies at once).
    public static func readFrame(_ frame: Handle, offset: UInt64, count: Int) throws(ServiceError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let r = out.withUnsafeMutableBytes { b in
            Result { () throws(SysError) in try frameReadAll(frame, offset: offset, into: b) }
        }
        if case .failure(let e) = r { throw ServiceError(e) }
        return out
    }

    /// Writes `bytes` into a Frame at `offset` (frameWriteAll: in pieces the kernel copies at once).
    public static func writeFrame(_ frame: Handle, offset: UInt64, _ bytes: [UInt8]) throws(ServiceError) {
        let r = bytes.withUnsafeBytes { b in
            Result { () throws(SysError) in try frameWriteAll(frame, offset: offset, from: b) }
        }
        if case .failure(let e) = r { throw ServiceError(e) }
    }

    /// `page`, or a new MessagePage for the calling thread.
    static func pageOrNew(_ page: MessagePage?) throws(ServiceError) -> MessagePage {
        if let page { return page }
        return try sys { () throws(SysError) in try MessagePage() }
    }

    public static func sys<T>(_ body: () throws(SysError) -> T) throws(ServiceError) -> T {
        do { return try body() } catch { throw ServiceError(error) }
    }
}

/// A client of root's service directory (Sources/ABI/ServiceDirectory.swift), through a Sender root gave
/// as `import:services`; each call installs `page` as the calling thread's IPC buffer.
public struct DirectoryClient {
    public let sender: Handle
    let page: MessagePage

    public init(_ sender: Handle, page: MessagePage? = nil) throws(ServiceError) {
        self.sender = sender
        self.page = try ServiceCall.pageOrNew(page)
    }

    /// A new Sender (a badge of its own) to the service `name`; `.notFound` when nothing serves it.
    public func connect(_ name: String) throws(ServiceError) -> Handle {
        try ServiceCall.sys { () throws(SysError) in try page.install() }
        let bytes = Array(name.utf8)
        guard page.put(bytes) else { throw .nameTooLong }
        let answer = try ServiceCall.request(sender, IPCMessage(tag: IPCTag(words: 1, bytes: bytes.count, label: ServiceDirectory.connectLabel),
                                                                words: (UInt64(bytes.count), 0, 0, 0)))
        guard answer.tag.handles == 1 else {
            page.closeReceived(answer.tag.handles)
            throw .badMessage
        }
        return page.handle(0)
    }

    /// Registers `receiver` (moved to root) under `name`; init's Sender only.
    public func register(_ name: String, receiver: Handle) throws(ServiceError) {
        try ServiceCall.sys { () throws(SysError) in try page.install() }
        let bytes = Array(name.utf8)
        guard page.put(bytes) else { throw .nameTooLong }
        page.setHandle(0, receiver)
        _ = try ServiceCall.request(sender, IPCMessage(tag: IPCTag(words: 1, bytes: bytes.count, handles: 1, label: ServiceDirectory.registerLabel),
                                                       words: (UInt64(bytes.count), 0, 0, 0)))
    }
}

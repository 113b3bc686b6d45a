// A thread's IPC buffer page (Sources/ABI/Syscalls.swift, IPCBuffer): a page-aligned page of the heap,
// which is mapped read/write, installed as the calling thread's buffer. Servers and the typed clients
// use it for handles and bytes that go with a message.

/// The IPC buffer of the thread that made it.
public final class MessagePage {
    public let base: UnsafeMutableRawPointer

    /// Makes a page and installs it for the calling thread.
    public init() throws(SysError) {
        guard let page = Heap.allocate(size: Int(pageSize), alignment: Int(pageSize)) else { throw .outOfMemory }
        page.initializeMemory(as: UInt8.self, repeating: 0, count: Int(pageSize))
        base = page
        let me = try threadSelf()
        defer { _ = try? handleClose(me) }
        do { try threadSetIPCBuffer(me, address: UInt64(UInt(bitPattern: page))) } catch {
            Heap.free(page)
            throw error
        }
    }

    /// Makes this page the calling thread's IPC buffer again (after another client's page took over).
    public func install() throws(SysError) {
        let me = try threadSelf()
        defer { _ = try? handleClose(me) }
        try threadSetIPCBuffer(me, address: UInt64(UInt(bitPattern: base)))
    }

    /// Handle slot `i` (a handle that came with the last message, or one to send).
    public func handle(_ i: Int) -> Handle { Handle(raw: base.load(fromByteOffset: i * 4, as: UInt32.self)) }
    public func setHandle(_ i: Int, _ h: Handle) { base.storeBytes(of: h.raw, toByteOffset: i * 4, as: UInt32.self) }

    /// The message bytes area.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + IPCBuffer.bytesOffset, count: IPCBuffer.maxBytes)
    }

    /// The first `count` message bytes.
    public func received(_ count: Int) -> [UInt8] { Array(UnsafeRawBufferPointer(rebasing: bytes[0..<min(count, IPCBuffer.maxBytes)])) }

    /// Copies `data` into the bytes area; false when it does not fit.
    public func put(_ data: [UInt8]) -> Bool {
        guard data.count <= IPCBuffer.maxBytes else { return false }
        for (i, b) in data.enumerated() { bytes[i] = b }
        return true
    }

    /// Closes the handles that came with a message (`count` slots).
    public func closeReceived(_ count: Int) {
        for i in 0..<min(count, IPCBuffer.maxHandles) { _ = try? handleClose(handle(i)) }
    }
}

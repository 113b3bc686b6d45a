// IPC wrappers: synchronous calls through Senders, receives and replies on Receivers, Reply objects,
// notifications, futexes and the per-thread IPC buffer (Sources/ABI/Syscalls.swift describes each call).
// Every blocking call takes a timeout in nanoseconds (0, the default: none); when it passes the call
// throws .timedOut.

/// A message: the tag (register word count, buffer bytes, handles, label), up to four words, and on
/// receipt the badge of the Sender it came through.
public struct IPCMessage {
    public var tag: IPCTag
    public var words: (UInt64, UInt64, UInt64, UInt64)
    public var badge: UInt64

    public init(tag: IPCTag = IPCTag(), words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0), badge: UInt64 = 0) {
        self.tag = tag
        self.words = words
        self.badge = badge
    }

    /// A message of `count` register words from a list.
    public init(label: UInt32 = 0, _ values: UInt64...) {
        self.init(label: label, bytes: 0, list: values)
    }

    /// A success reply (label 0): up to four register words and `bytes` bytes in the IPC buffer.
    public static func ok(_ values: UInt64..., bytes: Int = 0) -> IPCMessage {
        IPCMessage(label: 0, bytes: bytes, list: values)
    }

    init(label: UInt32, bytes: Int, list values: [UInt64]) {
        var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        if values.count > 0 { w.0 = values[0] }
        if values.count > 1 { w.1 = values[1] }
        if values.count > 2 { w.2 = values[2] }
        if values.count > 3 { w.3 = values[3] }
        self.init(tag: IPCTag(words: min(values.count, 4), bytes: bytes, label: label), words: w)
    }
}

extension IPCMessage {
    /// Whether this received message is the kernel's closed-client notice (receiver_set_notices): the
    /// Sender with `badge` is gone, and there is no caller to answer.
    public var isSenderGone: Bool {
        tag.label == SenderGoneNotice.label && tag.words == 0 && tag.bytes == 0 && tag.handles == 0
    }
}

/// A server's request loop: receives on `receiver`, answers each request with `answer` and receives the
/// next in the same call. A caller that went away before its reply is skipped. Returns 0 when the
/// Receiver's endpoint is gone (.peerClosed), 1 after a line naming `name` when a receive fails.
public func serveRequests(_ receiver: Handle, name: String, _ answer: (IPCMessage) -> IPCMessage) -> Int32 {
    var request: IPCMessage
    do throws(SysError) { request = try receiverRecv(receiver) } catch {
        print("\(name): receive failed: \(error.name)")
        return 1
    }
    while true {
        let reply = answer(request)
        do throws(SysError) { request = try receiverReplyRecv(receiver, reply) } catch {
            if error == .peerClosed { return 0 }
            do throws(SysError) { request = try receiverRecv(receiver) } catch {
                print("\(name): receive failed: \(error.name)")
                return 1
            }
        }
    }
}

/// The request loop of a server whose clients hold connections: as serveRequests, with closed-client
/// notices turned on (`gone(badge)` runs for each client whose Sender is gone), and `answer` may set
/// `moving` to a handle its reply moves to the caller (a connection, a Frame): when that reply cannot be
/// delivered (the caller went away meanwhile) the handle is still here and is closed.
public func serveClients(_ receiver: Handle, name: String, gone: (UInt64) -> Void,
                         _ answer: (IPCMessage, inout Handle?) -> IPCMessage) -> Int32 {
    do throws(SysError) { try receiverSetNotices(receiver, true) } catch {
        print("\(name): no closed-client notices (\(error.name)); what ended clients held stays")
    }
    var request: IPCMessage
    do throws(SysError) { request = try receiverRecv(receiver) } catch {
        print("\(name): receive failed: \(error.name)")
        return 1
    }
    while true {
        do throws(SysError) {
            if request.isSenderGone {
                gone(request.badge)
                request = try receiverRecv(receiver)
                continue
            }
            var moving: Handle? = nil
            let reply = answer(request, &moving)
            if let moving {
                do throws(SysError) { try receiverReply(reply) } catch { _ = try? handleClose(moving) }
                request = try receiverRecv(receiver)
            } else {
                request = try receiverReplyRecv(receiver, reply)
            }
        } catch {
            if error == .peerClosed { return 0 }
            // A caller that went away before its reply: wait for the next request.
            do throws(SysError) { request = try receiverRecv(receiver) } catch {
                print("\(name): receive failed: \(error.name)")
                return 1
            }
        }
    }
}

@inline(__always)
func ipc(_ call: Syscall, _ handle: UInt64, _ message: IPCMessage) throws(SysError) -> IPCMessage {
    var regs = ipc_registers(rdi: handle, rsi: message.tag.raw, rdx: message.words.0, r10: message.words.1,
                             r8: message.words.2, r9: message.words.3)
    let error = ipc_syscall(call.rawValue, &regs)
    if error != 0 { throw SysError(code: error) }
    return IPCMessage(tag: IPCTag(raw: regs.rsi), words: (regs.rdx, regs.r10, regs.r8, regs.r9), badge: regs.rdi)
}

/// Sends through a Sender and waits for the answer.
public func senderCall(_ sender: Handle, _ message: IPCMessage) throws(SysError) -> IPCMessage {
    try ipc(.senderCall, sender.word, message)
}

/// Sends through a Sender and waits at most `timeout` ns for the answer (sender_call_timed: the message
/// has at most 3 words, .invalidArgument otherwise).
public func senderCall(_ sender: Handle, _ message: IPCMessage, timeout: UInt64) throws(SysError) -> IPCMessage {
    try ipcTimed(.senderCallTimed, sender.word, message, timeout: timeout)
}

/// A timed IPC call: the message's first three words, the timeout in r9.
@inline(__always)
func ipcTimed(_ call: Syscall, _ handle: UInt64, _ message: IPCMessage, timeout: UInt64) throws(SysError) -> IPCMessage {
    guard message.tag.words <= 3 else { throw .invalidArgument }
    var timed = message
    timed.words.3 = timeout
    return try ipc(call, handle, timed)
}

/// Waits for the next caller on a Receiver (optionally binding it to a Reply object), at most `timeout`
/// ns (0: no limit).
public func receiverRecv(_ receiver: Handle, reply: Handle? = nil, timeout: UInt64 = 0) throws(SysError) -> IPCMessage {
    var regs = ipc_registers(rdi: receiver.word, rsi: reply?.word ?? 0, rdx: timeout, r10: 0, r8: 0, r9: 0)
    let error = ipc_syscall(Syscall.receiverRecv.rawValue, &regs)
    if error != 0 { throw SysError(code: error) }
    return IPCMessage(tag: IPCTag(raw: regs.rsi), words: (regs.rdx, regs.r10, regs.r8, regs.r9), badge: regs.rdi)
}

/// Answers the caller this thread received.
public func receiverReply(_ message: IPCMessage) throws(SysError) {
    _ = try ipc(.receiverReply, 0, message)
}

/// Answers the held caller, then waits for the next one.
public func receiverReplyRecv(_ receiver: Handle, _ message: IPCMessage) throws(SysError) -> IPCMessage {
    try ipc(.receiverReplyRecv, receiver.word, message)
}

/// receiverReplyRecv whose receive waits at most `timeout` ns (the message has at most 3 words).
public func receiverReplyRecv(_ receiver: Handle, _ message: IPCMessage, timeout: UInt64) throws(SysError) -> IPCMessage {
    try ipcTimed(.receiverReplyRecvTimed, receiver.word, message, timeout: timeout)
}

/// Answers the caller bound to a Reply object.
public func replyReply(_ reply: Handle, _ message: IPCMessage) throws(SysError) {
    _ = try ipc(.replyReply, reply.word, message)
}

public func notifyNotify(_ notify: Handle, bits: UInt64) throws(SysError) {
    _ = try syscall(.notifyNotify, notify.word, bits)
}

public func notifyWait(_ notify: Handle, timeout: UInt64 = 0) throws(SysError) -> UInt64 {
    try syscall(.notifyWait, notify.word, timeout)
}
public func notifyPoll(_ notify: Handle) throws(SysError) -> UInt64 { try syscall(.notifyPoll, notify.word) }

public func futexWait(_ address: UnsafePointer<UInt32>, expected: UInt32, timeout: UInt64 = 0) throws(SysError) {
    _ = try syscall(.futexWait, UInt64(UInt(bitPattern: address)), UInt64(expected), timeout)
}

@discardableResult
public func futexWake(_ address: UnsafePointer<UInt32>, count: UInt64) throws(SysError) -> UInt64 {
    try syscall(.futexWake, UInt64(UInt(bitPattern: address)), count)
}

@discardableResult
public func futexRequeue(_ address: UnsafePointer<UInt32>, wake: UInt64, to other: UnsafePointer<UInt32>, requeue: UInt64) throws(SysError) -> UInt64 {
    try syscall(.futexRequeue, UInt64(UInt(bitPattern: address)), wake, UInt64(UInt(bitPattern: other)), requeue)
}

public func threadSetIPCBuffer(_ thread: Handle, address: UInt64) throws(SysError) {
    _ = try syscall(.threadSetIPCBuffer, thread.word, address)
}

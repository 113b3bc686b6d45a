// Synchronous IPC (seL4-style endpoints, no kernel buffering), notifications and futexes.
//
// A message is the tag and up to four words in registers (rsi; rdx, r10, r8, r9), plus optional bytes
// and moved handles in the threads' IPC buffers. The fast case — register words only, the peer already
// waiting — hands the CPU straight to the peer (Scheduler.handOff): no run queue, no allocation.
//
// Every blocking wait here takes an optional deadline (Time/Timeouts.swift): a thread whose deadline
// passes leaves the queue it waits in (endpoint callers or receivers, a notification's or futex's
// waiters) or, a call already received, the reply slot holding it (`letGo`), and returns `.timedOut`.

#if !KERNEL
import ABI
#endif

enum IPC {
    // MARK: message transfer

    /// Copies a message from `from`'s saved registers (and IPC buffer) to `to`'s: the receiving thread is
    /// blocked in the kernel, its registers are its trap frame. Validates everything before moving any
    /// handle, so a failed transfer leaves both sides as they were.
    static func deliver(from: Thread, to: Thread, badge: UInt64?) throws(SysError) {
        let source = from.frame
        let tag = IPCTag(raw: source.pointee.rsi)
        guard tag.isValid else { throw .invalidArgument }
        if tag.bytes > 0 || tag.handles > 0 {
            try deliverBuffer(from: from, to: to, tag: tag)
        }
        let target = to.frame
        let words = tag.words
        target.pointee.rsi = tag.raw
        target.pointee.rdx = words > 0 ? source.pointee.rdx : 0
        target.pointee.r10 = words > 1 ? source.pointee.r10 : 0
        target.pointee.r8 = words > 2 ? source.pointee.r8 : 0
        target.pointee.r9 = words > 3 ? source.pointee.r9 : 0
        if let badge { target.pointee.rdi = badge }
    }

    /// Bytes and handles through the two IPC buffers, each one page (thread_set_ipc_buffer), reached
    /// through the direct map: no kernel copy of the message, no allocation (issue 17: `1h`).
    static func deliverBuffer(from: Thread, to: Thread, tag: IPCTag) throws(SysError) {
        guard from.ipcBuffer != 0, to.ipcBuffer != 0 else { throw .badState }
        let source = try bufferPage(from, write: false)
        // The handle values are read once: another thread of the sender may write its page meanwhile.
        let values = HandleValues(source)
        // Handles: every one valid, with the TRANSFER right, distinct; room on the other side.
        let count = tag.handles
        for i in 0..<count {
            let v = values[i]
            for j in 0..<i where values[j] == v { throw .invalidArgument }
            guard let rights = from.process.handles.table.rights(of: v) else { throw .invalidHandle }
            guard rights.contains(.transfer) else { throw .accessDenied }
        }
        guard to.process.handles.count + count <= Process.handleCapacity else { throw .noHandles }
        guard count == 0 || UInt64(to.process.handles.count + count) <= to.process.account.limit(.handles) else {
            throw .limitExceeded   // the receiver's handle limit (Limits.swift)
        }
        // The bytes go first, the handle slots cleared: a receiver's buffer that cannot take them (unmapped
        // since thread_set_ipc_buffer, or no memory for its page) fails the send before any handle moves.
        // (Resolving the receiver's page for writing may give it a page of its own, copy on write; the
        // sender's page stays where `source` points: a shared page keeps its other holder.)
        let target = try bufferPage(to, write: true)
        let slots = IPCBuffer.maxHandles * 4
        (target + slots).copyMemory(from: source + slots, byteCount: IPCBuffer.bytesOffset - slots + tag.bytes)
        for i in 0..<slots / 8 { target.storeBytes(of: 0, toByteOffset: i * 8, as: UInt64.self) }
        guard count > 0 else { return }
        // Checked above and nothing ran since: every entry is there. Each handle moves (the sender's slot
        // hands its reference to the receiver's table), the sender's process is told of the close after
        // the object is in the receiver's table (so no count it keeps reaches zero on the way), and the
        // new value goes into the slots.
        for i in 0..<count {
            guard let (object, rights) = from.process.handles.table.take(values[i]) else { throw .invalidHandle }
            let moved = try to.process.handles.insert(object, rights: rights)
            object.closed(in: from.process)
            target.storeBytes(of: moved, toByteOffset: i * 4, as: UInt32.self)
        }
    }

    /// `t`'s IPC buffer page through the direct map, made present for the access: the one found last
    /// time while its address space's entries have not changed since (a page entered for writing serves
    /// reads too), else resolved again (Vmem.kernelPage: the same errors as a copy).
    @inline(__always)
    static func bufferPage(_ t: Thread, write: Bool) throws(SysError) -> UnsafeMutableRawPointer {
        let vmem = t.process.vmem
        if let page = t.ipcPage, t.ipcPageStamp == vmem.entryChanges, t.ipcPageWritable || !write { return page }
        let page = try vmem.kernelPage(t.ipcBuffer, write: write)
        t.ipcPage = page
        t.ipcPageWritable = write
        t.ipcPageStamp = vmem.entryChanges
        return page
    }

    /// The handle values at the start of an IPC buffer (IPCBuffer.maxHandles of them, little endian).
    private struct HandleValues {
        private let words: (UInt64, UInt64, UInt64, UInt64)

        init(_ page: UnsafeMutableRawPointer) {
            words = (page.loadUnaligned(as: UInt64.self), page.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                     page.loadUnaligned(fromByteOffset: 16, as: UInt64.self), page.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }

        subscript(i: Int) -> UInt32 {
            let word: UInt64
            switch i >> 1 {
            case 0: word = words.0
            case 1: word = words.1
            case 2: word = words.2
            default: word = words.3
            }
            return UInt32(truncatingIfNeeded: word &>> (32 &* UInt64(i & 1)))
        }
    }

    /// A thread that ended: the caller it held unanswered wakes with .peerClosed.
    static func threadGone(_ t: Thread) {
        if let caller = t.replyTo {
            t.replyTo = nil
            caller.heldBy = nil
            caller.ipcError = .peerClosed
            Scheduler.wake(caller)
        }
        t.receiveInto?.receiving = false
        t.receiveInto = nil
    }

    /// A caller that ended while a Reply object held it: the Reply is free again (a later reply_reply
    /// says .badState, as for a Reply never bound).
    static func callerGone(_ t: Thread) {
        if let reply = t.boundReply, reply.caller === t { reply.caller = nil }
        t.boundReply = nil
    }

    /// A call whose deadline passed after a server received it: whoever holds it (a Reply object, or
    /// a server thread's reply slot) lets it go, so a later answer says .badState (no caller), as for a
    /// caller that ended. Nothing for a thread that is not in that state.
    static func letGo(_ t: Thread) {
        if let reply = t.boundReply, reply.caller === t { reply.caller = nil }
        t.boundReply = nil
        if let server = t.heldBy, server.replyTo === t { server.replyTo = nil }
        t.heldBy = nil
    }

    /// Whether a thread can still take an answer (it may have been killed while waiting).
    static func isWaitingForAnswer(_ t: Thread) -> Bool { t.state == .blocked && !t.killed }

    // MARK: calls

    /// sender_call (deadline nil) and sender_call_timed.
    static func call(_ sender: Sender, until deadline: UInt64? = nil) throws(SysError) -> UInt64 {
        let me = Scheduler.current!
        // The notice label is the kernel's alone (receiver_set_notices): no caller can forge one.
        guard IPCTag(raw: me.frame.pointee.rsi).label != SenderGoneNotice.label else { throw .invalidArgument }
        let endpoint = sender.endpoint
        guard !endpoint.closed else { throw .peerClosed }
        me.ipcError = nil
        // A receiver is waiting: deliver and hand the CPU to it.
        while let server = endpoint.receivers.removeFirst() {
            do {
                try deliver(from: me, to: server, badge: sender.badge)
            } catch {
                endpoint.receivers.prepend(server)
                throw error
            }
            bind(caller: me, to: server)
            server.frame.pointee.rax = 0
            if let deadline { Timeouts.arm(me, at: deadline) }
            Scheduler.handOff(to: server)
            return try answer(me)
        }
        me.callBadge = sender.badge
        Scheduler.block(on: endpoint.callers, until: deadline)
        return try answer(me)
    }

    /// After a caller wakes: the answer is in its registers, or an error.
    private static func answer(_ me: Thread) throws(SysError) -> UInt64 {
        me.heldBy = nil
        if me.killed { throw .badState }
        if let e = me.ipcError {
            me.ipcError = nil
            throw e
        }
        return me.frame.pointee.rdx
    }

    private static func bind(caller: Thread, to server: Thread) {
        if let reply = server.receiveInto {
            server.receiveInto = nil
            reply.receiving = false
            reply.caller = caller
        } else {
            server.replyTo = caller
            caller.heldBy = server
        }
    }

    /// receiver_recv; `deadline` bounds the wait for a caller.
    static func receive(_ receiver: Receiver, reply: Reply?, until deadline: UInt64? = nil) throws(SysError) -> UInt64 {
        let me = Scheduler.current!
        // A Reply holds one caller: not while it holds one, nor while another thread receives into it.
        // (Checked first: a receive that fails leaves the caller this thread holds in place.)
        if let reply, reply.caller != nil || reply.receiving { throw .badState }
        // An unanswered caller from before is dropped: it wakes with .peerClosed.
        threadGone(me)
        let endpoint = receiver.endpoint
        me.servedEndpoint = endpoint.id
        while let caller = endpoint.callers.removeFirst() {
            do {
                try deliver(from: caller, to: me, badge: caller.callBadge)
            } catch {
                // A page not supplied (either buffer): the caller asks its pager and sends again.
                if error == .notSupplied { caller.missingPage = me.missingPage }
                me.missingPage = nil
                caller.ipcError = error
                Scheduler.wake(caller)
                continue
            }
            caller.blockedOn = nil
            if let reply {
                reply.caller = caller
            } else {
                me.replyTo = caller
                caller.heldBy = me
            }
            return me.frame.pointee.rdx
        }
        // No caller queued: a closed-client notice, if one waits (a Reply given stays unbound).
        if let badge = endpoint.takeNotice() {
            Endpoint.writeNotice(badge, into: me)
            return 0
        }
        me.receiveInto = reply
        reply?.receiving = true
        me.ipcError = nil
        Scheduler.block(on: endpoint.receivers, until: deadline)
        me.receiveInto?.receiving = false
        me.receiveInto = nil
        if me.killed { throw .badState }
        if let e = me.ipcError {
            me.ipcError = nil
            throw e
        }
        return me.frame.pointee.rdx
    }

    /// Answers `caller` with the current thread's message; the caller becomes runnable. A page not
    /// supplied (.notSupplied) leaves the caller waiting: the answerer's syscall asks the pager and
    /// answers again (its callers put the caller back where it was held).
    private static func answer(caller: Thread) throws(SysError) {
        let me = Scheduler.current!
        guard isWaitingForAnswer(caller) else { throw .peerClosed }
        do {
            try deliver(from: me, to: caller, badge: nil)
        } catch {
            if error == .notSupplied { throw error }
            caller.ipcError = error
            Scheduler.wake(caller)
            throw error
        }
        caller.frame.pointee.rax = 0
        Scheduler.wake(caller)
    }

    static func reply() throws(SysError) -> UInt64 {
        let me = Scheduler.current!
        guard let caller = me.replyTo else { throw .badState }
        me.replyTo = nil
        do { try answer(caller: caller) } catch {
            if error == .notSupplied { me.replyTo = caller }
            throw error
        }
        return 0
    }

    static func replyThroughObject(_ reply: Reply) throws(SysError) -> UInt64 {
        guard let caller = reply.caller else { throw .badState }
        reply.caller = nil
        do { try answer(caller: caller) } catch {
            if error == .notSupplied { reply.caller = caller }
            throw error
        }
        return 0
    }

    /// receiver_reply_recv: answer the held caller (if any), then receive. When no other caller is queued
    /// the server blocks on its endpoint and the CPU goes straight to the answered caller (fast path).
    /// `deadline` bounds the receive (receiver_reply_recv_timed).
    static func replyReceive(_ receiver: Receiver, until deadline: UInt64? = nil) throws(SysError) -> UInt64 {
        let me = Scheduler.current!
        let endpoint = receiver.endpoint
        if let caller = me.replyTo {
            me.replyTo = nil
            if endpoint.callers.isEmpty && endpoint.notices.isEmpty && isWaitingForAnswer(caller) {
                // Deliver, park on the endpoint, run the caller.
                do {
                    try deliver(from: me, to: caller, badge: nil)
                    caller.frame.pointee.rax = 0
                } catch {
                    if error == .notSupplied {   // ask the pager, answer again (the caller stays held)
                        me.replyTo = caller
                        throw error
                    }
                    caller.ipcError = error
                }
                me.servedEndpoint = endpoint.id
                me.state = .blocked
                me.blockedOn = endpoint.receivers
                me.receiveInto = nil
                me.ipcError = nil
                endpoint.receivers.append(me)
                caller.blockedOn = nil
                if let deadline { Timeouts.arm(me, at: deadline) }
                Scheduler.handOff(to: caller)
                if me.killed { throw .badState }
                if let e = me.ipcError {
                    me.ipcError = nil
                    throw e
                }
                return me.frame.pointee.rdx
            }
            // Answer errors do not stop the receive, but a page not supplied: the pager is asked and
            // the whole call runs again.
            do { try answer(caller: caller) } catch {
                if error == .notSupplied {
                    me.replyTo = caller
                    throw error
                }
            }
        }
        return try receive(receiver, reply: nil, until: deadline)
    }

    // MARK: notifications

    static func notify(_ n: Notify, bits: UInt64) -> UInt64 {
        n.word.signal(bits)
        if n.word.word != 0, let waiter = n.waiters.removeFirst() {
            waiter.wakeValue = n.word.take()
            Scheduler.wake(waiter)
        }
        return 0
    }

    static func wait(_ n: Notify, until deadline: UInt64? = nil) throws(SysError) -> UInt64 {
        let pending = n.word.take()
        if pending != 0 { return pending }
        let me = Scheduler.current!
        me.wakeValue = 0
        me.ipcError = nil
        Scheduler.block(on: n.waiters, until: deadline)
        try Scheduler.resumed(me)
        return me.wakeValue
    }

    static func poll(_ n: Notify) -> UInt64 { n.word.take() }
}

/// Futex wait queues, keyed by the Frame that holds the word and the word's offset in it: a Frame shared
/// between processes works, and a page that is copied on write later (a clone's source written) keeps
/// its waiters, as the key does not name the physical page. A queue exists while someone waits on it,
/// and holds its Frame.
enum Futex {
    struct Key {
        let frame: Frame
        let offset: UInt64
        func matches(_ other: Key) -> Bool { frame === other.frame && offset == other.offset }
    }

    /// Guarded by: the kernel lock (LOCKS.md); Futex.lock (rank 45) when the kernel lock is split.
    static var queues: [(key: Key, queue: WaitQueue)] = []

    /// The key of the word at `address` and the word's physical address now.
    static func key(_ address: UInt64) throws(SysError) -> (key: Key, physical: UInt64) {
        guard address % 4 == 0 else { throw .misaligned }
        let vmem = Scheduler.current.process.vmem
        let physical: UInt64
        do {
            // The Frame's own page (not the zero page or a shared one); never device memory (the kernel
            // reads the word through the direct map). A page its pager has not supplied is asked for
            // (the call restarts).
            physical = try vmem.resolve(address, write: false, unshare: true, kernel: true)
        } catch {
            throw error == .notSupplied ? .notSupplied : .badAddress
        }
        guard let m = vmem.mappings.find(containing: address) else { throw .badAddress }
        return (Key(frame: m.payload.frame, offset: address - m.start + m.payload.frameOffset), physical)
    }

    static func queue(_ key: Key, create: Bool) -> WaitQueue? {
        for q in queues where q.key.matches(key) { return q.queue }
        guard create else { return nil }
        let q = WaitQueue()
        queues.append((key, q))
        return q
    }

    static func dropIfEmpty(_ key: Key) {
        queues.removeAll { $0.key.matches(key) && $0.queue.isEmpty }
    }

    static func wait(_ address: UInt64, expected: UInt64, until deadline: UInt64? = nil) throws(SysError) -> UInt64 {
        let (k, physical) = try key(address)
        let value = KernelMemory.virtual(physical: physical).load(as: UInt32.self)
        guard UInt64(value) == expected & 0xffff_ffff else { throw .wouldBlock }
        let me = Scheduler.current!
        me.ipcError = nil
        Scheduler.block(on: queue(k, create: true)!, until: deadline)
        // Requeued, killed or timed out, the waiter may have left another key's queue empty.
        queues.removeAll { $0.queue.isEmpty }
        try Scheduler.resumed(me)
        return 0
    }

    static func wake(_ address: UInt64, count: UInt64) throws(SysError) -> UInt64 {
        let k = try key(address).key
        guard let q = queue(k, create: false) else { return 0 }
        var woken: UInt64 = 0
        while woken < count, let t = q.removeFirst() {
            Scheduler.wake(t)
            woken += 1
        }
        dropIfEmpty(k)
        return woken
    }

    static func requeue(_ address: UInt64, wake count: UInt64, to address2: UInt64, requeue moveCount: UInt64) throws(SysError) -> UInt64 {
        let k = try key(address).key
        let k2 = try key(address2).key
        let woken = try wake(address, count: count)
        guard !k.matches(k2), let from = queue(k, create: false) else { return woken }
        let to = queue(k2, create: true)!
        var moved: UInt64 = 0
        while moved < moveCount, let t = from.removeFirst() {
            t.blockedOn = to
            to.append(t)
            moved += 1
        }
        dropIfEmpty(k)
        dropIfEmpty(k2)
        return woken
    }
}

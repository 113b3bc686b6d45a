// The IPC fast path: sender_call and receiver_reply_recv with any valid message (register words, and
// bytes and handles through the IPC buffers), when the peer is already waiting and its priority is at least the current
// thread's (seL4's rule: a hand-off never runs a lower priority ahead of a higher one; otherwise the
// general path readies the peer and the scheduler picks). The message goes from one trap frame
// straight into the other, the peer runs at once (Scheduler.handOff: no run queue, the address-space
// switch done in the same step), and nothing is allocated or dispatched generically. Anything else
// falls through to the general path (Syscalls.dispatch, IPC), which is the reference semantics:
// `ipc_fastpath=off` sends every call there, and the userspace suite passes both ways.
//
// No reference count is taken on the way (issue 17). Every object is reached through an unretained
// reference (Unmanaged, `_withUnsafeGuaranteedRef`, `unowned(unsafe)`), and this is why each one stays
// alive for as long as it is used here:
// - The whole path runs with interrupts off and under the kernel lock (LOCKS.md): no other CPU and no
//   interrupt handler runs kernel code meanwhile, so nothing below is closed, freed or changed behind
//   this path's back; only this path's own stores can drop a reference.
// - The current thread: its process's thread list holds it, running or waiting (a thread leaves that
//   list only when it has ended; the per-CPU `current` word holds no count, see Scheduler.current).
// - The Sender or Receiver: the handle-table slot that names it holds a reference, and this path closes
//   no handle. The Endpoint: the Sender or Receiver holds it (a `let`).
// - The peer thread: it is blocked (not ended), so its process's thread list holds it. The path drops
//   the endpoint queue's reference to the server (call) or the reply slot's reference to the caller
//   (reply_recv) before the hand-off; the thread list still holds it while it runs.
// Only the references the data structures themselves keep change: the server's reply slot takes the
// caller, the endpoint's receiver queue and `blockedOn` take the server.
//
// Bytes and handles go through IPC.deliverBuffer, the general path's own transfer, before anything else
// changes: it validates everything before it moves a handle, so when it fails nothing has moved and the
// call falls through to the general path, which fails the same way and reports it as it always does.
// A message that moves handles may grow the receiver's handle table (an allocation), so it takes the
// fast path only while the heap has the headroom the general path asks of every syscall.

#if !KERNEL
import ABI
#endif

enum FastPath {
    /// False under `ipc_fastpath=off`: every call takes the general path (set once at boot).
    static var enabled = true

    /// Tags the fast path looks at further: reserved bits clear, at most four words (IPCTag).
    @inline(__always) static func shape(_ tag: UInt64) -> Bool {
        tag & 0x0000_0000_ff00_00f8 == 0 && tag & 7 <= 4
    }

    /// Register words only (bits 3..31 clear), at most four words: nothing goes through the IPC buffers.
    @inline(__always) static func simple(_ tag: UInt64) -> Bool {
        tag & 0x0000_0000_ffff_fff8 == 0 && tag & 7 <= 4
    }

    /// Moves a valid tag's bytes and handles from `from`'s IPC buffer to `to`'s. False (nothing moved) when
    /// the general path must take the call: an invalid tag, no headroom for a handle table's growth, or
    /// any error of the transfer (the general path meets it again and reports it).
    @inline(__always) static func transfer(_ tag: UInt64, from: Unmanaged<Thread>, to: Unmanaged<Thread>) -> Bool {
        let t = IPCTag(raw: tag)
        guard t.isValid, t.handles == 0 || Heap.hasSyscallHeadroom else { return false }
        return from._withUnsafeGuaranteedRef { f in
            to._withUnsafeGuaranteedRef { r in (try? IPC.deliverBuffer(from: f, to: r, tag: t)) != nil }
        }
    }

    /// Copies the tag and the words the tag names; the rest arrive as zero.
    @inline(__always) static func copyWords(_ source: UnsafeMutablePointer<trap_frame>, to target: UnsafeMutablePointer<trap_frame>) {
        let tag = source.pointee.rsi
        let words = tag & 7
        target.pointee.rsi = tag
        target.pointee.rdx = words > 0 ? source.pointee.rdx : 0
        target.pointee.r10 = words > 1 ? source.pointee.r10 : 0
        target.pointee.r8 = words > 2 ? source.pointee.r8 : 0
        target.pointee.r9 = words > 3 ? source.pointee.r9 : 0
    }

    @inline(__always) static func count(_ call: Syscall, _ type: ObjectType) {
        let table = Tracker.table
        table[TrackerLayout.headerWords + Int(call.rawValue)] &+= 1
        table[TrackerLayout.headerWords + TrackerLayout.syscallSlots + Int(type.rawValue)] &+= 1
    }

    /// After this thread is resumed: the answer is already in its frame, or an error is pending.
    @inline(__always) static func finish(_ me: Thread, _ frame: UnsafeMutablePointer<trap_frame>) {
        if me.killed {
            frame.pointee.rax = SysError.badState.rawValue
        } else if let e = me.ipcError {
            me.ipcError = nil
            frame.pointee.rax = e.rawValue
            frame.pointee.rdx = 0
        } else {
            frame.pointee.rax = 0
        }
    }

    /// The Sender behind `handle` in `process`'s table when the handle carries .signal, unretained.
    @inline(__always) static func sender(_ process: Process, _ handle: UInt32) -> Unmanaged<Sender>? {
        guard let index = process.handles.table.index(of: handle),
              case .sender(let s)? = process.handles.table.slots[index].object,
              process.handles.table.slots[index].rights.contains(.signal) else { return nil }
        return Unmanaged.passUnretained(s)
    }

    /// The Receiver behind `handle` in `process`'s table when the handle carries .wait, unretained.
    @inline(__always) static func receiver(_ process: Process, _ handle: UInt32) -> Unmanaged<Receiver>? {
        guard let index = process.handles.table.index(of: handle),
              case .receiver(let r)? = process.handles.table.slots[index].object,
              process.handles.table.slots[index].rights.contains(.wait) else { return nil }
        return Unmanaged.passUnretained(r)
    }

    /// sender_call to a waiting receiver thread (with no Reply object to bind) of at least the caller's
    /// priority. True when handled.
    static func call(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        simple(frame.pointee.rsi) ? call(frame, buffers: false) : callWithBuffers(frame)
    }

    /// sender_call with bytes or handles (a separate copy of the path, so that the register-words case
    /// pays nothing for the transfer).
    @inline(never) static func callWithBuffers(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        shape(frame.pointee.rsi) && call(frame, buffers: true)
    }

    @inline(__always) static func call(_ frame: UnsafeMutablePointer<trap_frame>, buffers: Bool) -> Bool {
        guard frame.pointee.rdi <= UInt64(UInt32.max),
              frame.pointee.rsi >> 32 != UInt64(SenderGoneNotice.label) else { return false }
        let me = Scheduler.currentUnmanaged
        let handle = UInt32(truncatingIfNeeded: frame.pointee.rdi)
        guard let sender = me._withUnsafeGuaranteedRef({ FastPath.sender($0.process, handle) }) else { return false }
        let endpoint = sender._withUnsafeGuaranteedRef { Unmanaged.passUnretained($0.endpoint) }
        guard let server = endpoint._withUnsafeGuaranteedRef({ $0.closed ? nil : $0.receivers.firstUnretained }),
              server._withUnsafeGuaranteedRef({ s in s.receiveInto == nil && me._withUnsafeGuaranteedRef { s.priority >= $0.priority } })
        else { return false }
        if buffers && !transfer(frame.pointee.rsi, from: me, to: server) { return false }
        // The queue's reference to the server goes; its process's thread list still holds it.
        endpoint._withUnsafeGuaranteedRef { $0.receivers.dropFirst() }
        count(.senderCall, .sender)
        let serverFrame = server._withUnsafeGuaranteedRef { $0.frame }
        copyWords(frame, to: serverFrame)
        serverFrame.pointee.rdi = sender._withUnsafeGuaranteedRef { $0.badge }
        server._withUnsafeGuaranteedRef { s in me._withUnsafeGuaranteedRef { s.replyTo = $0 } }
        me._withUnsafeGuaranteedRef { $0.ipcError = nil }
        server._withUnsafeGuaranteedRef { Scheduler.handOff(to: $0) }
        me._withUnsafeGuaranteedRef { finish($0, frame) }
        return true
    }

    /// receiver_reply_recv answering a caller that still waits, of at least the server's priority, with no
    /// other caller queued. True when handled.
    static func replyReceive(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        simple(frame.pointee.rsi) ? replyReceive(frame, buffers: false) : replyReceiveWithBuffers(frame)
    }

    /// receiver_reply_recv with bytes or handles (see callWithBuffers).
    @inline(never) static func replyReceiveWithBuffers(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        shape(frame.pointee.rsi) && replyReceive(frame, buffers: true)
    }

    @inline(__always) static func replyReceive(_ frame: UnsafeMutablePointer<trap_frame>, buffers: Bool) -> Bool {
        guard frame.pointee.rdi <= UInt64(UInt32.max) else { return false }
        let me = Scheduler.currentUnmanaged
        let handle = UInt32(truncatingIfNeeded: frame.pointee.rdi)
        guard let caller = me._withUnsafeGuaranteedRef({ m in m.replyTo.map { Unmanaged.passUnretained($0) } }),
              caller._withUnsafeGuaranteedRef({ c in
                  c.state == .blocked && !c.killed && me._withUnsafeGuaranteedRef { c.priority >= $0.priority } }),
              let receiver = me._withUnsafeGuaranteedRef({ FastPath.receiver($0.process, handle) })
        else { return false }
        let endpoint = receiver._withUnsafeGuaranteedRef { Unmanaged.passUnretained($0.endpoint) }
        guard endpoint._withUnsafeGuaranteedRef({ $0.callers.isEmpty && $0.notices.isEmpty }) else { return false }
        if buffers && !transfer(frame.pointee.rsi, from: me, to: caller) { return false }
        count(.receiverReplyRecv, .receiver)
        copyWords(frame, to: caller._withUnsafeGuaranteedRef { $0.frame })
        // The reply slot's reference to the caller goes; its process's thread list still holds it.
        me._withUnsafeGuaranteedRef { m in
            m.replyTo = nil
            if m.receiveInto != nil { m.receiveInto = nil }
            m.ipcError = nil
            endpoint._withUnsafeGuaranteedRef { e in
                m.servedEndpoint = e.id
                m.state = .blocked
                m.blockedOn = e.receivers
                e.receivers.append(m)
            }
        }
        caller._withUnsafeGuaranteedRef { Scheduler.handOff(to: $0) }
        me._withUnsafeGuaranteedRef { finish($0, frame) }
        return true
    }
}

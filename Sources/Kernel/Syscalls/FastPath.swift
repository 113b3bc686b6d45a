// The IPC fast path: sender_call and receiver_reply_recv with a message of register words only (no
// buffer bytes, no handles), when the peer is already waiting. The message goes from one trap frame
// straight into the other, the peer runs at once (Scheduler.handOff: no run queue, the address-space
// switch done in the same step), and nothing is allocated or dispatched generically. Anything else
// falls through to the general path (Syscalls.dispatch, IPC).

#if !KERNEL
import ABI
#endif

enum FastPath {
    /// False under `ipc_fastpath=off`: every call takes the general path (set once at boot).
    static var enabled = true

    /// Tags the fast path takes: register words only (bits 3..31 clear), at most four words.
    @inline(__always) static func simple(_ tag: UInt64) -> Bool {
        tag & 0x0000_0000_ffff_fff8 == 0 && tag & 7 <= 4
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

    /// sender_call to a waiting receiver thread (with no Reply object to bind). True when handled.
    static func call(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        guard simple(frame.pointee.rsi), frame.pointee.rdi <= UInt64(UInt32.max),
              frame.pointee.rsi >> 32 != UInt64(SenderGoneNotice.label) else { return false }
        let me = Scheduler.current!
        guard let entry = me.process.handles.entry(UInt32(truncatingIfNeeded: frame.pointee.rdi)),
              case .sender(let sender) = entry.object, entry.rights.contains(.signal) else { return false }
        let endpoint = sender.endpoint
        guard !endpoint.closed, let server = endpoint.receivers.head, server.receiveInto == nil else { return false }
        _ = endpoint.receivers.removeFirst()
        count(.senderCall, .sender)
        copyWords(frame, to: server.frame)
        server.frame.pointee.rdi = sender.badge
        server.replyTo = me
        me.ipcError = nil
        Scheduler.handOff(to: server)
        finish(me, frame)
        return true
    }

    /// receiver_reply_recv answering a caller that still waits, with no other caller queued. True when
    /// handled.
    static func replyReceive(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        guard simple(frame.pointee.rsi), frame.pointee.rdi <= UInt64(UInt32.max) else { return false }
        let me = Scheduler.current!
        guard let caller = me.replyTo, caller.state == .blocked, !caller.killed,
              let entry = me.process.handles.entry(UInt32(truncatingIfNeeded: frame.pointee.rdi)),
              case .receiver(let receiver) = entry.object, entry.rights.contains(.wait) else { return false }
        let endpoint = receiver.endpoint
        guard endpoint.callers.isEmpty, endpoint.notices.isEmpty else { return false }
        count(.receiverReplyRecv, .receiver)
        copyWords(frame, to: caller.frame)
        me.replyTo = nil
        me.receiveInto = nil
        me.ipcError = nil
        me.servedEndpoint = endpoint.id
        me.state = .blocked
        me.blockedOn = endpoint.receivers
        endpoint.receivers.append(me)
        Scheduler.handOff(to: caller)
        finish(me, frame)
        return true
    }
}

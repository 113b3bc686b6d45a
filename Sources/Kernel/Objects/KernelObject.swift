// "Any kernel object": a closed enum over the object classes, since Embedded Swift has no existentials.
// Handle tables hold these with rights; the object lives as long as some handle, mapping or kernel
// structure refers to it (reference counting, as in Zircon).

#if !KERNEL
import ABI
#endif

enum KernelObject {
    case process(Process)
    case thread(Thread)
    case vmem(Vmem)
    case frame(Frame)
    case receiver(Receiver)
    case reply(Reply)
    case sender(Sender)
    case notify(Notify)
    case resource(Resource)
    case ioPort(IOPort)
    case irq(IRQ)

    var type: ObjectType {
        switch self {
        case .process: return .process
        case .thread: return .thread
        case .vmem: return .vmem
        case .frame: return .frame
        case .receiver: return .receiver
        case .reply: return .reply
        case .sender: return .sender
        case .notify: return .notify
        case .resource: return .resource
        case .ioPort: return .ioPort
        case .irq: return .irq
        }
    }
}

extension KernelObject {
    /// A handle to this object was stored in `owner`'s table.
    func opened(in owner: Process) {
        switch self {
        case .process(let p):
            if p !== owner { p.foreignHandles += 1 }
        case .thread(let t):
            t.handleCount += 1
            guard t.process !== owner else { return }
            t.foreignHandles += 1
            if t.state != .dead { t.process.foreignHandles += 1 }
        case .receiver(let r):
            r.handleCount += 1
        case .ioPort(let io):
            io.opened(in: owner)
        case .frame(let f):
            f.handleCount += 1
        case .vmem, .reply, .sender, .notify, .resource, .irq:
            break
        }
    }

    /// A handle to this object was closed in `owner`'s table (after the table changed): what only a
    /// handle could still reach ends — an unstarted thread, a process that can no longer run, the
    /// endpoint of a Receiver.
    func closed(in owner: Process) {
        switch self {
        case .process(let p):
            guard p !== owner else { return }
            p.foreignHandles -= 1
            p.settle()
        case .thread(let t):
            t.handleCount -= 1
            if t.process !== owner {
                t.foreignHandles -= 1
                if t.state != .dead { t.process.foreignHandles -= 1 }
            }
            if t.handleCount == 0 && t.state == .created { Scheduler.kill(t, code: ExitCode.stopped) }
            t.process.settle()
        case .receiver(let r):
            r.handleCount -= 1
            if r.handleCount == 0 { r.endpoint.close() }
        case .ioPort(let io):
            io.closed(in: owner)
        case .frame(let f):
            f.handleCount -= 1
            f.tellIfAlone()
        case .vmem, .reply, .sender, .notify, .resource, .irq:
            break
        }
    }
}

/// Live objects of every type, for system_info and leak tests.
enum ObjectCounter {
    /// Guarded by: the kernel lock (deinits run under it).
    static var live = 0
}

/// The rendezvous point of a Receiver and its Senders: callers waiting for a receiver, receivers
/// waiting for a caller (both FIFO), and the closed-client notices waiting for a receiver
/// (receiver_set_notices). Closed when the Receiver object goes (its last handle).
final class Endpoint {
    private static var nextID: UInt64 = 1
    /// A number no other endpoint ever has (Thread.servedEndpoint names an endpoint by it).
    let id: UInt64
    let callers = WaitQueue()
    let receivers = WaitQueue()
    var closed = false
    /// Whether a Sender going away leaves a notice (receiver_set_notices).
    var noticesWanted = false
    /// Badges of gone Senders not received yet, oldest first (at most one per Sender ever made to this
    /// endpoint, and only Receiver holders make them).
    var notices: [UInt64] = []

    init() {
        id = Endpoint.nextID
        Endpoint.nextID += 1
    }

    /// No Receiver handle is left: every waiting caller and receiver wakes with .peerClosed.
    func close() {
        closed = true
        notices.removeAll()
        for queue in [callers, receivers] {
            while let t = queue.removeFirst() {
                t.blockedOn = nil
                t.ipcError = .peerClosed
                Scheduler.wake(t)
            }
        }
    }

    /// A Sender with `badge` is gone: a waiting receiver gets the notice now, else it waits in `notices`.
    func senderGone(badge: UInt64) {
        guard noticesWanted, !closed else { return }
        guard let server = receivers.removeFirst() else { return notices.append(badge) }
        Endpoint.writeNotice(badge, into: server)
        server.receiveInto?.receiving = false
        server.receiveInto = nil
        server.ipcError = nil
        Scheduler.wake(server)
    }

    /// The oldest waiting notice's badge, taken, or nil.
    func takeNotice() -> UInt64? {
        notices.isEmpty ? nil : notices.removeFirst()
    }

    /// A notice as a received message in `t`'s registers: the tag, no words, the badge.
    static func writeNotice(_ badge: UInt64, into t: Thread) {
        let frame = t.frame
        frame.pointee.rsi = IPCTag(label: SenderGoneNotice.label).raw
        frame.pointee.rdx = 0
        frame.pointee.r10 = 0
        frame.pointee.r8 = 0
        frame.pointee.r9 = 0
        frame.pointee.rdi = badge
        frame.pointee.rax = 0
    }
}

/// The receiving end of an endpoint. Its endpoint closes when its last handle does (a thread blocked
/// in receive holds the object, not a handle) or when it goes.
final class Receiver {
    let endpoint = Endpoint()
    /// Handles to this Receiver in any table.
    var handleCount = 0
    init() { ObjectCounter.live += 1 }
    deinit {
        endpoint.close()
        ObjectCounter.live -= 1
    }
}

/// The sending end of an endpoint, with the badge its calls carry. When it goes (no handle and no
/// kernel reference is left) its endpoint may leave a closed-client notice (Endpoint.senderGone).
final class Sender {
    let endpoint: Endpoint
    let badge: UInt64
    init(receiver: Receiver, badge: UInt64) {
        endpoint = receiver.endpoint
        self.badge = badge
        ObjectCounter.live += 1
    }
    deinit {
        endpoint.senderGone(badge: badge)
        ObjectCounter.live -= 1
    }
}

/// A captured caller, to be answered later from any thread. Dropped unanswered, its caller wakes with
/// .peerClosed.
final class Reply {
    var caller: Thread? = nil {
        didSet {
            if let old = oldValue, old.boundReply === self { old.boundReply = nil }
            caller?.boundReply = self
        }
    }
    /// A thread is blocked in receiver_recv to bind its next caller here.
    var receiving = false
    init() { ObjectCounter.live += 1 }
    deinit {
        if let c = caller {
            c.boundReply = nil
            c.ipcError = .peerClosed
            Scheduler.wake(c)
        }
        ObjectCounter.live -= 1
    }
}

final class Notify {
    var word = NotificationWord()
    let waiters = WaitQueue()
    init() { ObjectCounter.live += 1 }
    deinit { ObjectCounter.live -= 1 }
}

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
        }
    }
}

/// Live objects of every type, for system_info and leak tests.
enum ObjectCounter {
    static var live = 0
}

/// The rendezvous point of a Receiver and its Senders: callers waiting for a receiver, receivers
/// waiting for a caller (both FIFO). Closed when the Receiver object goes (its last handle).
final class Endpoint {
    let callers = WaitQueue()
    let receivers = WaitQueue()
    var closed = false
}

final class Receiver {
    let endpoint = Endpoint()
    init() { ObjectCounter.live += 1 }
    deinit {
        endpoint.closed = true
        while let caller = endpoint.callers.removeFirst() {
            caller.ipcError = .peerClosed
            Scheduler.wake(caller)
        }
        ObjectCounter.live -= 1
    }
}

final class Sender {
    let endpoint: Endpoint
    let badge: UInt64
    init(receiver: Receiver, badge: UInt64) {
        endpoint = receiver.endpoint
        self.badge = badge
        ObjectCounter.live += 1
    }
    deinit { ObjectCounter.live -= 1 }
}

/// A captured caller, to be answered later from any thread. Dropped unanswered, its caller wakes with
/// .peerClosed.
final class Reply {
    var caller: Thread? = nil
    /// A thread is blocked in receiver_recv to bind its next caller here.
    var receiving = false
    init() { ObjectCounter.live += 1 }
    deinit {
        if let c = caller {
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

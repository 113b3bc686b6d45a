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

/// IPC endpoint objects: they exist (create, handles, rights, lifetimes); their operations come with
/// the IPC issue.
final class Receiver {
    init() { ObjectCounter.live += 1 }
    deinit { ObjectCounter.live -= 1 }
}

final class Sender {
    let receiver: Receiver
    init(receiver: Receiver) { self.receiver = receiver; ObjectCounter.live += 1 }
    deinit { ObjectCounter.live -= 1 }
}

final class Reply {
    init() { ObjectCounter.live += 1 }
    deinit { ObjectCounter.live -= 1 }
}

final class Notify {
    var word: UInt64 = 0
    init() { ObjectCounter.live += 1 }
    deinit { ObjectCounter.live -= 1 }
}

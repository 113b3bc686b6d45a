// pm's message loop. Each request is checked (label, words, bytes, handles) before it acts. A child's end
// reaches the loop as a message from a watcher thread (one per child, blocked in process_wait) through
// pm's own Sender with the badge `watcherBadge`; a `wait` that must block keeps its caller bound to a
// Reply object and is answered when a matching child ends.

/// A process pm started, or one it adopted (root's boot servers, init, root: Adoption.swift).
final class Child {
    let id: UInt32
    var parent: UInt32
    let name: [UInt8]
    /// pm's handle to the process (the one in `spawned`, or the adopted one).
    let process: Handle
    /// The process's, its first thread's and its Vmem's handles for a process pm started; nil for an
    /// adopted one.
    let spawned: SpawnedProcess?
    var watcher: SpawnedThread?
    var exited = false
    var status: UInt64 = 0
    /// Where it faulted (Faults.swift): CR2 for a page fault, else the faulting instruction.
    var faultAddress: UInt64 = 0
    /// An adopted process's own Sender badge to pm (0: none): its requests act as this process's.
    var badge: UInt64 = 0
    /// The signal of the first kill asked for it (Signals.swift), 0 when none was.
    var signal: UInt64 = 0

    init(id: UInt32, parent: UInt32, name: [UInt8], spawned: SpawnedProcess) {
        self.id = id
        self.parent = parent
        self.name = name
        self.process = spawned.process
        self.spawned = spawned
    }

    init(id: UInt32, parent: UInt32, name: [UInt8], adopted process: Handle, badge: UInt64) {
        self.id = id
        self.parent = parent
        self.name = name
        self.process = process
        self.spawned = nil
        self.badge = badge
    }

    var adopted: Bool { spawned == nil }
}

/// A parent blocked in `wait`.
struct Waiter {
    let parent: UInt32
    let id: UInt32
    let reply: Handle
}

/// Where pm reads program images and what it hands each child: file servers speaking the file protocol
/// (vfs for every scheme, initfsd for initfs:// when pm has it) and timed's Sender.
struct ImageSource {
    var vfs: FileService?
    var initfs: FileService?
    var time: Handle?
    /// Whether pm runs the pipe server (the boot server does; root's hand-started test pm does not).
    var pipes: Bool
}

final class ProcessServer {
    static let watcherBadge = UInt64.max
    static let exitedLabel: UInt32 = 0x100
    static let maxProcesses = 512
    static let maxImage = 32 << 20

    let receiver: Handle
    let page: MessagePage
    /// File servers (boot-server mode): vfs for every scheme, initfsd for initfs:// (and `map`).
    let vfsFiles: FileService?
    let initfsFiles: FileService?
    /// timed's Sender, duplicated for each child as `import:time`.
    let time: Handle?
    /// Root's service directory (`import:services`): Senders for the services a child's manifest
    /// imports (Processes.swift, addManifestImports).
    var directory: Handle? = nil
    /// The pipe server (Pipes.swift): its Receiver, and pm's administrative Sender to it.
    var pipes: PipeServer? = nil
    /// pm's Sender for its watcher threads.
    let watcherSender: Handle
    var children: [UInt32: Child] = [:]
    var waiters: [Waiter] = []
    var nextID: UInt32 = 1
    /// Adopted processes by the badge of their own Sender to pm (Adoption.swift).
    var adoptedBadges: [UInt64: UInt32] = [:]
    /// Watchers that reported; joined (stack freed) once they have returned.
    var finished: [SpawnedThread] = []

    init(receiver: Handle, source: ImageSource) throws(ServiceError) {
        self.receiver = receiver
        let page = try ServiceCall.sys { () throws(SysError) in try MessagePage() }
        self.page = page
        (vfsFiles, initfsFiles, time) = (source.vfs, source.initfs, source.time)
        if source.pipes {
            pipes = PipeServer.start()
            if pipes == nil { print("pm: no pipe server (out of memory); pipe requests fail") }
        }
        try ServiceCall.sys { () throws(SysError) in try page.install() }
        watcherSender = try ServiceCall.sys { () throws(SysError) in try senderCreate(receiver, badge: ProcessServer.watcherBadge) }
    }

    /// Serves forever. Each caller is bound to a Reply object; a deferred wait keeps its Reply.
    func run() {
        guard var reply = try? replyCreate() else { print("pm: no Reply object"); return }
        while true {
            let message: IPCMessage
            do throws(SysError) { message = try receiverRecv(receiver, reply: reply) } catch {
                print("pm: receive failed: \(error.name)")
                return
            }
            joinFinished()
            if answerFault(message, reply: reply) { continue }
            if let answer = handle(message, reply: reply) {
                _ = try? replyReply(reply, self.reply(answer))
            } else if let next = try? replyCreate() {
                reply = next          // the old one waits in `waiters`
            } else {
                _ = try? replyReply(reply, self.reply(.error(.noMemory)))
                waiters.removeAll { $0.reply == reply }
            }
        }
    }

    func reply(_ a: Answer) -> IPCMessage {
        IPCMessage(tag: IPCTag(words: 4, bytes: a.bytes, handles: a.handles), words: (a.words.0, a.words.1, a.words.2, a.fault))
    }

    /// nil when the caller waits (bound to `reply`).
    func handle(_ m: IPCMessage, reply: Handle) -> Answer? {
        if m.badge == ProcessServer.watcherBadge && m.tag.label == ProcessServer.exitedLabel {
            childEnded(UInt32(truncatingIfNeeded: m.words.0), status: m.words.1)
            return .ok()
        }
        guard let op = ProcessOp(rawValue: m.tag.label), m.tag.words >= op.words,
              op == .spawn || op == .adopt || m.tag.handles == 0 else {
            page.closeReceived(m.tag.handles)
            return .error(.badMessage)
        }
        let caller = callerID(m.badge), admin = ProcessBadge.caller(m.badge) == 0
        switch op {
        case .spawn: return spawn(m, parent: caller)
        case .wait: return wait(for: m.words.0, parent: caller, reply: reply)
        case .kill: return kill(m, caller: caller, admin: admin)
        case .list: return list(from: m.words.0)
        case .identify: return .ok(UInt64(caller), UInt64(children[caller]?.parent ?? 0))
        case .pipe: return makePipe()
        case .adopt: return adopt(m, admin: admin)
        }
    }

    func joinFinished() {
        for t in finished { _ = try? t.join() }
        finished = []
    }
}

/// A reply: the error word, results, and how many IPC buffer bytes and handles go with it.
struct Answer {
    var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
    var bytes = 0
    var handles = 0
    /// w3 of a wait's reply: the fault address of a child that faulted.
    var fault: UInt64 = 0

    static func error(_ e: ServiceError) -> Answer { Answer(words: (e.rawValue, 0, 0)) }
    static func ok(_ w1: UInt64 = 0, _ w2: UInt64 = 0) -> Answer { Answer(words: (0, w1, w2)) }
}


// pm's message loop. Each request is checked (label, words, bytes, handles) before it acts. A child's end
// reaches the loop as a message from a watcher thread (one per child, blocked in process_wait) through
// pm's own Sender with the badge `watcherBadge`; a `wait` that must block keeps its caller bound to a
// Reply object and is answered when a matching child ends.

/// A process pm started.
final class Child {
    let id: UInt32
    var parent: UInt32
    let name: [UInt8]
    let spawned: SpawnedProcess
    var watcher: SpawnedThread?
    var exited = false
    var status: UInt64 = 0
    /// Where it faulted (Faults.swift): CR2 for a page fault, else the faulting instruction.
    var faultAddress: UInt64 = 0

    init(id: UInt32, parent: UInt32, name: [UInt8], spawned: SpawnedProcess) {
        self.id = id
        self.parent = parent
        self.name = name
        self.spawned = spawned
    }
}

/// A parent blocked in `wait`.
struct Waiter {
    let parent: UInt32
    let id: UInt32
    let reply: Handle
}

final class ProcessServer {
    static let watcherBadge = UInt64.max
    static let exitedLabel: UInt32 = 0x100
    static let maxProcesses = 512
    static let maxImage = 32 << 20

    let receiver: Handle
    let page: MessagePage
    /// pm's client of vfs (its own IPC buffer page: `withVFS` switches to it and back).
    let vfs: FileService
    /// pm's Sender for its watcher threads.
    let watcherSender: Handle
    var children: [UInt32: Child] = [:]
    var waiters: [Waiter] = []
    var nextID: UInt32 = 1
    /// Watchers that reported; joined (stack freed) once they have returned.
    var finished: [SpawnedThread] = []

    init(receiver: Handle, vfs vfsSender: Handle) throws(ServiceError) {
        self.receiver = receiver
        // The FileService installs its page first; pm's own MessagePage, made last, is the thread's buffer.
        vfs = try ServiceCall.sys { () throws(SysError) in try FileService(vfsSender) }
        page = try ServiceCall.sys { () throws(SysError) in try MessagePage() }
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
        IPCMessage(tag: IPCTag(words: 4, bytes: a.bytes), words: (a.words.0, a.words.1, a.words.2, a.fault))
    }

    /// nil when the caller waits (bound to `reply`).
    func handle(_ m: IPCMessage, reply: Handle) -> Answer? {
        if m.badge == ProcessServer.watcherBadge && m.tag.label == ProcessServer.exitedLabel {
            childEnded(UInt32(truncatingIfNeeded: m.words.0), status: m.words.1)
            return .ok()
        }
        guard let op = ProcessOp(rawValue: m.tag.label), m.tag.words >= op.words,
              op == .spawn || m.tag.handles == 0 else {
            page.closeReceived(m.tag.handles)
            return .error(.badMessage)
        }
        let caller = UInt32(truncatingIfNeeded: m.badge)
        switch op {
        case .spawn: return spawn(m, parent: caller)
        case .wait: return wait(for: m.words.0, parent: caller, reply: reply)
        case .kill: return kill(m.words.0, caller: caller)
        case .list: return list(from: m.words.0)
        }
    }

    func joinFinished() {
        for t in finished { _ = try? t.join() }
        finished = []
    }
}

/// A reply: the error word, results, and how many IPC buffer bytes go with it.
struct Answer {
    var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
    var bytes = 0
    /// w3 of a wait's reply: the fault address of a child that faulted.
    var fault: UInt64 = 0

    static func error(_ e: ServiceError) -> Answer { Answer(words: (e.rawValue, 0, 0)) }
    static func ok(_ w1: UInt64 = 0, _ w2: UInt64 = 0) -> Answer { Answer(words: (0, w1, w2)) }
}

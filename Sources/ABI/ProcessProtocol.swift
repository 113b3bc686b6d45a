// The process protocol pm speaks: spawn a program by path with arguments, environment and handles; wait
// for a child's exit status; kill a child; list the processes pm started.
//
// Every process pm starts gets its own Sender to pm (the first `handle=N` on its command line); its
// badge is the process's id, so pm knows who asks: a process waits for and kills only its own
// children. Root's Sender has badge 0 (the process id of root, the parent of what it spawns) and may
// kill any process. Variable-length data travels as IPC buffer bytes.
//
// Request: label = ProcessOp, words as listed. Reply: label 0, w0 = 0 or a ServiceError raw value, then
// the results. A wrong label, too few words, too few bytes or handles a request does not take get an
// error reply (the handles are closed).
//   spawn  w0: path length, w1: argument bytes, w2: environment bytes; bytes: the path (a vfs URI),
//          then the arguments and the environment entries, each ended by a zero byte; handles: up to
//          7, given to the child after its pm Sender           r: w1: process id
//   wait   w0: process id, or 0 for any child                  r: w1: process id, w2: exit status
//          (the process_exit code; ExitCode.fault(vector) for a fault, ExitCode.stopped when killed),
//          w3: for a fault, where (CR2 for a page fault, else the faulting instruction), else 0 (pm is
//          its children's fault handler: fault_handler_set before they start);
//          blocks until a child has ended. The child is then forgotten.
//   kill   w0: process id                                      ends every thread pm started in it
//   list   w0: first index                                     r: w1: records written, w2: processes
//          in all; bytes: ProcessRecord.size-byte records
// Exit statuses of children a parent never waits for stay until the parent waits or ends.

/// Request labels.
public enum ProcessOp: UInt32, CaseIterable, Sendable {
    case spawn = 1, wait, kill, list

    /// The register words a request of this kind must carry at least.
    public var words: Int { self == .spawn ? 3 : 1 }
}

/// What a process is doing, as `list` reports it.
public enum ProcessState: UInt8, Sendable {
    case running = 1
    /// Ended; its parent has not waited for it yet.
    case exited = 2
}

/// One process in a `list` answer, little-endian: id (4 bytes), parent id (4), state (1), name length
/// (1), 2 bytes zero, threads (4), 4 bytes zero, frame pages in use (8), exit status (8), name (24 bytes,
/// cut there).
public struct ProcessRecord: Equatable, Sendable {
    public static let size = 60
    public static let nameBytes = 24

    public var id: UInt32
    public var parent: UInt32
    public var state: ProcessState
    public var threads: UInt32
    public var pages: UInt64
    public var status: UInt64
    public var name: [UInt8]

    public init(id: UInt32, parent: UInt32, state: ProcessState, threads: UInt32, pages: UInt64, status: UInt64,
                name: [UInt8]) {
        self.id = id
        self.parent = parent
        self.state = state
        self.threads = threads
        self.pages = pages
        self.status = status
        self.name = Array(name.prefix(ProcessRecord.nameBytes))
    }

    /// The record's bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        func put(_ value: UInt64, _ count: Int) { for i in 0..<count { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) } }
        put(UInt64(id), 4); put(UInt64(parent), 4); put(UInt64(state.rawValue), 1); put(UInt64(name.count), 1)
        put(0, 2); put(UInt64(threads), 4); put(0, 4); put(pages, 8); put(status, 8)
        out.append(contentsOf: name)
        out.append(contentsOf: [UInt8](repeating: 0, count: ProcessRecord.nameBytes - name.count))
        return out
    }

    /// Reads a record; nil when the bytes are short or the state is unknown.
    public init?(_ b: ArraySlice<UInt8>) {
        guard b.count >= ProcessRecord.size else { return nil }
        let s = b.startIndex
        func get(_ at: Int, _ count: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<count { v |= UInt64(b[s + at + i]) << (8 * UInt64(i)) }
            return v
        }
        guard let state = ProcessState(rawValue: UInt8(get(8, 1))) else { return nil }
        let nameLength = min(Int(get(9, 1)), ProcessRecord.nameBytes)
        self.init(id: UInt32(get(0, 4)), parent: UInt32(get(4, 4)), state: state, threads: UInt32(get(12, 4)),
                  pages: get(20, 8), status: get(28, 8), name: Array(b[(s + 36)..<(s + 36 + nameLength)]))
    }
}

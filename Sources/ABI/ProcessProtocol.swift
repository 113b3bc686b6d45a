// The process protocol pm speaks: spawn a program by path with arguments, environment and handles; wait
// for a child's exit status; kill a child; list the processes pm knows; who am I; make a pipe; adopt a
// process pm did not start (root's boot servers, init and root itself), so that `list` shows the system.
//
// Every process pm starts gets its own Sender to pm, as the startup entry `import:pm` and (for older
// clients) as the first `handle=N` on its command line; its badge is ProcessBadge.child(id), so pm knows
// who asks: a process waits for and kills only its own children. Any other badge (root's Sender, badge 0,
// and the Senders root makes for boot servers that import `pm`, such as init and the console) is an
// administrator: parent id 0 for what it spawns, and it may kill any process. Variable-length data
// travels as IPC buffer bytes.
//
// Request: label = ProcessOp, words as listed. Reply: label 0, w0 = 0 or a ServiceError raw value, then
// the results. A wrong label, too few words, too few bytes or handles a request does not take get an
// error reply (the handles are closed).
//   spawn  w0: path length, w1: argument bytes, w2: environment bytes, w3 (optional, 0 when absent):
//          name-table bytes; bytes: the path (a URI), then the arguments and the environment entries,
//          each ended by a zero byte, then the name table: one entry per handle sent, in order, each the
//          entry's name (UTF-8, zero-ended) and its 8-byte little-endian value. A handle whose name is
//          empty is given as ` handle=N` (after the child's pm Sender); one named `fd:N` becomes the
//          child's POSIX descriptor N (a Sender holding one open file, the value its file id; Startup.
//          descriptor(N)); `grant:NAME`, `import:NAME` and `export:NAME` (a Receiver the child serves) become those startup entries (value 0).
//          handles: up to 7                                         r: w1: process id
//          The child also gets `import:vfs` and `import:initfs` (pm's own `connect`ions to those file
//          servers, when pm has them) unless the table names those entries itself.
//   wait   w0: process id, or 0 for any child                  r: w1: process id, w2: exit status
//          (the process_exit code; ExitCode.fault(vector) for a fault, ExitCode.stopped when killed),
//          w3: for a fault, where (CR2 for a page fault, else the faulting instruction); for a killed
//          child the signal its kill named (1-64; see kill), else 0 (pm is its children's fault handler:
//          fault_handler_set before they start);
//          blocks until a child has ended. The child is then forgotten.
//   kill   w0: process id, w1 (optional): the signal, 1-64 (ProcessProtocol.defaultSignal, SIGKILL,
//          when absent)                                        ends every thread pm started in it;
//          processes cannot catch signals, so every signal ends the process; the first kill's signal
//          is what its parent's wait reports (w3). `.invalid` for a signal out of range.
//   list   w0: first index                                     r: w1: records written, w2: processes
//          in all; bytes: ProcessRecord.size-byte records
//   identify  no words needed                                  r: w1: the caller's process id (0 for an
//          administrator), w2: its parent's id
//   pipe   no words needed                                     r: w1: the read end's file id, w2: the
//          write end's; handles: 2, Senders each holding one end (file protocol, as after `share`):
//          read, write, close, stat (w0: bytes buffered), share; seek is `.invalid`. A read waits for
//          data and returns 0 bytes once every write end is closed; a write waits for room (the pipe
//          holds ProcessProtocol.pipeCapacity bytes) and fails with `.brokenPipe` once every read end
//          is closed. An end is closed by `close` or when its Sender is gone.
//   adopt  w0: name length, w1: parent id (0: none), w2: the badge of the adoptee's own Sender to pm
//          (0: none); bytes: the name; handles: 1, a Process handle (rights: read and wait at least)
//                                                              r: w1: the process id pm gives it
//          Administrators only (.notPermitted for a child). pm lists the process (its state, threads
//          and memory read through the handle) until it has no thread left; nobody waits for it. A
//          caller whose badge is an adopted process's answers identify with that id, and what it
//          spawns is that process's child (it keeps the administrator's rights). pm kills an adopted
//          process only when the handle carries the manage right.
// Exit statuses of children a parent never waits for stay until the parent waits or ends.

public enum ProcessProtocol {
    /// Bytes a pipe holds before a write waits.
    public static let pipeCapacity = 64 * 1024
    /// The most handles a spawn carries.
    public static let maxSpawnHandles = 7
    /// kill's signal when the request names none: SIGKILL.
    public static let defaultSignal: UInt64 = 9
    /// The signal the console's Ctrl-C sends: SIGINT.
    public static let interruptSignal: UInt64 = 2
    /// Signals are 1 through this (Linux's numbers).
    public static let maxSignal: UInt64 = 64
}

/// Badges of the Senders pm makes.
public enum ProcessBadge {
    /// Badges at or above this are pm's children's Senders (badge = base | process id).
    public static let childBase: UInt64 = 1 << 40
    public static func child(_ id: UInt32) -> UInt64 { childBase | UInt64(id) }
    /// The process id a badge names, 0 for an administrator's.
    public static func caller(_ badge: UInt64) -> UInt32 {
        badge >= childBase && badge < childBase << 1 ? UInt32(truncatingIfNeeded: badge) : 0
    }
}

/// spawn's name table: one (name, value) per handle sent.
public enum SpawnNames {
    /// The table's bytes.
    public static func encode(_ entries: [(name: [UInt8], value: UInt64)]) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            out += e.name
            out.append(0)
            for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: e.value >> (8 * UInt64(k)))) }
        }
        return out
    }

    /// The entries; nil when the bytes do not split into whole entries or a name holds no zero.
    public static func decode(_ b: ArraySlice<UInt8>) -> [(name: [UInt8], value: UInt64)]? {
        var out: [(name: [UInt8], value: UInt64)] = []
        var i = b.startIndex
        while i < b.endIndex {
            guard let zero = b[i...].firstIndex(of: 0), zero + 9 <= b.endIndex, zero - i <= 64 else { return nil }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(b[zero + 1 + k]) << (8 * UInt64(k)) }
            out.append((Array(b[i..<zero]), v))
            i = zero + 9
        }
        return out
    }
}

/// Request labels.
public enum ProcessOp: UInt32, CaseIterable, Sendable {
    case spawn = 1, wait, kill, list, identify, pipe, adopt

    /// The register words a request of this kind must carry at least.
    public var words: Int {
        switch self {
        case .spawn, .adopt: 3
        case .wait, .kill, .list: 1
        case .identify, .pipe: 0
        }
    }
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

/// How spawn's arguments reach the child's command line, which is split at spaces: each argument is
/// escaped so that it is one non-empty word without ` handle=` meaning (`%XX` for a space, tab, newline,
/// `%` and a leading `h` of `handle=`; `%-` for an empty argument), and the child's POSIX layer
/// (`argv`) turns the words back into the arguments. Words without `%` read the same either way.
public enum SpawnArguments {
    public static func escape(_ argument: String) -> String {
        if argument.isEmpty { return "%-" }
        var out: [UInt8] = []
        let bytes = Array(argument.utf8)
        for (i, b) in bytes.enumerated() {
            let special = b == 32 || b == 9 || b == 10 || b == 13 || b == 37 || b == 0
                || (i == 0 && b == UInt8(ascii: "h") && argument.hasPrefix("handle="))
            if special {
                let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
                out += [37, hex[Int(b >> 4)], hex[Int(b & 15)]]
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func unescape(_ word: Substring) -> String {
        if word == "%-" { return "" }
        guard word.utf8.contains(37) else { return String(word) }
        var out: [UInt8] = []
        let b = Array(word.utf8)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        while i < b.count {
            if b[i] == 37, i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// The fuzzing engine: a pool of handles this process owns (every object type, reduced rights, with what
// the engine knows about each), values that are not handles here (closed ones, other processes' ones,
// garbage), and one random system call per step with arguments drawn from those and from Values.
//
// The engine keeps itself alive: the calls that would end or wedge this process (process_exit,
// thread_exit and blocking calls on the main thread, closing the handles the runtime needs, unmapping or
// overwriting its own code, stacks and heap) get arguments that cannot do so; helper threads and children
// make the calls that block, exit and fault (Scenarios.swift). Without `known`, the generators that hit
// the findings of issue 9 still open on today's kernel stay off (see Options.known).

/// What the engine knows about one handle in its pool.
struct Entry {
    var value: UInt32
    var type: ObjectType
    var rights: Rights
    /// Names the same object as every other entry with this id.
    var object: Int
    /// A thread of this process, or this process or its Vmem.
    var isSelf: Bool
    /// A process that has (or had) running threads; idle processes are never given handles (cycles).
    var runs: Bool
}

/// The switches of a run, from the command line.
struct Options {
    var seed: UInt64 = 1
    var count: UInt64 = 10_000
    /// Turns on the generators that hit issue 9's known findings: NT through popf, huge ELF segments,
    /// frame_create of GiBs, thousands of threads, never-started threads, set_priority on ready threads,
    /// processes holding their own handle.
    var known = false
    /// Prints every main-thread call before making it (to find the call that panics).
    var trace = false
    /// Every child is of this kind (`child=K`, to chase a failure).
    var onlyChild: ChildKind? = nil
    /// Leaves a blocked child behind at the end, so that root's leak check has something to find.
    var leaveChild = false
    /// A child: no helpers or children of its own, and process_exit allowed.
    var child = false
}

/// A failure the fuzzer itself sees (a result outside the ABI).
struct FuzzFailure: Error {
    let message: String
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

final class Engine {
    var r: FuzzRandom
    let options: Options
    var pool: [Entry] = []
    var stale: [UInt32] = []
    var foreign: [UInt32] = []
    var nextObject = 3
    var calls: UInt64 = 0
    /// Set while writing a helper's call list: blocking calls and thread_exit are allowed there.
    var helperMode = false
    static let selfProcess = 1, selfVmem = 2
    static let maxPool = 96

    init(_ options: Options) {
        self.options = options
        r = FuzzRandom(seed: options.seed)
        pool.append(Entry(value: Runtime.process.raw, type: .process, rights: Rights.defaults(for: .process),
                          object: Engine.selfProcess, isSelf: true, runs: true))
        pool.append(Entry(value: Runtime.vmem.raw, type: .vmem, rights: Rights.defaults(for: .vmem),
                          object: Engine.selfVmem, isSelf: true, runs: false))
        if Engine.deadPager == .invalid, let receiver = try? receiverCreate() {
            Engine.deadPager = (try? senderCreate(receiver)) ?? .invalid
            _ = try? handleClose(receiver)
        }
        for h in Engine.resources {
            guard let (type, rights) = try? handleIdentify(h) else { continue }
            pool.append(Entry(value: h.raw, type: type, rights: rights, object: newObject(), isSelf: false, runs: false))
        }
    }

    /// The narrowed Resources root gave this run (FuzzDevices), put in the pool at the start.
    static var resources: [Handle] = []

    /// The runtime's own handles: never closed, given away or waited on.
    func isProtected(_ value: UInt32) -> Bool {
        value == Runtime.process.raw || value == Runtime.vmem.raw || value == Engine.image.raw
            || value == Engine.deadPager.raw
    }

    /// The pager of every pager-backed Frame the fuzzer makes: a Sender whose Receiver is gone, so a
    /// page request (a kernel copy's as well as a fault's) fails at once instead of waiting for an
    /// answer nobody here gives.
    static var deadPager = Handle.invalid

    /// This program's own ELF image (children start from it); kept out of the pool.
    static var image = Handle.invalid

    func entry(_ value: UInt64) -> Entry? { pool.first { UInt64($0.value) == value } }

    /// A fresh object id for a created object.
    func newObject() -> Int { nextObject += 1; return nextObject }

    // MARK: handle arguments

    /// How a handle argument may be used.
    struct Use {
        var type: ObjectType
        var right: Rights
        /// The call moves or closes the handle.
        var destructive = false
        /// The call may block (main thread: only values that fail before blocking).
        var blocking = false
    }

    /// A handle argument for `use`: mostly owned handles, also closed, foreign, garbage and 0.
    func handle(_ use: Use) -> UInt64 {
        let roll = r.below(100)
        var use = use
        use.blocking = use.blocking && !helperMode
        let safe = pool.filter { e in
            if use.destructive && isProtected(e.value) { return false }
            if use.blocking && e.type == use.type && e.rights.contains(use.right) { return false }
            if use.blocking && e.type == .process && e.isSelf { return false }
            return true
        }
        if roll < 55 {
            let typed = safe.filter { $0.type == use.type }
            if !typed.isEmpty { return UInt64(typed[r.index(typed.count)].value) }
        }
        if roll < 72, !safe.isEmpty { return UInt64(safe[r.index(safe.count)].value) }
        if roll < 82, !stale.isEmpty { return UInt64(stale[r.index(stale.count)]) }
        if roll < 88, !use.blocking, !foreign.isEmpty {
            let value = foreign[r.index(foreign.count)]
            if !isProtected(value) && !(use.destructive && entry(UInt64(value)) != nil) { return UInt64(value) }
        }
        switch r.below(4) {
        case 0: return 0
        case 1: return r.below(64)                                   // small integers are never handles
        case 2: return r.next() | 0x1_0000_0000                       // wider than a handle
        default: return 0x0fff_0000 | r.below(0x10000)               // a generation not yet used
        }
    }

    /// Random rights (a subset, sometimes with unknown bits).
    func rights() -> UInt64 {
        let bits = r.below(UInt64(Rights.all.rawValue) + 1)
        return r.chance(10) ? bits | (1 << (9 + r.below(23))) : bits
    }

    // MARK: one step

    /// Makes one random call; throws when a result is outside the ABI.
    func step() throws(FuzzFailure) {
        let number = pickNumber()
        var a: [UInt64] = [r.next(), r.next(), r.next(), r.next(), r.next(), r.next()]
        guard let call = Syscall(rawValue: number) else {
            try check(number, a, raw_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]), expect: .unknownSyscall)
            return
        }
        arguments(call, &a)
        if options.trace { print("fuzz: call \(calls) \(number) \(hex(a[0])) \(hex(a[1])) \(hex(a[2])) \(hex(a[3])) \(hex(a[4])) \(hex(a[5]))") }
        let result = raw_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5])
        try check(number, a, result, expect: nil)
        if result.error == 0 { record(call, a, result.value) }
        calls += 1
        if pool.count > Engine.maxPool { trim() }
    }

    /// A syscall number: mostly in range, sometimes past the end or far out.
    func pickNumber() -> UInt64 {
        while true {
            // Mostly a syscall that exists (the numbering has gaps: numbers are allotted by area), else a
            // gap or a number past the end or far out.
            let n: UInt64 = r.chance(90) ? Syscall.allCases[Int(r.below(UInt64(Syscall.allCases.count)))].rawValue
                : r.pick([r.below(UInt64(Syscall.count)), UInt64(Syscall.count), UInt64(Syscall.count) + 1, 63, 64, 255, 256,
                          1 << 32, UInt64.max, r.next()])
            guard let call = Syscall(rawValue: n) else { return n }
            switch call {
            case .processExit: if options.child && r.chance(2) { return n }   // ends a child, never the fuzzer
            case .threadExit: if helperMode && r.chance(30) { return n }
            // A child is ended by killing its first thread: one created but not yet started would keep
            // it alive (finding 5), so children create none.
            case .threadCreate: if !options.child { return n }
            default: return n
            }
        }
    }

    /// Checks a result: the error is 0 or a SysError, and exactly `expect` when given.
    func check(_ number: UInt64, _ a: [UInt64], _ result: syscall_result, expect: SysError?) throws(FuzzFailure) {
        let known = result.error == 0 || SysError(rawValue: result.error) != nil
        let right = expect.map { result.error == $0.rawValue } ?? true
        guard known && right else {
            throw FuzzFailure(message: "call \(number)(\(hex(a[0])), \(hex(a[1])), \(hex(a[2])), \(hex(a[3])), \(hex(a[4])), \(hex(a[5]))) returned error \(result.error)")
        }
    }

    /// Closes pool entries until the pool is back under its bound.
    func trim() {
        while pool.count > Engine.maxPool / 2 {
            let i = 2 + r.index(pool.count - 2)
            let value = pool[i].value
            if (try? handleClose(Handle(raw: value))) != nil { stale.append(value) }
            pool.remove(at: i)
        }
        if stale.count > 256 { stale.removeFirst(128) }
        if foreign.count > 256 { foreign.removeFirst(128) }
    }
}

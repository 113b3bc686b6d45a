// Process: a handle table, an address space (Vmem) and threads. It ends when its last thread ends, on
// process_exit, or as soon as it can never run again; then its handles are closed, its waiters woken.
// Its memory goes when the last reference to the Process (handles in other processes) and to its Vmem
// is gone.
//
// "Can never run again": no thread is live (ready, running, blocked) and no handle in another process's
// table names the process or one of its threads not yet ended (only such a handle could create or start
// a thread in it). Handles in its own table do not count, since nothing of it runs to use them: so a
// process holding a handle to itself or to its own unstarted thread is finished, and emptying its table
// breaks that cycle. `settle()` applies this rule whenever one of those counts drops.
// Cycles through several processes' tables (two idle processes holding handles to each other) are not
// found by these counts: when an idle process keeps foreign handles after a count dropped, settle() runs
// the reachability pass (Reachability.swift), which ends the processes no running process reaches.

#if !KERNEL
import ABI
#endif

/// What the fault reports need to name a process's program: ELF name, build ID and loaded segments.
struct ProgramImage {
    var name: [UInt8]
    var buildID: [UInt8]
    var segments: [(start: UInt64, size: UInt64, flags: UInt32)]
}

/// A process's threads that have not ended, with O(1) insertion and removal (each thread keeps its index).
struct ThreadList {
    private(set) var items: [Thread] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func append(_ t: Thread) {
        guard t.listIndex < 0 else { return }           // a thread is in one list, once
        t.listIndex = items.count
        items.append(t)
    }

    /// Takes `t` out by moving the last thread into its place.
    mutating func remove(_ t: Thread) {
        let i = t.listIndex
        guard i >= 0, i < items.count, items[i] === t else { return }
        let last = items.removeLast()
        if last !== t {
            items[i] = last
            last.listIndex = i
        }
        t.listIndex = -1
    }

    mutating func removeAll() {
        for t in items { t.listIndex = -1 }
        items.removeAll()
    }
}

/// The handle table of one process. Storing a handle tells the object which table holds it
/// (KernelObject.opened); closing goes through Process.closeHandle and closeAllHandles, which tell it
/// after the table has changed (a close may end other processes).
struct ProcessHandles {
    var table = HandleTable<KernelObject>(capacity: Process.handleCapacity)
    /// The process that owns this table (set once in Process.init).
    unowned(unsafe) var owner: Process? = nil

    var count: Int { table.count }

    mutating func insert(_ object: KernelObject, rights: Rights) throws(SysError) -> UInt32 {
        let handle = try table.insert(object, rights: rights)
        object.opened(in: owner!)
        return handle
    }

    mutating func duplicate(_ handle: UInt32, rights: Rights) throws(SysError) -> UInt32 {
        let duplicate = try table.duplicate(handle, rights: rights)
        try table.lookup(duplicate).object.opened(in: owner!)
        return duplicate
    }

    @inline(__always)
    func entry(_ handle: UInt32) -> (object: KernelObject, rights: Rights)? { table.entry(handle) }

    func lookup(_ handle: UInt32) throws(SysError) -> (object: KernelObject, rights: Rights) { try table.lookup(handle) }
}

final class Process {
    private static var nextID: UInt64 = 1
    static let handleCapacity = 4096

    let id: UInt64
    let vmem: Vmem
    var handles = ProcessHandles()
    var threads = ThreadList()
    /// Threads ready, running or blocked.
    var liveThreads = 0
    /// Handles in other processes' tables to this process or to a thread of it that has not ended.
    var foreignHandles = 0
    var exited = false
    var exitCode: UInt64 = 0
    let exitWaiters = WaitQueue()
    var image: ProgramImage? = nil
    /// The fault handler of the process's threads (fault_handler_set), when a thread has none of its own.
    var faultSender: Sender? = nil
    /// Its place in ProcessRegistry, and the last reachability pass that reached it.
    var registryIndex = -1
    var reachMark: UInt64 = 0
    /// Its entry in the process table debuggers read (Debug/SyscallTrace.swift), nil when it was full.
    var debugEntry: UnsafeMutablePointer<UInt64>? = nil

    // Resource limits (Limits.swift), kept apart from the lifecycle fields above.
    /// What this process and its descendants may hold and hold now; chained to the creator's account
    /// by process_create (the root's has no parent and no limits).
    var account = Account(parent: nil)

    /// The I/O ports its IOPort handles grant (the TSS bitmap while it runs: Arch/IOBitmap.swift).
    var ioPorts = IOPermissionBitmap()

    init(vmem: Vmem) {
        id = Process.nextID
        Process.nextID += 1
        self.vmem = vmem
        ObjectCounter.live += 1
        handles.owner = self
        ProcessRegistry.add(self)
        debugEntry = ProcessTable.add(self)
    }

    deinit {
        ProcessTable.remove(debugEntry)
        ProcessRegistry.remove(self)
        ObjectCounter.live -= 1
    }

    /// Closes one handle of this process's table, handing back what it held.
    @discardableResult
    func closeHandle(_ handle: UInt32) throws(SysError) -> (object: KernelObject, rights: Rights) {
        let (object, rights) = try handles.table.remove(handle)
        object.closed(in: self)
        return (object, rights)
    }

    /// Ends every thread; the last one to go finishes the process (Scheduler.threadEnded). Linear in the
    /// number of threads: each Scheduler.kill is O(1).
    func kill(code: UInt64) {
        guard !exited else { return }
        exitCode = code
        for t in threads.items where t.state != .dead { Scheduler.kill(t, code: code) }
        if threads.isEmpty { finish() }
    }

    /// Finishes the process if it can never run again (see the top of this file).
    func settle() {
        guard !exited, liveThreads == 0 else { return }
        guard foreignHandles == 0 else { return Reachability.check() }
        if threads.isEmpty { finish() } else { kill(code: ExitCode.stopped) }
    }

    /// Called once no thread is left: closes every handle and wakes the waiters.
    func finish() {
        guard !exited else { return }
        exited = true
        ProcessTable.ended(debugEntry)
        faultSender = nil
        threads.removeAll()
        let objects = handles.table.removeAll()
        for object in objects { object.closed(in: self) }
        Scheduler.wakeAll(exitWaiters)
        if self === Kernel.root { Kernel.rootExited(self) }
    }
}

// Process: a handle table, an address space (Vmem) and threads. It ends when its last thread ends or on
// process_exit; then its handles are closed, its waiters woken. Its memory goes when the last reference
// to the Process (handles in other processes) and to its Vmem is gone.

#if !KERNEL
import ABI
#endif

/// What the fault reports need to name a process's program: ELF name, build ID and loaded segments.
struct ProgramImage {
    var name: [UInt8]
    var buildID: [UInt8]
    var segments: [(start: UInt64, size: UInt64, flags: UInt32)]
}

final class Process {
    private static var nextID: UInt64 = 1
    static let handleCapacity = 4096

    let id: UInt64
    let vmem: Vmem
    var handles = HandleTable<KernelObject>(capacity: Process.handleCapacity)
    var threads: [Thread] = []
    var exited = false
    var exitCode: UInt64 = 0
    let exitWaiters = WaitQueue()
    var image: ProgramImage? = nil

    // Resource limits (Limits.swift), kept apart from the lifecycle fields above.
    /// What this process and its descendants may hold and hold now; chained to the creator's account
    /// by process_create (the root's has no parent and no limits).
    var account = Account(parent: nil)

    init(vmem: Vmem) {
        id = Process.nextID
        Process.nextID += 1
        self.vmem = vmem
        ObjectCounter.live += 1
    }

    deinit { ObjectCounter.live -= 1 }

    /// Ends every thread; the last one to go finishes the process (Scheduler.threadEnded).
    func kill(code: UInt64) {
        guard !exited else { return }
        exitCode = code
        for t in threads where t.state != .dead { Scheduler.kill(t, code: code) }
        if threads.allSatisfy({ $0.state == .dead }) { finish() }
    }

    /// Called once no thread is left: closes every handle and wakes the waiters.
    func finish() {
        guard !exited else { return }
        exited = true
        threads.removeAll()
        let objects = handles.removeAll()
        _ = objects
        Scheduler.wakeAll(exitWaiters)
        if self === Kernel.root { Kernel.rootExited(self) }
    }
}

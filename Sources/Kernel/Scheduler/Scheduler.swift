// The scheduler: priorities 0...31, round robin within a priority (a RunQueue from Core), a time slice
// of one timer tick (Timer.sliceNanoseconds, armed when a thread starts running), an idle thread that
// halts with only the next timeout armed. The kernel runs with interrupts off; user code and the
// idle thread are preempted by the timer. One run queue today; per-CPU queues later (the RunQueue is
// self-contained for that).
//
// Ending threads: a thread that must end (thread_exit, thread_stop, process_exit, a fault) is marked
// `killed`. One never started ends at once. Any other ends itself at its next return towards user mode
// (kernel_leave), when no kernel frame of it holds references any more: a ready or blocked one is taken
// out of its queue and put on the `dying` queue, which runs before every priority, and the syscall or
// interrupt that killed it switches to the dying threads before it returns to user mode. So a killed
// thread's memory (and its process's, when it was the last) is freed before the killer runs user code
// again, whatever the priorities. Every step is O(1) per thread: ending a process of N threads takes
// time linear in N with interrupts off. Its stack is freed by the next thread (the zombie).

#if !KERNEL
import ABI
#endif

enum Scheduler {
    /// The thread CPU 0 runs, and CPU 0's idle thread (the APs' idle threads are SMP's).
    /// Guarded by: interrupts off on CPU 0, the only CPU running threads (LOCKS.md); per-CPU (PerCPU
    /// block) when every CPU runs threads.
    static var current: Thread! = nil
    static var idle: Thread! = nil
    /// The kernel's own process (idle threads belong to it). Written once at boot.
    static var kernelProcess: Process! = nil
    /// Ready threads. Guarded by: interrupts off on CPU 0 (LOCKS.md); a run-queue lock per CPU (rank 50).
    static var ready = RunQueue<Thread>()
    /// Killed threads waiting to unwind their kernel frames and end; served before every priority.
    /// Guarded by: interrupts off (one CPU), as `ready` is.
    static let dying = WaitQueue()
    /// The thread that ended last, freed by the next one to run. Guarded by: interrupts off on CPU 0;
    /// per-CPU later.
    static var zombie: Thread? = nil
    /// Guarded by: interrupts off on CPU 0 (its timer alone ticks).
    static var ticks: UInt64 = 0

    static func initialize() {
        guard let vmem = try? Vmem() else { kernelPanic("no memory for the kernel's address space object") }
        kernelProcess = Process(vmem: vmem)
        idle = Thread(idleFor: kernelProcess)
        idle.state = .running
        current = idle
        PerCPU.setKernelStack(idle.stackTop)
        // The other CPUs start now (each on an idle thread of the kernel process) and idle.
        SMP.startOtherCPUs()
    }

    static func makeReady(_ t: Thread) {
        if t.state == .created { t.process.liveThreads += 1 }
        t.state = .ready
        if t.killed { dying.append(t) } else { ready.enqueue(t, priority: t.priority) }
    }

    /// The next thread to run: a dying one first, then the highest priority, else idle.
    private static func next() -> Thread {
        dying.removeFirst() ?? ready.dequeue()?.0 ?? idle!
    }

    /// thread_set_priority: a ready thread moves to the queue of its new priority at once.
    static func setPriority(_ t: Thread, _ priority: Int) {
        if t.state == .ready && ready.remove(t, priority: t.priority) {
            t.priority = priority
            ready.enqueue(t, priority: priority)
        } else {
            t.priority = priority
        }
    }

    /// Picks the next thread and switches to it (the current one goes back to the queue if it was running).
    /// No object reference stays in this frame across the switch: the idle thread, woken by a tick that
    /// readied a sleeper, may not run again for a long time, and would keep the thread it switched to
    /// (and its process) alive that long.
    static func schedule() {
        guard let (slot, rsp) = pick() else { return }
        switch_context(slot, rsp)
        reapZombie()
    }

    /// The choice and the bookkeeping of `schedule`: the slot to save this thread's stack pointer in and
    /// the next thread's, or nil when the current thread goes on.
    @inline(never) private static func pick() -> (UnsafeMutablePointer<UInt64>, UInt64)? {
        let previous = current!
        if previous.state == .running && previous !== idle { makeReady(previous) }
        let next = next()
        if next === previous {
            previous.state = .running
            return nil
        }
        return (previous.savedRSP, prepare(next))
    }

    /// Everything but the stack switch, with no object reference kept in this frame afterwards.
    @inline(never) private static func prepare(_ next: Thread) -> UInt64 {
        let previous = current!
        next.state = .running
        current = next
        PerCPU.setKernelStack(next.stackTop)
        if next.process !== previous.process { IOBitmap.load(next.process) }
        // Tickless: a thread gets a time slice when it runs after the CPU was idle (see idleLoop).
        if next !== idle && !Timer.sliceArmed { Timer.armSlice() }
        // The idle thread runs on the kernel's own page tables, so that a dying process's tables are never
        // the loaded ones when they are freed.
        let root = next.addressSpaceRoot
        if read_cr3() != root { write_cr3(TLB.load(root)) }
        fpu_save(previous.fpuArea)
        fpu_restore(next.fpuArea)
        return next.savedRSP.pointee
    }

    private static func switchTo(_ next: Thread, from slot: UnsafeMutablePointer<UInt64>) {
        let rsp = prepare(next)
        switch_context(slot, rsp)
        reapZombie()
    }

    private static func reapZombie() {
        zombie = nil
    }

    /// The current thread waits in `queue` (nil: in none, as a sleep does) until woken, or until
    /// `deadline` (clock nanoseconds; nil: none), when it wakes with `ipcError` = .timedOut.
    static func block(on queue: WaitQueue?, until deadline: UInt64? = nil) {
        let t = current!
        t.state = .blocked
        t.blockedOn = queue
        queue?.append(t)
        if let deadline { Timeouts.arm(t, at: deadline) }
        schedule()
    }

    static func wake(_ t: Thread) {
        guard t.state == .blocked else { return }
        Timeouts.cancel(t)
        t.blockedOn = nil
        makeReady(t)
    }

    /// After a wait that can end by kill or timeout: throws what ended it, if not a wake.
    static func resumed(_ t: Thread) throws(SysError) {
        if t.killed { throw .badState }
        if let e = t.ipcError {
            t.ipcError = nil
            throw e
        }
    }

    /// thread_sleep: at least `nanoseconds` pass (as the clock counts) before the thread runs again;
    /// 0 yields. A kill ends the sleep at once.
    static func sleep(_ nanoseconds: UInt64) {
        guard nanoseconds != 0 else { return schedule() }
        // A deadline past the clock's range never comes: that sleep lasts until the thread is killed.
        block(on: nil, until: Timeouts.deadline(after: nanoseconds))
        current.ipcError = nil
    }

    static func wakeAll(_ queue: WaitQueue) {
        while let t = queue.removeFirst() { wake(t) }
    }

    /// The IPC fast path: the current thread blocks (nobody queues it; a reply slot holds it) and `next`,
    /// a thread just made able to run, runs at once, without going through the run queue.
    static func handOff(to next: Thread) {
        let t = current!
        t.state = .blocked
        next.blockedOn = nil
        Timeouts.cancel(next)
        switchTo(next, from: t.savedRSP)
    }

    /// Marks a thread to end with `code` (O(1)). One never started ends now; a ready or blocked one moves
    /// to the dying queue; the running one ends when it next heads for user mode.
    static func kill(_ t: Thread, code: UInt64) {
        guard t.state != .dead, !t.killed else { return }
        t.killed = true
        t.exitCode = code
        switch t.state {
        case .created:
            threadEnded(t)
        case .blocked:
            t.blockedOn?.remove(t)
            t.blockedOn = nil
            Timeouts.cancel(t)
            makeReady(t)
        case .ready:
            if ready.remove(t, priority: t.priority) { dying.append(t) }
        case .running, .dead:
            break
        }
    }

    /// Whether killed threads wait to end (kernel_leave then switches to them).
    static var hasDying: Bool { !dying.isEmpty }

    /// Bookkeeping when a thread is gone: waiters woken, the process finished after its last thread that
    /// ran (its never-started threads ended with it), or settled (a process none of whose threads ever ran
    /// stays startable while another process holds a handle to it). O(1) apart from the waiters woken and
    /// the never-started threads ended.
    static func threadEnded(_ t: Thread) {
        let wasLive = t.state != .created
        t.state = .dead
        wakeAll(t.exitWaiters)
        IPC.threadGone(t)
        IPC.callerGone(t)
        let process = t.process
        if wasLive { process.liveThreads -= 1 }
        process.foreignHandles -= t.foreignHandles
        process.threads.remove(t)
        if wasLive && process.liveThreads == 0 {
            // The last thread that ran has ended: the process ends with it (as a POSIX process does), and
            // threads it created but never started go too. Otherwise a waiter holding the process handle
            // would wait for a process only it could revive.
            if !process.exited && process.exitCode == 0 { process.exitCode = t.exitCode }
            for other in process.threads.items where other.state == .created { kill(other, code: ExitCode.stopped) }
            process.finish()
        } else {
            process.settle()
        }
    }

    /// The current thread ends: never returns.
    static func exitCurrent() -> Never {
        let slot = retireCurrent()
        let rsp = prepare(next())
        switch_context(slot, rsp)
        kernelPanic("a dead thread was scheduled")
    }

    @inline(never) private static func retireCurrent() -> UnsafeMutablePointer<UInt64> {
        let t = current!
        zombie = t
        threadEnded(t)
        return t.savedRSP
    }

    /// The idle loop: kmain ends here. Runs whatever is ready, else halts until the next interrupt.
    static func idleLoop() -> Never {
        while true {
            if !ready.isEmpty || hasDying {
                schedule()
            } else {
                Timer.armIdle()     // tickless: only the next timeout wakes an idle CPU
                cpu_idle()
            }
        }
    }

    static func tick() {
        ticks &+= 1
        Tracker.ticks = ticks
        Timeouts.expire(now: Clock.nanoseconds())
        if current !== idle || !ready.isEmpty || hasDying { schedule() }
    }
}

/// Called by syscall.S before a new user thread's first return to user mode.
@_cdecl("thread_first_run")
func threadFirstRun() {
    Scheduler.zombie = nil
    if Scheduler.current.killed { Scheduler.exitCurrent() }
}


/// Called on every way back to an interrupted context (traps.S, syscall.S): a thread marked to end does
/// so here, before it reaches user mode.
@_cdecl("kernel_leave")
func kernelLeave(_ raw: UnsafeMutableRawPointer) {
    let frame = raw.assumingMemoryBound(to: trap_frame.self)
    guard frame.pointee.cs & 3 == 3 else { return }
    if Scheduler.current.killed { Scheduler.exitCurrent() }
    // Threads killed by this syscall or interrupt end before this thread runs user code again.
    if Scheduler.hasDying { Scheduler.schedule() }
}

// The scheduler: priorities 0...31, round robin within a priority (a RunQueue from Core), a time slice
// of one timer tick (Timer.sliceNanoseconds, armed when a thread starts running), an idle thread that
// halts with only the next timeout armed. The kernel runs with interrupts off and under the kernel lock
// (Arch/KernelLock.swift); user code and the idle thread are preempted by the timer. Every CPU has its
// own state (Scheduler/CPUState.swift: current, idle, ready queue; the zombie and the slice in the PerCPU
// block) reached through GS. A
// thread that becomes ready is queued on a CPU chosen by Core/CPUPlacement.swift (an idle one it may
// run on first) and that CPU gets a reschedule IPI when it idles or runs a lower priority; a CPU whose
// queue is empty takes ready threads from the others' (work stealing). thread_set_affinity limits the
// CPUs a thread runs on.
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
    /// Every CPU's scheduler state, by index (SMP.cpus order): CPU 0's from initialize, each AP's as it
    /// comes up. Guarded by: the kernel lock (appended only at boot).
    static var cpus: [CPUState] = []
    /// This CPU's state. Any CPU, in kernel mode, after initialize (its own; read through GS).
    static var here: CPUState {
        let raw = UInt(read_gs64(UInt64(PerCPU.Word.state * 8)))
        return Unmanaged<CPUState>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!).takeUnretainedValue()
    }
    /// This CPU's state for the length of `body`, without a retain (Scheduler.cpus keeps it): the hot
    /// paths' way to it (`here` costs a retain and a release).
    @inline(__always) static func withHere<R>(_ body: (CPUState) -> R) -> R {
        let raw = UInt(PerCPU.read(PerCPU.Word.state))
        return Unmanaged<CPUState>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!)._withUnsafeGuaranteedRef(body)
    }
    /// The thread this CPU runs: the per-CPU block's `current` word (one GS read on the hot paths;
    /// CPUState.current reads the same word). The word holds no reference count (issue 17: a switch takes
    /// no retain and no release): a thread that runs is alive because its process's thread list holds it
    /// until threadEnded, and a thread that ends while it runs is put in the `zombie` word (retained)
    /// before threadEnded, until the next thread on this CPU lets it go; idle threads are held by their
    /// CPUState. Guarded by: the kernel lock (per CPU).
    static var current: Thread! {
        get {
            let raw = UInt(PerCPU.read(PerCPU.Word.current))
            return Unmanaged<Thread>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!).takeUnretainedValue()
        }
        set { setCurrent(newValue) }
    }
    /// The thread this CPU runs, unretained (its process's thread list holds it while it runs).
    @inline(__always) static var currentUnmanaged: Unmanaged<Thread> {
        Unmanaged<Thread>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(PerCPU.read(PerCPU.Word.current)))!)
    }
    /// The thread this CPU runs for the length of `body`, without a retain (its CPUState keeps it).
    @inline(__always) static func withCurrent<R>(_ body: (Thread) -> R) -> R {
        let raw = UInt(PerCPU.read(PerCPU.Word.current))
        return Unmanaged<Thread>.fromOpaque(UnsafeRawPointer(bitPattern: raw)!)._withUnsafeGuaranteedRef(body)
    }

    /// This CPU runs `t` from now on (the word takes no reference; see `current`).
    static func setCurrent(_ t: Thread) {
        _ = swapCurrent(t)
    }

    /// This CPU runs `t` from now on; returns the word's previous value, the thread it ran (0: none),
    /// unretained.
    @inline(__always) static func swapCurrent(_ t: Thread) -> UInt64 {
        let old = PerCPU.read(PerCPU.Word.current)
        PerCPU.write(PerCPU.Word.current, UInt64(UInt(bitPattern: Unmanaged.passUnretained(t).toOpaque())))
        return old
    }

    /// Whether `t` is this CPU's idle thread (compares with the per-CPU block's word: no retain).
    @inline(__always) static func isIdle(_ t: Thread) -> Bool {
        UInt64(UInt(bitPattern: Unmanaged.passUnretained(t).toOpaque())) == PerCPU.read(PerCPU.Word.idle)
    }

    /// More than one CPU schedules threads (written at boot; read on hot paths instead of cpus.count).
    static private(set) var multiCPU = false
    /// This CPU's idle thread.
    static var idle: Thread! { here.idle }
    /// The kernel's own process (idle threads belong to it). Written once at boot.
    static var kernelProcess: Process! = nil
    /// Killed threads waiting to unwind their kernel frames and end; served before every priority, by
    /// whichever CPU schedules next. Guarded by: the kernel lock.
    static let dying = WaitQueue()
    /// Guarded by: the kernel lock (every CPU's timer ticks it).
    static var ticks: UInt64 = 0
    /// Whether the APs run threads: set when CPU 0 enters its idle loop with the root process started,
    /// unless `smp=boot`. Written once; read by the APs' interrupt handlers without the lock.
    static var apsSchedule: Bool { atomic_load64(symbol_kernel_lock()! + 1) != 0 }

    static func initialize() {
        guard let vmem = try? Vmem() else { kernelPanic("no memory for the kernel's address space object") }
        kernelProcess = Process(vmem: vmem)
        let idle = Thread(idleFor: kernelProcess)
        idle.state = .running
        idle.cpu = 0
        add(CPUState(index: 0, idle: idle, tss: symbol_tss_storage()!, block: PerCPU.block))
        PerCPU.block[PerCPU.Word.state] = cpus[0].opaque
        PerCPU.block[PerCPU.Word.idle] = UInt64(UInt(bitPattern: Unmanaged.passUnretained(idle).toOpaque()))
        setCurrent(idle)
        PerCPU.setKernelStack(idle.stackTop)
        // The other CPUs start now (each on an idle thread of the kernel process) and idle.
        SMP.startOtherCPUs()
    }

    /// A CPU joins (at boot, under the kernel lock).
    static func add(_ cpu: CPUState) {
        cpus.append(cpu)
    }

    /// The CPUs that schedule threads (bit i: CPU i): CPU 0 alone until startAPs. Guarded by: the kernel lock.
    static private(set) var onlineMask: UInt64 = 1

    /// CPU 0 lets the APs run threads (kmain, just before its idle loop) and wakes them; with `smp=boot`
    /// every thread stays on CPU 0 instead (the APs idle; `smp=threads`, the old switch, is the default).
    static func startAPs() {
        guard cpus.count > 1 else { return }
        if Kernel.commandLine.value(of: KernelWord.smp.name, is: "boot") {
            return Log.info("smp: threads run on CPU 0 only (smp=boot)")
        }
        Log.info("smp: threads run on every CPU")
        // Until now every thread was placed on CPU 0 (onlineMask 1).
        onlineMask = CPUPlacement.mask(count: cpus.count)
        // CPU 0 holds the kernel lock in its one-CPU form (a per-CPU flag only): from here on it is the
        // shared lock, and CPU 0 holds that (LOCKS.md).
        KernelLock.share()
        multiCPU = true
        atomic_store64(symbol_kernel_lock()! + 1, 1)
        for i in 1..<cpus.count { SMP.wake(i) }
    }

    /// The mask of CPUs `t` may run on now (never 0: CPU 0 when its mask names no online CPU).
    static func allowed(_ t: Thread) -> UInt64 {
        let m = t.affinity & onlineMask
        return m != 0 ? m : 1
    }

    /// Where a thread that becomes ready goes; another CPU that takes it is woken when idle.
    private static func place(_ t: Thread) -> CPUState {
        if !multiCPU { return here }
        let me = here
        var idleMask: UInt64 = 0
        for c in cpus where c.isIdle { idleMask |= 1 << UInt64(c.index) }
        return cpus[CPUPlacement.choose(allowed: allowed(t), idle: idleMask & onlineMask, here: me.index, last: t.cpu)]
    }

    /// Sends `cpu` a reschedule IPI when it should look at its queue now (idle, or running a lower
    /// priority than `priority`).
    private static func kick(_ cpu: CPUState, priority: Int) {
        guard cpu !== here else { return }
        if cpu.current === cpu.idle || cpu.current.priority < priority { SMP.wake(cpu.index) }
    }

    static func makeReady(_ t: Thread) {
        if t.state == .created { t.process.liveThreads += 1 }
        t.state = .ready
        if t.killed { return dying.append(t) }
        let target = place(t)
        t.cpu = target.index
        target.ready.enqueue(t, priority: t.priority)
        guard multiCPU else { return }
        if target !== here { return kick(target, priority: t.priority) }
        // Queued here behind a running thread: an idle CPU that may run it is woken to take it (steal),
        // unless this CPU gets to it first (the waker blocks: the usual IPC pattern).
        if here.current !== here.idle, let c = cpus.first(where: { $0 !== here && $0.isIdle && allowed(t) >> UInt64($0.index) & 1 != 0 }) {
            SMP.wake(c.index)
        }
    }

    /// The next thread to run here: a dying one first, then the highest priority of this CPU's queue,
    /// then one stolen from another CPU's queue, else idle.
    private static func next() -> Thread {
        if let d = dying.removeFirst() { return d }
        let me = here
        if let (t, _) = me.ready.dequeue() { return t }
        return steal(for: me) ?? me.idle
    }

    /// A ready thread of another CPU that may run on `me` (the highest priority first), taken out.
    private static func steal(for me: CPUState, atLeast priority: Int = 0) -> Thread? {
        guard multiCPU, onlineMask >> UInt64(me.index) & 1 != 0 else { return nil }
        let bit = UInt64(1) << UInt64(me.index)
        for c in cpus where c !== me && (c.ready.highestPriority ?? -1) >= priority {
            if let (t, _) = c.ready.dequeue(where: { $0.affinity & bit != 0 && $0.priority >= priority }) {
                stolen &+= 1
                return t
            }
        }
        return nil
    }

    /// Threads taken from another CPU's queue. Guarded by: the kernel lock.
    static private(set) var stolen: UInt64 = 0

    /// Whether this CPU has something to run: killed threads, its queue, or another's it may take.
    static var hasWork: Bool {
        if hasDying || !here.ready.isEmpty { return true }
        guard multiCPU, onlineMask >> UInt64(here.index) & 1 != 0 else { return false }
        let bit = UInt64(1) << UInt64(here.index)
        for c in cpus where c !== here && !c.ready.isEmpty {
            if c.ready.contains(where: { $0.affinity & bit != 0 }) { return true }
        }
        return false
    }

    /// The queue that holds a ready thread.
    private static func queueOf(_ t: Thread) -> CPUState? {
        t.cpu >= 0 && t.cpu < cpus.count ? cpus[t.cpu] : nil
    }

    /// thread_set_priority: a ready thread moves to the queue of its new priority at once.
    static func setPriority(_ t: Thread, _ priority: Int) {
        if t.state == .ready, let c = queueOf(t), c.ready.remove(t, priority: t.priority) {
            t.priority = priority
            c.ready.enqueue(t, priority: priority)
        } else {
            t.priority = priority
        }
    }

    /// thread_set_affinity: the CPUs `t` may run on. A ready thread queued on a CPU now refused moves;
    /// one running there is interrupted and queued elsewhere at its next switch.
    static func setAffinity(_ t: Thread, _ mask: UInt64) {
        t.affinity = mask
        let bit = UInt64(1) << UInt64(max(t.cpu, 0))
        guard t.cpu >= 0, allowed(t) & bit == 0 else { return }
        if t.state == .ready, let c = queueOf(t), c.ready.remove(t, priority: t.priority) {
            t.state = .blocked      // makeReady places it anew
            makeReady(t)
        } else if t.state == .running {
            if t === current { schedule() } else { SMP.wake(t.cpu) }
        }
    }

    /// After a reschedule IPI (with the kernel lock): the I/O bitmap follows its process's grants, and
    /// this CPU switches when it idles, or a higher priority waits, or its thread may no longer run here.
    static func rescheduleInterrupt() {
        let me = here
        if me.current !== me.idle { IOBitmap.load(me.current.process) }
        let top = me.ready.highestPriority ?? -1
        if me.current === me.idle ? hasWork : (top > me.current.priority || hasDying || !mayRunHere(me.current)) {
            schedule()
        }
    }

    /// Whether `t`'s affinity allows this CPU.
    static func mayRunHere(_ t: Thread) -> Bool {
        allowed(t) >> UInt64(here.index) & 1 != 0
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
        if previous.state == .blocked && previous.killed {
            // Killed by another CPU while it entered the kernel here (the kill saw it running): it does
            // not wait, it ends (as a kill of a blocked thread does).
            previous.blockedOn?.remove(previous)
            previous.blockedOn = nil
            Timeouts.cancel(previous)
            makeReady(previous)
        }
        if previous.state == .running && !isIdle(previous) {
            // A yield or preemption: a thread queued on another CPU that has not taken it yet (that CPU
            // may wait for the kernel lock, or its vCPU for the host) runs here first.
            if multiCPU, !hasDying, here.ready.isEmpty, let stolen = steal(for: here, atLeast: previous.priority) {
                makeReady(previous)
                return (previous.savedRSP, prepare(stolen))
            }
            makeReady(previous)
        }
        let next = next()
        if next === previous {
            previous.state = .running
            return nil
        }
        return (previous.savedRSP, prepare(next))
    }

    /// Everything but the stack switch, with no object reference kept in this frame afterwards.
    /// (The hot path of every switch: this CPU's state is reached without retains, see withHere.)
    @inline(never) private static func prepare(_ next: Thread) -> UInt64 {
        next.state = .running
        next.cpu = PerCPU.index
        // The thread that ran, read without a retain (its thread list, or the zombie word, holds it).
        let old = swapCurrent(next)
        let previous = Unmanaged<Thread>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(old))!)
        PerCPU.setKernelStack(next.stackTop)
        let sameProcess = previous._withUnsafeGuaranteedRef { $0.process === next.process }
        if !sameProcess || next.process.ioPorts.allowsAny { IOBitmap.load(next.process) }
        // Tickless: a thread gets a time slice when it runs after the CPU was idle (see idleLoop).
        if !isIdle(next) && !Timer.sliceArmed { Timer.armSlice() }
        // The idle thread runs on the kernel's own page tables, so that a dying process's tables are never
        // the loaded ones when they are freed.
        let root = next.addressSpaceRoot
        if read_cr3() != root {
            write_cr3(TLB.load(root))
            withHere { $0.loadedRoot = root }
        }
        fpu_save(previous._withUnsafeGuaranteedRef { $0.fpuArea })
        fpu_restore(next.fpuArea)
        return next.savedRSP.pointee
    }

    @inline(__always) private static func switchTo(_ next: Thread, from slot: UnsafeMutablePointer<UInt64>) {
        let rsp = prepare(next)
        switch_context(slot, rsp)
        reapZombie()
    }

    /// The thread that ended last here (kept in the per-CPU block, retained) is let go.
    @inline(__always) static func reapZombie() {
        let z = PerCPU.read(PerCPU.Word.zombie)
        guard z != 0 else { return }
        PerCPU.write(PerCPU.Word.zombie, 0)
        Unmanaged<Thread>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(z))!).release()
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
    /// (The current thread is reached without a retain: its process's thread list holds it.)
    static func handOff(to next: Thread) {
        let (killed, slot) = withCurrent { t in
            t.state = .blocked
            return (t.killed, t.savedRSP)
        }
        // A caller answered by the fast path waits in no queue: no store, no release of nil.
        if next.blockedOn != nil { next.blockedOn = nil }
        Timeouts.cancel(next)
        if multiCPU && (killed || !mayRunHere(next)) {
            // This thread was killed from another CPU (it ends instead of waiting), or `next`'s affinity
            // refuses this CPU: `next` is queued where it may run, and this CPU picks anew.
            makeReady(next)
            return schedule()
        }
        switchTo(next, from: slot)
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
            if let c = queueOf(t), c.ready.remove(t, priority: t.priority) { dying.append(t) }
        case .running:
            // Running on another CPU (in user mode: this CPU holds the kernel lock): a reschedule IPI
            // makes it enter the kernel, where kernel_leave ends the thread.
            if t !== current && t.cpu >= 0 { SMP.wake(t.cpu) }
        case .dead:
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
        reapZombie()
        PerCPU.write(PerCPU.Word.zombie, UInt64(UInt(bitPattern: Unmanaged.passRetained(t).toOpaque())))
        threadEnded(t)
        return t.savedRSP
    }

    /// The idle loop: kmain ends here. Runs whatever is ready, else halts until the next interrupt.
    /// Called with the kernel lock held; lets it go around `hlt` (an interrupt that wakes the CPU takes
    /// it again in kernel_trap, else it is taken here).
    static func idleLoop() -> Never {
        while true {
            if hasWork {
                schedule()
            } else {
                Timer.armIdle()     // tickless: only the next timeout wakes an idle CPU
                KernelLock.release()
                cpu_idle()
                KernelLock.takeIfFree()
            }
        }
    }

    static func tick() {
        ticks &+= 1
        Tracker.ticks = ticks
        Timeouts.expire(now: Clock.nanoseconds())
        if !withCurrent({ isIdle($0) }) || hasWork { schedule() }
    }
}

/// Called by syscall.S before a new user thread's first return to user mode.
@_cdecl("thread_first_run")
func threadFirstRun() {
    Scheduler.reapZombie()
    if Scheduler.withCurrent({ $0.killed }) { Scheduler.exitCurrent() }
    KernelLock.release()        // on to user mode (trap_return)
}


/// Called on every way back to an interrupted context (traps.S, syscall.S): a thread marked to end does
/// so here, before it reaches user mode.
@_cdecl("kernel_leave")
func kernelLeave(_ raw: UnsafeMutableRawPointer) {
    let frame = raw.assumingMemoryBound(to: trap_frame.self)
    // Back to kernel mode (the idle loop, a probe): the kernel lock stays as it is.
    guard frame.pointee.cs & 3 == 3 else { return }
    // A shootdown IPI taken in user mode took no lock and does nothing more.
    let shared = KernelLock.shared
    if shared && !KernelLock.held { return }
    if Scheduler.withCurrent({ $0.killed }) { Scheduler.exitCurrent() }
    // Threads killed by this syscall or interrupt end before this thread runs user code again; a thread
    // whose affinity no longer allows this CPU moves.
    if Scheduler.hasDying || (shared && !Scheduler.withCurrent({ Scheduler.mayRunHere($0) })) {
        Scheduler.schedule()
    }
    KernelLock.release()
}

/// Deadlines of blocked threads (thread_sleep, timeouts of blocking calls), on `Clock.nanoseconds()`.
///
/// A thread that blocks with a timeout is put in one TimerQueue (Core/TimerQueue.swift) with its deadline
/// as well as in the wait queue it waits on. Every wake (Scheduler.wake, kill, the IPC hand-off) takes it
/// out of the timer queue; the timer interrupt calls `expire(now:)`, which takes every thread whose
/// deadline passed out of whatever it waits in (a wait queue, an endpoint's queue, the reply slot of the
/// server or Reply object holding its call) and wakes it with `.timedOut`. Both happen with interrupts
/// off, so a wake and an expiry never both reach one wait: whichever runs first takes the thread out of
/// both queues. A tickless timer asks `nextDeadline()` when to fire next.
///
/// Guarded by: the kernel lock, as the scheduler's run queues are; any CPU expires what is due.

#if !KERNEL
import ABI
#endif

extension Thread: TimerQueueElement {}

enum Timeouts {
    /// The blocked threads with a deadline, earliest first.
    static let queue = TimerQueue<Thread>()

    /// The deadline `nanoseconds` from now; nil for 0 (no timeout: wait forever) and for a timeout past
    /// the clock's range (which would never come either).
    static func deadline(after nanoseconds: UInt64) -> UInt64? {
        guard nanoseconds != 0 else { return nil }
        let (deadline, overflow) = Clock.nanoseconds().addingReportingOverflow(nanoseconds)
        return overflow ? nil : deadline
    }

    /// Arms the current wait of `t` (blocked, or about to block) to end at `deadline`.
    static func arm(_ t: Thread, at deadline: UInt64) {
        queue.insert(t, deadline: deadline)
        Timer.deadlineAdded(deadline)       // tickless: a deadline sooner than what is armed re-arms the timer
    }

    /// Disarms `t`'s deadline, if it has one (every wake goes through here; free when none is armed).
    @inline(__always) static func cancel(_ t: Thread) {
        if t.timerSlot >= 0 { queue.remove(t) }
    }

    /// The earliest pending deadline in clock nanoseconds, or nil when no thread waits on one.
    static func nextDeadline() -> UInt64? { queue.nextDeadline }

    /// Wakes every thread whose deadline is at or before `now` (called with interrupts off).
    static func expire(now: UInt64) {
        while let deadline = queue.nextDeadline, deadline <= now, let t = queue.removeFirst() {
            timeOut(t)
        }
    }

    /// A thread's wait ended by its deadline: it leaves what it waited in and wakes with `.timedOut`.
    private static func timeOut(_ t: Thread) {
        guard t.state == .blocked else { return }
        t.blockedOn?.remove(t)
        IPC.letGo(t)
        t.ipcError = .timedOut
        Scheduler.wake(t)
    }
}

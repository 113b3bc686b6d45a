/// Deadlines of blocked threads (thread_sleep, timeouts of blocking calls), on `Clock.nanoseconds()`.
///
/// The timer interrupt calls `expire(now:)`; a tickless timer asks `nextDeadline()` when to fire next.
/// Nothing arms a deadline yet: this is the seam the timeout work fills in.
enum Timeouts {
    /// The earliest pending deadline in clock nanoseconds, or nil when no thread waits on one.
    static func nextDeadline() -> UInt64? { nil }

    /// Wakes every thread whose deadline is at or before `now` (called with interrupts off).
    static func expire(now: UInt64) {}
}

/// The kernel's monotonic clock: nanoseconds since the clock started at boot.
///
/// This is the one seam every time user goes through (timeouts, `clock_get`, the time page). Until the
/// calibrated TSC clock of the platform issue lands it counts timer ticks, so its resolution is one tick
/// (1 / `Timer.hz` s).
enum Clock {
    static func nanoseconds() -> UInt64 {
        Scheduler.ticks &* (1_000_000_000 / UInt64(Timer.hz))
    }
}

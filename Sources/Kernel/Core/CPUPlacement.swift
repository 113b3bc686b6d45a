// Where a thread that becomes ready is queued, given what every CPU is doing (Scheduler.makeReady).
// Plain logic over masks, tested on the host (CPUPlacementTests).
//
// The order: the CPU it last ran on when that one is idle (its cache is warm); else the CPU that made it
// ready, when allowed (a waker often blocks next, and the scheduler wakes an idle CPU to steal it
// otherwise: a hand-over to another vCPU can take many milliseconds on a loaded TCG host); else any idle
// CPU it may run on (the lowest index); else the CPU it last ran on, when allowed; else the lowest CPU
// it may run on. A CPU is idle when it runs its
// idle thread and has nothing queued. Affinity masks name CPUs by index (bit i: CPU i).

public enum CPUPlacement {
    /// The CPU index to queue on. `allowed` is the thread's affinity already masked with the online CPUs
    /// (never 0), `idle` the mask of idle CPUs, `here` the CPU deciding, `last` where it ran last (-1: never).
    public static func choose(allowed: UInt64, idle: UInt64, here: Int, last: Int) -> Int {
        precondition(allowed != 0, "a thread with no CPU to run on")
        if last >= 0 && last < 64 && (allowed & idle) >> UInt64(last) & 1 != 0 { return last }
        if allowed >> UInt64(here) & 1 != 0 { return here }
        let idleAllowed = allowed & idle
        if idleAllowed != 0 { return idleAllowed.trailingZeroBitCount }
        if last >= 0 && last < 64 && allowed >> UInt64(last) & 1 != 0 { return last }
        return allowed.trailingZeroBitCount
    }

    /// The mask of the first `count` CPUs (all 64 bits for 64 or more).
    public static func mask(count: Int) -> UInt64 {
        count >= 64 ? UInt64.max : (UInt64(1) << UInt64(count)) - 1
    }
}

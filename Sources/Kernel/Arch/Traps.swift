// The Swift side of every interrupt and exception (entered from traps.S).

enum Traps {
    /// Breakpoint traps (#BP) taken in the kernel so far; int3 in the kernel is counted and resumed (tests).
    static var breakpoints = 0
    /// Interrupts on vectors nothing handles yet.
    static var unexpectedInterrupts = 0
}

@_cdecl("kernel_trap")
func kernelTrap(_ raw: UnsafeMutableRawPointer) {
    let frame = raw.assumingMemoryBound(to: trap_frame.self)
    let vector = Int(frame.pointee.vector)
    let fromUser = frame.pointee.cs & 3 == 3
    if vector == Timer.vector {
        Timer.endOfInterrupt(vector)
        Scheduler.tick()
        return
    }
    if vector > Timer.vector && vector < Timer.vector + 16 {
        Timer.endOfInterrupt(vector)
        return
    }
    if vector < 32 && fromUser {
        UserFaults.handle(frame)
        return
    }
    if vector == Vector.breakpoint {
        Traps.breakpoints += 1
        return
    }
    if vector < 32 {
        Panic.exception(frame)
    }
    Traps.unexpectedInterrupts += 1
    if Traps.unexpectedInterrupts <= 4 {
        Log.warn("unexpected interrupt on vector \(vector)")
    }
}

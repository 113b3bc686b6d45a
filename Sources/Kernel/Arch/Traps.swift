// The Swift side of every interrupt and exception (entered from traps.S).

enum Traps {
    /// Breakpoint traps (#BP) taken so far; int3 in the kernel is counted and resumed, for tests.
    static var breakpoints = 0
    /// Interrupts on vectors nothing handles yet (32..255).
    static var unexpectedInterrupts = 0
}

@_cdecl("kernel_trap")
func kernelTrap(_ raw: UnsafeMutableRawPointer) {
    let frame = raw.assumingMemoryBound(to: trap_frame.self)
    let vector = Int(frame.pointee.vector)
    if vector == Vector.breakpoint {
        Traps.breakpoints += 1
        return
    }
    if vector < 32 {
        Panic.exception(frame)
    }
    Traps.unexpectedInterrupts += 1
    if Traps.unexpectedInterrupts <= 4 {
        Console.write("[warn] unexpected interrupt on vector ")
        Console.writeDecimal(UInt64(vector))
        Console.write(10)
    }
}

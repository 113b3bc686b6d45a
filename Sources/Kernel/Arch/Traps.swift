// The Swift side of every interrupt and exception (entered from traps.S).

enum Traps {
    /// Breakpoint traps (#BP) taken in the kernel so far; int3 in the kernel is counted and resumed (tests).
    static var breakpoints = 0
    /// Interrupts on vectors nothing handles yet.
    static var unexpectedInterrupts = 0
    /// A fault expected by a hardening test (Arch/probes.S): armed before a probe, filled in by the trap.
    static var probe = ProbeFault()

    /// A #PF or #GP in kernel mode while a probe is armed: records it and returns from the probe (the
    /// return address is at the top of the stack: see probes.S) with PROBE_FAULTED in rax and AC clear.
    /// One fault per arming; false when nothing was armed or the fault is of another kind.
    static func recoverProbe(_ frame: UnsafeMutablePointer<trap_frame>) -> Bool {
        let vector = Int(frame.pointee.vector)
        guard probe.armed, vector == Vector.pageFault || vector == Vector.generalProtection else { return false }
        probe = ProbeFault(armed: false, vector: vector, error: frame.pointee.error,
                           address: vector == Vector.pageFault ? read_cr2() : 0)
        let rsp = frame.pointee.rsp
        frame.pointee.rip = UnsafePointer<UInt64>(bitPattern: UInt(rsp))!.pointee
        frame.pointee.rsp = rsp + 8
        frame.pointee.rax = PROBE_FAULTED
        frame.pointee.rflags &= ~(UInt64(1) << 18)
        return true
    }
}

/// What the last armed probe met: the vector (-1: no fault), the error code and CR2.
struct ProbeFault {
    var armed = false
    var vector = -1
    var error: UInt64 = 0
    var address: UInt64 = 0
}

@_cdecl("kernel_trap")
func kernelTrap(_ raw: UnsafeMutableRawPointer) {
    let frame = raw.assumingMemoryBound(to: trap_frame.self)
    let vector = Int(frame.pointee.vector)
    let fromUser = frame.pointee.cs & 3 == 3
    // Invariant: traps.S cleared AC (which user code may set) before the kernel runs.
    if fromUser && cpu_smap_enabled != 0 && read_rflags() & (1 << 18) != 0 {
        kernelPanic("RFLAGS.AC set in the kernel after an entry from user mode: SMAP lifted (traps.S clac)")
    }
    if vector == LocalAPICVector.shootdown {
        // No lock: the sender holds the kernel lock and waits for this acknowledgement.
        Shootdown.serve()
        LAPIC.endOfInterrupt()
        return
    }
    if vector == LocalAPICVector.wakeup {
        LAPIC.endOfInterrupt()
        PerCPU.block[PerCPU.Word.wakeups] &+= 1
        SMP.runJob()
    }
    // Everything else runs under the kernel lock: taken here when this CPU does not hold it (from user
    // mode, or out of the idle loop's hlt), and kept until kernel_leave (back to user mode) or the idle
    // loop lets it go. An AP that does not schedule yet takes only wake-ups and jobs (above).
    if LockCheck.ready && !KernelLock.held {
        if PerCPU.index == 0 || Scheduler.apsSchedule {
            KernelLock.take()
        } else if vector >= 32 {
            if vector != LocalAPICVector.wakeup && vector != LocalAPICVector.spurious { LAPIC.endOfInterrupt() }
            return
        }
    }
    if vector == LocalAPICVector.wakeup {
        if Timer.started { Scheduler.rescheduleInterrupt() }
        return
    }
    if vector == LocalAPICVector.timer {
        Timer.interrupt()
        return
    }
    if vector == LocalAPICVector.spurious {
        LAPIC.spuriousInterrupts += 1      // no EOI for a spurious interrupt
        return
    }
    if let gsi = InterruptLines.gsi(vector: vector) {
        InterruptLines.handle(gsi: gsi)
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
    if vector < 32 && Traps.recoverProbe(frame) {
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

// `accelcheck`: a short proof that the accelerator runs this kernel correctly. osh boots it before it
// trusts KVM (`osh accel --check`). The kernel half reads the TSC, takes and returns from int3 and
// switches CR3 to a fresh address space and back; then the root module (the `accelcheck` program)
// enters ring 3, makes syscalls (each returns through sysret), takes a lazily filled page fault and an
// int3 that the kernel resumes, and exits 0. Each step logs `accelcheck: ok STEP` or
// `accelcheck: FAILED STEP`, and the run ends through isa-debug-exit: success, or accelCheckFailed.

#if !KERNEL
import ABI
#endif

enum AccelCheck {
    /// Set by kmain when the command line has `accelcheck`.
    static var active = false
    /// int3 traps taken in user mode and resumed (only while active).
    static var userBreakpoints = 0

    /// The kernel's own steps; ends the run on the first failure.
    static func kernelSteps() {
        let t0 = read_tsc()
        var spin = 0
        while read_tsc() == t0 && spin < 1000 { spin += 1 }
        step(read_tsc() > t0, "tsc")
        let before = Traps.breakpoints
        cpu_breakpoint()
        step(Traps.breakpoints == before + 1, "kernel int3")
        step(switchesAddressSpace(), "cr3 switch")
    }

    /// Loads a fresh address space (sharing the kernel half), reads a kernel variable through it, and
    /// comes back to the boot page tables.
    static func switchesAddressSpace() -> Bool {
        guard let vmem = try? Vmem() else { return false }
        let saved = read_cr3()
        write_cr3(vmem.root)
        let seen = read_cr3() & ~UInt64(0xfff) == vmem.root && Traps.breakpoints > 0
        write_cr3(saved)
        return seen && read_cr3() == saved
    }

    /// A user int3 of the check program: counted and resumed.
    static func userBreakpoint() { userBreakpoints += 1 }

    /// The root process ended: the user steps passed when it exited 0 after exactly one int3.
    static func finish(rootExitCode code: UInt64) -> Never {
        step(!ExitCode.isFault(code), "user program ran without a fault")
        step(code == 0, "user program exit code")
        step(userBreakpoints == 1, "user int3")
        Log.info("accelcheck: passed")
        exitQEMU(.success)
    }

    static func step(_ ok: Bool, _ name: StaticString) {
        if ok {
            Log.info("accelcheck: ok \(name)")
        } else {
            Log.error("accelcheck: FAILED \(name)")
            exitQEMU(.accelCheckFailed)
        }
    }
}

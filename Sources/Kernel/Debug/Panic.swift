// Panics and CPU exception reports.
//
// A report says what happened, prints the registers (and CR2 for page faults), and a frame-pointer stack
// trace in LLVM's symbolizer markup, with the kernel's module line (its GNU build ID) and its mapping, so
// that osh and `llvm-symbolizer --filter-markup` turn each frame into function, file and line.
// Nothing here allocates: the heap may be what broke.

#if !KERNEL
import ABI
#endif

enum Panic {
    /// Set from `panic=halt` on the command line: keep the VM alive after a panic (for a debugger).
    static var haltInsteadOfExit = false
    private static var depth = 0

    static func panic(_ message: StaticString, file: StaticString = #fileID, line: UInt = #line) -> Never {
        cpu_disable_interrupts()
        enter()
        Console.write("\nKERNEL PANIC: ")
        Console.write(message)
        Console.write(" (")
        Console.write(file)
        Console.write(58)
        Console.writeDecimal(UInt64(line))
        Console.write(")\n")
        Console.write("  rsp=")
        Console.writeHex(read_rsp())
        Console.write(" rbp=")
        Console.writeHex(read_rbp())
        Console.write(" cr3=")
        Console.writeHex(read_cr3())
        Console.write(10)
        // The first frame is panic's caller: its return address sits above this function's frame record.
        let rbp = read_rbp()
        let caller = KernelMemory.readKernelWord(rbp &+ 8) ?? 0
        StackTrace.write(pc: caller, pcIsReturnAddress: true, rbp: KernelMemory.readKernelWord(rbp) ?? 0)
        stop(.panic)
    }

    static func exception(_ frame: UnsafeMutablePointer<trap_frame>) -> Never {
        enter()
        let f = frame.pointee
        Console.write("\nKERNEL PANIC: ")
        writeStackOverflow(f)
        writeException(f, context: " in kernel mode")
        writeRegisters(f)
        if f.vector == UInt64(Vector.pageFault) || f.vector == UInt64(Vector.doubleFault) {
            Console.write("  on CPU ")
            Console.writeDecimal(PerCPU.index)
            Console.write(10)
            KernelStacks.explain(read_cr2())
            // The stack pointer's slot too, when it is another one (a fault off the stack, or a switch).
            if KernelStacks.slot(of: f.rsp) != KernelStacks.slot(of: read_cr2()) { KernelStacks.explain(f.rsp) }
        }
        StackTrace.write(pc: f.rip, pcIsReturnAddress: false, rbp: f.rbp)
        stop(.panic)
    }

    /// `kernel stack overflow` first when a page fault, or the double fault that a fault while pushing
    /// the page fault's frame becomes, hit a stack's guard page (CR2 says where).
    private static func writeStackOverflow(_ f: trap_frame) {
        guard f.vector == UInt64(Vector.pageFault) || f.vector == UInt64(Vector.doubleFault),
              KernelMemory.isStackGuard(read_cr2()) else { return }
        Console.write("kernel stack overflow: cr2=")
        Console.writeHex(read_cr2())
        Console.write(" is in the guard page below a kernel stack\n  ")
    }

    /// A second panic while reporting one only halts: the first report is what matters.
    private static func enter() {
        depth += 1
        if depth > 1 {
            Console.write("\nKERNEL PANIC while panicking; halting\n")
            halt()
        }
    }

    /// `CPU exception N (name)CONTEXT, error code X` and, for a page fault, a line with CR2 and the
    /// decoded error code. Shared by kernel panics and user fault reports.
    static func writeException(_ f: trap_frame, context: StaticString) {
        Console.write("CPU exception ")
        Console.writeDecimal(f.vector)
        Console.write(" (")
        Console.write(exceptionName(Int(f.vector)))
        Console.write(")")
        Console.write(context)
        Console.write(", error code ")
        Console.writeHex(f.error)
        Console.write(10)
        guard f.vector == UInt64(Vector.pageFault) else { return }
        Console.write("  page fault at cr2=")
        Console.writeHex(read_cr2())
        Console.write(f.error & 1 != 0 ? ": protection violation" : ": page not present")
        Console.write(f.error & 2 != 0 ? ", write" : ", read")
        if f.error & 16 != 0 { Console.write(", instruction fetch") }
        if f.error & 4 != 0 { Console.write(", user mode") }
        if f.error & 8 != 0 { Console.write(", reserved bit set") }
        Console.write(10)
    }

    static func writeRegisters(_ f: trap_frame) {
        func reg(_ name: StaticString, _ value: UInt64) {
            Console.write("  ")
            Console.write(name)
            Console.write("=")
            Console.writeHex(value)
        }
        reg("rip", f.rip); reg("rsp", f.rsp); reg("rbp", f.rbp); Console.write(10)
        reg("rax", f.rax); reg("rbx", f.rbx); reg("rcx", f.rcx); Console.write(10)
        reg("rdx", f.rdx); reg("rsi", f.rsi); reg("rdi", f.rdi); Console.write(10)
        reg("r8 ", f.r8); reg("r9 ", f.r9); reg("r10", f.r10); Console.write(10)
        reg("r11", f.r11); reg("r12", f.r12); reg("r13", f.r13); Console.write(10)
        reg("r14", f.r14); reg("r15", f.r15); reg("rfl", f.rflags); Console.write(10)
        reg("cs ", f.cs); reg("ss ", f.ss); reg("cr2", read_cr2()); Console.write(10)
        reg("cr0", read_cr0()); reg("cr3", read_cr3()); reg("cr4", read_cr4()); Console.write(10)
    }

    static func exceptionName(_ vector: Int) -> StaticString {
        switch vector {
        case 0: return "divide error"
        case 1: return "debug"
        case 2: return "non-maskable interrupt"
        case 3: return "breakpoint"
        case 4: return "overflow"
        case 5: return "bound range exceeded"
        case 6: return "invalid opcode"
        case 7: return "device not available"
        case 8: return "double fault"
        case 10: return "invalid TSS"
        case 11: return "segment not present"
        case 12: return "stack-segment fault"
        case 13: return "general protection fault"
        case 14: return "page fault"
        case 16: return "x87 floating-point error"
        case 17: return "alignment check"
        case 18: return "machine check"
        case 19: return "SIMD floating-point error"
        case 20: return "virtualization exception"
        case 21: return "control protection exception"
        default: return "reserved"
        }
    }

    /// Ends the run: QEMU's isa-debug-exit device turns the status into its exit status. Without that
    /// device (or with `panic=halt`) the CPU halts for good, so a debugger can still look.
    static func stop(_ status: GuestStatus) -> Never {
        if status != .panic || !haltInsteadOfExit {
            exitQEMU(status)
        }
        Console.write("halted (panic=halt); attach a debugger or quit QEMU\n")
        halt()
    }

    static func halt() -> Never {
        while true {
            cpu_disable_interrupts()
            cpu_halt()
        }
    }
}

/// Writes the status to QEMU's isa-debug-exit port; halts if the device is not there.
func exitQEMU(_ status: GuestStatus) -> Never {
    port_out32(debugExitPort, UInt32(status.rawValue))
    Panic.halt()
}

/// `kernelPanic("message")`: stop the kernel with a report.
func kernelPanic(_ message: StaticString, file: StaticString = #fileID, line: UInt = #line) -> Never {
    Panic.panic(message, file: file, line: line)
}

// Per-CPU data, the syscall MSRs, and the timer (the PIT for now; the APIC and HPET come with the
// hardware issue).

#if !KERNEL
import ABI
#endif

enum MSR {
    static let efer: UInt32 = 0xC000_0080
    static let star: UInt32 = 0xC000_0081
    static let lstar: UInt32 = 0xC000_0082
    static let fmask: UInt32 = 0xC000_0084
    static let gsBase: UInt32 = 0xC000_0101
    static let kernelGSBase: UInt32 = 0xC000_0102
    static let pat: UInt32 = 0x277
}

enum PerCPU {
    /// gs:0 = kernel stack top of the current thread, gs:8 = scratch for the user rsp at syscall entry.
    static func initialize() {
        let base = UInt64(UInt(bitPattern: symbol_percpu()!))
        write_msr(MSR.gsBase, base)
        write_msr(MSR.kernelGSBase, 0)
    }

    static func setKernelStack(_ top: UInt64) {
        symbol_percpu()![0] = top
        Descriptors.setKernelStack(top)
    }
}

/// RFLAGS bits `syscall` clears (IA32_FMASK): AC (bit 18), NT (14), DF (10), IF (9), TF (8).
let kernelEntryFlagMask: UInt64 = 0x4_4700

enum SyscallEntry {
    /// `syscall` enters syscall_entry with CS 0x08/SS 0x10 and NT, AC, DF, IF and TF cleared (a user's NT
    /// carried into the kernel would make the next `iretq` fault); `sysret` would return with CS 0x20|3,
    /// SS 0x18|3.
    static func initialize() {
        write_msr(MSR.efer, read_msr(MSR.efer) | 1)      // SCE
        write_msr(MSR.star, (UInt64(0x10) << 48) | (UInt64(Selector.kernelCode) << 32))
        write_msr(MSR.lstar, address_of_syscall_entry())
        write_msr(MSR.fmask, kernelEntryFlagMask)
        write_msr(MSR.pat, PageTable<KernelPageMemory>.patMSRValue)
    }
}

enum Timer {
    static let hz: UInt32 = 100
    static let vector = 32

    /// PIT channel 0, rate generator at `hz`, on IRQ 0 (vector 32 after the PIC remap).
    static func initialize() {
        let divisor = 1_193_182 / hz
        port_out8(0x43, 0x34)
        port_out8(0x40, UInt8(truncatingIfNeeded: divisor))
        port_out8(0x40, UInt8(truncatingIfNeeded: divisor >> 8))
        InterruptLines.unmask(gsi: gsi)
    }

    /// The interrupt line the tick arrives on.
    static let gsi: UInt32 = 0
}

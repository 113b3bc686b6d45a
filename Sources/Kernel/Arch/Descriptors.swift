// GDT, TSS and IDT.
//
// GDT layout (the order `syscall`/`sysret` need): 0x08 kernel code, 0x10 kernel data, 0x18 user data,
// 0x20 user code, 0x28 TSS (16 bytes). The TSS's interrupt stack table gives the double fault, NMI and
// machine check handlers stacks of their own, so they run even when the current stack is gone (a kernel
// stack overflow into a guard page ends in a double fault, reported from its own stack).

enum Selector {
    static let kernelCode: UInt16 = 0x08
    static let kernelData: UInt16 = 0x10
    static let userData: UInt16 = 0x18 | 3
    static let userCode: UInt16 = 0x20 | 3
    static let tss: UInt16 = 0x28
}

enum Vector {
    static let nmi = 2
    static let breakpoint = 3
    static let doubleFault = 8
    static let generalProtection = 13
    static let pageFault = 14
    static let machineCheck = 18
}

enum Descriptors {
    static let istStackSize = 16384
    /// The unmapped page below each IST stack (Boot/entry.S, IST_STRIDE = istGuardSize + istStackSize).
    static let istGuardSize = 4096
    /// IST slots (1-based, as in the IDT entry) of the special stacks.
    static let doubleFaultIST: UInt8 = 1
    static let nmiIST: UInt8 = 2
    static let machineCheckIST: UInt8 = 3

    /// The boot CPU: its GDT and TSS (with the I/O bitmap) in the image's storage, the IDT every CPU
    /// shares, the 8259s masked.
    static func initialize() {
        CPU.configure()
        let ist = UInt64(UInt(bitPattern: symbol_ist_stacks()!))
        let stride = UInt64(istGuardSize + istStackSize)
        let tops = (ist + stride, ist + 2 * stride, ist + 3 * stride)
        setUpGDTAndTSS(gdt: symbol_gdt_storage()!, tss: symbol_tss_storage()!, istTops: tops, ioBitmap: true)
        setUpIDT()
        maskLegacyPIC()
    }

    /// Bytes of a GDT (0x38: five descriptors and the TSS's two words) and of a TSS without an I/O
    /// bitmap.
    static let gdtBytes = 0x38
    static let tssBytes = 104

    /// An application processor: its own GDT and TSS (with its own copy of the I/O bitmap, as threads
    /// with I/O ports run there too), its own IST stacks, the shared IDT.
    static func initializeAP(gdt: UnsafeMutablePointer<UInt8>, tss: UnsafeMutablePointer<UInt8>,
                             istTops: (UInt64, UInt64, UInt64)) {
        CPU.configure()
        setUpGDTAndTSS(gdt: gdt, tss: tss, istTops: istTops, ioBitmap: true)
        loadIDT()
    }

    private static func store64(_ base: UnsafeMutablePointer<UInt8>, _ offset: Int, _ value: UInt64) {
        UnsafeMutableRawPointer(base + offset).storeBytes(of: value, as: UInt64.self)
    }

    private static func setUpGDTAndTSS(gdt: UnsafeMutablePointer<UInt8>, tss: UnsafeMutablePointer<UInt8>,
                                       istTops: (UInt64, UInt64, UInt64), ioBitmap: Bool) {

        store64(gdt, 0x00, 0)
        store64(gdt, 0x08, 0x00af_9a00_0000_ffff)   // kernel code: present, DPL0, long mode
        store64(gdt, 0x10, 0x00cf_9200_0000_ffff)   // kernel data
        store64(gdt, 0x18, 0x00cf_f200_0000_ffff)   // user data: DPL3
        store64(gdt, 0x20, 0x00af_fa00_0000_ffff)   // user code: DPL3, long mode

        // TSS: rsp0 at 4 (set per thread by the scheduler later), IST1..7 at 36, I/O map base at 102
        // (none until a process with I/O ports runs: IOBitmap.swift), the bitmap and its end byte after.
        for i in 0..<tssBytes { tss[i] = 0 }
        UnsafeMutableRawPointer(tss + 36).storeBytes(of: istTops.0, as: UInt64.self)
        UnsafeMutableRawPointer(tss + 44).storeBytes(of: istTops.1, as: UInt64.self)
        UnsafeMutableRawPointer(tss + 52).storeBytes(of: istTops.2, as: UInt64.self)
        if ioBitmap {
            IOBitmap.initialize(tss: tss)
        } else {
            UnsafeMutableRawPointer(tss + 102).storeBytes(of: IOBitmap.noMap, as: UInt16.self)
        }

        let base = UInt64(UInt(bitPattern: tss))
        let limit = UInt64(ioBitmap ? IOBitmap.tssLimit : tssBytes - 1)
        var low: UInt64 = limit & 0xffff
        low |= ((limit >> 16) & 0xf) << 48
        low |= (base & 0xff_ffff) << 16
        low |= 0x89 << 40                          // present, available 64-bit TSS
        low |= ((base >> 24) & 0xff) << 56
        store64(gdt, 0x28, low)
        store64(gdt, 0x30, base >> 32)

        var pointer: (UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &pointer) { p in
            p.storeBytes(of: UInt16(0x38 - 1), toByteOffset: 0, as: UInt16.self)
            p.storeBytes(of: UInt64(UInt(bitPattern: gdt)), toByteOffset: 2, as: UInt64.self)
            load_gdt(p.baseAddress)
        }
        reload_segments(Selector.kernelCode, Selector.kernelData)
        load_task_register(Selector.tss)
    }

    private static func setUpIDT() {
        let idt = symbol_idt_storage()!
        do {
            let stubs = trap_stub_table()!
            for vector in 0..<256 {
                var ist: UInt8 = 0
                switch vector {
                case Vector.doubleFault: ist = doubleFaultIST
                case Vector.nmi: ist = nmiIST
                case Vector.machineCheck: ist = machineCheckIST
                default: break
                }
                let entry = idtEntry(handler: stubs[vector], ist: ist, userCallable: vector == Vector.breakpoint)
                store64(idt, vector * 16, entry.low)
                store64(idt, vector * 16 + 8, entry.high)
            }
        }
        loadIDT()
    }

    /// Loads the shared IDT on this CPU.
    private static func loadIDT() {
        let idt = symbol_idt_storage()!
        var pointer: (UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &pointer) { p in
            p.storeBytes(of: UInt16(256 * 16 - 1), toByteOffset: 0, as: UInt16.self)
            p.storeBytes(of: UInt64(UInt(bitPattern: idt)), toByteOffset: 2, as: UInt64.self)
            load_idt(p.baseAddress)
        }
    }

    /// TSS.rsp0 of `tss` (this CPU's): the stack the CPU switches to on an interrupt from user mode.
    static func setKernelStack(_ top: UInt64, tss: UInt64) {
        UnsafeMutableRawPointer(bitPattern: UInt(tss + 4))!.storeBytes(of: top, as: UInt64.self)
    }

    /// A 64-bit interrupt gate.
    static func idtEntry(handler: UInt64, ist: UInt8, userCallable: Bool) -> (low: UInt64, high: UInt64) {
        var low = handler & 0xffff
        low |= UInt64(Selector.kernelCode) << 16
        low |= UInt64(ist & 7) << 32
        low |= UInt64(userCallable ? 0xEE : 0x8E) << 40
        low |= ((handler >> 16) & 0xffff) << 48
        return (low, handler >> 32)
    }

    /// Reads back the handler address of an IDT entry (for tests).
    static func handler(ofVector vector: Int) -> UInt64 {
        let idt = UnsafeMutableRawPointer(symbol_idt_storage()!)
        let low = idt.load(fromByteOffset: vector * 16, as: UInt64.self)
        let high = idt.load(fromByteOffset: vector * 16 + 8, as: UInt64.self)
        return (low & 0xffff) | ((low >> 48) << 16) | ((high & 0xffff_ffff) << 32)
    }

    /// Moves the 8259 PICs' vectors to 0x20..0x2f (off the exception vectors) and masks every line; the
    /// APIC takes over interrupts later.
    private static func maskLegacyPIC() {
        port_out8(0x20, 0x11); port_out8(0xA0, 0x11)
        port_out8(0x21, 0x20); port_out8(0xA1, 0x28)
        port_out8(0x21, 0x04); port_out8(0xA1, 0x02)
        port_out8(0x21, 0x01); port_out8(0xA1, 0x01)
        port_out8(0x21, 0xff); port_out8(0xA1, 0xff)
    }
}

/// Control register state the kernel relies on, set explicitly whatever the firmware or loader left.
enum CPU {
    static let cr0MonitorCoprocessor: UInt64 = 1 << 1
    static let cr0Emulation: UInt64 = 1 << 2
    static let cr0TaskSwitched: UInt64 = 1 << 3
    static let cr0NumericError: UInt64 = 1 << 5
    static let cr0WriteProtect: UInt64 = 1 << 16
    static let cr4OSFXSR: UInt64 = 1 << 9
    static let cr4OSXMMEXCPT: UInt64 = 1 << 10
    static let cr4SMEP: UInt64 = 1 << 20
    static let cr4SMAP: UInt64 = 1 << 21
    /// CPUID leaf 7, subleaf 0, EBX: the SMEP and SMAP feature bits.
    static let cpuidSMEP: UInt32 = 1 << 7
    static let cpuidSMAP: UInt32 = 1 << 20

    /// Write protection in ring 0 (read-only kernel text and rodata bind the kernel too); SMEP (ring 0
    /// never executes user pages) and SMAP (ring 0 never reads or writes user pages, except between
    /// stac and clac) when the CPU has them; x87/SSE state enabled for user threads (FXSAVE/FXRSTOR,
    /// SSE exceptions reported as #XM), never used by the kernel itself (compiled without SSE, checked
    /// by the disassembly test). The kernel reaches user memory only through the copy helpers
    /// (Vmem.copy, Vmem.resolve), which check the mapping and go through the direct map, never through
    /// the user's own addresses, so SMAP costs no stac/clac on any path.
    static func configure() {
        var cr0 = read_cr0()
        cr0 |= cr0WriteProtect | cr0MonitorCoprocessor | cr0NumericError
        cr0 &= ~(cr0Emulation | cr0TaskSwitched)
        write_cr0(cr0)
        var cr4 = read_cr4() | cr4OSFXSR | cr4OSXMMEXCPT
        let leaf7 = cpuid_eax(0, 0) >= 7 ? cpuid_ebx(7, 0) : 0
        if leaf7 & cpuidSMEP != 0 { cr4 |= cr4SMEP }
        if leaf7 & cpuidSMAP != 0 { cr4 |= cr4SMAP }
        write_cr4(cr4)
        set_cpu_smap_enabled(cr4 & cr4SMAP != 0 ? 1 : 0)
    }

    static var smepEnabled: Bool { read_cr4() & cr4SMEP != 0 }
    static var smapEnabled: Bool { read_cr4() & cr4SMAP != 0 }

    /// One boot line saying which protections are on.
    static func logProtections() {
        let wp: StaticString = read_cr0() & cr0WriteProtect != 0 ? "on" : "OFF"
        let smep: StaticString = smepEnabled ? "on" : "off (CPU lacks it)"
        let smap: StaticString = smapEnabled ? "on" : "off (CPU lacks it)"
        let nx: StaticString = read_msr(MSR.efer) & (1 << 11) != 0 ? "on" : "OFF"
        Log.info("protections: SMEP \(smep), SMAP \(smap), CR0.WP \(wp), NX \(nx)")
        Log.info("protections: W^X kernel mappings (text RX, rodata R, data, bss, direct map, heap window RW NX)")
        Log.info("protections: unmapped guard pages below the boot, IST and thread kernel stacks")
    }
}

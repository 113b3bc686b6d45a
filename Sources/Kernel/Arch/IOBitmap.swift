// The TSS's I/O permission bitmap: which ports the running process may use with in/out in user mode
// (IOPL stays 0, so every other port is a #GP that ends the process). Each process keeps its own bitmap
// (Process.ioPorts, Core/IOPermissionBitmap.swift, built from its IOPort handles); a switch to another
// process copies it into the TSS when it has ports, and otherwise points the TSS's map base past the
// segment limit, which denies every port without touching the 8 KiB. Each CPU has its own TSS and copy
// (what it holds is in its CPUState: Scheduler.here); when a process's grants change, the CPUs running
// it reload at a reschedule IPI (Scheduler.rescheduleInterrupt).

#if !KERNEL
import ABI
#endif

enum IOBitmap {
    /// The bitmap's offset in the TSS (right after the 104-byte TSS proper).
    static let mapOffset = 104
    /// The TSS segment limit: the last byte is the bitmap's terminating 0xFF byte.
    static let tssLimit = mapOffset + IOPermissionBitmap.tssBytes - 1
    /// A map base past the limit: no bitmap, every port faults in user mode.
    static let noMap = UInt16(0xffff)

    /// Every port denied, the terminating byte set; called while a CPU's TSS is built.
    static func initialize(tss: UnsafeMutablePointer<UInt8>) {
        for i in 0..<IOPermissionBitmap.tssBytes { tss[mapOffset + i] = 0xff }
        setMapBase(noMap, tss)
    }

    private static func setMapBase(_ base: UInt16, _ tss: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(tss + 102).storeBytes(of: base, as: UInt16.self)
    }

    /// Makes `p`'s ports the usable ones (at a switch to a thread of `p`, or when `p`'s grants change
    /// while it runs). Copies 8 KiB only when the TSS holds another process's bitmap or an older one.
    static func load(_ p: Process) {
        // This CPU's TSS: the PerCPU block's word (the same as its CPUState's `tss`), read without a retain.
        let tss = UnsafeMutablePointer<UInt8>(bitPattern: UInt(PerCPU.read(PerCPU.Word.tss)))!
        guard p.ioPorts.allowsAny else { return setMapBase(noMap, tss) }
        Scheduler.withHere { cpu in
            if cpu.ioProcess != p.id || cpu.ioVersion != p.ioPorts.version {
                p.ioPorts.bytes.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                    UnsafeMutableRawPointer(tss + mapOffset).copyMemory(from: b.baseAddress!, byteCount: b.count)
                }
                cpu.ioProcess = p.id
                cpu.ioVersion = p.ioPorts.version
            }
        }
        setMapBase(UInt16(mapOffset), tss)
    }

    /// `p`'s grants changed: this CPU's TSS follows at once when `p` runs here; another CPU running a
    /// thread of `p` gets a reschedule IPI and reloads before it returns to user mode.
    static func changed(_ p: Process) {
        if Scheduler.current?.process === p { load(p) }
        for c in Scheduler.cpus where c !== Scheduler.here && c.current.process === p { SMP.wake(c.index) }
    }
}

// Device registers (local APIC, IOAPIC, HPET) mapped uncached (PAT UC) in a kernel region of their own:
// PML4 slot 510, 64 GiB above the kernel stacks (Memory/KernelStacks.swift), whose PDPT every address
// space shares. The direct map reaches the same physical pages write-back, so device registers are only
// ever touched through these mappings.
// Guarded by: interrupts off, boot CPU only (mappings are made during boot, before other CPUs run).

#if !KERNEL
import ABI
#endif

enum MMIO {
    static let base: UInt64 = 0xffff_ff10_0000_0000
    /// Room for 4096 pages of registers.
    static let limit: UInt64 = base + 4096 * pageSize
    /// Guarded by: the kernel lock (mappings are made at boot and by syscalls).
    private static var next = base

    /// Maps `pages` pages from the page holding `physical` uncached and writable (never executable);
    /// returns the virtual address of `physical` itself. Panics when out of room or memory (boot only).
    static func map(physical: UInt64, pages: Int = 1) -> UInt64 {
        let first = physical & ~(pageSize - 1)
        let start = next
        guard start + UInt64(pages) * pageSize <= limit else { kernelPanic("MMIO: no room for more device registers") }
        var table = PageTable(root: Vmem.kernelRoot, memory: KernelPageMemory())
        for i in 0..<UInt64(pages) {
            do throws(SysError) {
                try table.map(virtual: start + i * pageSize, physical: first + i * pageSize, flags: [.read, .write],
                              cache: .uncacheable, user: false)
            } catch {
                kernelPanic("MMIO: no memory for a page table")
            }
        }
        next += UInt64(pages) * pageSize
        return start + (physical - first)
    }
}

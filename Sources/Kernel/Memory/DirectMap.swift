// The direct map beyond the boot page tables: after the PMM is up, the RAM the firmware reports above
// 4 GiB is mapped into the direct map's PDPT (PML4 slot 256) with 1 GiB pages when the CPU has them,
// else with 2 MiB pages in page directories taken from the PMM. The heap window (slot 255) points at the
// same PDPT, so heap pages above 4 GiB are reachable there too, at addresses below 2^47 whose bits
// 60..63 are clear, as Swift's object pointers need. The plan itself is Core/DirectMapPlan.swift.

enum DirectMap {
    /// CPUID.80000001:EDX bit 26: 1 GiB pages.
    static let cpuidHugePages: UInt32 = 1 << 26
    /// The plan in effect (only the boot map until `extend` ran).
    static var plan = DirectMapPlan(memoryMap: [], hugePages: true)

    /// Whether the CPU maps 1 GiB pages.
    static var hasHugePages: Bool {
        cpuid_eax(0x8000_0000, 0) >= 0x8000_0001 && cpuid_register(0x8000_0001, 0, 3) & cpuidHugePages != 0
    }

    /// The direct map's PDPT (shared with the heap window), from the boot PML4.
    static var pdpt: UnsafeMutablePointer<UInt64> {
        let entry = symbol_boot_pml4()![256]
        return KernelMemory.virtual(physical: entry & PageEntry.addressMask).assumingMemoryBound(to: UInt64.self)
    }

    /// Maps every page of the plan for `memoryMap`; page directories come from the PMM (low memory,
    /// which the boot map covers). Called once by kmain, once the heap takes its pages from the PMM.
    static func extend(_ memoryMap: [MemoryRegion]) {
        let plan = DirectMapPlan(memoryMap: memoryMap, hugePages: hasHugePages)
        let leafFlags = PageEntry.present | PageEntry.writable | PageEntry.largePage | PageEntry.global
            | PageEntry.noExecute
        for page in plan.pages {
            if plan.pageSize == 1 << 30 {
                pdpt[Int(page >> 30)] = page | leafFlags
            } else {
                directory(for: page)[Int((page >> 21) & 511)] = page | leafFlags
            }
        }
        self.plan = plan
        KernelMemory.directMapSize = plan.end
        write_cr3(read_cr3())
    }

    /// The page directory under the PDPT entry for `physical`, allocated (zeroed) when missing.
    static func directory(for physical: UInt64) -> UnsafeMutablePointer<UInt64> {
        let index = Int(physical >> 30)
        if pdpt[index] & PageEntry.present == 0 {
            guard let table = PMM.allocate(), table < DirectMapPlan.bootMapped else {
                kernelPanic("no low frame for a direct-map page directory")
            }
            KernelMemory.virtual(physical: table).initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
            pdpt[index] = table | PageEntry.present | PageEntry.writable
        }
        return KernelMemory.virtual(physical: pdpt[index] & PageEntry.addressMask).assumingMemoryBound(to: UInt64.self)
    }

    /// Whether [physical, physical + length) is mapped in the direct map (and the heap window).
    static func covers(_ physical: UInt64, _ length: UInt64) -> Bool { plan.covers(physical, length) }
}

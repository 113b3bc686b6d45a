// Starting the other CPUs (application processors, APs): the decisions, apart from the hardware.
//
// The boot CPU wakes each AP with INIT, then two STARTUP IPIs through its local APIC's interrupt command
// register (Intel SDM volume 3, 9.4.4.1 and 11.6.1). A STARTUP IPI names a 4 KiB page below 1 MiB by its
// page number (the vector); the AP starts there in real mode with CS = page >> 4, IP = 0. So the kernel
// copies a small trampoline (Boot/trampoline.S) to a page of usable RAM below 1 MiB that nothing else
// holds (the PMM never hands out frames below 1 MiB, so any usable one the boot information does not
// occupy is free once that information is parsed).
//
// Which CPUs: the MADT's enabled processors (online-capable ones are for hot-plug and stay off), each
// APIC ID once, except the boot CPU's own, at most `maxCPUs` in all.

public enum APStartup {
    /// CPUs the kernel runs at most (the boot CPU included); the others stay parked.
    public static var maxCPUs: Int { 64 }
    /// The lowest page a trampoline may use (page 0 holds the real-mode interrupt table and BIOS data).
    public static var lowestPage: UInt64 { 0x1000 }
    /// One past the highest page a STARTUP IPI can name below the EBDA (0x9F000; above lie the EBDA,
    /// video memory and ROMs).
    public static var pageLimit: UInt64 { 0x9_F000 }
    /// The page tried first: 0x8000, where most kernels put it (well clear of the EBDA).
    public static var preferredPage: UInt64 { 0x8000 }

    /// The page the trampoline goes to: `preferredPage` when it is usable RAM and not in `reserved` (the
    /// boot information's own ranges, the modules), else the lowest such page in lowestPage..<pageLimit;
    /// nil when there is none.
    public static func trampolinePage(memoryMap: [MemoryRegion], reserved: [PhysicalRange]) -> UInt64? {
        func free(_ page: UInt64) -> Bool {
            let end = page + 0x1000
            let usable = memoryMap.contains { $0.kind == .usable && $0.start <= page && end <= $0.start + $0.length }
            let taken = reserved.contains { $0.length > 0 && $0.start < end && page < $0.start + $0.length }
            return usable && !taken
        }
        if free(preferredPage) { return preferredPage }
        var page = lowestPage
        while page < pageLimit {
            if free(page) { return page }
            page += 0x1000
        }
        return nil
    }

    /// The APIC IDs to wake, in MADT order: enabled processors, each ID once, not the boot CPU's, and no
    /// more than `maxCPUs - 1` (the boot CPU is the first of `maxCPUs`).
    public static func targets(_ processors: [LocalAPIC], bootAPICID: UInt32, maxCPUs: Int = APStartup.maxCPUs) -> [UInt32] {
        var ids: [UInt32] = []
        for p in processors where p.enabled && p.apicID != bootAPICID && !ids.contains(p.apicID) {
            guard ids.count < maxCPUs - 1 else { break }
            ids.append(p.apicID)
        }
        return ids
    }

    /// Interrupt command register (low word) for INIT: delivery mode 101b, level assert, edge, physical
    /// destination.
    public static var initCommand: UInt32 { 0x0000_4500 }

    /// Interrupt command register (low word) for a STARTUP IPI to `page` (delivery mode 110b, the page
    /// number as the vector). The page must be below 1 MiB and 4 KiB aligned.
    public static func startupCommand(page: UInt64) -> UInt32 {
        0x0000_4600 | UInt32(truncatingIfNeeded: (page >> 12) & 0xFF)
    }

    /// Interrupt command register (low word) for a fixed interrupt on `vector` (reschedule and shootdown
    /// IPIs), physical destination, edge, assert.
    public static func fixedCommand(vector: UInt8) -> UInt32 { 0x0000_4000 | UInt32(vector) }

    /// Whether an INIT/STARTUP sequence can name this page.
    public static func isValidTrampolinePage(_ page: UInt64) -> Bool {
        page & 0xFFF == 0 && page >= lowestPage && page < 0x10_0000
    }
}

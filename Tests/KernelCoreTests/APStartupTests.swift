import Testing
@testable import KernelCore

@Suite struct APStartupTests {
    static let seaBIOSMap = [
        MemoryRegion(start: 0, length: 0x9_FC00, kind: .usable),
        MemoryRegion(start: 0x9_FC00, length: 0x400, kind: .reserved),
        MemoryRegion(start: 0xF_0000, length: 0x1_0000, kind: .reserved),
        MemoryRegion(start: 0x10_0000, length: 0x7FE0_0000, kind: .usable),
    ]

    static func cpu(_ id: UInt32, flags: UInt32 = 1) -> LocalAPIC {
        LocalAPIC(processorUID: id, apicID: id, flags: flags, isX2APIC: false)
    }

    @Test func trampolineGoesToThePreferredPageWhenFree() {
        #expect(APStartup.trampolinePage(memoryMap: Self.seaBIOSMap, reserved: []) == 0x8000)
    }

    @Test func trampolineAvoidsReservedRangesAndNonRAM() {
        // The boot information sits over 0x8000: the lowest other free page is taken.
        let info = PhysicalRange(start: 0x7F00, length: 0x200)
        #expect(APStartup.trampolinePage(memoryMap: Self.seaBIOSMap, reserved: [info]) == 0x1000)
        // Only 0x3000..0x5000 usable below 1 MiB, 0x3000 reserved: 0x4000.
        let tight = [MemoryRegion(start: 0x3000, length: 0x2000, kind: .usable),
                     MemoryRegion(start: 0x10_0000, length: 0x100_0000, kind: .usable)]
        #expect(APStartup.trampolinePage(memoryMap: tight, reserved: [PhysicalRange(start: 0x3000, length: 1)]) == 0x4000)
        // A page that only partly lies in usable RAM is not taken.
        let partial = [MemoryRegion(start: 0x2000, length: 0x800, kind: .usable)]
        #expect(APStartup.trampolinePage(memoryMap: partial, reserved: []) == nil)
        // Nothing usable below the EBDA limit.
        let high = [MemoryRegion(start: 0xA_0000, length: 0x1000_0000, kind: .usable)]
        #expect(APStartup.trampolinePage(memoryMap: high, reserved: []) == nil)
        // Page 0 (the real-mode interrupt table) is never used.
        let onlyZero = [MemoryRegion(start: 0, length: 0x1000, kind: .usable)]
        #expect(APStartup.trampolinePage(memoryMap: onlyZero, reserved: []) == nil)
    }

    @Test func targetsAreEnabledOthersOnceEachUpToTheLimit() {
        let cpus = [Self.cpu(0), Self.cpu(1), Self.cpu(2, flags: 0), Self.cpu(3, flags: 2), Self.cpu(1), Self.cpu(5)]
        #expect(APStartup.targets(cpus, bootAPICID: 0) == [1, 5])
        #expect(APStartup.targets(cpus, bootAPICID: 5) == [0, 1])
        #expect(APStartup.targets(cpus, bootAPICID: 0, maxCPUs: 2) == [1])
        #expect(APStartup.targets(cpus, bootAPICID: 0, maxCPUs: 1) == [])
        #expect(APStartup.targets([], bootAPICID: 0) == [])
        let many = (0..<100).map { Self.cpu(UInt32($0)) }
        #expect(APStartup.targets(many, bootAPICID: 0).count == APStartup.maxCPUs - 1)
    }

    @Test func interruptCommandWords() {
        // SDM 11.6.1: INIT = delivery mode 101b, level assert; STARTUP = 110b with the page number.
        #expect(APStartup.initCommand == 0x4500)
        #expect(APStartup.startupCommand(page: 0x8000) == 0x4608)
        #expect(APStartup.startupCommand(page: 0x9_E000) == 0x469E)
        #expect(APStartup.fixedCommand(vector: 0xF0) == 0x40F0)
        #expect(APStartup.isValidTrampolinePage(0x8000) && !APStartup.isValidTrampolinePage(0x8010))
        #expect(!APStartup.isValidTrampolinePage(0) && !APStartup.isValidTrampolinePage(0x10_0000))
    }
}

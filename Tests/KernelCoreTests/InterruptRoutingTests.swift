import Testing
@testable import KernelCore

/// The routing the kernel programs into the IOAPIC, computed from the committed QEMU tables.
@Suite struct InterruptRoutingTests {
    /// QEMU's IOAPIC has 24 pins (version register bits 16-23 = 23).
    func routing(_ name: String) throws -> InterruptRouting {
        let madt = try #require(try ACPIDumpFile(name).parse().madt)
        return InterruptRouting(madt: madt, pinCounts: madt.ioAPICs.map { _ in 24 })
    }

    @Test(arguments: ACPIDumpFile.names) func isaIRQsFollowTheOverrides(name: String) throws {
        let r = try routing(name)
        #expect(r.lineCount == 24)
        #expect(r.gsi(isaIRQ: 0) == 2)                 // the PIT
        #expect(r.gsi(isaIRQ: 1) == 1)                 // the keyboard: no override
        #expect(r.gsi(isaIRQ: 4) == 4)                 // COM1
        #expect(r.gsi(isaIRQ: 9) == 9)                 // the SCI, overridden to level
        #expect(r.mode(gsi: 2) == .isa)                // the PIT's override has flags 0: the bus's default
        #expect(r.mode(gsi: 1) == .isa && r.mode(gsi: 4) == .isa)
        #expect(r.mode(gsi: 9) == LineMode(activeLow: false, levelTriggered: true))
        #expect(r.mode(gsi: 0) == .pci)                // ISA IRQ 0 went to GSI 2: nothing ISA on GSI 0
        #expect(r.mode(gsi: 16) == .pci && r.mode(gsi: 23) == .pci)
    }

    @Test func everyPinHasOneVectorAndBack() throws {
        let r = try routing("q35-smp4")
        for gsi in UInt32(0)..<24 {
            let v = try #require(r.vector(gsi: gsi))
            #expect(v == 0x20 + Int(gsi))
            #expect(r.gsi(vector: v) == gsi)
            #expect(r.pin(gsi: gsi) == IOAPICPin(ioAPIC: 0, pin: Int(gsi)))
        }
        #expect(r.vector(gsi: 24) == nil && r.pin(gsi: 24) == nil)
        #expect(r.gsi(vector: 0x1F) == nil && r.gsi(vector: 0x20 + 24) == nil)
        #expect(r.gsi(vector: LocalAPICVector.timer) == nil && r.gsi(vector: LocalAPICVector.spurious) == nil)
        #expect(Int(InterruptRouting.maxLines) + 0x20 <= LocalAPICVector.timer)
    }

    @Test func secondIOAPICContinuesAtItsGSIBase() throws {
        var madt = try #require(try ACPIDumpFile("pc-smp1").parse().madt)
        madt.ioAPICs.append(IOAPIC(id: 1, address: 0xFEC0_1000, gsiBase: 24))
        let r = InterruptRouting(madt: madt, pinCounts: [24, 8])
        #expect(r.lineCount == 32)
        #expect(r.pin(gsi: 23) == IOAPICPin(ioAPIC: 0, pin: 23))
        #expect(r.pin(gsi: 24) == IOAPICPin(ioAPIC: 1, pin: 0))
        #expect(r.pin(gsi: 31) == IOAPICPin(ioAPIC: 1, pin: 7))
        #expect(r.vector(gsi: 31) == 0x3F && r.vector(gsi: 32) == nil)
    }

    @Test func linesPastTheVectorSpaceGetNone() throws {
        var madt = try #require(try ACPIDumpFile("pc-smp1").parse().madt)
        madt.ioAPICs = [IOAPIC(id: 0, address: 0xFEC0_0000, gsiBase: 0), IOAPIC(id: 1, address: 0xFEC0_1000, gsiBase: 180)]
        let r = InterruptRouting(madt: madt, pinCounts: [24, 24])
        #expect(r.lineCount == InterruptRouting.maxLines)
        #expect(r.vector(gsi: 191) == 0xDF && r.vector(gsi: 192) == nil)
        #expect(r.vector(gsi: 100) == nil)             // between the IOAPICs: no pin
    }

    @Test func overrideFlagsGivePolarityAndTrigger() throws {
        var madt = try #require(try ACPIDumpFile("q35-smp1").parse().madt)
        madt.overrides = [InterruptOverride(bus: 0, source: 3, gsi: 20, flags: 0xF),   // low, level
                          InterruptOverride(bus: 0, source: 4, gsi: 21, flags: 0x5),   // high, edge
                          InterruptOverride(bus: 1, source: 5, gsi: 22, flags: 0xF)]   // not ISA: ignored
        let r = InterruptRouting(madt: madt, pinCounts: [24])
        #expect(r.gsi(isaIRQ: 3) == 20 && r.gsi(isaIRQ: 4) == 21 && r.gsi(isaIRQ: 5) == 5)
        #expect(r.mode(gsi: 20) == LineMode(activeLow: true, levelTriggered: true))
        #expect(r.mode(gsi: 21) == .isa)
        #expect(r.mode(gsi: 3) == .pci && r.mode(gsi: 5) == .isa)
    }

    /// Intel 82093AA datasheet 3.2.4: vector 0-7, fixed delivery, physical destination, polarity 13,
    /// trigger 15, mask 16, destination 56-63.
    @Test func redirectionEntryBits() throws {
        let r = try routing("q35-smp4")
        let pit = try #require(r.entry(gsi: 2, masked: false, destination: 0))
        #expect(pit.raw == 0x22)
        let sci = try #require(r.entry(gsi: 9, masked: true, destination: 3))
        #expect(sci.raw == 0x0300_0000_0001_8029)
        #expect(sci.low == 0x0001_8029 && sci.high == 0x0300_0000)
        #expect(sci.masked && sci.levelTriggered && !sci.activeLow && sci.destination == 3 && sci.vector == 0x29)
        let pci = try #require(r.entry(gsi: 16, masked: false, destination: 1))
        #expect(pci.raw == 0x0100_0000_0000_A030)
        #expect(pci.with(masked: true).raw == 0x0100_0000_0001_A030 && pci.with(masked: true).with(masked: false) == pci)
        #expect(r.entry(gsi: 24, masked: false, destination: 0) == nil)
    }
}

import ABI
import Testing
@testable import KernelCore

/// Resource ranges: the machine covers each kind up to its limit, narrowing stays inside, and device
/// Frames stay off RAM.
@Suite struct ResourceRangeTests {
    @Test func machineCoversEveryKindUpToItsLimit() {
        let m = ResourceRange.machine
        #expect(m.covers(.ioPort, base: 0, size: 0x1_0000))
        #expect(!m.covers(.ioPort, base: 0xffff, size: 2))
        #expect(!m.covers(.ioPort, base: 0x1_0000, size: 1))
        #expect(m.covers(.irq, base: 255, size: 1))
        #expect(!m.covers(.irq, base: 256, size: 1))
        #expect(m.covers(.physical, base: 0xfed0_0000, size: 0x1000))
        #expect(!m.covers(.physical, base: UInt64.max - 0xfff, size: 0x1000))
        #expect(!m.covers(.ioPort, base: 0x70, size: 0))
    }

    @Test func narrowedStaysInside() throws {
        let rtc = try ResourceRange.machine.narrowed(.ioPort, base: 0x70, size: 2)
        #expect(rtc.covers(.ioPort, base: 0x70, size: 2))
        #expect(rtc.covers(.ioPort, base: 0x71, size: 1))
        #expect(!rtc.covers(.ioPort, base: 0x6f, size: 2))
        #expect(!rtc.covers(.ioPort, base: 0x71, size: 2))
        #expect(!rtc.covers(.ioPort, base: 0x72, size: 1))
        #expect(!rtc.covers(.irq, base: 0x70, size: 1))
        #expect(!rtc.covers(.physical, base: 0x70, size: 1))
        let one = try rtc.narrowed(.ioPort, base: 0x71, size: 1)
        #expect(one == ResourceRange(kind: .ioPort, base: 0x71, size: 1))
        #expect(throws: SysError.outOfRange) { try rtc.narrowed(.ioPort, base: 0x70, size: 3) }
        #expect(throws: SysError.outOfRange) { try one.narrowed(.ioPort, base: 0x70, size: 1) }
        #expect(throws: SysError.outOfRange) { try rtc.narrowed(.irq, base: 0, size: 1) }
        #expect(throws: SysError.invalidArgument) { try rtc.narrowed(.ioPort, base: 0x70, size: 0) }
    }

    /// The DMA right (pcid's): one value, covered by the machine and by itself only.
    @Test func dmaRightIsItsOwnKind() throws {
        #expect(ResourceRange.machine.covers(.dma, base: 0, size: 1))
        let dma = try ResourceRange.machine.narrowed(.dma, base: 0, size: 1)
        #expect(dma.covers(.dma, base: 0, size: 1))
        #expect(!dma.covers(.dma, base: 1, size: 1))
        #expect(!dma.covers(.physical, base: 0, size: ResourceKind.physical.limit))
        #expect(!dma.covers(.ioPort, base: 0, size: 1))
        #expect(throws: SysError.outOfRange) { try dma.narrowed(.physical, base: 0, size: 0x1000) }
        #expect(throws: SysError.outOfRange) { try ResourceRange.machine.narrowed(.dma, base: 0, size: 2) }
        let mmio = try ResourceRange.machine.narrowed(.physical, base: 0x8000_0000, size: 0x7ec0_0000)
        #expect(!mmio.covers(.dma, base: 0, size: 1))
    }

    @Test func noWrapAround() throws {
        let hi = try ResourceRange.machine.narrowed(.physical, base: 0xfee0_0000, size: 0x1000)
        #expect(!hi.covers(.physical, base: 0xfee0_0800, size: UInt64.max))
        #expect(!hi.covers(.physical, base: UInt64.max, size: 1))
        #expect(throws: SysError.outOfRange) { try ResourceRange.machine.narrowed(.physical, base: 1, size: UInt64.max) }
    }

    let map = [MemoryRegion(start: 0, length: 0x9_fc00, kind: .usable),
               MemoryRegion(start: 0x9_fc00, length: 0x400, kind: .reserved),
               MemoryRegion(start: 0x10_0000, length: 0x7ee_0000, kind: .usable),
               MemoryRegion(start: 0x7fe_0000, length: 0x2_0000, kind: .acpiReclaimable),
               MemoryRegion(start: 0xfffc_0000, length: 0x4_0000, kind: .reserved)]

    @Test func deviceFramesStayOffRAM() {
        #expect(!PhysicalRanges.touchesRAM(0xa_0000, 0x2_0000, map))        // VGA window
        #expect(!PhysicalRanges.touchesRAM(0xfd00_0000, 0x100_0000, map))   // a framebuffer BAR
        #expect(PhysicalRanges.touchesRAM(0x10_0000, 0x1000, map))
        #expect(PhysicalRanges.touchesRAM(0x9_f000, 0x1000, map))           // ends in RAM's last page
        #expect(PhysicalRanges.touchesRAM(0xf_f000, 0x2000, map))           // runs into RAM at 1 MiB
        #expect(PhysicalRanges.touchesRAM(0xfed0_0000, 0, map))
        #expect(PhysicalRanges.touchesRAM(UInt64.max - 0xfff, 0x2000, map))
    }

    @Test func acpiMemoryIsNoticed() {
        #expect(PhysicalRanges.touchesACPI(0x7ff_0000, 0x1000, map))
        #expect(!PhysicalRanges.touchesACPI(0xfed0_0000, 0x1000, map))
        #expect(!PhysicalRanges.touchesRAM(0x7fe_0000, 0x2_0000, map))
    }
}

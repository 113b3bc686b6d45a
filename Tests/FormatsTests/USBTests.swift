import Testing
import ABI
import Formats

/// usbd's pure parts (Sources/Formats/XHCIRings.swift, USBHID.swift): TRBs and rings, input contexts,
/// descriptors, HID report descriptors (QEMU's usb-mouse and usb-tablet ones, byte for byte as the
/// devices send them) and boot keyboard and mouse reports.
@Suite struct USBTests {
    /// TRBs in an array, as the controller would see them.
    final class Memory: TRBMemory {
        var trbs: [TRB]
        init(_ n: Int) { trbs = [TRB](repeating: TRB(), count: n) }
        func load(_ i: Int) -> TRB { trbs[i] }
        func store(_ i: Int, _ t: TRB) { trbs[i] = t }
    }

    @Test func producerRingWrapsThroughItsLinkTRBAndTogglesTheCycle() {
        let m = Memory(4)
        var ring = ProducerRing(count: 4, physical: 0x1000)
        #expect(ring.push(TRB.noOpCommand(), m) == 0x1000)
        #expect(ring.push(TRB.enableSlot(), m) == 0x1010)
        // The third push fills the last usable slot; the Link TRB follows with the old cycle and TC.
        #expect(ring.push(TRB.noOpCommand(), m) == 0x1020)
        #expect(m.trbs[3].type == .link && m.trbs[3].parameter == 0x1000 && m.trbs[3].cycle)
        #expect(m.trbs[3].control & TRB.toggleCycle != 0)
        #expect(m.trbs[0...2].allSatisfy { $0.cycle })
        #expect(ring.enqueue == 0 && !ring.cycle)
        // After the wrap TRBs carry cycle 0 (the controller toggled its own at the Link).
        ring.push(TRB.enableSlot(), m)
        #expect(!m.trbs[0].cycle && m.trbs[0].type == .enableSlot)
        #expect(ring.index(of: 0x1010) == 1 && ring.index(of: 0x1008) == nil && ring.index(of: 0x1040) == nil)
        #expect(ring.space(dequeue: 1) == 2 && ring.space(dequeue: 2) == 0)
    }

    @Test func eventRingTakesEventsWhileTheCycleMatches() {
        let m = Memory(3)
        var ring = EventRing(count: 3, physical: 0x2000)
        #expect(ring.next(m) == nil)
        m.trbs[0] = TRB(type: .commandCompletion, status: 1 << 24, flags: 5 << 24).with(cycle: true)
        m.trbs[1] = TRB(type: .portStatusChange, parameter: 3 << 24, status: 1 << 24).with(cycle: true)
        let first = ring.next(m)
        #expect(first?.type == .commandCompletion && first?.slotID == 5 && first?.completionCode == CompletionCode.success)
        #expect(ring.next(m)?.portID == 3)
        #expect(ring.next(m) == nil && ring.dequeuePointer == 0x2020)
        m.trbs[2] = TRB(type: .transferEvent, parameter: 0x9000, status: 1 << 24 | 5, flags: 3 << 16 | 2 << 24).with(cycle: true)
        let t = ring.next(m)
        #expect(t?.endpointID == 3 && t?.slotID == 2 && t?.residualLength == 5)
        // Wrapped: old cycle-1 events are not taken again; new ones come with cycle 0.
        #expect(ring.next(m) == nil && ring.dequeuePointer == 0x2000)
        m.trbs[0] = TRB(type: .commandCompletion).with(cycle: false)
        #expect(ring.next(m)?.type == .commandCompletion)
    }

    @Test func controlTransferStages() {
        let get = TRB.controlTransfer(.getDescriptor(1, length: 18), buffer: 0x5000)
        #expect(get.map(\.type) == [.setupStage, .dataStage, .statusStage])
        #expect(get[0].parameter == 0x0012_0000_0100_0680 && get[0].status == 8)
        #expect(get[0].control & TRB.immediateData != 0 && (get[0].control >> 16) & 3 == 3)
        #expect(get[1].parameter == 0x5000 && get[1].status == 18 && get[1].control & TRB.directionIn != 0)
        #expect(get[2].control & TRB.directionIn == 0 && get[2].control & TRB.interruptOnCompletion != 0)
        let set = TRB.controlTransfer(.setConfiguration(1), buffer: 0)
        #expect(set.map(\.type) == [.setupStage, .statusStage])
        #expect((set[0].control >> 16) & 3 == 0 && set[1].control & TRB.directionIn != 0)
        #expect(USBSetupPacket.setProtocol(interface: 2, boot: true).word == 0x0000_0002_0000_0b21)
    }

    @Test func inputContextsForAddressAndConfigure() {
        let a = InputContext.addressDevice(contextSize: 32, speed: USBSpeed.full, rootPort: 5, ring: 0x12340)
        #expect(a.byteCount == 33 * 32)
        #expect(a[context: 0, word: 1] == 0b11)
        #expect(a[context: 1, word: 0] == 1 << 20 | 1 << 27 && a[context: 1, word: 1] == 5 << 16)
        #expect(a[context: 2, word: 1] == 3 << 1 | 4 << 3 | 8 << 16)
        #expect(a[context: 2, word: 2] == 0x12341 && a[context: 2, word: 3] == 0)
        let c = InputContext.interruptIn(contextSize: 64, speed: USBSpeed.high, rootPort: 1, endpoint: 1, maxPacket: 8,
                                         bInterval: 4, ring: 0x1_0000_0000)
        // Endpoint 1 IN is DCI 3: context 4 of the input context.
        #expect(c[context: 0, word: 1] == 1 | 1 << 3)
        #expect(c[context: 1, word: 0] >> 27 == 3)
        #expect(c[context: 4, word: 0] == 3 << 16 && c[context: 4, word: 1] == 3 << 1 | 7 << 3 | 8 << 16)
        #expect(c[context: 4, word: 2] == 1 && c[context: 4, word: 3] == 1 && c[context: 4, word: 4] == 8 | 8 << 16)
        // bInterval 10 ms at full speed: 80 microframes, 2^6 = 64 the largest power below.
        #expect(USBSpeed.interruptInterval(10, speed: USBSpeed.full) == 6)
        #expect(USBSpeed.interruptInterval(1, speed: USBSpeed.low) == 3)
        #expect(USBSpeed.interruptInterval(255, speed: USBSpeed.full) == 10)
    }

    /// QEMU's usb-kbd configuration: configuration, interface (HID boot keyboard), HID, endpoint 1 IN.
    static let keyboardConfiguration: [UInt8] = [
        9, 2, 34, 0, 1, 1, 8, 0xa0, 50,
        9, 4, 0, 0, 1, 3, 1, 1, 0,
        9, 0x21, 0x11, 0x01, 0, 1, 0x22, 0x3f, 0,
        7, 5, 0x81, 3, 8, 0, 10]

    @Test func descriptorsParse() throws {
        let d = try #require(USBDeviceDescriptor([18, 1, 0, 1, 0, 0, 0, 8, 0x27, 6, 1, 0, 0, 0, 1, 4, 5, 1]))
        #expect(d.maxPacketSize0 == 8 && d.vendor == 0x0627 && d.product == 1 && d.configurations == 1 && d.usbVersion == 0x100)
        #expect(USBDeviceDescriptor([18, 2] + [UInt8](repeating: 0, count: 16)) == nil)
        #expect(USBConfiguration.totalLength(Self.keyboardConfiguration) == 34)
        let c = try #require(USBConfiguration(Self.keyboardConfiguration))
        #expect(c.value == 1 && c.interfaces.count == 1)
        let i = c.interfaces[0]
        #expect(i.isBootKeyboard && !i.isBootMouse && i.reportDescriptorLength == 0x3f)
        #expect(i.endpoints == [USBEndpointDescriptor(address: 0x81, attributes: 3, maxPacketSize: 8, interval: 10)])
        #expect(i.endpoints[0].isInterruptIn && i.endpoints[0].number == 1)
        // A zero length or one running past the end is refused; a truncated total is read as far as it goes.
        var bad = Self.keyboardConfiguration
        bad[9] = 0
        #expect(USBConfiguration(bad) == nil)
        bad = Self.keyboardConfiguration
        bad[27] = 40
        #expect(USBConfiguration(bad) == nil)
        #expect(USBConfiguration(Array(Self.keyboardConfiguration[0..<18]))?.interfaces.count == 1)
        #expect(USBConfiguration([]) == nil && USBConfiguration([9, 4, 0, 0, 0, 0, 0, 0, 0]) == nil)
    }

    static let tabletReportDescriptor: [UInt8] = [
        0x05, 0x01, 0x09, 0x01, 0xa1, 0x01, 0x09, 0x01, 0xa1, 0x00, 0x05, 0x09, 0x19, 0x01, 0x29, 0x03,
        0x15, 0x00, 0x25, 0x01, 0x95, 0x03, 0x75, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x05, 0x81, 0x01,
        0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x15, 0x00, 0x26, 0xff, 0x7f, 0x35, 0x00, 0x46, 0xff, 0x7f,
        0x75, 0x10, 0x95, 0x02, 0x81, 0x02, 0x05, 0x01, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7f, 0x35, 0x00,
        0x45, 0x00, 0x75, 0x08, 0x95, 0x01, 0x81, 0x06, 0xc0, 0xc0]

    static let mouseReportDescriptor: [UInt8] = [
        0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x09, 0x01, 0xa1, 0x00, 0x05, 0x09, 0x19, 0x01, 0x29, 0x03,
        0x15, 0x00, 0x25, 0x01, 0x95, 0x03, 0x75, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x05, 0x81, 0x01,
        0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7f, 0x75, 0x08, 0x95, 0x03,
        0x81, 0x06, 0xc0, 0xc0]

    @Test func tabletReportDescriptorGivesAbsoluteSixteenBitAxes() throws {
        #expect(Self.tabletReportDescriptor.count == 74 && Self.mouseReportDescriptor.count == 52)
        let l = try #require(HIDPointerLayout.parse(Self.tabletReportDescriptor))
        #expect(l.absolute && l.reportID == 0 && l.buttonCount == 3)
        #expect(l.buttons?.bitOffset == 0 && l.x?.bitOffset == 8 && l.x?.bitSize == 16 && l.y?.bitOffset == 24)
        #expect(l.x?.logicalMaximum == 0x7fff && l.wheel?.bitOffset == 40 && l.wheel?.relative == true)
        // Button 1 and 3, x = 0x4000, y = 0x7fff, wheel -1.
        #expect(l.decode([0b101, 0x00, 0x40, 0xff, 0x7f, 0xff]) == HIDPointerReport(buttons: 0b101, x: 16384, y: 32767, wheel: -1))
        #expect(l.decode([0, 0, 0, 0]) == nil)
    }

    @Test func mouseReportDescriptorMatchesTheBootLayout() throws {
        let l = try #require(HIDPointerLayout.parse(Self.mouseReportDescriptor))
        #expect(!l.absolute)
        #expect(l.x == HIDPointerLayout.bootMouse.x && l.y == HIDPointerLayout.bootMouse.y && l.wheel == HIDPointerLayout.bootMouse.wheel)
        let boot = HIDPointerLayout.bootMouse
        #expect(boot.decode([0b010, 0xfb, 20, 1]) == HIDPointerReport(buttons: 2, x: -5, y: 20, wheel: 1))
        #expect(boot.decode([1, 30, 0]) == HIDPointerReport(buttons: 1, x: 30, y: 0, wheel: 0))
        #expect(boot.decode([1]) == nil)
    }

    @Test func reportIDsAndMalformedDescriptors() throws {
        // Report 2 is the pointer; report 1 (a consumer control byte) comes first.
        let d: [UInt8] = [0x05, 0x0c, 0x09, 0x01, 0xa1, 0x01, 0x85, 0x01, 0x75, 0x08, 0x95, 0x01, 0x09, 0xe9, 0x81, 0x02, 0xc0,
                          0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x85, 0x02, 0x05, 0x09, 0x19, 0x01, 0x29, 0x02, 0x15, 0x00, 0x25, 0x01,
                          0x75, 0x01, 0x95, 0x02, 0x81, 0x02, 0x95, 0x06, 0x81, 0x01, 0x05, 0x01, 0x09, 0x30, 0x09, 0x31,
                          0x15, 0x81, 0x25, 0x7f, 0x75, 0x08, 0x95, 0x02, 0x81, 0x06, 0xc0]
        let l = try #require(HIDPointerLayout.parse(d))
        #expect(l.reportID == 2 && l.buttons?.bitOffset == 8 && l.x?.bitOffset == 16 && l.buttonCount == 2)
        #expect(l.decode([2, 1, 0xff, 3]) == HIDPointerReport(buttons: 1, x: -1, y: 3, wheel: 0))
        #expect(l.decode([1, 1, 0xff, 3]) == nil)
        // Truncated items, a long item, nothing with X and Y.
        #expect(HIDPointerLayout.parse([0x05]) == nil)
        #expect(HIDPointerLayout.parse([0xfe, 2, 0, 1, 2, 0x05, 0x01]) == nil)
        #expect(HIDPointerLayout.parse(Array(Self.tabletReportDescriptor[0..<40])) == nil)
        var g = SplitMixBytes(seed: 16)
        for _ in 0..<2000 { _ = HIDPointerLayout.parse(g.bytes(Int(g.next() % 80)))?.decode(g.bytes(8)) }
    }

    @Test func bootKeyboardReportsBecomeKeyEvents() {
        var d = BootKeyboardDecoder()
        // Shift down, then T (usage 0x17) with shift, then both up.
        #expect(d.feed([0x02, 0, 0, 0, 0, 0, 0, 0]).map { [$0.usage, $0.pressed ? 1 : 0] } == [[0xe1, 1]])
        let t = d.feed([0x02, 0, 0x17, 0, 0, 0, 0, 0])
        #expect(t == [KeyEvent(usage: 0x17, pressed: true, modifiers: .leftShift, character: 0x54)])
        let up = d.feed([0, 0, 0, 0, 0, 0, 0, 0])
        let allUp = up.allSatisfy { !$0.pressed && $0.character == 0 }
        #expect(up.map(\.usage) == [0x17, 0xe1] && allUp)
        // Two keys in one report; one released while the other stays.
        #expect(d.feed([0, 0, 0x04, 0x05, 0, 0, 0, 0]).map(\.character) == [0x61, 0x62])
        #expect(d.feed([0, 0, 0x05, 0, 0, 0, 0, 0]).map { [$0.usage, $0.pressed ? 1 : 0] } == [[0x04, 0]])
        // Rollover reports change nothing; control+c gives 3; caps lock toggles.
        #expect(d.feed([0, 0, 1, 1, 1, 1, 1, 1]).isEmpty)
        // Control down, the b still held from before the rollover released, c as 3.
        #expect(d.feed([0x01, 0, 0x06, 0, 0, 0, 0, 0]).map(\.character) == [0, 0, 3])
        _ = d.feed([0, 0, 0, 0, 0, 0, 0, 0])
        _ = d.feed([0, 0, 0x39, 0, 0, 0, 0, 0])
        #expect(d.feed([0, 0, 0x04, 0, 0, 0, 0, 0]).last?.character == 0x41)
        #expect(d.modifiers.contains(.capsLock))
        #expect(d.feed([1]).isEmpty)
    }
}

/// A seeded byte source for the fuzzing loop.
struct SplitMixBytes {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

import Testing
import ABI
import Formats

/// The PS/2 decoders (Sources/Formats/PS2Keyboard.swift, PS2Mouse.swift): scancode set 2 to HID usages,
/// modifiers and locks, the US layout, and mouse packets.
@Suite struct InputDecoderTests {
    func feed(_ bytes: [UInt8], _ d: inout PS2KeyboardDecoder) -> [KeyEvent] { bytes.compactMap { d.feed($0) } }

    @Test func lettersAndDigitsGiveTheirUsagesAndCharacters() {
        var d = PS2KeyboardDecoder()
        // a, z, 1, 0, space, enter: press and release each.
        let events = feed([0x1c, 0xf0, 0x1c, 0x1a, 0xf0, 0x1a, 0x16, 0xf0, 0x16, 0x45, 0xf0, 0x45, 0x29, 0xf0, 0x29, 0x5a, 0xf0, 0x5a], &d)
        #expect(events.map(\.usage) == [0x04, 0x04, 0x1d, 0x1d, 0x1e, 0x1e, 0x27, 0x27, 0x2c, 0x2c, 0x28, 0x28])
        #expect(events.map(\.pressed) == [true, false, true, false, true, false, true, false, true, false, true, false])
        #expect(events.filter(\.pressed).map(\.character) == [0x61, 0x7a, 0x31, 0x30, 0x20, 0x0a])
        #expect(events.filter { !$0.pressed }.allSatisfy { $0.character == 0 })
    }

    @Test func shiftCapsLockAndControl() {
        var d = PS2KeyboardDecoder()
        // Left shift down, a, 2, shift up, a.
        var e = feed([0x12, 0x1c, 0xf0, 0x1c, 0x1e, 0xf0, 0x1e, 0xf0, 0x12, 0x1c], &d)
        #expect(e.filter(\.pressed).map(\.character) == [0, 0x41, 0x40, 0x61])
        #expect(e[0].modifiers == .leftShift && e.last!.modifiers == [])
        // Caps Lock on: a is A, shift+a is a; Caps Lock off again.
        e = feed([0x58, 0xf0, 0x58, 0x1c, 0x59, 0x1c, 0xf0, 0x59, 0x58, 0xf0, 0x58, 0x1c], &d)
        #expect(e.filter { $0.pressed && $0.character != 0 }.map(\.character) == [0x41, 0x61, 0x61])
        #expect(!d.modifiers.contains(.capsLock))
        // Right control (E0 14) + c is 0x03.
        e = feed([0xe0, 0x14, 0x21, 0xe0, 0xf0, 0x14], &d)
        #expect(e.map(\.usage) == [0xe4, 0x06, 0xe4])
        #expect(e[1].character == 0x03 && e[1].modifiers == .rightControl)
        #expect(e[2].modifiers == [])
    }

    @Test func extendedKeysPrintScreenAndPause() {
        var d = PS2KeyboardDecoder()
        let e = feed([0xe0, 0x75, 0xe0, 0xf0, 0x75, 0xe0, 0x74, 0xe0, 0x6b, 0xe0, 0x72, 0xe0, 0x71, 0xe0, 0x4a, 0xe0, 0x5a,
                      0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12,
                      0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77], &d)
        #expect(e.map(\.usage) == [0x52, 0x52, 0x4f, 0x50, 0x51, 0x4c, 0x54, 0x58, 0x46, 0x46, 0x48])
        #expect(e[5].character == 0x7f && e[6].character == 0x2f && e[7].character == 0x0a)
        #expect(e[0].character == 0)
    }

    @Test func controllerAnswersAndUnknownCodesAreIgnored() {
        var d = PS2KeyboardDecoder()
        #expect(feed([0xfa, 0xaa, 0xfe, 0xee, 0x00, 0xff, 0x02, 0x7f], &d).isEmpty)
        #expect(d.ignored == 8)
        #expect(feed([0x1c], &d).map(\.usage) == [0x04])
    }

    /// Every one-byte set 2 code maps to a distinct usage, and the printable US keys round-trip.
    @Test func tablesAreConsistent() {
        let usages = (0..<0x84).map { PS2KeyboardDecoder.usage(UInt8($0)) }.filter { $0 != 0 }
        #expect(Set(usages).count == usages.count)
        #expect(usages.count == 86)   // 85 codes below 0x80 and F7 (0x83)
        let printable = (0..<0x84).map { PS2KeyboardDecoder.usage(UInt8($0)) }
            .map { USLayout.character(usage: $0, modifiers: []) }.filter { $0 >= 0x20 && $0 < 0x7f }
        #expect(Set(printable) == Set(Array("abcdefghijklmnopqrstuvwxyz0123456789 -=[]\\;'`,./*+".unicodeScalars.map(\.value))))   // keypad * and + type without Num Lock
        let numLock = (0x59...0x63).map { USLayout.character(usage: UInt16($0), modifiers: .numLock) }
        #expect(numLock == Array("1234567890.".unicodeScalars.map(\.value)))
        #expect((0x59...0x63).allSatisfy { USLayout.character(usage: UInt16($0), modifiers: []) == 0 })
    }

    @Test func mousePacketsGiveMotionAndButtons() {
        var m = PS2MouseDecoder()
        // Left button, dx +5, dy +3 (up): dy -3 on screen.
        #expect([0x09, 0x05, 0x03].compactMap { m.feed($0) } == [MouseMotion(dx: 5, dy: -3, wheel: 0, buttons: 1)])
        // Negative dx (-2), negative dy (-256 + 0xfe = -2 → +2 down), right button.
        #expect([0x3a, 0xfe, 0xfe].compactMap { m.feed($0) } == [MouseMotion(dx: -2, dy: 2, wheel: 0, buttons: 2)])
        // A byte without bit 3 where a packet should start is dropped.
        #expect([0x00, 0x0c, 0x01, 0x00].compactMap { m.feed($0) } == [MouseMotion(dx: 1, dy: 0, wheel: 0, buttons: 4)])
        #expect(m.resyncs == 1)
        var w = PS2MouseDecoder(wheel: true)
        #expect([0x08, 0, 0, 0x0f].compactMap { w.feed($0) } == [MouseMotion(dx: 0, dy: 0, wheel: 1, buttons: 0)])
        #expect([0x08, 0, 0, 0x02].compactMap { w.feed($0) } == [MouseMotion(dx: 0, dy: 0, wheel: -2, buttons: 0)])
    }

    @Test func inputEventsRoundTripThroughTheirBytes() {
        let e = InputEvent(time: 0x1122_3344_5566_7788, kind: .motion, flags: 5, usage: 0, modifiers: 0, wheel: -3, a: -70000, b: 42)
        var bytes = [UInt8](repeating: 0, count: InputEvent.size)
        bytes.withUnsafeMutableBytes { e.store(to: $0.baseAddress!) }
        #expect(bytes[0] == 0x88 && bytes[8] == InputEventKind.motion.rawValue && bytes[9] == 5)
        #expect(bytes.withUnsafeBytes { InputEvent(loading: $0.baseAddress!) } == e)
        bytes[8] = 9
        #expect(bytes.withUnsafeBytes { InputEvent(loading: $0.baseAddress!) } == nil)
        #expect(InputProtocol.maxEventsPerRead * InputEvent.size <= IPCBuffer.maxBytes)
    }
}

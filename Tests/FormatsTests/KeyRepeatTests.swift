import Testing
import ABI
import Formats

/// Key repeat and lock LEDs (Sources/Formats/KeyRepeat.swift): a PS/2 keyboard's typematic repeats are
/// marked and do not toggle locks; usbd's software repeat; the LED masks of both buses; the PS/2 LED
/// command's exchange with the keyboard.
@Suite struct KeyRepeatTests {
    @Test func typematicRepeatsAreMarkedAndDoNotToggleLocks() {
        var d = PS2KeyboardDecoder()
        // a held (three makes), released; Caps Lock held (two makes), released.
        let events = [0x1c, 0x1c, 0x1c, 0xf0, 0x1c, 0x58, 0x58, 0xf0, 0x58].compactMap { d.feed(UInt8($0)) }
        #expect(events.map(\.repeated) == [false, true, true, false, false, true, false])
        #expect(events.map(\.flags) == [1, 3, 3, 0, 1, 3, 0])
        #expect(events[1].character == 0x61)
        #expect(d.modifiers.contains(.capsLock), "one toggle for a held Caps Lock")
    }

    @Test func aHeldKeyRepeatsAfterTheDelayAtTheInterval() {
        var r = KeyRepeat()
        let a = KeyEvent(usage: HIDUsage.a, pressed: true, modifiers: [], character: 0x61)
        r.note(a, at: 1_000)
        #expect(r.repeats(at: 1_000 + KeyRepeat.delay - 1).isEmpty)
        #expect(r.wait(at: 1_000) == KeyRepeat.delay)
        let first = r.repeats(at: 1_000 + KeyRepeat.delay)
        #expect(first.count == 1 && first[0].repeated && first[0].character == 0x61 && first[0].flags == 3)
        // A second later: at most 4 at once, and the next one an interval after that.
        let t = 1_000 + KeyRepeat.delay + 1_000_000_000
        #expect(r.repeats(at: t).count == 4)
        #expect(r.wait(at: t) == KeyRepeat.interval)
        // Another key takes over; its release ends repeating; modifiers change nothing.
        let b = KeyEvent(usage: HIDUsage.a + 1, pressed: true, modifiers: [], character: 0x62)
        r.note(b, at: t)
        r.note(KeyEvent(usage: HIDUsage.leftControl, pressed: true, modifiers: .leftControl, character: 0), at: t)
        #expect(r.held?.usage == b.usage)
        r.note(KeyEvent(usage: HIDUsage.a, pressed: false, modifiers: [], character: 0), at: t)
        #expect(r.held?.usage == b.usage, "a's release leaves b repeating")
        r.note(KeyEvent(usage: b.usage, pressed: false, modifiers: [], character: 0), at: t)
        #expect(r.held == nil && r.wait(at: t) == nil && r.repeats(at: t + KeyRepeat.delay).isEmpty)
        // Locks and Pause do not repeat.
        r.note(KeyEvent(usage: HIDUsage.capsLock, pressed: true, modifiers: .capsLock, character: 0), at: t)
        r.note(KeyEvent(usage: HIDUsage.pause, pressed: true, modifiers: [], character: 0), at: t)
        #expect(r.held == nil)
    }

    @Test func ledMasks() {
        let all: KeyModifiers = [.capsLock, .numLock, .scrollLock]
        #expect(KeyModifiers.capsLock.ps2LEDs == 4 && KeyModifiers.numLock.ps2LEDs == 2 && KeyModifiers.scrollLock.ps2LEDs == 1)
        #expect(KeyModifiers.capsLock.hidLEDs == 2 && KeyModifiers.numLock.hidLEDs == 1 && KeyModifiers.scrollLock.hidLEDs == 4)
        #expect(all.ps2LEDs == 7 && all.hidLEDs == 7 && KeyModifiers.leftShift.ps2LEDs == 0)
        #expect(all.locksText == "caps num scroll" && KeyModifiers().locksText == "none")
    }

    @Test func thePS2LEDCommandWaitsForEachAcknowledgement() {
        var c = PS2LEDCommand()
        #expect(c.set(0).isEmpty, "the keyboard shows no LEDs already")
        #expect(c.set(4) == [0xed])
        #expect(c.set(6).isEmpty, "busy: remembered")
        #expect(c.received(0x1c) == (false, [], false), "a key's byte is the decoder's")
        #expect(c.received(0xfa) == (true, [4], false))
        #expect(c.received(0xfe) == (true, [4], false), "resend the mask")
        let done = c.received(0xfa)
        #expect(done.consumed && done.done && done.write == [0xed], "the remembered mask follows")
        #expect(c.shown == 4)
        #expect(c.received(0xfa) == (true, [6], false))
        #expect(c.received(0xfa) == (true, [], true))
        #expect(c.shown == 6 && c.received(0xfa) == (false, [], false), "idle: an 0xFA is not the command's")
        // A keyboard that keeps asking for resends is given up on.
        #expect(c.set(0) == [0xed])
        for _ in 0..<3 { #expect(c.received(0xfe).write == [0xed]) }
        #expect(c.received(0xfe) == (true, [], false))
        #expect(c.shown == 6 && c.set(0) == [0xed])
    }
}

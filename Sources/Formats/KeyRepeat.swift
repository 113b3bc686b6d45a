#if !USERSPACE
import ABI
#endif

// Key repeat and keyboard LEDs, for the keyboard drivers (kbd: PS/2; usbd: USB boot keyboards).
//
// A PS/2 keyboard repeats a held key itself (typematic make codes; KeyboardState marks them
// `repeated`). A USB boot keyboard only reports which keys are down, so usbd repeats the last key
// pressed while it stays down: after `delay`, then every `interval` (500 ms and 33 ms, about the PS/2
// default of 30 a second). Modifiers and lock keys do not repeat.
//
// The lock LEDs follow the lock state: a PS/2 keyboard takes the command 0xED and then the mask (bit 0
// Scroll Lock, 1 Num Lock, 2 Caps Lock), each answered with 0xFA (0xFE: send that byte again); a USB
// boot keyboard takes a one-byte output report with SET_REPORT (bit 0 Num Lock, 1 Caps Lock, 2 Scroll
// Lock; HID 1.11 appendix B.1).

/// The repeat of one held key (software typematic).
public struct KeyRepeat: Sendable {
    public static let delay: UInt64 = 500_000_000
    public static let interval: UInt64 = 33_333_333

    /// The held key's press, and when its next repeat is due.
    public private(set) var held: KeyEvent? = nil
    public private(set) var due: UInt64 = 0

    public init() {}

    /// A key event at `now` (ns): a fresh press of a key that repeats starts its repeat; its release, or
    /// a press of another key, ends the one before.
    public mutating func note(_ e: KeyEvent, at now: UInt64) {
        if e.pressed {
            guard !e.repeated else { return }
            if KeyRepeat.repeatable(e.usage) {
                held = e
                due = now &+ KeyRepeat.delay
            } else if !KeyRepeat.isModifierOrLock(e.usage) {
                held = nil
            }
        } else if held?.usage == e.usage {
            held = nil
        }
    }

    /// The repeats due by `now` (at most `limit`; a late caller gets them in a burst, not a flood).
    public mutating func repeats(at now: UInt64, limit: Int = 4) -> [KeyEvent] {
        guard var e = held else { return [] }
        var out: [KeyEvent] = []
        e.repeated = true
        while now >= due && out.count < limit {
            out.append(e)
            due &+= KeyRepeat.interval
        }
        if now >= due { due = now &+ KeyRepeat.interval }   // skipped: the next one an interval from now
        return out
    }

    /// Nanoseconds until the next repeat (nil: no key repeats).
    public func wait(at now: UInt64) -> UInt64? {
        guard held != nil else { return nil }
        return due > now ? due - now : 0
    }

    static func isModifierOrLock(_ usage: UInt16) -> Bool {
        (usage >= HIDUsage.leftControl && usage <= HIDUsage.rightMeta)
            || usage == HIDUsage.capsLock || usage == HIDUsage.numLock || usage == HIDUsage.scrollLock
    }

    /// Whether a held key repeats: not modifiers, locks, Print Screen or Pause.
    public static func repeatable(_ usage: UInt16) -> Bool {
        !isModifierOrLock(usage) && usage != HIDUsage.printScreen && usage != HIDUsage.pause
    }
}

extension KeyModifiers {
    /// The PS/2 LED mask (command 0xED's byte): Scroll, Num, Caps Lock in bits 0-2.
    public var ps2LEDs: UInt8 {
        (contains(.scrollLock) ? 1 : 0) | (contains(.numLock) ? 2 : 0) | (contains(.capsLock) ? 4 : 0)
    }

    /// The USB boot keyboard's LED output report: Num, Caps, Scroll Lock in bits 0-2.
    public var hidLEDs: UInt8 {
        (contains(.numLock) ? 1 : 0) | (contains(.capsLock) ? 2 : 0) | (contains(.scrollLock) ? 4 : 0)
    }

    /// "caps num scroll" for the locks on ("none" without).
    public var locksText: String {
        let names = [(KeyModifiers.capsLock, "caps"), (.numLock, "num"), (.scrollLock, "scroll")].filter { contains($0.0) }.map { $0.1 }
        return names.isEmpty ? "none" : names.joined(separator: " ")
    }
}

/// Setting a PS/2 keyboard's LEDs while its bytes arrive by interrupt: the command and the mask each
/// wait for the keyboard's 0xFA, which the driver shows this machine before decoding.
public struct PS2LEDCommand: Sendable {
    enum Stage: Sendable { case idle, command, mask }
    var stage = Stage.idle
    /// The mask being sent, and the one the keyboard shows (acknowledged).
    var sending: UInt8 = 0
    public private(set) var shown: UInt8 = 0
    /// A mask asked for while another was being sent.
    var wanted: UInt8? = nil
    var resends = 0

    public init() {}

    /// The lock state changed to `mask`: the bytes to write now (0xED, or nothing while busy).
    public mutating func set(_ mask: UInt8) -> [UInt8] {
        guard stage == .idle else {
            wanted = mask
            return []
        }
        guard mask != shown else { return [] }
        sending = mask
        stage = .command
        resends = 0
        return [0xed]
    }

    /// A byte from the keyboard: whether it answered the command (the decoder must not see it), the
    /// bytes to write now, and whether the mask just took effect.
    public mutating func received(_ byte: UInt8) -> (consumed: Bool, write: [UInt8], done: Bool) {
        guard stage != .idle, byte == 0xfa || byte == 0xfe else { return (false, [], false) }
        if byte == 0xfe {
            resends += 1
            guard resends <= 3 else {       // the keyboard refuses: give up, the LEDs stay as they were
                stage = .idle
                wanted = nil
                return (true, [], false)
            }
            return (true, [stage == .command ? 0xed : sending], false)
        }
        if stage == .command {
            stage = .mask
            return (true, [sending], false)
        }
        stage = .idle
        shown = sending
        if let w = wanted {
            wanted = nil
            return (true, set(w), true)
        }
        return (true, [], true)
    }
}

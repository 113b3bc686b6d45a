// The PS/2 keyboard's scancode set 2, decoded into key events (USB HID usages, page 7), and the US
// layout. kbd (Sources/Servers/kbd) feeds it the bytes the keyboard sends with the controller's
// translation off; a USB HID driver would reuse the usages and the layout. Pure logic, host-tested
// (Tests/FormatsTests/InputDecoderTests.swift); the tables follow the scancode set 2 and HID usage tables.

#if !USERSPACE
import ABI
#endif

/// A decoded key: its HID usage, press or release, the modifiers after it, and its character.
public struct KeyEvent: Equatable, Sendable {
    public var usage: UInt16
    public var pressed: Bool
    public var modifiers: KeyModifiers
    /// The character under the US layout (a Unicode scalar), 0 for none and on release.
    public var character: UInt32
    /// A press of a key already held: the keyboard's typematic repeat, or KeyRepeat's.
    public var repeated: Bool

    public init(usage: UInt16, pressed: Bool, modifiers: KeyModifiers, character: UInt32, repeated: Bool = false) {
        self.usage = usage
        self.pressed = pressed
        self.modifiers = modifiers
        self.character = character
        self.repeated = repeated
    }

    /// The input protocol's flags byte: bit 0 pressed, bit 1 repeated.
    public var flags: UInt8 { (pressed ? 1 : 0) | (repeated ? 2 : 0) }
}

/// HID usages (page 7) the decoder and layout name.
public enum HIDUsage {
    public static let a: UInt16 = 0x04
    public static let z: UInt16 = 0x1d
    public static let one: UInt16 = 0x1e
    public static let zero: UInt16 = 0x27
    public static let enter: UInt16 = 0x28
    public static let escape: UInt16 = 0x29
    public static let backspace: UInt16 = 0x2a
    public static let tab: UInt16 = 0x2b
    public static let space: UInt16 = 0x2c
    public static let capsLock: UInt16 = 0x39
    public static let printScreen: UInt16 = 0x46
    public static let scrollLock: UInt16 = 0x47
    public static let pause: UInt16 = 0x48
    public static let delete: UInt16 = 0x4c
    public static let right: UInt16 = 0x4f
    public static let left: UInt16 = 0x50
    public static let down: UInt16 = 0x51
    public static let up: UInt16 = 0x52
    public static let numLock: UInt16 = 0x53
    public static let leftControl: UInt16 = 0xe0
    public static let rightMeta: UInt16 = 0xe7
}

/// The modifiers and locks a keyboard has seen, whatever reports its keys (PS/2 scancodes, USB boot
/// reports): each key press or release updates them and becomes an event with its US-layout character.
public struct KeyboardState: Sendable {
    public private(set) var modifiers: KeyModifiers = []
    /// Keys pressed and not released (a press of one of them is a repeat: a lock key does not toggle).
    var held: [UInt16] = []

    public init() {}

    /// Updates modifiers and locks for a key and makes its event.
    public mutating func key(_ usage: UInt16, pressed: Bool) -> KeyEvent {
        let repeated = pressed && held.contains(usage)
        if pressed && !repeated && held.count < 16 { held.append(usage) }
        if !pressed { held.removeAll { $0 == usage } }
        if usage >= HIDUsage.leftControl && usage <= HIDUsage.rightMeta {
            let bit = KeyModifiers(rawValue: 1 << (usage - HIDUsage.leftControl))
            if pressed { modifiers.insert(bit) } else { modifiers.remove(bit) }
        } else if pressed && !repeated {
            switch usage {
            case HIDUsage.capsLock: modifiers.formSymmetricDifference(.capsLock)
            case HIDUsage.numLock: modifiers.formSymmetricDifference(.numLock)
            case HIDUsage.scrollLock: modifiers.formSymmetricDifference(.scrollLock)
            default: break
            }
        }
        let character = pressed ? USLayout.character(usage: usage, modifiers: modifiers) : 0
        return KeyEvent(usage: usage, pressed: pressed, modifiers: modifiers, character: character, repeated: repeated)
    }
}

/// Scancode set 2 bytes → key events. Feed it every byte the keyboard sends; it returns an event when
/// a key's code is complete. Controller and keyboard answers (0xFA ack, 0xAA self-test passed, 0xFE
/// resend, 0xEE echo, 0x00/0xFF errors) outside a code are ignored.
public struct PS2KeyboardDecoder {
    private var extended = false
    private var release = false
    /// Bytes of the Pause key's sequence (E1 14 77 E1 F0 14 F0 77) still to skip.
    private var pauseRemaining = 0
    private var state = KeyboardState()
    /// The modifiers and locks after the last key.
    public var modifiers: KeyModifiers { state.modifiers }
    /// Bytes that were no key (for the driver's counts).
    public private(set) var ignored = 0

    public init() {}

    /// The event for this byte, if it completes a key's code.
    public mutating func feed(_ byte: UInt8) -> KeyEvent? {
        if pauseRemaining > 0 {
            pauseRemaining -= 1
            return pauseRemaining == 0 ? state.key(HIDUsage.pause, pressed: true) : nil
        }
        switch byte {
        case 0xe0: extended = true; return nil
        case 0xf0: release = true; return nil
        case 0xe1:
            pauseRemaining = 7
            extended = false
            release = false
            return nil
        default: break
        }
        let wasExtended = extended, wasRelease = release
        extended = false
        release = false
        let usage = wasExtended ? PS2KeyboardDecoder.extendedUsage(byte) : PS2KeyboardDecoder.usage(byte)
        guard usage != 0 else {
            ignored += 1
            return nil
        }
        return state.key(usage, pressed: !wasRelease)
    }

    /// The usage of a one-byte set 2 code, 0 for none.
    public static func usage(_ code: UInt8) -> UInt16 {
        if code == 0x83 { return 0x40 }   // F7, the one code above 0x7f
        guard code < 0x80 else { return 0 }
        return UInt16(set2[Int(code)])
    }

    /// The usage of an E0-prefixed set 2 code, 0 for none (the fake shifts E0 12 and E0 59 around
    /// Print Screen and the navigation keys are none).
    public static func extendedUsage(_ code: UInt8) -> UInt16 {
        switch code {
        case 0x11: return 0xe6   // right Alt
        case 0x14: return 0xe4   // right Control
        case 0x1f: return 0xe3   // left GUI
        case 0x27: return 0xe7   // right GUI
        case 0x2f: return 0x65   // Application (menu)
        case 0x4a: return 0x54   // keypad /
        case 0x5a: return 0x58   // keypad Enter
        case 0x69: return 0x4d   // End
        case 0x6b: return 0x50   // Left
        case 0x6c: return 0x4a   // Home
        case 0x70: return 0x49   // Insert
        case 0x71: return 0x4c   // Delete
        case 0x72: return 0x51   // Down
        case 0x74: return 0x4f   // Right
        case 0x75: return 0x52   // Up
        case 0x7a: return 0x4e   // Page Down
        case 0x7c: return 0x46   // Print Screen
        case 0x7d: return 0x4b   // Page Up
        default: return 0
        }
    }

    /// Set 2 one-byte codes 0x00-0x7f → HID usage (0: none).
    static let set2: [UInt8] = [
        // 0x00
        0x00, 0x42, 0x00, 0x3e, 0x3c, 0x3a, 0x3b, 0x45, 0x00, 0x43, 0x41, 0x3f, 0x3d, 0x2b, 0x35, 0x00,
        // 0x10: LAlt, LShift, -, LCtrl, Q, 1
        0x00, 0xe2, 0xe1, 0x00, 0xe0, 0x14, 0x1e, 0x00, 0x00, 0x00, 0x1d, 0x16, 0x04, 0x1a, 0x1f, 0x00,
        // 0x20: C X D E 4 3 / Space V F T R 5
        0x00, 0x06, 0x1b, 0x07, 0x08, 0x21, 0x20, 0x00, 0x00, 0x2c, 0x19, 0x09, 0x17, 0x15, 0x22, 0x00,
        // 0x30: N B H G Y 6 / M J U 7 8
        0x00, 0x11, 0x05, 0x0b, 0x0a, 0x1c, 0x23, 0x00, 0x00, 0x00, 0x10, 0x0d, 0x18, 0x24, 0x25, 0x00,
        // 0x40: , K I O 0 9 / . / L ; P -
        0x00, 0x36, 0x0e, 0x0c, 0x12, 0x27, 0x26, 0x00, 0x00, 0x37, 0x38, 0x0f, 0x33, 0x13, 0x2d, 0x00,
        // 0x50: ' [ = / CapsLock RShift Enter ] \
        0x00, 0x00, 0x34, 0x00, 0x2f, 0x2e, 0x00, 0x00, 0x39, 0xe5, 0x28, 0x30, 0x00, 0x31, 0x00, 0x00,
        // 0x60: non-US \ (0x61), Backspace, KP1, KP4, KP7
        0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x59, 0x00, 0x5c, 0x5f, 0x00, 0x00, 0x00,
        // 0x70: KP0 KP. KP2 KP5 KP6 KP8 Esc NumLock F11 KP+ KP3 KP- KP* KP9 ScrollLock
        0x62, 0x63, 0x5a, 0x5d, 0x5e, 0x60, 0x29, 0x53, 0x44, 0x57, 0x5b, 0x56, 0x55, 0x61, 0x47, 0x00,
    ]
}

/// The US keyboard layout: HID usage and modifiers → the character typed.
public enum USLayout {
    /// Usages 0x1e-0x38 (digits and punctuation): unshifted and shifted characters.
    static let unshifted: [UInt8] = Array("1234567890\n\u{1b}\u{8}\t -=[]\\#;'`,./".utf8)
    static let shifted: [UInt8] = Array("!@#$%^&*()\n\u{1b}\u{8}\t _+{}|~:\"~<>?".utf8)

    /// The character for a key pressed with `modifiers` (0 for none: modifiers, function and navigation
    /// keys). Shift and Caps Lock choose capitals; Control with a letter gives its control code; the
    /// keypad gives digits with Num Lock on.
    public static func character(usage: UInt16, modifiers: KeyModifiers) -> UInt32 {
        let shift = !modifiers.isDisjoint(with: .shift)
        switch usage {
        case HIDUsage.a...HIDUsage.z:
            let index = UInt32(usage - HIDUsage.a)
            if !modifiers.isDisjoint(with: .control) { return index + 1 }
            let upper = shift != modifiers.contains(.capsLock)
            return (upper ? 0x41 : 0x61) + index
        case HIDUsage.one...0x38:
            let i = Int(usage - HIDUsage.one)
            return UInt32(shift ? shifted[i] : unshifted[i])
        case HIDUsage.delete: return 0x7f
        case 0x54: return 0x2f   // keypad /
        case 0x55: return 0x2a   // keypad *
        case 0x56: return 0x2d   // keypad -
        case 0x57: return 0x2b   // keypad +
        case 0x58: return 0x0a   // keypad Enter
        case 0x59...0x63:
            guard modifiers.contains(.numLock) else { return 0 }
            return UInt32(Array("1234567890.".utf8)[Int(usage - 0x59)])
        case 0x64: return shift ? 0x7c : 0x5c   // the non-US \ | key
        default: return 0
        }
    }
}

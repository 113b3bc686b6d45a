// The input protocol: how input drivers publish events to subscribers. kbd (the PS/2 keyboard) exports
// it as the service `input`, moused (the PS/2 mouse) as `mouse`; usbd (USB HID keyboards, mice and tablets
// through xHCI) exports it as `usbinput` and feeds the same events. Compiled into the kernel too (no String here).
//
// Requests are IPC calls through a Sender to the driver's Receiver; the label is an InputLabel, the reply's
// label 0 or an InputError raw value. A request with an unknown label, too few words, or bytes or handles
// it does not take is answered `.badMessage` (handles it does not take are closed); a driver never crashes
// on one.
//
// Requests (w0..w3 = the message's register words; → the reply's words):
//   info         → w0 InputDeviceKind, w1 events published since start, w2 live subscriptions,
//                  w3 bit 0: the device answered its initialisation (0: the driver runs without it)
//   subscribe    w0 the Notify bits to signal; handles: exactly 1, a Notify (needs .signal), moved
//                → w0 subscription id. From now on every event is queued for this subscription (at most
//                InputProtocol.queueLength; older events are dropped when it is full) and the bits are
//                signalled on the Notify whenever an event is queued.
//   read         w0 subscription id, w1 the most events wanted (1...InputProtocol.maxEventsPerRead)
//                → w0 events in the reply's bytes (InputEvent.size bytes each, oldest first; 0 = none
//                queued), w1 events dropped since the last read. Needs the caller's IPC buffer.
//   unsubscribe  w0 subscription id → nothing; the Notify handle is closed.
// A subscription id is valid only in requests through a Sender with the badge of the `subscribe`
// (`.badSubscription` otherwise). A driver serves at most InputProtocol.maxSubscriptions (`.tooMany`).
//
// An event (InputEvent.size = 24 bytes, little-endian):
//   0  UInt64 time: the monotonic clock (ns since boot) when the driver decoded it
//   8  UInt8  InputEventKind
//   9  UInt8  key: bit 0 pressed (0: released), bit 1 repeated (a held key's repeat); motion: buttons
//             (bit 0 left, 1 right, 2 middle)
//   10 UInt16 key: the key's USB HID usage (page 7, keyboard/keypad); motion: 0
//   12 UInt16 key: KeyModifiers after this event; motion: 0
//   14 Int16  motion: wheel steps (positive: away from the user); key: 0
//   16 Int32  key: the character under the US layout (a Unicode scalar; 0 for none and on release);
//             motion: dx (positive: right)
//   20 Int32  motion: dy (positive: down, as on a screen); key: 0
// A position event (a tablet: usbd's usb-tablet) has the motion layout with absolute coordinates:
// flags the buttons, wheel the wheel steps, a = x and b = y, each 0...32767 across the device's range.

/// The labels of input requests.
public enum InputLabel: UInt32, CaseIterable, Sendable {
    case info = 1
    case subscribe = 2
    case read = 3
    case unsubscribe = 4

    /// Register words the request needs at least.
    public var minimumWords: Int {
        switch self {
        case .info: return 0
        case .subscribe, .unsubscribe: return 1
        case .read: return 2
        }
    }
}

/// Errors in input replies (the reply's label).
public enum InputError: UInt32, Error, CaseIterable, Sendable {
    /// Unknown label, missing words, or bytes or handles the request does not take.
    case badMessage = 1
    /// An argument out of range (a count of 0 or too many events, a handle that is not a Notify).
    case invalid = 2
    /// The subscription id is unknown or belongs to another badge.
    case badSubscription = 3
    /// The driver serves no more subscriptions.
    case tooMany = 4
    /// The driver is out of memory.
    case noMemory = 5

    public var name: StaticString {
        switch self {
        case .badMessage: return "badMessage"
        case .invalid: return "invalid"
        case .badSubscription: return "badSubscription"
        case .tooMany: return "tooMany"
        case .noMemory: return "noMemory"
        }
    }
}

/// What an input driver serves.
public enum InputDeviceKind: UInt64, Sendable {
    case keyboard = 1
    case mouse = 2
    /// Keyboards and pointers together (usbd: every USB HID device it drives).
    case mixed = 3
}

/// The kind of an event.
public enum InputEventKind: UInt8, Sendable {
    case key = 1
    case motion = 2
    /// An absolute pointer position (a tablet): a = x, b = y in 0...32767, flags the buttons.
    case position = 3
}

/// Modifier keys held down (bits 0-7 in the order of a USB HID boot report) and lock states (8-10).
public struct KeyModifiers: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let leftControl = KeyModifiers(rawValue: 1 << 0)
    public static let leftShift = KeyModifiers(rawValue: 1 << 1)
    public static let leftAlt = KeyModifiers(rawValue: 1 << 2)
    public static let leftMeta = KeyModifiers(rawValue: 1 << 3)
    public static let rightControl = KeyModifiers(rawValue: 1 << 4)
    public static let rightShift = KeyModifiers(rawValue: 1 << 5)
    public static let rightAlt = KeyModifiers(rawValue: 1 << 6)
    public static let rightMeta = KeyModifiers(rawValue: 1 << 7)
    public static let capsLock = KeyModifiers(rawValue: 1 << 8)
    public static let numLock = KeyModifiers(rawValue: 1 << 9)
    public static let scrollLock = KeyModifiers(rawValue: 1 << 10)
    public static let shift: KeyModifiers = [.leftShift, .rightShift]
    public static let control: KeyModifiers = [.leftControl, .rightControl]
}

/// One input event, and its 24-byte wire form.
public struct InputEvent: Equatable, Sendable {
    public static let size = 24
    public var time: UInt64
    public var kind: InputEventKind
    /// Key: bit 0 pressed, bit 1 repeated. Motion: the buttons held.
    public var flags: UInt8
    public var usage: UInt16
    public var modifiers: UInt16
    public var wheel: Int16
    /// Key: the character (Unicode scalar, 0 for none). Motion: dx.
    public var a: Int32
    /// Motion: dy (positive: down).
    public var b: Int32

    public init(time: UInt64, kind: InputEventKind, flags: UInt8 = 0, usage: UInt16 = 0, modifiers: UInt16 = 0,
                wheel: Int16 = 0, a: Int32 = 0, b: Int32 = 0) {
        self.time = time
        self.kind = kind
        self.flags = flags
        self.usage = usage
        self.modifiers = modifiers
        self.wheel = wheel
        self.a = a
        self.b = b
    }

    /// Writes the event's 24 bytes at `at`.
    public func store(to at: UnsafeMutableRawPointer) {
        at.storeBytes(of: time.littleEndian, toByteOffset: 0, as: UInt64.self)
        at.storeBytes(of: kind.rawValue, toByteOffset: 8, as: UInt8.self)
        at.storeBytes(of: flags, toByteOffset: 9, as: UInt8.self)
        at.storeBytes(of: usage.littleEndian, toByteOffset: 10, as: UInt16.self)
        at.storeBytes(of: modifiers.littleEndian, toByteOffset: 12, as: UInt16.self)
        at.storeBytes(of: wheel.littleEndian, toByteOffset: 14, as: Int16.self)
        at.storeBytes(of: a.littleEndian, toByteOffset: 16, as: Int32.self)
        at.storeBytes(of: b.littleEndian, toByteOffset: 20, as: Int32.self)
    }

    /// The event stored at `at`, or nil when its kind is unknown.
    public init?(loading at: UnsafeRawPointer) {
        guard let kind = InputEventKind(rawValue: at.load(fromByteOffset: 8, as: UInt8.self)) else { return nil }
        self.init(time: UInt64(littleEndian: at.loadUnaligned(fromByteOffset: 0, as: UInt64.self)), kind: kind,
                  flags: at.load(fromByteOffset: 9, as: UInt8.self),
                  usage: UInt16(littleEndian: at.loadUnaligned(fromByteOffset: 10, as: UInt16.self)),
                  modifiers: UInt16(littleEndian: at.loadUnaligned(fromByteOffset: 12, as: UInt16.self)),
                  wheel: Int16(littleEndian: at.loadUnaligned(fromByteOffset: 14, as: Int16.self)),
                  a: Int32(littleEndian: at.loadUnaligned(fromByteOffset: 16, as: Int32.self)),
                  b: Int32(littleEndian: at.loadUnaligned(fromByteOffset: 20, as: Int32.self)))
    }

    public var pressed: Bool { flags & 1 != 0 }
    /// A key event that repeats a held key.
    public var repeated: Bool { kind == .key && flags & 2 != 0 }
}

/// The protocol's limits.
public enum InputProtocol {
    /// Events queued per subscription before the oldest are dropped.
    public static let queueLength = 256
    /// Events one `read` returns at most (what fits in the IPC buffer's bytes).
    public static let maxEventsPerRead = 4032 / 24
    /// Subscriptions one driver serves.
    public static let maxSubscriptions = 32
}

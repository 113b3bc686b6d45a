// USB descriptors and HID reports: the device and configuration descriptors (USB 2.0 §9.6), the HID
// class's report descriptor items (HID 1.11 §6.2.2) as far as a pointer needs them (buttons, X, Y,
// wheel; relative or absolute), the boot keyboard report (HID 1.11 appendix B.1) turned into key events
// with the US layout (PS2Keyboard.swift's), and the boot mouse report (B.2). usbd (Sources/Servers/usbd)
// reads descriptors and reports from its devices through these; every parser takes bytes a device sent
// and returns nil (or skips) on what does not fit, never traps. Pure logic, host-tested
// (Tests/FormatsTests/USBTests.swift).

#if !USERSPACE
import ABI
#endif

/// The fields of a device descriptor usbd uses.
public struct USBDeviceDescriptor: Equatable, Sendable {
    public var usbVersion: UInt16
    public var deviceClass: UInt8
    public var maxPacketSize0: UInt8
    public var vendor: UInt16
    public var product: UInt16
    public var configurations: UInt8

    /// Parses the first 18 bytes (nil when too short or not a device descriptor).
    public init?(_ b: [UInt8]) {
        guard b.count >= 18, b[0] >= 18, b[1] == 1 else { return nil }
        usbVersion = UInt16(b[2]) | UInt16(b[3]) << 8
        deviceClass = b[4]
        maxPacketSize0 = b[7]
        vendor = UInt16(b[8]) | UInt16(b[9]) << 8
        product = UInt16(b[10]) | UInt16(b[11]) << 8
        configurations = b[17]
    }
}

public struct USBEndpointDescriptor: Equatable, Sendable {
    /// bEndpointAddress: number in bits 0-3, bit 7 IN.
    public var address: UInt8
    /// bmAttributes bits 0-1: 0 control, 1 isochronous, 2 bulk, 3 interrupt.
    public var attributes: UInt8
    public var maxPacketSize: UInt16
    public var interval: UInt8

    public init(address: UInt8, attributes: UInt8, maxPacketSize: UInt16, interval: UInt8) {
        self.address = address
        self.attributes = attributes
        self.maxPacketSize = maxPacketSize
        self.interval = interval
    }

    public var isInterruptIn: Bool { attributes & 3 == 3 && address & 0x80 != 0 }
    public var number: UInt8 { address & 0x0f }
}

public struct USBInterfaceDescriptor: Equatable, Sendable {
    public var number: UInt8
    public var alternate: UInt8
    public var interfaceClass: UInt8
    public var subclass: UInt8
    public var protocolCode: UInt8
    /// From the HID descriptor that follows a HID interface: the report descriptor's length (0: none).
    public var reportDescriptorLength: UInt16 = 0
    public var endpoints: [USBEndpointDescriptor] = []

    public var isHID: Bool { interfaceClass == 3 }
    /// Boot interface subclass, keyboard protocol.
    public var isBootKeyboard: Bool { isHID && subclass == 1 && protocolCode == 1 }
    /// Boot interface subclass, mouse protocol.
    public var isBootMouse: Bool { isHID && subclass == 1 && protocolCode == 2 }
}

/// A configuration descriptor with the interface, HID and endpoint descriptors after it.
public struct USBConfiguration: Equatable, Sendable {
    public var value: UInt8
    public var totalLength: UInt16
    public var interfaces: [USBInterfaceDescriptor] = []

    /// The total length from the first 9 bytes (to ask for the whole set), nil when they are not a
    /// configuration descriptor.
    public static func totalLength(_ b: [UInt8]) -> UInt16? {
        guard b.count >= 9, b[0] >= 9, b[1] == 2 else { return nil }
        return UInt16(b[2]) | UInt16(b[3]) << 8
    }

    /// Parses the configuration and what follows; descriptors of other types are skipped. Nil when a
    /// descriptor's length is 0 or runs past the bytes, or the first is not a configuration.
    public init?(_ b: [UInt8]) {
        guard let total = USBConfiguration.totalLength(b) else { return nil }
        value = b[5]
        totalLength = total
        var at = 0
        let end = min(b.count, Int(total))
        while at + 2 <= end {
            let length = Int(b[at])
            guard length >= 2, at + length <= end else { return nil }
            let d = b[at..<(at + length)]
            let base = d.startIndex
            switch b[at + 1] {
            case 4 where length >= 9:
                interfaces.append(USBInterfaceDescriptor(number: d[base + 2], alternate: d[base + 3], interfaceClass: d[base + 5],
                                                         subclass: d[base + 6], protocolCode: d[base + 7]))
            case 0x21 where length >= 9 && !interfaces.isEmpty:
                // bNumDescriptors, then (type, length) pairs: the report descriptor is type 0x22.
                var k = 6
                while k + 3 <= length {
                    if d[base + k] == 0x22 {
                        interfaces[interfaces.count - 1].reportDescriptorLength = UInt16(d[base + k + 1]) | UInt16(d[base + k + 2]) << 8
                        break
                    }
                    k += 3
                }
            case 5 where length >= 7 && !interfaces.isEmpty:
                interfaces[interfaces.count - 1].endpoints.append(USBEndpointDescriptor(
                    address: d[base + 2], attributes: d[base + 3], maxPacketSize: (UInt16(d[base + 4]) | UInt16(d[base + 5]) << 8) & 0x7ff,
                    interval: d[base + 6]))
            default: break
            }
            at += length
        }
    }
}

/// Where one value sits in an input report.
public struct HIDField: Equatable, Sendable {
    public var bitOffset: Int
    public var bitSize: Int
    public var logicalMinimum: Int32
    public var logicalMaximum: Int32
    public var relative: Bool

    public init(bitOffset: Int, bitSize: Int, logicalMinimum: Int32, logicalMaximum: Int32, relative: Bool) {
        self.bitOffset = bitOffset
        self.bitSize = bitSize
        self.logicalMinimum = logicalMinimum
        self.logicalMaximum = logicalMaximum
        self.relative = relative
    }

    /// The field's value in `report` (sign-extended when the logical minimum is negative); nil when
    /// the report is too short.
    public func value(in report: [UInt8]) -> Int32? {
        guard bitSize > 0, bitSize <= 32, (bitOffset + bitSize + 7) / 8 <= report.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<bitSize {
            let bit = bitOffset + i
            if report[bit / 8] >> UInt8(bit % 8) & 1 != 0 { v |= 1 << UInt64(i) }
        }
        if logicalMinimum < 0 && bitSize < 64 && v & (1 << UInt64(bitSize - 1)) != 0 { v |= ~0 << UInt64(bitSize) }
        return Int32(truncatingIfNeeded: Int64(bitPattern: v))
    }
}

/// A pointer's input report as its report descriptor declares it: the report ID (0: none), the buttons
/// (button 1 at bit `buttons.bitOffset`), X, Y and the wheel.
public struct HIDPointerLayout: Equatable, Sendable {
    public var reportID: UInt8 = 0
    public var buttons: HIDField? = nil
    public var buttonCount = 0
    public var x: HIDField? = nil
    public var y: HIDField? = nil
    public var wheel: HIDField? = nil

    public init() {}

    /// The boot mouse report (HID 1.11 B.2): buttons in byte 0, X, Y (and the wheel, which QEMU's and
    /// most mice add) as signed bytes.
    public static let bootMouse: HIDPointerLayout = {
        var l = HIDPointerLayout()
        l.buttons = HIDField(bitOffset: 0, bitSize: 1, logicalMinimum: 0, logicalMaximum: 1, relative: false)
        l.buttonCount = 3
        l.x = HIDField(bitOffset: 8, bitSize: 8, logicalMinimum: -127, logicalMaximum: 127, relative: true)
        l.y = HIDField(bitOffset: 16, bitSize: 8, logicalMinimum: -127, logicalMaximum: 127, relative: true)
        l.wheel = HIDField(bitOffset: 24, bitSize: 8, logicalMinimum: -127, logicalMaximum: 127, relative: true)
        return l
    }()

    /// Whether X and Y are absolute positions (a tablet) rather than motion.
    public var absolute: Bool { !(x?.relative ?? true) }

    /// Parses a report descriptor's items (short items; long items are skipped) for the first input
    /// report that has X and Y on the Generic Desktop page; nil when none does.
    public static func parse(_ d: [UInt8]) -> HIDPointerLayout? {
        var state = ParseState()
        var at = 0
        while at < d.count {
            let prefix = d[at]
            if prefix == 0xfe {                                   // a long item: size in the next byte
                guard at + 1 < d.count else { break }
                at += 3 + Int(d[at + 1])
                continue
            }
            let size = [0, 1, 2, 4][Int(prefix & 3)]
            guard at + 1 + size <= d.count else { break }
            var data: UInt32 = 0
            for i in 0..<size { data |= UInt32(d[at + 1 + i]) << UInt32(8 * i) }
            let signed: Int32 = size == 1 ? Int32(Int8(truncatingIfNeeded: data)) : size == 2 ? Int32(Int16(truncatingIfNeeded: data)) : Int32(bitPattern: data)
            state.item(tag: prefix & 0xfc, data: data, signed: signed)
            at += 1 + size
        }
        state.finishReport()
        return state.found
    }

    /// Descriptor parsing state: the global and local items (HID 1.11 §6.2.2.7-8), the bit offset of
    /// each report ID seen, and the layout of the first report with X and Y.
    struct ParseState {
        var usagePage: UInt32 = 0
        var logicalMinimum: Int32 = 0
        var logicalMaximum: Int32 = 0
        var logicalMaximumUnsigned: UInt32 = 0
        var reportSize = 0
        var reportCount = 0
        var reportID: UInt8 = 0
        var usages: [UInt32] = []
        var usageMinimum: UInt32? = nil
        var usageMaximum: UInt32? = nil
        /// (report ID, next bit offset) for each report seen.
        var offsets: [(UInt8, Int)] = []
        var current = HIDPointerLayout()
        var found: HIDPointerLayout? = nil

        mutating func item(tag: UInt8, data: UInt32, signed: Int32) {
            switch tag {
            case 0x04: usagePage = data                                  // Usage Page
            case 0x14: logicalMinimum = signed                           // Logical Minimum
            case 0x24: logicalMaximum = signed; logicalMaximumUnsigned = data
            case 0x74: reportSize = Int(min(data, 32))                   // Report Size
            case 0x94: reportCount = Int(min(data, 256))                 // Report Count
            case 0x84:                                                   // Report ID
                finishReport()
                reportID = UInt8(truncatingIfNeeded: data)
            case 0x08: usages.append(data > 0xffff ? data : usagePage << 16 | data)   // Usage
            case 0x18: usageMinimum = data > 0xffff ? data : usagePage << 16 | data
            case 0x28: usageMaximum = data > 0xffff ? data : usagePage << 16 | data
            case 0x80: input(flags: data); clearLocals()                 // Input
            case 0x90, 0xb0, 0xa0, 0xc0: clearLocals()                   // Output, Feature, Collection, End
            default: break
            }
        }

        mutating func clearLocals() {
            usages = []
            usageMinimum = nil
            usageMaximum = nil
        }

        func usage(_ i: Int) -> UInt32? {
            if i < usages.count { return usages[i] }
            if let lo = usageMinimum, let hi = usageMaximum, lo + UInt32(i) <= hi { return lo + UInt32(i) }
            return usages.last
        }

        mutating func input(flags: UInt32) {
            if !offsets.contains(where: { $0.0 == reportID }) { offsets.append((reportID, reportID == 0 ? 0 : 8)) }
            let slot = offsets.firstIndex { $0.0 == reportID }!
            var bit = offsets[slot].1
            defer { offsets[slot].1 = bit }
            let empty = current.x == nil && current.y == nil && current.buttons == nil && current.wheel == nil
            guard found == nil, empty || current.reportID == reportID else {
                bit += reportSize * reportCount
                return
            }
            let constant = flags & 1 != 0, variable = flags & 2 != 0, relative = flags & 4 != 0
            // A negative-looking maximum with a non-negative minimum is an unsigned value (0x7fff in one byte pair is fine; 0xff in one is not).
            let maximum = logicalMinimum >= 0 && logicalMaximum < 0 ? Int32(truncatingIfNeeded: logicalMaximumUnsigned) : logicalMaximum
            for i in 0..<reportCount {
                defer { bit += reportSize }
                guard !constant, variable, let u = usage(i) else { continue }
                let f = HIDField(bitOffset: bit, bitSize: reportSize, logicalMinimum: logicalMinimum, logicalMaximum: maximum, relative: relative)
                switch u {
                case 0x0001_0030: current.x = f
                case 0x0001_0031: current.y = f
                case 0x0001_0038: current.wheel = f
                case 0x0009_0001...0x0009_0010:
                    if current.buttons == nil || u == 0x0009_0001 { current.buttons = f }
                    current.buttonCount = max(current.buttonCount, Int(u & 0xff))
                default: continue
                }
                current.reportID = reportID
            }
        }

        mutating func finishReport() {
            if current.x != nil && current.y != nil && found == nil { found = current }
            current = HIDPointerLayout()
        }
    }
}

/// One decoded pointer report.
public struct HIDPointerReport: Equatable, Sendable {
    public var buttons: UInt8
    public var x: Int32
    public var y: Int32
    public var wheel: Int16

    public init(buttons: UInt8, x: Int32, y: Int32, wheel: Int16) {
        self.buttons = buttons
        self.x = x
        self.y = y
        self.wheel = wheel
    }
}

extension HIDPointerLayout {
    /// The report's buttons (bit 0 button 1 …, at most 8), X, Y and wheel; nil when the report is for
    /// another report ID or too short. Absolute X and Y are scaled to 0...32767.
    public func decode(_ report: [UInt8]) -> HIDPointerReport? {
        // With a report ID the offsets count its byte, which leads the report.
        let r = report
        if reportID != 0 {
            guard let first = r.first, first == reportID else { return nil }
        }
        guard let xf = x, let yf = y, var xv = xf.value(in: r), var yv = yf.value(in: r) else { return nil }
        var buttons: UInt8 = 0
        if let b = self.buttons {
            for i in 0..<min(buttonCount, 8) {
                let f = HIDField(bitOffset: b.bitOffset + i * b.bitSize, bitSize: b.bitSize, logicalMinimum: 0, logicalMaximum: 1, relative: false)
                if let v = f.value(in: r), v != 0 { buttons |= 1 << UInt8(i) }
            }
        }
        if !xf.relative { xv = HIDPointerLayout.scale(xv, xf) }
        if !yf.relative { yv = HIDPointerLayout.scale(yv, yf) }
        let w = wheel.flatMap { $0.value(in: r) } ?? 0
        return HIDPointerReport(buttons: buttons, x: xv, y: yv, wheel: Int16(clamping: w))
    }

    /// An absolute value mapped from its logical range onto 0...32767.
    static func scale(_ v: Int32, _ f: HIDField) -> Int32 {
        let lo = Int64(f.logicalMinimum), hi = Int64(f.logicalMaximum)
        guard hi > lo else { return 0 }
        let c = min(max(Int64(v), lo), hi)
        return Int32((c - lo) * 32767 / (hi - lo))
    }
}

/// The boot keyboard report (8 bytes: modifiers, reserved, six key usages) → key events: each report
/// is compared with the one before. Modifier presses come first, then released keys, pressed keys and
/// modifier releases, so a character is made with the modifiers held in the same report.
public struct BootKeyboardDecoder: Sendable {
    private var state = KeyboardState()
    /// The modifiers and locks after the last report.
    public var modifiers: KeyModifiers { state.modifiers }
    var keys: [UInt8] = []

    public init() {}

    public mutating func feed(_ report: [UInt8]) -> [KeyEvent] {
        guard report.count >= 3 else { return [] }
        let newKeys = report.dropFirst(2).prefix(6).filter { $0 != 0 }
        // ErrorRollOver (usage 1) in every slot: too many keys; the state is unknown, keep the old one.
        if newKeys.contains(where: { $0 >= 1 && $0 <= 3 }) { return [] }
        var events: [KeyEvent] = []
        let old = UInt8(truncatingIfNeeded: modifiers.rawValue), now = report[0]
        for bit in 0..<8 where now & (1 << bit) != 0 && old & (1 << bit) == 0 {
            events.append(state.key(HIDUsage.leftControl + UInt16(bit), pressed: true))
        }
        for k in keys where !newKeys.contains(k) { events.append(state.key(UInt16(k), pressed: false)) }
        for k in newKeys where !keys.contains(k) { events.append(state.key(UInt16(k), pressed: true)) }
        for bit in 0..<8 where now & (1 << bit) == 0 && old & (1 << bit) != 0 {
            events.append(state.key(HIDUsage.leftControl + UInt16(bit), pressed: false))
        }
        keys = Array(newKeys)
        return events
    }
}

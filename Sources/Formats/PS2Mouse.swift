// PS/2 mouse packets → relative motion and buttons. moused (Sources/Servers/moused) feeds it every byte
// the mouse sends once reporting is on: 3-byte packets, or 4 with the IntelliMouse wheel (device id 3).
// Pure logic, host-tested (Tests/FormatsTests/InputDecoderTests.swift).

/// One packet: motion (dx right, dy down as on a screen; PS/2 itself counts y upwards), wheel steps
/// (positive: away from the user) and the buttons held (bit 0 left, 1 right, 2 middle).
public struct MouseMotion: Equatable, Sendable {
    public var dx: Int32
    public var dy: Int32
    public var wheel: Int16
    public var buttons: UInt8

    public init(dx: Int32, dy: Int32, wheel: Int16, buttons: UInt8) {
        self.dx = dx
        self.dy = dy
        self.wheel = wheel
        self.buttons = buttons
    }
}

/// Assembles packets from bytes. A first byte without bit 3 (always set in a packet's first byte) is
/// out of step and dropped, so the decoder finds the packet boundary again after a lost byte.
public struct PS2MouseDecoder {
    /// 3, or 4 when the mouse reports a wheel.
    public let packetSize: Int
    private var bytes: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var count = 0
    /// First bytes dropped to find the packet boundary.
    public private(set) var resyncs = 0

    public init(wheel: Bool = false) { packetSize = wheel ? 4 : 3 }

    /// The motion this byte completes, if any.
    public mutating func feed(_ byte: UInt8) -> MouseMotion? {
        switch count {
        case 0:
            guard byte & 0x08 != 0 else {
                resyncs += 1
                return nil
            }
            bytes.0 = byte
        case 1: bytes.1 = byte
        case 2: bytes.2 = byte
        default: bytes.3 = byte
        }
        count += 1
        guard count == packetSize else { return nil }
        count = 0
        return PS2MouseDecoder.decode(bytes, wheel: packetSize == 4)
    }

    /// A whole packet's meaning: 9-bit two's-complement motion (the sign in the first byte; an overflow
    /// bit keeps the 9-bit value), the wheel's low 4 bits as a signed count.
    public static func decode(_ p: (UInt8, UInt8, UInt8, UInt8), wheel: Bool) -> MouseMotion {
        let dx = Int32(p.1) - (p.0 & 0x10 != 0 ? 256 : 0)
        let dy = Int32(p.2) - (p.0 & 0x20 != 0 ? 256 : 0)
        var z: Int16 = 0
        if wheel {
            let low = Int16(p.3 & 0x0f)
            z = low >= 8 ? low - 16 : low
        }
        // PS/2 counts wheel steps towards the user as positive.
        return MouseMotion(dx: dx, dy: -dy, wheel: -z, buttons: p.0 & 0x07)
    }
}

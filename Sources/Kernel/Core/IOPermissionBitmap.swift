// The I/O ports one process may use in user mode, as the TSS's I/O permission bitmap wants them: one bit
// per port (0 allows, 1 faults), 8 KiB for the 64 Ki ports, then a terminating byte of ones (the CPU may
// read the byte after a port's bit for a multi-byte access; Intel SDM vol. 1, 19.5.2).
//
// Each handle to an IOPort object in the process's table grants its ports (`grant`); closing the handle
// takes them back (`revoke`), keeping any port another of its handles still grants. Pure logic,
// host-tested (IOPermissionBitmapTests); the kernel copies `bytes` into the TSS (Arch/IOBitmap.swift).

/// The grants of one process and the bitmap they make.
public struct IOPermissionBitmap: Sendable {
    /// Bytes of the bitmap proper (65,536 ports / 8), without the terminating byte.
    public static let portBytes = 8192
    /// Bytes the TSS needs: the bitmap and the terminating 0xFF byte.
    public static let tssBytes = portBytes + 1

    /// The granted ranges, one entry per granting handle (duplicates count twice).
    public private(set) var grants: [(base: UInt16, count: UInt32)] = []
    /// The bitmap with its terminating byte; empty while nothing is granted (nothing allowed).
    public private(set) var bytes: [UInt8] = []
    /// Grows on every change, so a copy of the bitmap (the TSS's) can tell it is stale.
    public private(set) var version: UInt64 = 0

    public init() {}

    /// True when some port is granted.
    public var allowsAny: Bool { !grants.isEmpty }

    /// Whether `port` may be used.
    public func allows(_ port: UInt16) -> Bool {
        guard !bytes.isEmpty else { return false }
        return bytes[Int(port) / 8] & (1 << (port % 8)) == 0
    }

    /// Allows ports base ..< base + count (count ≥ 1, base + count ≤ 0x10000; the caller checked).
    public mutating func grant(base: UInt16, count: UInt32) {
        if bytes.isEmpty { bytes = [UInt8](repeating: 0xff, count: IOPermissionBitmap.tssBytes) }
        grants.append((base, count))
        set(base: base, count: count, allowed: true)
        version &+= 1
    }

    /// Takes back one grant of exactly that range; the ports another grant covers stay allowed.
    public mutating func revoke(base: UInt16, count: UInt32) {
        guard let i = grants.firstIndex(where: { $0.base == base && $0.count == count }) else { return }
        grants.remove(at: i)
        version &+= 1
        if grants.isEmpty {
            bytes = []
            return
        }
        set(base: base, count: count, allowed: false)
        let end = UInt32(base) + count
        for g in grants where UInt32(g.base) < end && UInt32(base) < UInt32(g.base) + g.count {
            set(base: g.base, count: g.count, allowed: true)
        }
    }

    private mutating func set(base: UInt16, count: UInt32, allowed: Bool) {
        var port = UInt32(base)
        let end = min(UInt32(base) + count, 0x1_0000)
        while port < end {
            if port % 8 == 0 && end - port >= 8 {
                bytes[Int(port / 8)] = allowed ? 0 : 0xff
                port += 8
                continue
            }
            let bit = UInt8(1) << UInt8(port % 8)
            if allowed { bytes[Int(port / 8)] &= ~bit } else { bytes[Int(port / 8)] |= bit }
            port += 1
        }
    }
}

// How pcid reads and writes PCI configuration space: PCI Express ECAM (the MCFG window, system_info
// ecamAddress/ecamBuses, mapped uncached one bus at a time as it is first touched) or, on a machine
// without MCFG (QEMU's pc), the legacy mechanism #1 through ports 0xCF8 (address) and 0xCFC (data).

/// One function's place on the bus.
struct PCIAddress: Equatable {
    let bus: UInt8, device: UInt8, function: UInt8
}

final class ConfigSpace {
    let access: PCIAccess
    /// ECAM: physical base (bus 0) and the buses it covers.
    let ecamBase: UInt64
    let firstBus: UInt8, lastBus: UInt8
    /// ECAM: each bus's 1 MiB window once mapped (virtual address, 0 before).
    var busWindows = [UInt64](repeating: 0, count: 256)
    let resources: Resources
    /// Ports: the IOPort over 0xCF8-0xCFF (held while pcid runs).
    var ports: Handle = .invalid

    /// The bytes of configuration space one function has.
    var functionSize: UInt64 { access == .ecam ? 4096 : 256 }

    init(resources: Resources) throws(SysError) {
        self.resources = resources
        let base = (try? systemInfo(.ecamAddress)) ?? 0
        let buses = (try? systemInfo(.ecamBuses)) ?? 0
        if base != 0 {
            access = .ecam
            ecamBase = base
            firstBus = UInt8(truncatingIfNeeded: buses)
            lastBus = UInt8(truncatingIfNeeded: buses >> 8)
        } else {
            access = .ports
            ecamBase = 0
            firstBus = 0
            lastBus = 255
            ports = try resources.make { r throws(SysError) in try ioportCreate(r, base: 0xcf8, count: 8) }
        }
    }

    /// Whether `bus` can be reached at all.
    func reaches(_ bus: UInt8) -> Bool { bus >= firstBus && bus <= lastBus }

    /// The virtual address of a function's configuration space (ECAM), mapping its bus on first use.
    func ecamAddress(_ a: PCIAddress) -> UInt64? {
        guard reaches(a.bus) else { return nil }
        if busWindows[Int(a.bus)] == 0 {
            let size: UInt64 = 1 << 20
            let address = ecamBase + UInt64(a.bus) << 20
            guard let frame = try? resources.make({ r throws(SysError) in try frameCreatePhysical(r, address: address, size: size) })
            else { return nil }
            defer { _ = try? handleClose(frame) }
            guard let at = MappingSpace.take(pages: size / pageSize) else { return nil }
            guard (try? vmemMap(Runtime.vmem, frame: frame, address: at, length: size, flags: [.read, .write],
                                cache: .uncacheable)) != nil else { return nil }
            busWindows[Int(a.bus)] = at
        }
        return busWindows[Int(a.bus)] + UInt64(a.device) << 15 + UInt64(a.function) << 12
    }

    /// The mechanism #1 address word for a dword of a function.
    func portAddress(_ a: PCIAddress, _ offset: UInt16) -> UInt32 {
        0x8000_0000 | UInt32(a.bus) << 16 | UInt32(a.device) << 11 | UInt32(a.function) << 8 | UInt32(offset & 0xfc)
    }

    /// Reads `width` (1, 2 or 4) bytes at `offset` (a multiple of width, inside functionSize).
    func read(_ a: PCIAddress, _ offset: UInt16, width: Int = 4) -> UInt32 {
        if access == .ecam {
            guard let base = ecamAddress(a) else { return 0xffff_ffff }
            switch width {
            case 1: return UInt32(mmio_read8(base + UInt64(offset)))
            case 2: return UInt32(mmio_read16(base + UInt64(offset)))
            default: return mmio_read32(base + UInt64(offset))
            }
        }
        port_out32(0xcf8, portAddress(a, offset))
        let port = UInt16(0xcfc) + (offset & 3)
        switch width {
        case 1: return UInt32(port_in8(port))
        case 2: return UInt32(port_in16(port))
        default: return port_in32(0xcfc)
        }
    }

    /// Writes `width` bytes at `offset`.
    func write(_ a: PCIAddress, _ offset: UInt16, width: Int = 4, _ value: UInt32) {
        if access == .ecam {
            guard let base = ecamAddress(a) else { return }
            switch width {
            case 1: mmio_write8(base + UInt64(offset), UInt8(truncatingIfNeeded: value))
            case 2: mmio_write16(base + UInt64(offset), UInt16(truncatingIfNeeded: value))
            default: mmio_write32(base + UInt64(offset), value)
            }
            return
        }
        port_out32(0xcf8, portAddress(a, offset))
        let port = UInt16(0xcfc) + (offset & 3)
        switch width {
        case 1: port_out8(port, UInt8(truncatingIfNeeded: value))
        case 2: port_out16(port, UInt16(truncatingIfNeeded: value))
        default: port_out32(0xcfc, value)
        }
    }
}

// pcid's device capabilities: narrowed Resources that root makes from initfs:///etc/devices.conf
// (`grant:NAME`): the configuration ports and PCI I/O space, the interrupt lines PCI devices use, the
// physical ranges where BARs and ECAM live, and the DMA right. Each object pcid creates (an ECAM window,
// a BAR's Frame or IOPort, an IRQ, a DMA Frame) comes from the first of them that covers it. pcid never
// holds the machine's Resource (it takes `grant:resource` too when someone starts it with one).

struct Resources {
    /// The grants pcid looks for, in devices.conf's order.
    static let names = ["ports", "irq5", "irq9", "irq16", "mmio32", "mmio64", "dma", "resource"]
    let handles: [Handle]

    init(_ startup: Startup) {
        handles = Resources.names.compactMap { startup.granted($0) }
    }

    /// The object `make` creates from the first Resource that covers it; `.outOfRange` when none does.
    func make(_ create: (Handle) throws(SysError) -> Handle) throws(SysError) -> Handle {
        for h in handles {
            do throws(SysError) { return try create(h) } catch {
                guard error == .outOfRange else { throw error }
            }
        }
        throw .outOfRange
    }
}

/// `bb:dd.f`.
func location(_ f: PCIFunction) -> String {
    func two(_ v: UInt8) -> String { (v < 16 ? "0" : "") + hex(UInt64(v)) }
    return two(f.address.bus) + ":" + two(f.address.device) + "." + hex(UInt64(f.address.function))
}

/// Lower-case hex without 0x.
func hex(_ v: UInt64) -> String { String(v, radix: 16) }

// The virtio 1.x PCI transport and one split virtqueue (OASIS virtio 1.2: §4.1.4 the capabilities,
// §4.1.4.3 the common configuration, §3.1.1 device initialization, §2.7 split virtqueues).
//
// The device's vendor-specific PCI capabilities (ID 0x09) name where each structure is: cfg_type
// (1 common, 2 notify, 3 ISR, 4 device), the BAR and the offset in it; the notify capability adds the
// multiplier for queue_notify_off. The driver maps each BAR it needs uncached from the Frames pcid gave
// it (`grant:barN`) and reads its own configuration space through pcid (`configRead`).
//
// DMA memory is one physically contiguous Frame (frame_create_contiguous): the descriptor table, the
// available ring, the used ring, the request headers and status bytes, and a bounce buffer that data
// passes through on its way to and from the clients' windows.

enum VirtioStatus {
    static let acknowledge: UInt8 = 1, driver: UInt8 = 2, driverOK: UInt8 = 4, featuresOK: UInt8 = 8
    static let needsReset: UInt8 = 64, failed: UInt8 = 128
}

enum VirtioFeature {
    static let blkSizeMax: UInt64 = 1 << 1
    static let blkSegMax: UInt64 = 1 << 2
    static let blkReadOnly: UInt64 = 1 << 5
    static let blkBlockSize: UInt64 = 1 << 6
    static let blkFlush: UInt64 = 1 << 9
    static let version1: UInt64 = 1 << 32
}

/// Offsets in the common configuration structure (§4.1.4.3).
enum Common {
    static let deviceFeatureSelect: UInt64 = 0, deviceFeature: UInt64 = 4
    static let driverFeatureSelect: UInt64 = 8, driverFeature: UInt64 = 12
    static let numQueues: UInt64 = 18, deviceStatus: UInt64 = 20
    static let queueSelect: UInt64 = 22, queueSize: UInt64 = 24, queueEnable: UInt64 = 28, queueNotifyOff: UInt64 = 30
    static let queueDesc: UInt64 = 32, queueDriver: UInt64 = 40, queueDevice: UInt64 = 48
}

enum VirtioError: Error {
    case missing(StaticString)
    case system(SysError)
    case refused(StaticString)
}

/// The device's structures, mapped.
struct VirtioTransport {
    var common: UInt64 = 0
    var notifyBase: UInt64 = 0
    var notifyMultiplier: UInt32 = 0
    var isr: UInt64 = 0
    var device: UInt64 = 0
}

final class Virtio {
    let pci: Handle
    let index: UInt64
    var transport = VirtioTransport()
    /// BAR n's mapping (virtual address of the BAR's first byte), 0 when not mapped.
    var bars = [UInt64](repeating: 0, count: 6)
    let barFrames: [Handle?]
    /// This thread's IPC buffer (handles that arrive with pcid's answers).
    let page: IPCBufferPage

    init(pci: Handle, index: UInt64, barFrames: [Handle?], page: IPCBufferPage) {
        self.page = page
        self.pci = pci
        self.index = index
        self.barFrames = barFrames
    }

    func configRead(_ offset: UInt64, _ width: UInt64) throws(VirtioError) -> UInt32 {
        let r: IPCMessage
        do throws(SysError) {
            r = try senderCall(pci, IPCMessage(label: PCILabel.configRead.rawValue, index, offset, width))
        } catch { throw .system(error) }
        guard r.tag.label == 0 else { throw .refused("pcid refused a configuration read") }
        return UInt32(truncatingIfNeeded: r.words.0)
    }

    /// A contiguous DMA Frame of `size` bytes from pcid.
    func dmaFrame(_ size: UInt64) throws(SysError) -> Handle {
        let r = try senderCall(pci, IPCMessage(label: PCILabel.dma.rawValue, size))
        guard r.tag.label == 0, r.tag.handles == 1 else { throw .outOfMemory }
        return page.handle(0)
    }

    /// Maps BAR `n` uncached (once); the address of its first byte.
    func bar(_ n: Int) throws(VirtioError) -> UInt64 {
        guard n < 6, let frame = barFrames[n] else { throw .missing("a BAR named by a capability") }
        if bars[n] != 0 { return bars[n] }
        do throws(SysError) {
            let r = try senderCall(pci, IPCMessage(label: PCILabel.bar.rawValue, index, UInt64(n)))
            guard r.tag.label == 0 else { throw .badState }
            let size = try frameGetSize(frame)
            guard let at = MappingSpace.take(pages: size / pageSize) else { throw .outOfVirtualMemory }
            try vmemMap(Runtime.vmem, frame: frame, address: at, length: size, flags: [.read, .write], cache: .uncacheable)
            bars[n] = at + r.words.0 % pageSize
        } catch { throw .system(error) }
        return bars[n]
    }

    /// Finds the common, notify, ISR and device structures (§4.1.4); the first of each type counts.
    func findStructures() throws(VirtioError) {
        guard try configRead(6, 2) & 0x10 != 0 else { throw .missing("a capability list") }
        var at = UInt64(try configRead(0x34, 1) & 0xfc)
        var steps = 0
        while at >= 0x40 && steps < 48 {
            let id = try configRead(at, 1)
            if id == UInt32(PCIProtocol.capabilityVendor) {
                let type = try configRead(at + 3, 1)
                let barNumber = Int(try configRead(at + 4, 1))
                let offset = UInt64(try configRead(at + 8, 4))
                switch type {
                case 1 where transport.common == 0: transport.common = try bar(barNumber) + offset
                case 2 where transport.notifyBase == 0:
                    transport.notifyBase = try bar(barNumber) + offset
                    transport.notifyMultiplier = try configRead(at + 16, 4)
                case 3 where transport.isr == 0: transport.isr = try bar(barNumber) + offset
                case 4 where transport.device == 0: transport.device = try bar(barNumber) + offset
                default: break
                }
            }
            at = UInt64(try configRead(at + 1, 1) & 0xfc)
            steps += 1
        }
        guard transport.common != 0 else { throw .missing("the common configuration capability") }
        guard transport.notifyBase != 0 else { throw .missing("the notify capability") }
        guard transport.isr != 0 else { throw .missing("the ISR capability") }
        guard transport.device != 0 else { throw .missing("the device configuration capability") }
    }

    var status: UInt8 {
        get { mmio_read8(transport.common + Common.deviceStatus) }
        set { mmio_write8(transport.common + Common.deviceStatus, newValue) }
    }

    /// Resets the device and negotiates: VERSION_1 is required; of `wanted`, what the device offers.
    func negotiate(wanted: UInt64) throws(VirtioError) -> UInt64 {
        status = 0
        var spins = 0
        while status != 0 && spins < 1_000_000 { spins += 1; cpu_pause() }
        status = VirtioStatus.acknowledge
        status = VirtioStatus.acknowledge | VirtioStatus.driver
        let c = transport.common
        mmio_write32(c + Common.deviceFeatureSelect, 0)
        var offered = UInt64(mmio_read32(c + Common.deviceFeature))
        mmio_write32(c + Common.deviceFeatureSelect, 1)
        offered |= UInt64(mmio_read32(c + Common.deviceFeature)) << 32
        guard offered & VirtioFeature.version1 != 0 else {
            status = VirtioStatus.failed
            throw .refused("the device does not offer VIRTIO_F_VERSION_1 (a legacy-only device)")
        }
        let accepted = offered & (wanted | VirtioFeature.version1)
        mmio_write32(c + Common.driverFeatureSelect, 0)
        mmio_write32(c + Common.driverFeature, UInt32(truncatingIfNeeded: accepted))
        mmio_write32(c + Common.driverFeatureSelect, 1)
        mmio_write32(c + Common.driverFeature, UInt32(truncatingIfNeeded: accepted >> 32))
        status = VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK
        guard status & VirtioStatus.featuresOK != 0 else {
            status = VirtioStatus.failed
            throw .refused("the device did not accept the features (FEATURES_OK cleared)")
        }
        return accepted
    }

    /// Sets up queue `q` with `size` entries (at most what the device offers) at the given physical
    /// addresses; returns its notify address.
    func setUpQueue(_ q: UInt16, size: UInt16, desc: UInt64, driver: UInt64, device: UInt64) -> UInt64 {
        let c = transport.common
        mmio_write16(c + Common.queueSelect, q)
        mmio_write16(c + Common.queueSize, size)
        write64(c + Common.queueDesc, desc)
        write64(c + Common.queueDriver, driver)
        write64(c + Common.queueDevice, device)
        let off = UInt64(mmio_read16(c + Common.queueNotifyOff))
        mmio_write16(c + Common.queueEnable, 1)
        return transport.notifyBase + off * UInt64(transport.notifyMultiplier)
    }

    /// The size queue `q` offers (0: no such queue).
    func queueSize(_ q: UInt16) -> UInt16 {
        mmio_write16(transport.common + Common.queueSelect, q)
        return mmio_read16(transport.common + Common.queueSize)
    }

    /// A 64-bit field as two 32-bit writes, low half first (§4.1.3.1).
    func write64(_ at: UInt64, _ v: UInt64) {
        mmio_write32(at, UInt32(truncatingIfNeeded: v))
        mmio_write32(at + 4, UInt32(truncatingIfNeeded: v >> 32))
    }

    func driverOK() { status = VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK | VirtioStatus.driverOK }

    /// Reads (and so clears) the ISR status: bit 0 a used-ring update, bit 1 a configuration change.
    func readISR() -> UInt8 { mmio_read8(transport.isr) }
}

// The virtio-blk device (virtio 1.2 §5.2) on one split virtqueue: requests are chains of three
// descriptors (the 16-byte header: type, reserved, sector; the data; the status byte the device
// writes). A transfer of up to `bounceBytes` is cut into chains of `chunkBytes`, all put on the
// available ring at once (several requests in flight), then the driver sleeps on its IRQ's Notify until
// the used ring has them all. Each wake reads the ISR (which lowers the level-triggered INTx line) and
// acknowledges the IRQ (which unmasks it). A wait that times out looks at the used ring anyway (and
// counts a poll), so a lost interrupt slows the driver down instead of hanging it; 10 s without progress
// fail the transfer with `.io`.

enum BlkRequest {
    static let typeIn: UInt32 = 0, typeOut: UInt32 = 1, typeFlush: UInt32 = 4
}

final class Disk {
    let virtio: Virtio
    let features: UInt64
    /// Capacity in 512-byte sectors (virtio's unit) and the logical block size.
    let sectors: UInt64
    let blockSize: UInt64
    let queueSize: UInt64
    let notifyAddress: UInt64
    /// The DMA Frame: physical and virtual base.
    let dmaPhysical: UInt64
    let dma: UInt64
    let notify: Handle
    let irq: Handle?
    var availIndex: UInt16 = 0
    var usedSeen: UInt16 = 0
    /// Figures for the log and tests.
    var interrupts: UInt64 = 0
    var polls: UInt64 = 0
    var requests: UInt64 = 0

    static let chunkBytes: UInt64 = 64 << 10
    static let maxChains: UInt64 = 16
    static let bounceBytes: UInt64 = chunkBytes * maxChains
    /// Layout of the DMA Frame: descriptors, available ring, used ring, headers (a page each), bounce.
    static let descOffset: UInt64 = 0, availOffset: UInt64 = 4096, usedOffset: UInt64 = 8192
    static let headerOffset: UInt64 = 12288, bounceOffset: UInt64 = 16384
    static let dmaBytes: UInt64 = bounceOffset + bounceBytes

    init(virtio: Virtio, irq: Handle?) throws(VirtioError) {
        self.virtio = virtio
        self.irq = irq
        features = try virtio.negotiate(wanted: VirtioFeature.blkReadOnly | VirtioFeature.blkBlockSize | VirtioFeature.blkFlush)
        let d = virtio.transport.device
        sectors = UInt64(mmio_read32(d)) | UInt64(mmio_read32(d + 4)) << 32
        let size = features & VirtioFeature.blkBlockSize != 0 ? UInt64(mmio_read32(d + 20)) : 512
        blockSize = size >= 512 && size <= 65536 && size & (size - 1) == 0 ? size : 512
        let offered = UInt64(virtio.queueSize(0))
        guard offered > 0 else { throw .missing("virtqueue 0") }
        queueSize = min(offered, 256)
        do throws(SysError) {
            let frame = try virtio.dmaFrame(Disk.dmaBytes)
            dmaPhysical = try framePhysical(frame)
            dma = try MappingSpace.map(frame, length: Disk.dmaBytes)
            notify = try notifyCreate()
            if let irq { try irqBind(irq, notify: notify, bits: 1) }
        } catch { throw .system(error) }
        notifyAddress = virtio.setUpQueue(0, size: UInt16(queueSize), desc: dmaPhysical + Disk.descOffset,
                                          driver: dmaPhysical + Disk.availOffset, device: dmaPhysical + Disk.usedOffset)
        virtio.driverOK()
        guard virtio.status & VirtioStatus.needsReset == 0 else { throw .refused("the device needs a reset after DRIVER_OK") }
    }

    var readOnly: Bool { features & VirtioFeature.blkReadOnly != 0 }
    var canFlush: Bool { features & VirtioFeature.blkFlush != 0 }
    var capacityBlocks: UInt64 { sectors * 512 / blockSize }
    var bounce: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(dma + Disk.bounceOffset))! }

    func pointer(_ offset: UInt64) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(dma + offset))! }

    /// Writes descriptor `i`.
    func descriptor(_ i: UInt64, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        let p = pointer(Disk.descOffset + 16 * i)
        p.storeBytes(of: address, as: UInt64.self)
        p.storeBytes(of: length, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: flags, toByteOffset: 12, as: UInt16.self)
        p.storeBytes(of: next, toByteOffset: 14, as: UInt16.self)
    }

    /// One transfer: `bytes` of the bounce buffer to or from the disk from `sector` (type in or out), or a
    /// flush (bytes 0). Waits for every chain.
    func transfer(_ type: UInt32, sector: UInt64, bytes: UInt64) throws(BlockError) {
        let chains = type == BlkRequest.typeFlush ? 1 : (bytes + Disk.chunkBytes - 1) / Disk.chunkBytes
        guard chains >= 1, chains <= Disk.maxChains, chains * 3 <= queueSize else { throw .invalid }
        for k in 0..<chains {
            let header = pointer(Disk.headerOffset + 32 * k)
            header.storeBytes(of: type, as: UInt32.self)
            header.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            header.storeBytes(of: sector + k * (Disk.chunkBytes / 512), toByteOffset: 8, as: UInt64.self)
            header.storeBytes(of: UInt8(0xff), toByteOffset: 16, as: UInt8.self)
            let headerPhysical = dmaPhysical + Disk.headerOffset + 32 * k
            let first = UInt16(3 * k)
            if type == BlkRequest.typeFlush {
                descriptor(3 * k, address: headerPhysical, length: 16, flags: 1, next: first + 2)
            } else {
                let length = min(Disk.chunkBytes, bytes - k * Disk.chunkBytes)
                descriptor(3 * k, address: headerPhysical, length: 16, flags: 1, next: first + 1)
                descriptor(3 * k + 1, address: dmaPhysical + Disk.bounceOffset + k * Disk.chunkBytes,
                           length: UInt32(length), flags: type == BlkRequest.typeIn ? 1 | 2 : 1, next: first + 2)
            }
            descriptor(3 * k + 2, address: headerPhysical + 16, length: 1, flags: 2, next: 0)
            let slot = (UInt64(availIndex) + k) % queueSize
            pointer(Disk.availOffset + 4 + 2 * slot).storeBytes(of: first, as: UInt16.self)
        }
        atomic_fence_seq_cst()
        availIndex = availIndex &+ UInt16(chains)
        mmio_write16(dma + Disk.availOffset + 2, availIndex)
        atomic_fence_seq_cst()
        mmio_write16(notifyAddress, 0)
        requests += chains
        try waitForUsed(usedSeen &+ UInt16(chains))
        for k in 0..<chains where pointer(Disk.headerOffset + 32 * k + 16).load(as: UInt8.self) != 0 { throw .io }
    }

    /// Sleeps until the used ring's index reaches `target`.
    func waitForUsed(_ target: UInt16) throws(BlockError) {
        var idle = 0
        while mmio_read16(dma + Disk.usedOffset + 2) != target {
            do throws(SysError) {
                _ = try notifyWait(notify, timeout: 20_000_000)
                interrupts += 1
                _ = virtio.readISR()
                if let irq { try? irqAck(irq) }
                idle = 0
            } catch {
                if irq == nil { _ = virtio.readISR() }      // polling: lower a shared line all the same
                polls += 1
                idle += 1
                if idle >= 500 { throw .io }      // 10 s without an interrupt or progress
            }
        }
        usedSeen = target
        atomic_fence_seq_cst()
        // Done before any wait (TCG often completes a request during the notify write): an interrupt
        // may still be pending, its line masked; take it now so the line is unmasked for the next one.
        if irq == nil { _ = virtio.readISR() }
        if let bits = try? notifyPoll(notify), bits != 0 {
            interrupts += 1
            _ = virtio.readISR()
            if let irq { try? irqAck(irq) }
        }
    }
}
